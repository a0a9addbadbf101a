"""Delivery-log lookups and consumer-group metrics, always scoped to the
caller's org."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eventnotify.domain import Caller, DeliveryStatus, LogEntry
from eventnotify.errors import NotFound
from eventnotify.store.logs import DeliveryLogRepository, GroupMetrics, LogFilter, LogSort
from eventnotify.store.webhooks import WebhookRepository
from eventnotify.timefmt import from_epoch_ms, parse_ts, to_epoch_ms, utcnow
from service.core.validation import Violation, raise_if_any
from service.core.webhooks import page_size

DEFAULT_WINDOW_SECONDS = 86400
MAX_WINDOW_SECONDS = 30 * 86400
SORTS: dict[str, tuple[str, int]] = {
    "TIME_DESC": LogSort.TIME_DESC,
    "TIME_ASC": LogSort.TIME_ASC,
    "DURATION_DESC": LogSort.DURATION_DESC,
    "DURATION_ASC": LogSort.DURATION_ASC,
}


def _invalid(path: str, description: str, reason: str) -> None:
    raise_if_any([Violation(path, description, reason)], f"invalid {path}")


async def get_event_log(logs: DeliveryLogRepository, caller: Caller, event_id: str) -> LogEntry:
    """One delivery by its eventId; NOT_FOUND for another org's."""
    if not event_id:
        _invalid("event_id", "required", "EVENT_ID_REQUIRED")
    entry = await logs.get(caller.org_id, event_id)
    if entry is None:
        raise NotFound(
            "eventId is invalid: no delivery has this eventId. If it is the id the event was "
            "published with, list its deliveries with ListEventLogsBySourceEventId",
            reason="EVENT_LOG_NOT_FOUND",
        )
    return entry


async def list_by_source_event_id(
    logs: DeliveryLogRepository, caller: Caller, source_event_id: str
) -> list[LogEntry]:
    """Every delivery of one published event, by the producer's eventId (oldest
    first). An event no webhook subscribed to has none: an empty list."""
    if not source_event_id:
        _invalid("source_event_id", "required", "SOURCE_EVENT_ID_REQUIRED")
    return await logs.list_by_source_event_id(caller.org_id, source_event_id)


async def list_by_request_id(
    logs: DeliveryLogRepository, caller: Caller, request_id: str
) -> list[LogEntry]:
    """Every delivery caused by one API request (oldest first)."""
    if not request_id:
        _invalid("request_id", "required", "REQUEST_ID_REQUIRED")
    return await logs.list_by_request_id(caller.org_id, request_id)


async def list_by_ref_id(
    logs: DeliveryLogRepository, caller: Caller, ref_id: str
) -> list[LogEntry]:
    """Every delivery of one reference id (oldest first)."""
    if not ref_id:
        _invalid("ref_id", "required", "REF_ID_REQUIRED")
    return await logs.list_by_ref_id(caller.org_id, ref_id)


async def _resolve_group(
    webhooks: WebhookRepository, logs: DeliveryLogRepository, caller: Caller, given: str
) -> str:
    """The consumer group ``given`` names: a consumerGroupId the org owns (a
    webhook's, or, for a purged webhook, one whose log entries are still kept),
    or a webHookId of the org's, which people reach for first. NOT_FOUND
    otherwise, saying which ids are accepted and where to find them."""
    if not given:
        _invalid("consumer_group_id", "required", "CONSUMER_GROUP_ID_REQUIRED")
    if await webhooks.get_by_consumer_group(caller.org_id, given) is not None:
        return given
    if await logs.group_has_entries(caller.org_id, given):
        return given
    hook = await webhooks.get(caller.org_id, given)
    if hook is not None:
        return hook.consumer_group_id
    raise NotFound(
        "consumerGroupId is invalid: give a webhook's consumerGroupId or webHookId "
        "(both are in ListWebhooks / `eventnotify webhooks list`)",
        reason="CONSUMER_GROUP_NOT_FOUND",
    )


@dataclass
class LogQuery:
    """A ListConsumerGroupLogs request in domain terms (times still as text)."""

    consumer_group_id: str
    event_name: str = ""
    status: str = ""
    request_id: str = ""
    ref_id: str = ""
    start_time: str = ""
    end_time: str = ""
    sort: str = "TIME_DESC"
    page_size: int = 0
    page_token: str = ""


@dataclass
class LogPage:
    """One page of a consumer group's log."""

    entries: list[LogEntry] = field(default_factory=list)
    next_page_token: str = ""


def _time(text: str, path: str) -> datetime | None:
    if not text:
        return None
    try:
        return parse_ts(text)
    except ValueError:
        _invalid(path, "not a timestamp ('...+0000' or RFC 3339)", "TIME_INVALID")
        raise  # unreachable: _invalid raises


def _filter_hash(q: LogQuery) -> str:
    """Fingerprint of everything that shapes the result order and membership,
    so a token cannot be replayed with other filters (that would skip or
    repeat entries silently)."""
    material = [
        q.consumer_group_id,
        q.event_name,
        q.status,
        q.request_id,
        q.ref_id,
        q.start_time,
        q.end_time,
        q.sort,
    ]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:16]


def _sort_value(entry: LogEntry, key: str) -> Any:
    return entry.ingested_at if key == "ingested_at" else entry.last_duration_ms


def encode_token(value: Any, last_id: str, fingerprint: str) -> str:
    """Opaque token of the keyset position (sort value, id) and the filters."""
    encoded = {"t": to_epoch_ms(value)} if isinstance(value, datetime) else {"n": value}
    raw = json.dumps({"v": encoded, "i": last_id, "h": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, fingerprint: str) -> tuple[Any, str]:
    """(sort value, id) of a token; INVALID_ARGUMENT when it is not ours or was
    issued for other filters."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        encoded, last_id, got = raw["v"], raw["i"], raw["h"]
        value: Any = from_epoch_ms(int(encoded["t"])) if "t" in encoded else encoded["n"]
        if not isinstance(last_id, str) or not (value is None or isinstance(value, int | datetime)):
            raise ValueError("malformed")
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        _invalid("page_token", "not a token from this API", "PAGE_TOKEN_INVALID")
        raise  # unreachable
    if got != fingerprint:
        _invalid("page_token", "issued for other filters or sort", "PAGE_TOKEN_FILTER_MISMATCH")
    return value, last_id


async def list_group_logs(
    webhooks: WebhookRepository, logs: DeliveryLogRepository, caller: Caller, q: LogQuery
) -> LogPage:
    """A consumer group's log, filtered, sorted and keyset-paginated."""
    group = await _resolve_group(webhooks, logs, caller, q.consumer_group_id)
    limit = page_size(q.page_size)
    f = LogFilter(
        consumer_group_id=group,
        event_name=q.event_name,
        status=DeliveryStatus(q.status) if q.status else None,
        request_id=q.request_id,
        ref_id=q.ref_id,
        start=_time(q.start_time, "start_time"),
        end=_time(q.end_time, "end_time"),
    )
    fingerprint = _filter_hash(q)
    after = decode_token(q.page_token, fingerprint) if q.page_token else None
    sort = SORTS[q.sort]
    rows = await logs.list_for_group(caller.org_id, f, sort, after=after, limit=limit + 1)
    page = LogPage(entries=rows[:limit])
    if len(rows) > limit:
        last = rows[limit - 1]
        page.next_page_token = encode_token(_sort_value(last, sort[0]), last.event_id, fingerprint)
    return page


@dataclass(frozen=True)
class MetricsReport:
    """A consumer group's figures over a window."""

    consumer_group_id: str
    figures: GroupMetrics
    start: datetime
    end: datetime


async def group_metrics(
    webhooks: WebhookRepository,
    logs: DeliveryLogRepository,
    caller: Caller,
    group: str,
    window_seconds: int,
) -> MetricsReport:
    """Figures of the group (given by consumerGroupId or webHookId) over the
    window ending now."""
    if window_seconds < 0 or window_seconds > MAX_WINDOW_SECONDS:
        _invalid("window_seconds", f"must be between 1 and {MAX_WINDOW_SECONDS}", "WINDOW_INVALID")
    resolved = await _resolve_group(webhooks, logs, caller, group)
    end = utcnow() + timedelta(milliseconds=1)  # make "now" itself part of the window
    start = end - timedelta(seconds=window_seconds or DEFAULT_WINDOW_SECONDS)
    figures = await logs.metrics(caller.org_id, resolved, start, end)
    return MetricsReport(resolved, figures, start, end)
