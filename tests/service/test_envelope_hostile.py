"""The envelope decoder on hostile records: it returns an event or raises
``EnvelopeError`` (the dead-letter reason), whatever the bytes."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventnotify import jsonvalue
from eventnotify.envelope import EnvelopeError, SourceEvent, decode, encode
from eventnotify.v1 import envelope_pb2

JSON_HEADERS = [("content-type", b"application/json")]
PROTO_HEADERS = [("content-type", b"application/x-protobuf")]
HEAD = b'{"eventId":"deep","eventName":"badgeEarned","orgId":1,"refId":"1_x","data":'
VALID = SourceEvent(
    event_id="e-1",
    event_name="badgeEarned",
    org_id=7,
    ref_id="7_a",
    request_id="r",
    created_at_ms=1,
    data={"score": 3, "nested": {"list": [1, 2.5, "x", None, True]}},
)


def _nested_struct(depth: int) -> bytes:
    msg = envelope_pb2.EventEnvelope(event_id="x", event_name="n", org_id=1)
    inner = msg.data
    for _ in range(depth):
        inner = inner.fields["a"].struct_value
    inner.fields["leaf"].number_value = 1
    return bytes(msg.SerializeToString())


HOSTILE: list[tuple[str, bytes, list[tuple[str, bytes]] | None]] = [
    ("json list nested 1000", HEAD + b"[" * 1000 + b"]" * 1000 + b"}", JSON_HEADERS),
    ("json object nested 100000", HEAD + b'{"a":' * 100_000 + b"1" + b"}" * 100_001, JSON_HEADERS),
    ("NaN in data", HEAD + b'{"score":NaN}}', JSON_HEADERS),
    ("Infinity in data", HEAD + b'{"score":-Infinity}}', JSON_HEADERS),
    ("huge integer", HEAD + b'{"n":' + b"9" * 5000 + b"}}", JSON_HEADERS),
    ("integer past int64", HEAD + b'{"n":' + str(2**64).encode() + b"}}", JSON_HEADERS),
    ("huge orgId", b'{"eventId":"a","eventName":"n","orgId":' + b"9" * 40 + b"}", JSON_HEADERS),
    ("invalid utf-8 json", b'{"eventId":"\xff\xfe","eventName":"n","orgId":1}', JSON_HEADERS),
    ("truncated protobuf", encode(VALID)[0][:-3], PROTO_HEADERS),
    ("invalid utf-8 protobuf", b"\x0a\x02\xff\xfe\x12\x01n\x18\x01", PROTO_HEADERS),
    ("struct nested 200", _nested_struct(200), PROTO_HEADERS),
    ("struct nested 40", _nested_struct(40), PROTO_HEADERS),
    ("random bytes", bytes(range(256)) * 3, None),
    ("orgId as object", b'{"eventId":"a","eventName":"n","orgId":{"x":1}}', JSON_HEADERS),
    ("headers not strings", b'{"eventId":"a","eventName":"n","orgId":1,"headers":[1]}', None),
    ("1 MB refId", encode(SourceEvent("e", "n", 1, "r" * 300_000, "", 1, {}))[0], PROTO_HEADERS),
    ("odd content-type", b"{}", [("content-type", b"\xff" * 5000)]),
]


@pytest.mark.parametrize(
    ("value", "headers"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_records_raise_only_the_dead_letter_error(
    value: bytes, headers: list[tuple[str, bytes]] | None
) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode(value, headers, 1)
    assert len(str(info.value)) < 200  # a reason, not an echo of the record


def test_non_finite_struct_numbers_are_refused() -> None:
    msg = envelope_pb2.EventEnvelope(event_id="x", event_name="n", org_id=1)
    msg.data.fields["score"].number_value = math.nan
    with pytest.raises(EnvelopeError, match=r"data\.score"):
        decode(msg.SerializeToString(), PROTO_HEADERS, 1)


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """Truncations, byte flips and splices of a valid record."""
    n = len(data)
    return st.one_of(
        st.integers(0, n).map(lambda i: data[:i]),
        st.tuples(st.integers(0, n - 1), st.integers(0, 255)).map(
            lambda t: data[: t[0]] + bytes([t[1]]) + data[t[0] + 1 :]
        ),
        st.tuples(st.integers(0, n), st.binary(max_size=64)).map(
            lambda t: data[: t[0]] + t[1] + data[t[0] :]
        ),
    )


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_json_data = st.recursive(
    _json_leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=30,
)
_headers = st.one_of(
    st.none(),
    st.just(JSON_HEADERS),
    st.just(PROTO_HEADERS),
    st.lists(st.tuples(st.sampled_from(["content-type", "x"]), st.binary(max_size=30)), max_size=2),
)


def _check(value: bytes, headers: list[tuple[str, bytes]] | None) -> None:
    try:
        event = decode(value, headers, 1)
    except EnvelopeError:
        return
    # Whatever is accepted can be delivered as RFC 8259 JSON.
    jsonvalue.dumps(event.data)
    assert event.event_name and event.event_id and event.org_id > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.binary(max_size=512), headers=_headers)
def test_random_bytes_decode_or_dead_letter(
    value: bytes, headers: list[tuple[str, bytes]] | None
) -> None:
    _check(value, headers)


@settings(max_examples=300, deadline=None)
@given(as_json=st.booleans(), data=st.data())
def test_mutated_valid_records_decode_or_dead_letter(as_json: bool, data: st.DataObject) -> None:
    value, headers = encode(VALID, as_json=as_json)
    mutated = data.draw(_mutations(value))
    _check(mutated, data.draw(st.sampled_from([headers, None])))


@settings(max_examples=300, deadline=None)
@given(payload=_json_data, depth=st.integers(0, 80))
def test_generated_json_data_decodes_or_dead_letters(payload: object, depth: int) -> None:
    for _ in range(depth):
        payload = [payload]
    body = {"eventId": "e", "eventName": "n", "orgId": 1, "refId": "r", "data": {"v": payload}}
    value = json.dumps(body, allow_nan=True).encode()
    _check(value, JSON_HEADERS)
