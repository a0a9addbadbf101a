"""The Kafka wire format of events, both ways.

Producers write an ``eventnotify.v1.EventEnvelope`` to topic
``<prefix><eventName>`` keyed by refId, as protobuf or as its canonical JSON,
telling which by the ``content-type`` header. ``decode`` turns a record into a
``SourceEvent`` or raises ``EnvelopeError`` with a reason fit for a
dead-letter entry; ``encode`` is its inverse, used by the producer helper and
the ingest API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from eventnotify import jsonvalue
from eventnotify.jsonvalue import JsonValueError
from eventnotify.limits import (
    EVENT_STRING_LIMITS,
    MAX_EVENT_BYTES,
    MAX_EVENT_HEADER_NAME,
    MAX_EVENT_HEADER_VALUE,
    MAX_EVENT_HEADERS,
)
from eventnotify.text import brief
from eventnotify.v1 import envelope_pb2

CONTENT_TYPE_HEADER = "content-type"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class EnvelopeError(ValueError):
    """A Kafka record is not a usable event; the message is the reason."""


@dataclass
class SourceEvent:
    """One event as produced (before it is fanned out to webhooks)."""

    event_id: str
    event_name: str
    org_id: int
    ref_id: str
    request_id: str
    created_at_ms: int
    data: dict[str, Any]
    loyalty_event_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        """A JSON-able dict (stored with parked deliveries)."""
        return {
            "event_id": self.event_id,
            "event_name": self.event_name,
            "org_id": self.org_id,
            "ref_id": self.ref_id,
            "request_id": self.request_id,
            "created_at_ms": self.created_at_ms,
            "data": self.data,
            "loyalty_event_id": self.loyalty_event_id,
            "headers": self.headers,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SourceEvent:
        return cls(
            event_id=doc["event_id"],
            event_name=doc["event_name"],
            org_id=int(doc["org_id"]),
            ref_id=doc.get("ref_id", ""),
            request_id=doc.get("request_id", ""),
            created_at_ms=int(doc.get("created_at_ms", 0)),
            data=dict(doc.get("data") or {}),
            loyalty_event_id=doc.get("loyalty_event_id", ""),
            headers=dict(doc.get("headers") or {}),
        )


def topic_for(prefix: str, event_name: str) -> str:
    """The Kafka topic of an event name."""
    return f"{prefix}{event_name}"


def _content_type(headers: Sequence[tuple[str, bytes]] | None, value: bytes) -> str:
    for name, raw in headers or ():
        if name.lower() == CONTENT_TYPE_HEADER:
            return raw.decode("latin-1").split(";")[0].strip().lower()
    # No header: JSON objects start with "{", protobuf field 1 starts with 0x0a.
    return JSON if value.lstrip()[:1] == b"{" else PROTOBUF


def decode(
    value: bytes | None, headers: Sequence[tuple[str, bytes]] | None, timestamp_ms: int
) -> SourceEvent:
    """Record value -> SourceEvent; for ANY input, the only exception is
    ``EnvelopeError`` saying why the record is unusable (the consumer
    dead-letters it and moves on, so no record can stall a partition)."""
    try:
        return _decode(value, headers, timestamp_ms)
    except EnvelopeError:
        raise
    except RecursionError:
        raise EnvelopeError("record nested too deeply to decode") from None
    except Exception as exc:  # the decoder's contract: nothing else escapes
        raise EnvelopeError(f"undecodable record ({type(exc).__name__})") from None


def peek_org_id(value: bytes | None, headers: Sequence[tuple[str, bytes]] | None) -> int | None:
    """The positive orgId of a protobuf record, read without converting its
    ``data``; None for anything else (JSON, undecodable, too large, no orgId).
    Says nothing about whether ``decode`` accepts the record."""
    if not value or len(value) > MAX_EVENT_BYTES or _content_type(headers, value) != PROTOBUF:
        return None
    msg = envelope_pb2.EventEnvelope()
    try:
        msg.ParseFromString(value)
    except Exception:  # DecodeError, or anything a hostile record provokes
        return None
    return msg.org_id if msg.org_id > 0 else None


def _decode(
    value: bytes | None, headers: Sequence[tuple[str, bytes]] | None, timestamp_ms: int
) -> SourceEvent:
    if not value:
        raise EnvelopeError("empty record value")
    if len(value) > MAX_EVENT_BYTES:
        raise EnvelopeError(f"record larger than {MAX_EVENT_BYTES} bytes")
    kind = _content_type(headers, value)
    if kind == JSON:
        event = _decode_json(value)
    elif kind == PROTOBUF:
        msg = envelope_pb2.EventEnvelope()
        try:
            msg.ParseFromString(value)
        except DecodeError:
            # The library's message can quote the record; the reason stays generic.
            raise EnvelopeError("undecodable protobuf EventEnvelope") from None
        try:
            event = from_proto(msg)
        except JsonValueError as exc:
            raise EnvelopeError(f"invalid data: {exc}") from None
    else:
        raise EnvelopeError(f"unsupported content-type {brief(kind)}")
    problem = event_problem(event)
    if problem:
        raise EnvelopeError(problem)
    if event.created_at_ms <= 0:
        event.created_at_ms = timestamp_ms
    return event


def event_problem(event: SourceEvent) -> str:
    """Why a decoded event cannot be delivered ("" when it can)."""
    if not event.event_name:
        return "eventName is missing"
    if event.org_id <= 0:
        return "orgId is missing or not positive"
    if not event.event_id:
        return "eventId is missing"
    for name, limit in EVENT_STRING_LIMITS.items():
        if len(getattr(event, name)) > limit:
            return f"{name} longer than {limit} characters"
    if len(event.headers) > MAX_EVENT_HEADERS:
        return f"more than {MAX_EVENT_HEADERS} headers"
    for k, v in event.headers.items():
        if len(k) > MAX_EVENT_HEADER_NAME or len(v) > MAX_EVENT_HEADER_VALUE:
            return (
                f"a header name over {MAX_EVENT_HEADER_NAME} or value over "
                f"{MAX_EVENT_HEADER_VALUE} characters"
            )
    return ""


def _decode_json(value: bytes) -> SourceEvent:
    try:
        raw = jsonvalue.loads(value)
    except RecursionError:
        raise EnvelopeError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN, huge int
        raise EnvelopeError(f"invalid JSON: {brief(str(exc))}") from None
    if not isinstance(raw, dict):
        raise EnvelopeError("JSON envelope is not an object")
    # The original's delivered field name is accepted from producers too.
    if "apiRequestId" in raw and "requestId" not in raw:
        raw["requestId"] = raw.pop("apiRequestId")
    if raw.get("loyaltyEventId") is None:
        raw.pop("loyaltyEventId", None)
    if isinstance(raw.get("data"), dict):
        data = raw.pop("data")  # keep JSON numbers as they are (Struct would make floats)
    elif "data" in raw and raw["data"] is not None:
        raise EnvelopeError("data is not a JSON object")
    else:
        raw.pop("data", None)
        data = {}
    try:
        jsonvalue.check_value(data)
    except JsonValueError as exc:
        raise EnvelopeError(f"invalid data: {exc}") from None
    if isinstance(raw.get("orgId"), str) and not raw["orgId"].isdigit():
        raise EnvelopeError("orgId is not an integer")
    msg = envelope_pb2.EventEnvelope()
    try:
        json_format.ParseDict(raw, msg, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise EnvelopeError(f"invalid envelope: {brief(str(exc))}") from None
    event = from_proto(msg)
    event.data = data
    return event


def from_proto(msg: envelope_pb2.EventEnvelope, data_path: str = "data") -> SourceEvent:
    """An EventEnvelope message as a SourceEvent (empty fields kept empty).
    ``JsonValueError`` when ``data`` breaks the JSON rules (``jsonvalue``)."""
    return SourceEvent(
        event_id=msg.event_id,
        event_name=msg.event_name,
        org_id=msg.org_id,
        ref_id=msg.ref_id,
        request_id=msg.request_id,
        created_at_ms=msg.created_at,
        data=jsonvalue.struct_to_dict(msg.data, data_path) if msg.HasField("data") else {},
        loyalty_event_id=msg.loyalty_event_id,
        headers=dict(msg.headers),
    )


def encode(event: SourceEvent, *, as_json: bool = False) -> tuple[bytes, list[tuple[str, bytes]]]:
    """SourceEvent -> (record value, headers)."""
    if as_json:
        body = {
            "eventId": event.event_id,
            "eventName": event.event_name,
            "orgId": event.org_id,
            "refId": event.ref_id,
            "requestId": event.request_id,
            "createdAt": event.created_at_ms,
            "data": event.data,
            "loyaltyEventId": event.loyalty_event_id or None,
            "headers": event.headers,
        }
        value = jsonvalue.dumps(body).encode()
        return value, [(CONTENT_TYPE_HEADER, JSON.encode())]
    msg = envelope_pb2.EventEnvelope(
        event_id=event.event_id,
        event_name=event.event_name,
        org_id=event.org_id,
        ref_id=event.ref_id,
        request_id=event.request_id,
        created_at=event.created_at_ms,
        loyalty_event_id=event.loyalty_event_id,
        headers=event.headers,
    )
    msg.data.update(event.data)
    return msg.SerializeToString(), [(CONTENT_TYPE_HEADER, PROTOBUF.encode())]
