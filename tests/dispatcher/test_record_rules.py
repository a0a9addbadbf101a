"""Pure parts of the fan-out: when a record is done, and which data is unsafe."""

from __future__ import annotations

import pytest

from dispatcher.fanout import MAX_DATA_CHARS, MAX_DATA_DEPTH, RecordDone, unsafe_data


def test_record_done_waits_for_every_hold_and_the_handler() -> None:
    calls: list[int] = []
    done = RecordDone(lambda: calls.append(1))
    done.hold()
    done.hold()
    done.release()  # the handler finished; two outcomes still pending
    assert calls == []
    done.release()
    assert calls == []
    done.release()
    assert calls == [1]


def test_record_with_no_subscriber_is_done_when_the_handler_returns() -> None:
    calls: list[int] = []
    RecordDone(lambda: calls.append(1)).release()
    assert calls == [1]


def _nested(depth: int) -> dict[str, object]:
    root: dict[str, object] = {}
    cur = root
    for _ in range(depth - 1):
        nxt: dict[str, object] = {}
        cur["a"] = nxt
        cur = nxt
    return root


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"a": 1, "b": [1, 2.5, None, True, "x"], "c": {"d": "e"}}, ""),
        (_nested(MAX_DATA_DEPTH), ""),
        (_nested(MAX_DATA_DEPTH + 1), "nested deeper"),
        (_nested(1000), "nested deeper"),
        ({"s": "x" * (MAX_DATA_CHARS + 1)}, "larger than"),
        ({"v": float("nan")}, "NaN or Infinity"),
        ({"v": [float("inf")]}, "NaN or Infinity"),
        ({"v": float("-inf")}, "NaN or Infinity"),
        ([1, 2], "not an object"),
        ("text", "not an object"),
        ({1: "x"}, "non-string key"),
        ({"v": b"bytes"}, "bytes"),
        ({"v": {1, 2}}, "set"),
    ],
)
def test_unsafe_data(data: object, reason: str) -> None:
    got = unsafe_data(data)
    assert (reason in got) if reason else got == ""
