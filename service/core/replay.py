"""Replays: send deliveries again, keeping their eventIds.

The service never delivers itself: it parks deliveries due now (the
dispatchers' retry scheduler sends them) or records a rewind order (the
dispatchers owning the group's partitions seek back). Either way a redelivery
goes through the same pipeline, cap, signature and log as the first one.
"""

from __future__ import annotations

from datetime import datetime

from eventnotify.domain import Caller, DeliveryStatus, LogEntry, Webhook
from eventnotify.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from eventnotify.store import Store
from eventnotify.store.logs import LogFilter, LogSort
from eventnotify.store.parked import ParkedDelivery
from eventnotify.text import brief
from eventnotify.timefmt import parse_ts, utcnow

RECOVER_PAGE = 500


def _since(text: str) -> datetime:
    if not text:
        raise InvalidArgument(
            "since is required",
            [FieldViolation("since", "required ('...+0000' or RFC 3339)")],
            reason="SINCE_REQUIRED",
        )
    try:
        return parse_ts(text)
    except ValueError:
        raise InvalidArgument(
            "since is not a timestamp",
            [FieldViolation("since", "not a timestamp ('...+0000' or RFC 3339)")],
            reason="TIME_INVALID",
        ) from None


async def _active_hook(store: Store, caller: Caller, web_hook_id: str) -> Webhook:
    hook = await store.webhooks.get(caller.org_id, web_hook_id)
    if hook is None:
        raise NotFound("webHookId is invalid", reason="WEBHOOK_NOT_FOUND")
    if not hook.active:
        raise FailedPrecondition(
            "the webhook is inactive: reactivate it first", reason="WEBHOOK_INACTIVE"
        )
    return hook


def _parked(entry: LogEntry, now: datetime, reason: str) -> ParkedDelivery:
    # A fresh retry budget: a replay is a new decision by the user.
    return ParkedDelivery(
        event_id=entry.event_id,
        web_hook_id=entry.web_hook_id,
        org_id=entry.org_id,
        ref_id=entry.ref_id,
        due_at=now,
        seq=0,
        attempts_made=0,
        first_attempt_at=None,
        event=entry.source_event,
        kafka_position=entry.kafka_position,
        reason=reason,
        sla_deadline=entry.sla_deadline if entry.sla_breach_at is None else None,
    )


async def resend(store: Store, caller: Caller, event_id: str) -> str:
    """Schedule one delivery again now; returns its (unchanged) eventId."""
    entry = await store.logs.get(caller.org_id, event_id)
    if entry is None:
        raise NotFound(f"no delivery with eventId {brief(event_id)}", reason="EVENT_LOG_NOT_FOUND")
    if entry.status is DeliveryStatus.DEAD_LETTERED:
        raise FailedPrecondition(
            "a dead-lettered record cannot be resent: publish a corrected event",
            reason="DEAD_LETTERED",
        )
    if entry.test:
        # SendTestEvent answers at once with the receiver's reply; sending the
        # old sample again through the dispatchers would tell nothing more.
        raise FailedPrecondition(
            "a test delivery is not resent: call SendTestEvent again", reason="TEST_DELIVERY"
        )
    await _active_hook(store, caller, entry.web_hook_id)
    await store.parked.park_many([_parked(entry, utcnow(), "resend")])
    return entry.event_id


async def recover_failed(store: Store, caller: Caller, web_hook_id: str, since: str) -> int:
    """Schedule every FAILED delivery of a webhook ingested since a time,
    except SendTestEvent's."""
    start = _since(since)
    hook = await _active_hook(store, caller, web_hook_id)
    # Test sends are checks of the receiver made at one moment, not events a
    # business is owed: recovering them would send fake events to receivers.
    flt = LogFilter(
        hook.consumer_group_id, status=DeliveryStatus.FAILED, start=start, exclude_test=True
    )
    scheduled = 0
    after: tuple[object, str] | None = None
    now = utcnow()
    while True:
        page = await store.logs.list_for_group(
            caller.org_id, flt, LogSort.TIME_ASC, after=after, limit=RECOVER_PAGE
        )
        if not page:
            return scheduled
        await store.parked.park_many([_parked(e, now, "recover") for e in page])
        scheduled += len(page)
        after = (page[-1].ingested_at, page[-1].event_id)


async def rewind(store: Store, caller: Caller, web_hook_id: str, since: str) -> str:
    """Order the dispatchers to move the webhook's group back to ``since``."""
    start = _since(since)
    hook = await _active_hook(store, caller, web_hook_id)
    return await store.orders.add_rewind(hook.web_hook_id, start, utcnow())
