"""eventnotify.delivery.outcome: the delivery outcome rules, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventnotify.delivery import outcome
from eventnotify.delivery.outcome import Attempt, Signal
from eventnotify.domain import DeliveryStatus, LogEntry
from tests.support.entries import log_entry

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
INGESTED = NOW - timedelta(seconds=30)

# (result, retry allowed, delay, in place left, circuit allows after failure)
#   -> (status, signal, waits in place, parked, reason starts with, deactivate)
AFTER_ATTEMPT = [
    (
        Attempt.SUCCESS,
        True,
        0.0,
        2,
        True,
        DeliveryStatus.DELIVERED,
        Signal.SUCCESS,
        False,
        False,
        "",
        False,
    ),
    (
        Attempt.GONE,
        True,
        1.0,
        2,
        True,
        DeliveryStatus.FAILED,
        Signal.NONE,
        False,
        False,
        "HTTP 410",
        True,
    ),
    (
        Attempt.PERMANENT,
        True,
        1.0,
        2,
        True,
        DeliveryStatus.FAILED,
        Signal.NONE,
        False,
        False,
        "non-retriable",
        False,
    ),
    (
        Attempt.RETRIABLE,
        False,
        0.0,
        2,
        True,
        DeliveryStatus.FAILED,
        Signal.FAILURE,
        False,
        False,
        "retries exhausted",
        False,
    ),
    (
        Attempt.RETRIABLE,
        True,
        1.0,
        2,
        True,
        DeliveryStatus.RETRYING,
        Signal.FAILURE,
        True,
        False,
        "",
        False,
    ),
    (
        Attempt.RETRIABLE,
        True,
        1.0,
        0,
        True,
        DeliveryStatus.RETRYING,
        Signal.FAILURE,
        False,
        True,
        "HTTP 503",
        False,
    ),
    (
        Attempt.RETRIABLE,
        True,
        30.0,
        2,
        True,
        DeliveryStatus.RETRYING,
        Signal.FAILURE,
        False,
        True,
        "HTTP 503",
        False,
    ),
    (
        Attempt.RETRIABLE,
        True,
        1.0,
        2,
        False,
        DeliveryStatus.RETRYING,
        Signal.FAILURE,
        False,
        True,
        "HTTP 503",
        False,
    ),
]


@pytest.mark.parametrize(
    (
        "result",
        "allowed",
        "delay",
        "left",
        "circuit",
        "status",
        "signal",
        "waits",
        "parks",
        "reason",
        "deactivate",
    ),
    AFTER_ATTEMPT,
)
def test_after_attempt(
    result: Attempt,
    allowed: bool,
    delay: float,
    left: int,
    circuit: bool,
    status: DeliveryStatus,
    signal: Signal,
    waits: bool,
    parks: bool,
    reason: str,
    deactivate: bool,
) -> None:
    nxt = outcome.after_attempt(
        result,
        "HTTP 503",
        retry_allowed=allowed,
        delay=delay,
        in_place_left=left,
        in_place_max_delay=2.0,
        circuit_allows_after_failure=circuit,
        now=NOW,
    )
    assert (nxt.status, nxt.signal, nxt.wait > 0, nxt.due_at is not None) == (
        status,
        signal,
        waits,
        parks,
    )
    assert nxt.reason.startswith(reason)
    assert nxt.deactivate is deactivate
    if parks:
        assert nxt.due_at == NOW + timedelta(seconds=delay)


def _entry() -> LogEntry:
    return log_entry(ingested_at=INGESTED)


# outcome -> (status, ended, reason contains, next attempt set, keeps source event)
ENTRY_RULES = [
    (
        outcome.finished(DeliveryStatus.DELIVERED, "x", INGESTED, 60, NOW),
        DeliveryStatus.DELIVERED,
        True,
        "",
        False,
        False,
    ),
    (
        outcome.finished(DeliveryStatus.FAILED, "non-retriable: HTTP 400", INGESTED, 60, NOW),
        DeliveryStatus.FAILED,
        True,
        "HTTP 400",
        False,
        True,
    ),
    (
        outcome.parked(NOW + timedelta(seconds=8), INGESTED, 60, NOW),
        DeliveryStatus.RETRYING,
        False,
        "",
        True,
        False,
    ),
    (outcome.queued_behind(NOW), DeliveryStatus.PENDING, False, "", True, False),
    (
        outcome.dead_lettered("invalid JSON", NOW),
        DeliveryStatus.DEAD_LETTERED,
        True,
        "invalid JSON",
        False,
        False,
    ),
    (outcome.event_gone(NOW), DeliveryStatus.FAILED, True, "no longer available", False, False),
    (
        outcome.webhook_retired(True, NOW),
        DeliveryStatus.FAILED,
        True,
        "webhook deleted",
        False,
        True,
    ),
    (
        outcome.webhook_retired(False, NOW),
        DeliveryStatus.FAILED,
        True,
        "webhook inactive",
        False,
        True,
    ),
    (
        outcome.test_send(False, "HTTP 500", NOW),
        DeliveryStatus.FAILED,
        True,
        "test send: HTTP 500",
        False,
        False,
    ),
    (outcome.test_send(True, "", NOW), DeliveryStatus.DELIVERED, True, "", False, False),
]


@pytest.mark.parametrize(("o", "status", "ended", "reason", "next_set", "keeps"), ENTRY_RULES)
def test_entry_rules(
    o: outcome.EntryOutcome,
    status: DeliveryStatus,
    ended: bool,
    reason: str,
    next_set: bool,
    keeps: bool,
) -> None:
    entry = _entry()
    outcome.apply(entry, o)
    assert entry.status is status
    assert (entry.ended_at is not None) is ended
    assert reason in entry.failure_reason
    assert (entry.next_attempt_at is not None) is next_set
    assert o.keep_source_event is keeps
    assert entry.updated_at == NOW


def test_sla_breach_stamped_only_when_late() -> None:
    late, on_time = _entry(), _entry()
    outcome.apply(late, outcome.finished(DeliveryStatus.DELIVERED, "", INGESTED, 10, NOW))
    outcome.apply(on_time, outcome.finished(DeliveryStatus.DELIVERED, "", INGESTED, 60, NOW))
    assert late.sla_breach_at == INGESTED + timedelta(seconds=10)
    assert on_time.sla_breach_at is None
