"""Protobuf <-> domain conversion, in one module.

Servicers unpack requests with these functions and pack results with them;
protobuf types go no further than ``service.api``. Enum mappings are by name
so a renumbering in the contracts cannot silently shift meanings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2

from eventnotify import jsonvalue
from eventnotify.domain import Actor, ApiKey, EventType, LogEntry, Webhook, WebhookType
from eventnotify.envelope import SourceEvent, from_proto
from eventnotify.jsonvalue import JsonValueError
from eventnotify.store.logs import GroupMetrics
from eventnotify.text import brief
from eventnotify.timefmt import format_ts
from eventnotify.v1 import admin_pb2, catalog_pb2, common_pb2, log_pb2, webhook_pb2
from service.core.catalog import EventTypeChanges
from service.core.validation import (
    CODE_MAX_CONNECTIONS_REQUIRED,
    SLA_DEFAULT,
    Violation,
    raise_if_any,
)
from service.core.webhooks import WebhookChanges

# --------------------------------------------------------------------- webhooks

_CIRCUIT = {"CLOSED": "CIRCUIT_CLOSED", "OPEN": "CIRCUIT_OPEN", "HALF_OPEN": "CIRCUIT_HALF_OPEN"}
# Fields UpdateWebhook may change, by proto name.
MUTABLE_WEBHOOK_FIELDS = frozenset(
    {
        "name",
        "event_names",
        "web_hook_url",
        "web_hook_type",
        "method_type",
        "web_hook_headers",
        "max_allowed_connections",
        "sla_in_seconds",
        "no_of_retry_attempts",
        "active",
        "ordered_delivery",
    }
)
OUTPUT_ONLY_WEBHOOK_FIELDS = frozenset(
    {
        "web_hook_id",
        "consumer_group_id",
        "attribution",
        "org_id",
        "circuit_state",
        "deactivation_reason",
    }
)


def actor_to_proto(actor: Actor) -> Any:
    """Domain actor -> ``Actor`` (unknown kinds map to UNSPECIFIED)."""
    kind = actor.type if actor.type in _ACTOR_TYPES else "ACTOR_TYPE_UNSPECIFIED"
    return common_pb2.Actor(
        id=actor.id, code=actor.code, description=actor.description, name=actor.name, type=kind
    )


_ACTOR_TYPES = frozenset({"TILL", "ADMIN_USER", "API_KEY"})


def webhook_to_proto(hook: Webhook) -> Any:
    """Domain webhook -> ``Webhook``. Signing secrets are never copied."""
    return webhook_pb2.Webhook(
        web_hook_id=hook.web_hook_id,
        name=hook.name,
        event_names=hook.event_names,
        web_hook_url=hook.url,
        web_hook_type=webhook_pb2.WebhookType.Value(hook.type.value),
        method_type=webhook_pb2.MethodType.Value(hook.method),
        web_hook_headers=hook.headers,
        max_allowed_connections=hook.max_allowed_connections,
        sla_in_seconds=hook.sla_in_seconds,
        no_of_retry_attempts=hook.no_of_retry_attempts,
        active=hook.active,
        consumer_group_id=hook.consumer_group_id,
        attribution=common_pb2.Attribution(
            created_on=format_ts(hook.created_on),
            last_updated_on=format_ts(hook.last_updated_on),
            created_by=actor_to_proto(hook.created_by),
            last_updated_by=actor_to_proto(hook.last_updated_by),
        ),
        org_id=hook.org_id,
        ordered_delivery=hook.ordered_delivery,
        circuit_state=webhook_pb2.CircuitState.Value(_CIRCUIT[hook.circuit_state.value]),
        deactivation_reason=hook.deactivation_reason,
    )


def _webhook_type(value: int) -> WebhookType | None:
    if value == 0:
        return None
    if value == webhook_pb2.HTTP:
        return WebhookType.HTTP
    if value == webhook_pb2.QUEUE:
        return WebhookType.QUEUE
    raise_if_any(
        [Violation("webhook.web_hook_type", "HTTP or QUEUE", "WEBHOOK_TYPE_INVALID")],
        "invalid webhook",
    )
    return None


def _method(value: int) -> str | None:
    if value == 0:
        return None
    try:
        return str(webhook_pb2.MethodType.Name(value))
    except ValueError:
        return f"UNKNOWN({value})"  # refused by validation with every other problem


def webhook_changes(msg: Any, mask: Iterable[str] = ()) -> WebhookChanges:
    """The changes a Create/UpdateWebhook request asks for.

    Without a mask, a field is given when it is set (non-default, or present
    for ``optional`` fields). With a mask, exactly the named fields are given,
    with the message's values (a masked but absent optional field means its
    default, and maxAllowedConnections has none).
    """
    paths = list(mask)
    bad = [p for p in paths if p not in MUTABLE_WEBHOOK_FIELDS]
    if bad:
        raise_if_any(
            [
                Violation(
                    "update_mask",
                    f"{brief(p)} is output only"
                    if p in OUTPUT_ONLY_WEBHOOK_FIELDS
                    else f"unknown {brief(p)}",
                    "FIELD_IMMUTABLE" if p in OUTPUT_ONLY_WEBHOOK_FIELDS else "UPDATE_MASK_INVALID",
                )
                for p in bad
            ],
            "invalid update mask",
        )
    if paths:
        return _masked_changes(msg, set(paths))
    return WebhookChanges(
        name=msg.name or None,
        event_names=list(msg.event_names) or None,
        url=msg.web_hook_url or None,
        type=_webhook_type(msg.web_hook_type),
        method=_method(msg.method_type),
        headers=dict(msg.web_hook_headers) or None,
        max_allowed_connections=(
            msg.max_allowed_connections if msg.HasField("max_allowed_connections") else None
        ),
        sla_in_seconds=msg.sla_in_seconds if msg.HasField("sla_in_seconds") else None,
        no_of_retry_attempts=(
            msg.no_of_retry_attempts if msg.HasField("no_of_retry_attempts") else None
        ),
        active=msg.active if msg.HasField("active") else None,
        ordered_delivery=msg.ordered_delivery or None,
        consumer_group_id=msg.consumer_group_id or None,
    )


def _masked_changes(msg: Any, paths: set[str]) -> WebhookChanges:
    c = WebhookChanges(consumer_group_id=msg.consumer_group_id or None)
    if "max_allowed_connections" in paths:
        if not msg.HasField("max_allowed_connections"):
            raise_if_any(
                [
                    Violation(
                        "webhook.max_allowed_connections",
                        "maxAllowedConnections is required",
                        "MAX_CONNECTIONS_REQUIRED",
                        CODE_MAX_CONNECTIONS_REQUIRED,
                    )
                ],
                "invalid webhook",
            )
        c.max_allowed_connections = msg.max_allowed_connections
    if "name" in paths:
        c.name = msg.name
    if "event_names" in paths:
        c.event_names = list(msg.event_names)
    if "web_hook_url" in paths:
        c.url = msg.web_hook_url
    if "web_hook_type" in paths:
        c.type = _webhook_type(msg.web_hook_type) or WebhookType.HTTP
    if "method_type" in paths:
        c.method = _method(msg.method_type) or "POST"
    if "web_hook_headers" in paths:
        c.headers = dict(msg.web_hook_headers)
    if "sla_in_seconds" in paths:
        c.sla_in_seconds = msg.sla_in_seconds if msg.HasField("sla_in_seconds") else SLA_DEFAULT
    if "no_of_retry_attempts" in paths:
        c.no_of_retry_attempts = msg.no_of_retry_attempts
    if "active" in paths:
        c.active = msg.active if msg.HasField("active") else True
    if "ordered_delivery" in paths:
        c.ordered_delivery = msg.ordered_delivery
    return c


# ---------------------------------------------------------------------- catalog


def struct_to_dict(struct: Any, path: str = "schema") -> dict[str, Any]:
    """``google.protobuf.Struct`` -> plain dict by the one set of JSON rules
    (``eventnotify.jsonvalue``); a non-finite number or too deep a value is a
    field violation at ``path`` (e.g. ``event_type.schema.properties.x.maximum``)."""
    try:
        return jsonvalue.struct_to_dict(struct, path)
    except JsonValueError as exc:
        raise_if_any([Violation(exc.path, exc.problem, "JSON_VALUE_INVALID")], "invalid JSON value")
        raise


def event_from_proto(msg: Any, path: str) -> SourceEvent:
    """An ``EventEnvelope`` of a publish request -> SourceEvent; bad ``data``
    is a field violation under ``path``."""
    try:
        return from_proto(msg, data_path=f"{path}.data")
    except JsonValueError as exc:
        raise_if_any([Violation(exc.path, exc.problem, "JSON_VALUE_INVALID")], "invalid event data")
        raise


def dict_to_struct(value: dict[str, Any]) -> Any:
    """Plain dict -> ``google.protobuf.Struct``."""
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def event_type_to_proto(et: EventType, *, with_schema: bool = True) -> Any:
    """Domain event type -> ``EventType`` (schema omitted for lists)."""
    msg = catalog_pb2.EventType(
        event_name=et.name,
        active=et.active,
        standard=et.standard,
        description=et.description,
        category=et.category,
    )
    if with_schema and et.schema is not None:
        msg.schema.CopyFrom(dict_to_struct(et.schema))
    return msg


def event_type_from_proto(msg: Any) -> EventType:
    """``EventType`` of a CreateEventType request -> domain (custom event)."""
    return EventType(
        name=msg.event_name,
        active=msg.active,
        standard=False,
        description=msg.description,
        category=msg.category,
        schema=(
            struct_to_dict(msg.schema, "event_type.schema") if msg.HasField("schema") else None
        ),
    )


_EVENT_TYPE_MASK = frozenset({"active", "schema", "description"})


def event_type_changes(msg: Any, mask: Iterable[str]) -> EventTypeChanges:
    """Changes of an UpdateEventType request (see the proto for mask rules)."""
    paths = set(mask)
    bad = sorted(paths - _EVENT_TYPE_MASK)
    if bad:
        raise_if_any(
            [Violation("update_mask", f"unknown {brief(p)}", "UPDATE_MASK_INVALID") for p in bad],
            "invalid update mask",
        )
    if not paths:
        paths = {"active"}
        if msg.description:
            paths.add("description")
        if msg.HasField("schema"):
            paths.add("schema")
    c = EventTypeChanges()
    if "active" in paths:
        c.active = msg.active
    if "description" in paths:
        c.description = msg.description
    if "schema" in paths:
        c.schema_given = True
        c.schema = (
            struct_to_dict(msg.schema, "event_type.schema") if msg.HasField("schema") else None
        )
    return c


# ------------------------------------------------------------------------- logs


def log_entry_to_proto(e: LogEntry) -> Any:
    """Domain log entry -> ``DeliveryLogEntry``; consumerResponse stays absent
    until an attempt has finished (the original's null)."""
    msg = log_pb2.DeliveryLogEntry(
        ref_id=e.ref_id,
        request_id=e.request_id,
        event_name=e.event_name,
        event_id=e.event_id,
        consumer_group_id=e.consumer_group_id,
        event_ingestion_timestamp=format_ts(e.ingested_at),
        event_start_timestamp=format_ts(e.started_at),
        event_end_timestamp=format_ts(e.ended_at),
        sla_breach_timestamp=format_ts(e.sla_breach_at),
        web_hook_id=e.web_hook_id,
        org_id=e.org_id,
        status=log_pb2.DeliveryStatus.Value(e.status.value),
        attempts=[
            log_pb2.DeliveryAttempt(
                time=format_ts(a.time),
                http_status=a.http_status,
                duration_ms=a.duration_ms,
                error=a.error,
                response_body=a.response_body,
                response_truncated=a.response_truncated,
            )
            for a in e.attempts
        ],
        source_event_id=e.source_event_id,
        failure_reason=e.failure_reason,
        next_attempt_at=format_ts(e.next_attempt_at),
        schema_violation=e.schema_violation,
        kafka_position=e.kafka_position,
        test=e.test,
    )
    if e.last_http_status is not None or e.last_duration_ms is not None:
        msg.consumer_response.CopyFrom(
            log_pb2.ConsumerResponse(
                webhook_http_status=e.last_http_status or 0,
                time_taken=e.last_duration_ms or 0,
            )
        )
    return msg


def status_name(value: int) -> str:
    """DeliveryStatus filter -> domain status name ("" = any)."""
    if value == 0:
        return ""
    try:
        return str(log_pb2.DeliveryStatus.Name(value))
    except ValueError:
        raise_if_any([Violation("status", "unknown status", "STATUS_INVALID")], "invalid status")
        raise


def sort_name(value: int) -> str:
    """LogSort -> its name (unspecified = newest first)."""
    if value == 0:
        return "TIME_DESC"
    try:
        return str(log_pb2.LogSort.Name(value))
    except ValueError:
        raise_if_any([Violation("sort", "unknown sort", "SORT_INVALID")], "invalid sort")
        raise


def metrics_to_proto(group: str, m: GroupMetrics, start: datetime, end: datetime) -> Any:
    """Figures of a window -> ``ConsumerGroupMetrics``."""
    return log_pb2.ConsumerGroupMetrics(
        consumer_group_id=group,
        total_events=m.total,
        delivered_events=m.delivered,
        failed_events=m.failed,
        retrying_events=m.retrying,
        pending_events=m.pending,
        average_delivery_time=m.average_delivery_ms,
        sla_breaches=m.sla_breaches,
        dead_lettered_events=m.dead_lettered,
        window_start=format_ts(start),
        window_end=format_ts(end),
    )


# ------------------------------------------------------------------------- keys


def api_key_to_proto(k: ApiKey) -> Any:
    """Domain key -> ``ApiKey`` (its hash is never exposed)."""
    return admin_pb2.ApiKey(
        key_id=k.key_id,
        org_id=k.org_id,
        role=k.role.name,
        description=k.description,
        created_on=format_ts(k.created_on),
        revoked=k.revoked,
    )
