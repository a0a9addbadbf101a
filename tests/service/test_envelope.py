"""The Kafka wire format, both ways, and its error reasons."""

from __future__ import annotations

import json

import pytest

from eventnotify.envelope import EnvelopeError, SourceEvent, decode, encode, topic_for

EVENT = SourceEvent(
    event_id="e-1",
    event_name="transactionAdded",
    org_id=50074,
    ref_id="50074_1",
    request_id="req-1",
    created_at_ms=1_700_000_000_000,
    data={"amount": 12.5, "transactionId": 7, "tags": ["a", 2], "nested": {"ok": True}},
    loyalty_event_id="l-1",
)


@pytest.mark.parametrize("as_json", [False, True])
def test_round_trip_keeps_fields_and_integer_types(as_json: bool) -> None:
    value, headers = encode(EVENT, as_json=as_json)
    got = decode(value, headers, 1)
    assert got == EVENT
    assert isinstance(got.data["transactionId"], int)
    assert isinstance(got.data["amount"], float)


def test_without_header_json_is_recognised_and_created_at_defaults_to_kafka_time() -> None:
    raw = json.dumps({"eventId": "x", "eventName": "n", "orgId": 5, "apiRequestId": "r"}).encode()
    got = decode(raw, None, 123)
    assert got.request_id == "r"  # the original's field name is accepted
    assert got.created_at_ms == 123
    assert got.data == {}


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"", None, "empty"),
        (b"{not json", [("content-type", b"application/json")], "invalid JSON"),
        (b"[1]", [("content-type", b"application/json")], "not an object"),
        (b"\xff\x00", [("content-type", b"application/x-protobuf")], "undecodable protobuf"),
        (b"{}", [("content-type", b"text/plain")], "unsupported content-type"),
        (json.dumps({"eventId": "x", "orgId": 5}).encode(), None, "eventName is missing"),
        (json.dumps({"eventId": "x", "eventName": "n"}).encode(), None, "orgId"),
        (json.dumps({"eventName": "n", "orgId": 5}).encode(), None, "eventId is missing"),
        (
            json.dumps({"eventId": "x", "eventName": "n", "orgId": 5, "data": 3}).encode(),
            None,
            "data is not a JSON object",
        ),
    ],
)
def test_unusable_records_say_why(
    value: bytes, headers: list[tuple[str, bytes]] | None, reason: str
) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        decode(value, headers, 1)


def test_topic_naming() -> None:
    assert topic_for("eventnotify.events.", "pointsIssued") == "eventnotify.events.pointsIssued"
