"""Pure parts of the fan-out: when a record is done, and which data reaches it."""

from __future__ import annotations

import json

import pytest

from dispatcher.fanout import RecordDone
from eventnotify.envelope import CONTENT_TYPE_HEADER, EnvelopeError, decode, encode
from eventnotify.limits import MAX_DATA_DEPTH, MAX_EVENT_BYTES
from tests.support.kafka import make_event


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


def _record(data: object, as_json: bool) -> tuple[bytes, list[tuple[str, bytes]]]:
    event = make_event(1, "cardUpdated", "r", {})
    if not as_json:
        event.data = data  # type: ignore[assignment]
        return encode(event)
    body = {"eventId": event.event_id, "eventName": event.event_name, "orgId": 1, "data": data}
    # allow_nan: a hostile producer's NaN reaches us as the bare token.
    return json.dumps(body, allow_nan=True).encode(), [(CONTENT_TYPE_HEADER, b"application/json")]


@pytest.mark.parametrize("as_json", [False, True], ids=["protobuf", "json"])
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"a": 1, "b": [1, 2.5, None, True, "x"], "c": {"d": "e"}}, ""),
        (_nested(MAX_DATA_DEPTH), ""),
        (_nested(MAX_DATA_DEPTH + 1), "data.a.a"),
        ({"v": float("nan")}, "NaN"),
        ({"v": [float("inf")]}, "Infinity"),
        ({"s": "x" * MAX_EVENT_BYTES}, "larger than"),
    ],
)
def test_only_data_json_can_carry_gets_past_the_decoder(
    data: object, reason: str, as_json: bool
) -> None:
    """The fan-out checks no ``data`` of its own: it relies on the decoder
    having refused what no receiver could be sent (dead-lettered instead)."""
    value, headers = _record(data, as_json)
    if not reason:
        event = decode(value, headers, 1)
        json.dumps(event.data, allow_nan=False)  # deliverable as JSON
        return
    with pytest.raises(EnvelopeError, match=reason):
        decode(value, headers, 1)
