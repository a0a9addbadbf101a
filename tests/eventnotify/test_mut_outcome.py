"""eventnotify.delivery.outcome: every constructor's whole result, and every
field ``apply`` writes (found unguarded by mutation testing: the table in
test_outcome.py checks only some fields)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from eventnotify.delivery import outcome
from eventnotify.delivery.outcome import EntryOutcome
from eventnotify.domain import DeliveryStatus, LogEntry
from tests.support.entries import log_entry

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
INGESTED = NOW - timedelta(seconds=30)
DUE = NOW + timedelta(seconds=8)
LATE = INGESTED + timedelta(seconds=10)  # the deadline of a 10 s SLA, missed
D, F, R = DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.RETRYING

WHOLE = [
    (lambda: outcome.finished(D, "ignored", INGESTED, 60, NOW), EntryOutcome(D, "", NOW, True)),
    (
        lambda: outcome.finished(D, "", INGESTED, 10, NOW),
        EntryOutcome(D, "", NOW, True, None, LATE),
    ),
    (
        lambda: outcome.finished(F, "non-retriable: HTTP 400", INGESTED, 60, NOW),
        EntryOutcome(F, "non-retriable: HTTP 400", NOW, True, keep_source_event=True),
    ),
    (lambda: outcome.parked(DUE, INGESTED, 60, NOW), EntryOutcome(R, "", NOW, False, DUE)),
    (lambda: outcome.parked(DUE, INGESTED, 10, NOW), EntryOutcome(R, "", NOW, False, DUE, LATE)),
    (
        lambda: outcome.queued_behind(NOW),
        EntryOutcome(DeliveryStatus.PENDING, "", NOW, False, next_attempt_at=NOW),
    ),
    (
        lambda: outcome.dead_lettered("invalid JSON", NOW),
        EntryOutcome(DeliveryStatus.DEAD_LETTERED, "invalid JSON", NOW, True),
    ),
    (
        lambda: outcome.event_gone(NOW),
        EntryOutcome(F, "event no longer available in Kafka for replay", NOW, True),
    ),
    (
        lambda: outcome.webhook_retired(True, NOW),
        EntryOutcome(F, "webhook deleted", NOW, True, keep_source_event=True),
    ),
    (
        lambda: outcome.webhook_retired(False, NOW),
        EntryOutcome(F, "webhook inactive", NOW, True, keep_source_event=True),
    ),
    (lambda: outcome.test_send(True, "ignored", NOW), EntryOutcome(D, "", NOW, True)),
    (
        lambda: outcome.test_send(False, "HTTP 500", NOW),
        EntryOutcome(F, "test send: HTTP 500", NOW, True),
    ),
]


# The rules run inside the test (not while the table is built), so mutation
# testing sees which test covers them.
@pytest.mark.parametrize(("rule", "want"), WHOLE)
def test_each_rule_gives_exactly_this_outcome(
    rule: Callable[[], EntryOutcome], want: EntryOutcome
) -> None:
    assert rule() == want


def _entry() -> LogEntry:
    e = log_entry(ingested_at=INGESTED)
    e.source_event = {"event_id": "s"}
    e.sla_breach_at = LATE
    e.ended_at = NOW
    return e


@pytest.mark.parametrize(
    ("o", "keeps_event", "breach"),
    [
        (EntryOutcome(R, "", NOW, False, DUE, None), False, None),
        (EntryOutcome(F, "why", NOW, True, None, LATE, keep_source_event=True), True, LATE),
        # Dead letters and queued entries leave an earlier breach stamp alone.
        (EntryOutcome(DeliveryStatus.DEAD_LETTERED, "bad", NOW, True), False, LATE),
        (EntryOutcome(DeliveryStatus.PENDING, "", NOW, False, NOW), False, LATE),
    ],
)
def test_apply_writes_every_field(
    o: EntryOutcome, keeps_event: bool, breach: datetime | None
) -> None:
    e = _entry()
    outcome.apply(e, o)
    assert (e.status, e.updated_at, e.failure_reason, e.next_attempt_at) == (
        o.status,
        o.at,
        o.reason,
        o.next_attempt_at,
    )
    assert e.ended_at == (o.at if o.ended else None)
    assert e.sla_breach_at == breach
    assert (e.source_event is not None) is keeps_event
