"""Delivery outcome rules: what a log entry becomes, in one place.

Every way a delivery ends or pauses — delivered, failed, parked for a retry,
queued behind an earlier event of its refId (ordered mode), dead-lettered,
given up on because the event is gone, or dropped because its webhook was
deleted or deactivated — is a pure function here returning an ``EntryOutcome``.
Callers (the dispatcher's pipeline, fan-out and scheduler, and the service's
SendTestEvent) apply it with ``apply`` and act on it; nothing else sets a log
entry's status. ``after_attempt`` decides what follows one attempt and says
how the circuit breaker should hear of it, without touching the breaker.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventnotify.delivery.sla import breach_timestamp
from eventnotify.domain import DeliveryStatus, LogEntry


class Signal(enum.Enum):
    """What the circuit breaker should record for an attempt."""

    NONE = "none"
    SUCCESS = "success"
    FAILURE = "failure"


class Attempt(enum.Enum):
    """An attempt's result, classified (HTTP status or transport error)."""

    SUCCESS = "success"
    RETRIABLE = "retriable"
    PERMANENT = "permanent"
    GONE = "gone"


@dataclass(frozen=True)
class EntryOutcome:
    """The state a log entry takes. ``ended``: the delivery is over."""

    status: DeliveryStatus
    reason: str
    at: datetime
    ended: bool
    next_attempt_at: datetime | None = None
    sla_breach_at: datetime | None = None
    keep_source_event: bool = False


@dataclass(frozen=True)
class Next:
    """What follows an attempt: retry in place after ``wait`` s, park until
    ``due_at``, or finish with ``status``; and the circuit's signal."""

    status: DeliveryStatus
    signal: Signal
    wait: float = 0.0
    due_at: datetime | None = None
    reason: str = ""
    deactivate: bool = False


def after_attempt(
    result: Attempt,
    reason: str,
    *,
    retry_allowed: bool,
    delay: float,
    in_place_left: int,
    in_place_max_delay: float,
    circuit_allows_after_failure: bool,
    now: datetime,
) -> Next:
    """Decide what follows an attempt. ``retry_allowed`` and ``delay`` come
    from the retry policy; ``circuit_allows_after_failure`` is whether the
    circuit still lets traffic through once this failure is counted."""
    if result is Attempt.SUCCESS:
        return Next(DeliveryStatus.DELIVERED, Signal.SUCCESS)
    if result is Attempt.GONE:
        return Next(DeliveryStatus.FAILED, Signal.NONE, reason="HTTP 410 Gone", deactivate=True)
    if result is Attempt.PERMANENT:
        return Next(DeliveryStatus.FAILED, Signal.NONE, reason=f"non-retriable: {reason}")
    if not retry_allowed:
        return Next(DeliveryStatus.FAILED, Signal.FAILURE, reason=f"retries exhausted: {reason}")
    if in_place_left > 0 and delay <= in_place_max_delay and circuit_allows_after_failure:
        return Next(DeliveryStatus.RETRYING, Signal.FAILURE, wait=delay)
    return Next(
        DeliveryStatus.RETRYING,
        Signal.FAILURE,
        due_at=now + timedelta(seconds=delay),
        reason=reason,
    )


def finished(
    status: DeliveryStatus, reason: str, ingested_at: datetime, sla_seconds: int, now: datetime
) -> EntryOutcome:
    """Delivered or failed after attempts; a failure keeps its event for replay."""
    return EntryOutcome(
        status=status,
        reason=reason if status is not DeliveryStatus.DELIVERED else "",
        at=now,
        ended=True,
        sla_breach_at=breach_timestamp(ingested_at, sla_seconds, now, now),
        keep_source_event=status is DeliveryStatus.FAILED,
    )


def parked(
    due_at: datetime, ingested_at: datetime, sla_seconds: int, now: datetime
) -> EntryOutcome:
    """Parked in MongoDB until ``due_at`` for another attempt."""
    return EntryOutcome(
        status=DeliveryStatus.RETRYING,
        reason="",
        at=now,
        ended=False,
        next_attempt_at=due_at,
        sla_breach_at=breach_timestamp(ingested_at, sla_seconds, None, now),
    )


def queued_behind(now: datetime) -> EntryOutcome:
    """Ordered mode: parked, due now, behind an earlier parked event of its refId."""
    return EntryOutcome(DeliveryStatus.PENDING, "", now, ended=False, next_attempt_at=now)


def dead_lettered(reason: str, now: datetime) -> EntryOutcome:
    """The record cannot be delivered (undecodable, unknown, schema-invalid...)."""
    return EntryOutcome(DeliveryStatus.DEAD_LETTERED, reason, now, ended=True)


def event_gone(now: datetime) -> EntryOutcome:
    """A parked delivery whose event is no longer stored nor in Kafka."""
    return EntryOutcome(
        DeliveryStatus.FAILED, "event no longer available in Kafka for replay", now, ended=True
    )


def webhook_retired(deleted: bool, now: datetime) -> EntryOutcome:
    """The webhook was deleted or deactivated before this delivery was sent."""
    reason = "webhook deleted" if deleted else "webhook inactive"
    return EntryOutcome(DeliveryStatus.FAILED, reason, now, ended=True, keep_source_event=True)


def test_send(ok: bool, reason: str, now: datetime) -> EntryOutcome:
    """A SendTestEvent attempt: one try, no retry."""
    if ok:
        return EntryOutcome(DeliveryStatus.DELIVERED, "", now, ended=True)
    return EntryOutcome(DeliveryStatus.FAILED, f"test send: {reason}", now, ended=True)


def apply(entry: LogEntry, o: EntryOutcome) -> None:
    """Set ``entry``'s state from an outcome (the only writer of that state).
    The source event itself is attached by the caller when ``keep_source_event``."""
    entry.status = o.status
    entry.updated_at = o.at
    entry.failure_reason = o.reason
    entry.next_attempt_at = o.next_attempt_at
    entry.ended_at = o.at if o.ended else None
    if o.status is not DeliveryStatus.DEAD_LETTERED and o.status is not DeliveryStatus.PENDING:
        entry.sla_breach_at = o.sla_breach_at
    if not o.keep_source_event:
        entry.source_event = None
