"""When to retry a failed delivery, and how long to wait: pure functions.

Default schedule
----------------
After attempt ``n`` fails, the next attempt waits ``DEFAULT_SCHEDULE_SECONDS[n - 1]``
(the last entry once the table runs out), each delay varied by ±20 % jitter so
that endpoints recovering from an outage are not hit by every retry at once::

    retry      1   2   3   4    5     6     7     8     9      10     11    12...
    delay      1s  2s  5s  30s  2m    10m   30m   1h    2h     4h     8h    8h...
    attempt at 1s  3s  8s  38s  2.6m  12.6m 42.6m 1.7h  3.7h   7.7h   15.7h +8h...

The first two delays are short enough for the dispatcher to retry in place;
the rest should be parked until due.

How long
--------
A webhook's ``noOfRetryAttempts`` is ``RetryPolicy.max_attempts``:

- ``N > 0``: N retries after the first attempt, N + 1 attempts in all;
- ``0`` (the default): retry every failure that happens within ``max_age``
  (7 days) of the first attempt. Without jitter that is 32 attempts, the last
  about 7 days 8 hours after the first: at least 7 days of retrying, as the
  original service promised, and nothing more than one delay past that.

``max_age`` bounds ``N > 0`` as well, so a large N cannot retry for weeks.

A ``Retry-After`` answer (429, 503) is honoured when it asks for a longer wait
than the schedule, up to ``max_delay`` (1 day) so a bogus value cannot park a
delivery forever.

Status classification
---------------------
``classify_status``: 2xx success; 408, 429 and 5xx retriable; 410 gone (fail
and deactivate the webhook); other 4xx permanent. 3xx is permanent because
redirects are never followed: following them would let an endpoint bounce our
signed requests to an address that the SSRF checks never saw.
"""

from __future__ import annotations

import enum
import math
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

DEFAULT_SCHEDULE_SECONDS: tuple[float, ...] = (
    1,
    2,
    5,
    30,
    2 * 60,
    10 * 60,
    30 * 60,
    60 * 60,
    2 * 60 * 60,
    4 * 60 * 60,
    8 * 60 * 60,
)
"""Delay before retry ``i + 1``; the last entry repeats until the policy stops."""

DEFAULT_MAX_AGE = timedelta(days=7)
"""How long the default policy keeps retrying after the first attempt."""

DEFAULT_JITTER_RATIO = 0.2
"""Each delay is drawn uniformly from ``delay * (1 ± ratio)``."""

DEFAULT_MAX_DELAY = timedelta(days=1)
"""Upper bound of any single delay, ``Retry-After`` included."""


class Outcome(enum.StrEnum):
    """What an HTTP status means for the delivery."""

    SUCCESS = "SUCCESS"
    RETRIABLE = "RETRIABLE"
    PERMANENT = "PERMANENT"
    GONE = "GONE"
    """Permanent, and the endpoint asked to stop: deactivate the webhook."""


@dataclass(frozen=True)
class RetryPolicy:
    """How one webhook's failed deliveries are retried.

    ``max_attempts`` is the webhook's ``noOfRetryAttempts``: the number of
    retries after the first attempt (so ``N + 1`` attempts in all), or ``0``
    for the default policy that retries for ``max_age``.
    """

    max_attempts: int = 0
    max_age: timedelta = DEFAULT_MAX_AGE
    schedule: tuple[float, ...] = field(default=DEFAULT_SCHEDULE_SECONDS)
    jitter_ratio: float = DEFAULT_JITTER_RATIO
    max_delay: timedelta = DEFAULT_MAX_DELAY

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ValueError("max_attempts must not be negative")
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        if not self.schedule or any(d < 0 or not math.isfinite(d) for d in self.schedule):
            raise ValueError("schedule must be a non-empty list of non-negative delays")
        if not 0 <= self.jitter_ratio < 1:
            raise ValueError("jitter_ratio must be in [0, 1)")
        if self.max_delay <= timedelta(0):
            raise ValueError("max_delay must be positive")


def next_delay(
    policy: RetryPolicy,
    attempt_number: int,
    *,
    retry_after: float | None,
    rng: random.Random,
) -> float:
    """Seconds to wait after attempt ``attempt_number`` (1 = the first) failed.

    The scheduled delay with jitter, raised to ``retry_after`` when the endpoint
    asked for longer, and capped at ``policy.max_delay``. ``rng`` is passed in
    so tests can seed it.
    """
    if attempt_number < 1:
        raise ValueError("attempt_number starts at 1")
    base = policy.schedule[min(attempt_number, len(policy.schedule)) - 1]
    delay = base * (1 + rng.uniform(-policy.jitter_ratio, policy.jitter_ratio))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, policy.max_delay.total_seconds())


def should_retry(
    policy: RetryPolicy, attempts_made: int, first_attempt_at: datetime, now: datetime
) -> bool:
    """Whether a delivery whose latest attempt failed at ``now`` gets another one.

    ``attempts_made`` counts every attempt so far, the failed one included.
    Only call this for a retriable outcome; permanent ones never retry.
    """
    if attempts_made < 1:
        raise ValueError("attempts_made starts at 1")
    if policy.max_attempts > 0 and attempts_made > policy.max_attempts:
        return False
    return now - first_attempt_at < policy.max_age


def classify_status(http_status: int) -> Outcome:
    """Classify an endpoint's HTTP status (see the module docstring for the table)."""
    if 200 <= http_status <= 299:
        return Outcome.SUCCESS
    if http_status == 410:
        return Outcome.GONE
    if http_status in (408, 429) or 500 <= http_status <= 599:
        return Outcome.RETRIABLE
    if 300 <= http_status <= 499:
        return Outcome.PERMANENT
    # 1xx is never a final answer and anything else is not HTTP: a broken
    # server, which like a 5xx may recover, so give it the retries.
    return Outcome.RETRIABLE


_DELTA_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds requested by a ``Retry-After`` header, or ``None`` if absent or unreadable.

    Accepts delta-seconds (``"120"``; a fraction or a sign is tolerated) and an
    HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``), which is measured from
    ``now``. Negative results, such as a date in the past, become ``0``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return max(0.0, float(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # HTTP-dates are GMT by definition; "-0000" parses to a naive datetime.
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
