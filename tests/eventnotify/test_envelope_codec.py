"""eventnotify.envelope: the decode rules mutation testing found unguarded
(sniffing without a header, boundaries, JSON quirks, headers, stored docs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventnotify.envelope import (
    PROTOBUF,
    EnvelopeError,
    SourceEvent,
    decode,
    encode,
    peek_org_id,
)
from eventnotify.v1 import envelope_pb2

EVENT = SourceEvent(
    event_id="e-1",
    event_name="pointsIssued",
    org_id=1,  # the smallest valid org
    ref_id="1_9",
    request_id="req-9",
    created_at_ms=1,  # the smallest kept creation time
    data={"points": 200, "exact": 2.0**53, "neg": -3},
    loyalty_event_id="l-9",
    headers={"x-trace": "t-1"},
)


def _json(**fields: Any) -> bytes:
    base: dict[str, Any] = {"eventId": "e", "eventName": "n", "orgId": 5}
    base.update(fields)
    return json.dumps(base).encode()


@pytest.mark.parametrize("as_json", [False, True])
def test_round_trip_keeps_headers_edges_and_number_types(as_json: bool) -> None:
    value, headers = encode(EVENT, as_json=as_json)
    got = decode(value, headers, 999)
    assert got == EVENT
    assert type(got.data["points"]) is int and type(got.data["neg"]) is int


def test_number_types_after_a_protobuf_struct() -> None:
    # Struct stores doubles: integral values below 2**53 come back as int,
    # from 2**53 on (no longer exact) they stay float.
    value, headers = encode(EVENT)
    data = decode(value, headers, 1).data
    assert type(data["points"]) is int and data["points"] == 200
    assert type(data["exact"]) is float and data["exact"] == 2.0**53


def test_default_encoding_is_protobuf_and_json_is_compact() -> None:
    value, headers = encode(EVENT)
    assert headers == [("content-type", b"application/x-protobuf")]
    envelope_pb2.EventEnvelope.FromString(value)  # parses as protobuf
    value, headers = encode(EVENT, as_json=True)
    assert headers == [("content-type", b"application/json")]
    assert b", " not in value and b": " not in value
    assert json.loads(value)["headers"] == {"x-trace": "t-1"}


def test_without_a_header_protobuf_and_padded_json_are_told_apart() -> None:
    value, _ = encode(EVENT)
    assert decode(value, None, 1) == EVENT
    padded = b"  \n" + _json(refId="5_1")
    assert decode(padded, None, 1).ref_id == "5_1"


def test_content_type_parameters_are_ignored() -> None:
    headers = [("Content-Type", b"Application/JSON; charset=utf-8")]
    assert decode(_json(), headers, 1).event_id == "e"


def test_event_id_of_exactly_the_maximum_length_is_accepted() -> None:
    assert len(decode(_json(eventId="x" * 128), None, 1).event_id) == 128
    with pytest.raises(EnvelopeError, match=r"^event_id longer than 128 characters$"):
        decode(_json(eventId="x" * 129), None, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"", "empty record value"),
        (_json(eventName=""), "eventName is missing"),
        (_json(orgId=0), "orgId is missing or not positive"),
        (_json(eventId=""), "eventId is missing"),
        (b"[1, 2]", "JSON envelope is not an object"),
        (_json(data=[1]), "data is not a JSON object"),
        (_json(orgId="five"), "orgId is not an integer"),
        (_json(createdAt="yesterday"), "invalid envelope: .*"),
    ],
)
def test_unusable_records_say_exactly_why(value: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=f"^{message}$"):
        decode(value, [("content-type", b"application/json")], 1)


def test_json_quirks_of_producers() -> None:
    both = decode(_json(requestId="new", apiRequestId="old"), None, 1)
    assert both.request_id == "new"  # the documented field wins
    assert decode(_json(orgId="12"), None, 1).org_id == 12  # a numeric string
    unknown = decode(_json(somethingNew={"a": 1}, loyaltyEventId=None, data=None), None, 1)
    assert (unknown.loyalty_event_id, unknown.data) == ("", {})


def test_stored_document_round_trip_and_defaults() -> None:
    doc = EVENT.to_doc()
    assert doc == {
        "event_id": "e-1",
        "event_name": "pointsIssued",
        "org_id": 1,
        "ref_id": "1_9",
        "request_id": "req-9",
        "created_at_ms": 1,
        "data": {"points": 200, "exact": 2.0**53, "neg": -3},
        "loyalty_event_id": "l-9",
        "headers": {"x-trace": "t-1"},
    }
    assert SourceEvent.from_doc(doc) == EVENT
    minimal = SourceEvent.from_doc(
        {"event_id": "e", "event_name": "n", "org_id": "7", "data": None, "headers": None}
    )
    assert minimal == SourceEvent(
        event_id="e",
        event_name="n",
        org_id=7,
        ref_id="",
        request_id="",
        created_at_ms=0,
        data={},
        loyalty_event_id="",
        headers={},
    )


def test_peek_org_id_reads_only_a_protobuf_envelopes_positive_org() -> None:
    event = SourceEvent("e-1", "pointsIssued", 42, "r", "q", 1, {"bad": 1})
    value, headers = encode(event)
    assert peek_org_id(value, headers) == 42
    assert peek_org_id(value, None) == 42  # protobuf told apart by its first byte
    json_value, json_headers = encode(event, as_json=True)
    no_org, _ = encode(SourceEvent("e-1", "pointsIssued", 0, "r", "q", 1, {}))
    proto = [("content-type", PROTOBUF.encode())]
    for value_, headers_ in [
        (json_value, json_headers),  # JSON: only a decode reads it
        (no_org, headers),
        (b"\xff\xff\xff", proto),  # not protobuf
        (b"", proto),
        (None, proto),
        (value, [("content-type", b"text/plain")]),
    ]:
        assert peek_org_id(value_, headers_) is None
