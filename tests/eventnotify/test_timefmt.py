"""utcnow: the clock every stored timestamp comes from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eventnotify.timefmt import utcnow


def test_utcnow_is_aware_utc_truncated_to_milliseconds_and_current() -> None:
    for _ in range(200):
        before = datetime.now(UTC).replace(microsecond=0)
        now = utcnow()
        after = datetime.now(UTC)
        assert now.tzinfo is UTC
        assert now.microsecond % 1000 == 0
        # Truncated, never rounded up: not later than a reading taken after it.
        assert before <= now <= after
        assert after - now < timedelta(seconds=1)
