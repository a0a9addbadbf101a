"""eventnotify.envelope: the hostile-record limits at their exact edges
(found unguarded by mutation testing)."""

from __future__ import annotations

import pytest

from eventnotify.envelope import EnvelopeError, SourceEvent, decode, encode
from eventnotify.limits import MAX_EVENT_BYTES, MAX_EVENT_HEADERS


def _event(**kw: object) -> SourceEvent:
    base: dict[str, object] = {
        "event_id": "e1",
        "event_name": "badgeEarned",
        "org_id": 7,
        "ref_id": "r",
        "request_id": "q",
        "created_at_ms": 1,
        "data": {},
    }
    base.update(kw)
    return SourceEvent(**base)  # type: ignore[arg-type]


def test_a_record_of_exactly_the_size_limit_is_decoded() -> None:
    value, headers = encode(_event(), as_json=True)
    padded = value + b" " * (MAX_EVENT_BYTES - len(value))
    assert decode(padded, headers, 5).event_id == "e1"
    with pytest.raises(EnvelopeError) as err:
        decode(padded + b" ", headers, 5)
    assert str(err.value) == f"record larger than {MAX_EVENT_BYTES} bytes"


@pytest.mark.parametrize("as_json", [True, False])
def test_exactly_the_header_limit_is_allowed(as_json: bool) -> None:
    most = {f"h{i}": "v" for i in range(MAX_EVENT_HEADERS)}
    value, headers = encode(_event(headers=most), as_json=as_json)
    assert decode(value, headers, 5).headers == most
    value, headers = encode(_event(headers={**most, "one-more": "v"}), as_json=as_json)
    with pytest.raises(EnvelopeError) as err:
        decode(value, headers, 5)
    assert str(err.value) == f"more than {MAX_EVENT_HEADERS} headers"


def test_json_nested_too_deeply_says_so() -> None:
    _, headers = encode(_event(), as_json=True)
    with pytest.raises(EnvelopeError) as err:
        decode(b"[" * 200_000, headers, 5)
    assert str(err.value) == "JSON nested too deeply"
