"""eventnotify.delivery.sla: deadline and breach timestamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventnotify.delivery.sla import breach_timestamp, sla_deadline

INGESTED = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = INGESTED + timedelta(hours=1)


def test_deadline() -> None:
    assert sla_deadline(INGESTED, 3600) == DEADLINE
    assert sla_deadline(INGESTED, 0) == INGESTED


def test_negative_sla_is_rejected() -> None:
    with pytest.raises(ValueError):
        sla_deadline(INGESTED, -1)


def test_delivered_in_time_is_no_breach() -> None:
    ended = DEADLINE - timedelta(seconds=1)
    assert breach_timestamp(INGESTED, 3600, ended, now=DEADLINE + timedelta(days=1)) is None


def test_delivered_exactly_at_deadline_is_no_breach() -> None:
    assert breach_timestamp(INGESTED, 3600, DEADLINE, now=DEADLINE) is None


def test_delivered_late_breaches_at_the_deadline() -> None:
    ended = DEADLINE + timedelta(minutes=5)
    assert breach_timestamp(INGESTED, 3600, ended, now=ended) == DEADLINE


def test_pending_past_deadline_breaches() -> None:
    now = DEADLINE + timedelta(milliseconds=1)
    assert breach_timestamp(INGESTED, 3600, None, now=now) == DEADLINE


def test_pending_before_deadline_is_no_breach_yet() -> None:
    assert breach_timestamp(INGESTED, 3600, None, now=DEADLINE - timedelta(seconds=1)) is None


def test_finished_in_time_stays_unbreached_later() -> None:
    # ended_at decides once set, however late the check runs.
    ended = INGESTED + timedelta(minutes=10)
    assert breach_timestamp(INGESTED, 3600, ended, now=DEADLINE + timedelta(days=3)) is None
