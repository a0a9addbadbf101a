"""Hostile Kafka records for the dispatcher's intake: each must be
dead-lettered, and nothing behind it on the partition held up."""

from __future__ import annotations

import json
import random
from typing import Any

from eventnotify.envelope import encode
from tests.support.kafka import make_event

JSON_HEADERS = [("content-type", b"application/json")]
PROTO_HEADERS = [("content-type", b"application/x-protobuf")]


def _json_envelope(org_id: int, name: str, **fields: Any) -> dict[str, Any]:
    value, _ = encode(make_event(org_id, name, "k", {"ok": 1}), as_json=True)
    doc: dict[str, Any] = json.loads(value)
    doc.update(fields)
    return doc


def corpus(org_id: int, name: str) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """(what, record value, headers) of every hostile record."""
    rng = random.Random(8)
    good_proto, _ = encode(make_event(org_id, name, "k", {"n": 1}))

    def with_data(raw_json: str) -> str:
        # A fresh envelope (own eventId) with ``data`` spliced in as raw text.
        base = json.dumps(_json_envelope(org_id, name, data={"PLACEHOLDER": 0}))
        return base.replace('{"PLACEHOLDER": 0}', raw_json)

    deep = with_data('{"a": ' * 1000 + "1" + "}" * 1000)
    nan = with_data('{"v": NaN}')
    inf = with_data('{"v": Infinity, "w": -Infinity}')
    return [
        ("1000-deep nested data", deep.encode(), JSON_HEADERS),
        ("invalid UTF-8", b'{"eventId": "\xff\xfe\xfd", "orgId": 1}', JSON_HEADERS),
        ("random bytes as protobuf", rng.randbytes(300), PROTO_HEADERS),
        ("random bytes, no content-type", rng.randbytes(300), []),
        ("truncated protobuf", good_proto[: len(good_proto) // 2], PROTO_HEADERS),
        (
            "huge string",
            json.dumps(_json_envelope(org_id, name, data={"s": "x" * 600_000})).encode(),
            JSON_HEADERS,
        ),
        ("NaN", nan.encode(), JSON_HEADERS),
        ("Infinity", inf.encode(), JSON_HEADERS),
        (
            "orgId of the wrong type",
            json.dumps(_json_envelope(org_id, name, orgId="x")).encode(),
            JSON_HEADERS,
        ),
        (
            "data of the wrong type",
            json.dumps(_json_envelope(org_id, name, data=[1, 2])).encode(),
            JSON_HEADERS,
        ),
        (
            "eventId of the wrong type",
            json.dumps(_json_envelope(org_id, name, eventId=12)).encode(),
            JSON_HEADERS,
        ),
        (
            "createdAt of the wrong type",
            json.dumps(_json_envelope(org_id, name, createdAt={"x": 1})).encode(),
            JSON_HEADERS,
        ),
        ("envelope is a list", b"[1, 2, 3]", JSON_HEADERS),
        ("empty value", b"", JSON_HEADERS),
    ]
