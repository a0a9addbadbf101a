"""Length limits of every string in every request, checked before a handler
runs, so no oversized value reaches MongoDB, Kafka or an error message.

One table, keyed by the proto field's full name; a string field not named here
gets ``DEFAULT_LIMIT``. ``Struct`` values (event data, schemas) are bounded by
size rules of their own (``eventnotify.limits.MAX_EVENT_BYTES``,
``service.core.catalog.MAX_SCHEMA_BYTES``). docs/limits.md lists the table;
a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from eventnotify import limits
from eventnotify.text import brief
from service.core.validation import (
    MAX_HEADER_BYTES,
    MAX_NAME_LENGTH,
    MAX_URL_LENGTH,
    Violation,
)

DEFAULT_LIMIT = 256
_P = "eventnotify.v1."
# Fields with a finer rule of their own (and its own reason) in the core
# layer: here only a ceiling at twice that limit, so values a little too long
# still get the specific answer (NAME_TOO_LONG, EVENT_NAME_INVALID...).
_CEILINGS: dict[str, int] = {
    _P + "EventType.event_name": 2 * limits.MAX_EVENT_NAME,
    _P + "EventType.description": 2 * 1024,
    _P + "Webhook.name": 2 * MAX_NAME_LENGTH,
    _P + "Webhook.web_hook_url": 2 * MAX_URL_LENGTH,
    _P + "Webhook.WebHookHeadersEntry.value": 2 * MAX_HEADER_BYTES,
}
LIMITS: dict[str, int] = {
    **_CEILINGS,
    _P + "EventEnvelope.event_id": limits.MAX_EVENT_ID,
    _P + "EventEnvelope.event_name": limits.MAX_EVENT_NAME,
    _P + "EventEnvelope.ref_id": limits.MAX_REF_ID,
    _P + "EventEnvelope.request_id": limits.MAX_REQUEST_ID,
    _P + "EventEnvelope.loyalty_event_id": limits.MAX_LOYALTY_EVENT_ID,
    _P + "EventEnvelope.HeadersEntry.key": limits.MAX_EVENT_HEADER_NAME,
    _P + "EventEnvelope.HeadersEntry.value": limits.MAX_EVENT_HEADER_VALUE,
    _P + "EventType.category": 64,
    _P + "GetEventTypeRequest.event_name": limits.MAX_EVENT_NAME,
    _P + "SendTestEventRequest.event_name": limits.MAX_EVENT_NAME,
    _P + "ListWebhooksRequest.event_name": limits.MAX_EVENT_NAME,
    _P + "ListConsumerGroupLogsRequest.event_name": limits.MAX_EVENT_NAME,
    _P + "GetEventLogRequest.event_id": limits.MAX_EVENT_ID,
    _P + "ResendEventRequest.event_id": limits.MAX_EVENT_ID,
    _P + "ListEventLogsByRequestIdRequest.request_id": limits.MAX_REQUEST_ID,
    _P + "ListConsumerGroupLogsRequest.request_id": limits.MAX_REQUEST_ID,
    _P + "ListEventLogsByRefIdRequest.ref_id": limits.MAX_REF_ID,
    _P + "ListConsumerGroupLogsRequest.ref_id": limits.MAX_REF_ID,
    _P + "ListConsumerGroupLogsRequest.page_token": 4096,
    _P + "ListWebhooksRequest.page_token": 4096,
    _P + "Webhook.event_names": limits.MAX_EVENT_NAME,
    _P + "Webhook.WebHookHeadersEntry.key": DEFAULT_LIMIT,
    _P + "Actor.description": 1024,
    _P + "CreateApiKeyRequest.description": 1024,
    "google.protobuf.FieldMask.paths": 64,
}
# Messages whose strings are bounded by other rules (see the module docstring).
_SKIP = frozenset({"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"})


def limit_of(field: FieldDescriptor) -> int:
    """The length limit of a string field, in characters."""
    return LIMITS.get(field.full_name, DEFAULT_LIMIT)


def length_violations(msg: Any, path: str = "") -> list[Violation]:
    """Every string in ``msg`` (nested messages, repeated fields, map keys and
    values) longer than its limit, as field violations; the value is never
    quoted, only its length."""
    out: list[Violation] = []
    for field, value in msg.ListFields():
        here = f"{path}.{field.name}" if path else field.name
        if field.type == FieldDescriptor.TYPE_STRING:
            items = value if field.is_repeated else [value]
            for i, item in enumerate(items):
                if len(item) > limit_of(field):
                    where = f"{here}[{i}]" if field.is_repeated else here
                    out.append(_too_long(where, limit_of(field), len(item)))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name in _SKIP:
                continue
            if field.message_type.GetOptions().map_entry:
                out += _map_violations(field, value, here)
            elif field.is_repeated:
                for i, item in enumerate(value):
                    out += length_violations(item, f"{here}[{i}]")
            else:
                out += length_violations(value, here)
    return out


def _map_violations(field: FieldDescriptor, value: Any, here: str) -> list[Violation]:
    out: list[Violation] = []
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    for key in value:
        if isinstance(key, str) and len(key) > limit_of(key_field):
            out.append(_too_long(f"{here}[key #{len(out)}]", limit_of(key_field), len(key)))
            continue
        item = value[key]
        if isinstance(item, str) and len(item) > limit_of(value_field):
            out.append(_too_long(f"{here}[{brief(key)}]", limit_of(value_field), len(item)))
    return out


def _too_long(path: str, limit: int, length: int) -> Violation:
    return Violation(path, f"at most {limit} characters (got {length})", "TOO_LONG")
