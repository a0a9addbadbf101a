"""dispatcher.retry_policy: the documented default schedule, status
classification, Retry-After, jitter and the attempt/age limits."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher import retry_policy
from dispatcher.retry_policy import (
    DEFAULT_SCHEDULE_SECONDS,
    Outcome,
    RetryPolicy,
    classify_status,
    next_delay,
    parse_retry_after,
    should_retry,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NO_JITTER = RetryPolicy(jitter_ratio=0)


def rng() -> random.Random:
    return random.Random(1234)


# --- the documented default -------------------------------------------------


def test_default_schedule_is_the_documented_one() -> None:
    # Also written in the module docstring and the webhook API docs: change
    # them together.
    assert DEFAULT_SCHEDULE_SECONDS == (
        1,
        2,
        5,
        30,
        120,
        600,
        1800,
        3600,
        7200,
        14400,
        28800,
    )
    assert RetryPolicy() == RetryPolicy(
        max_attempts=0,
        max_age=timedelta(days=7),
        schedule=DEFAULT_SCHEDULE_SECONDS,
        jitter_ratio=0.2,
        max_delay=timedelta(days=1),
    )
    doc = retry_policy.__doc__ or ""
    assert "1s  2s  5s  30s  2m    10m   30m   1h    2h     4h     8h    8h" in doc


def simulate(policy: RetryPolicy) -> list[float]:
    """Offsets in seconds from the first attempt of every attempt made while
    every attempt fails (no jitter, no Retry-After)."""
    offsets = [0.0]
    while should_retry(policy, len(offsets), T0, T0 + timedelta(seconds=offsets[-1])):
        offsets.append(offsets[-1] + next_delay(policy, len(offsets), retry_after=None, rng=rng()))
    return offsets


def test_default_policy_retries_for_seven_days_then_stops() -> None:
    offsets = simulate(NO_JITTER)
    seven_days = timedelta(days=7).total_seconds()
    assert offsets[1:12] == [1, 3, 8, 38, 158, 758, 2558, 6158, 13358, 27758, 56558]
    # Then every 8 hours; the last failure inside the window is retried once more.
    assert all(b - a == 28800 for a, b in itertools.pairwise(offsets[11:]))
    assert len(offsets) == 32
    assert offsets[-2] < seven_days < offsets[-1] <= seven_days + 28800


def test_default_policy_stops_after_seven_days_even_with_jitter() -> None:
    policy = RetryPolicy()
    assert should_retry(policy, 500, T0, T0 + timedelta(days=7) - timedelta(seconds=1))
    assert not should_retry(policy, 2, T0, T0 + timedelta(days=7))
    assert not should_retry(policy, 2, T0, T0 + timedelta(days=30))


# --- attempt limits ----------------------------------------------------------


@pytest.mark.parametrize("retries", [1, 3, 10])
def test_n_retries_means_n_plus_one_attempts(retries: int) -> None:
    policy = RetryPolicy(max_attempts=retries)
    for made in range(1, retries + 1):
        assert should_retry(policy, made, T0, T0 + timedelta(minutes=made))
    assert not should_retry(policy, retries + 1, T0, T0 + timedelta(minutes=1))
    assert len(simulate(RetryPolicy(max_attempts=retries, jitter_ratio=0))) == retries + 1


def test_max_age_also_bounds_an_attempt_count() -> None:
    policy = RetryPolicy(max_attempts=100)
    assert not should_retry(policy, 5, T0, T0 + timedelta(days=7, seconds=1))


def test_should_retry_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        should_retry(RetryPolicy(), 0, T0, T0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": -1},
        {"max_age": timedelta(0)},
        {"schedule": ()},
        {"schedule": (1.0, -1.0)},
        {"schedule": (float("inf"),)},
        {"jitter_ratio": -0.1},
        {"jitter_ratio": 1.0},
        {"max_delay": timedelta(0)},
    ],
)
def test_policy_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# --- delays -------------------------------------------------------------------


def test_delay_follows_schedule_then_repeats_last_entry() -> None:
    delays = [next_delay(NO_JITTER, n, retry_after=None, rng=rng()) for n in range(1, 15)]
    assert delays == [*DEFAULT_SCHEDULE_SECONDS, 28800, 28800, 28800]


def test_jitter_stays_within_bounds_and_spreads() -> None:
    policy = RetryPolicy()
    r = random.Random(42)
    for attempt, base in enumerate(DEFAULT_SCHEDULE_SECONDS, start=1):
        draws = [next_delay(policy, attempt, retry_after=None, rng=r) for _ in range(2000)]
        assert min(draws) >= base * 0.8
        assert max(draws) <= base * 1.2
        # Actually spread over the band, not clustered at the base value.
        assert min(draws) < base * 0.85
        assert max(draws) > base * 1.15


def test_jitter_is_deterministic_for_a_seeded_rng() -> None:
    policy = RetryPolicy()
    a = [next_delay(policy, 5, retry_after=None, rng=random.Random(7)) for _ in range(3)]
    assert len(set(a)) == 1


def test_retry_after_longer_than_schedule_wins() -> None:
    assert next_delay(NO_JITTER, 1, retry_after=120, rng=rng()) == 120


def test_retry_after_shorter_than_schedule_is_ignored() -> None:
    assert next_delay(NO_JITTER, 8, retry_after=10, rng=rng()) == 3600


def test_retry_after_is_capped_at_max_delay() -> None:
    assert next_delay(NO_JITTER, 1, retry_after=10 * 86400, rng=rng()) == 86400
    small_cap = RetryPolicy(jitter_ratio=0, max_delay=timedelta(minutes=5))
    assert next_delay(small_cap, 1, retry_after=3600, rng=rng()) == 300


def test_next_delay_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError):
        next_delay(RetryPolicy(), 0, retry_after=None, rng=rng())


def test_retry_after_header_flows_into_delay() -> None:
    for header in ("90", "Fri, 01 Mar 2024 12:01:30 GMT"):
        retry_after = parse_retry_after(header, T0)
        assert next_delay(NO_JITTER, 1, retry_after=retry_after, rng=rng()) == 90


# --- classification --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCESS),
        (201, Outcome.SUCCESS),
        (202, Outcome.SUCCESS),
        (204, Outcome.SUCCESS),
        (299, Outcome.SUCCESS),
        (301, Outcome.PERMANENT),
        (302, Outcome.PERMANENT),
        (307, Outcome.PERMANENT),
        (308, Outcome.PERMANENT),
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (405, Outcome.PERMANENT),
        (413, Outcome.PERMANENT),
        (422, Outcome.PERMANENT),
        (408, Outcome.RETRIABLE),
        (429, Outcome.RETRIABLE),
        (410, Outcome.GONE),
        (500, Outcome.RETRIABLE),
        (501, Outcome.RETRIABLE),
        (502, Outcome.RETRIABLE),
        (503, Outcome.RETRIABLE),
        (504, Outcome.RETRIABLE),
        (599, Outcome.RETRIABLE),
        (100, Outcome.RETRIABLE),
        (0, Outcome.RETRIABLE),
        (600, Outcome.RETRIABLE),
    ],
)
def test_classify_status(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


# --- Retry-After parsing -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("Fri, 01 Mar 2024 12:02:00 GMT", 120.0),
        ("Fri, 01 Mar 2024 13:00:00 +0100", 0.0),  # 12:00 UTC: now
        ("Fri, 01 Mar 2024 12:00:30 -0000", 30.0),
        ("Thu, 29 Feb 2024 12:00:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str, expected: float) -> None:
    assert parse_retry_after(value, T0) == expected


@pytest.mark.parametrize(
    "value", [None, "", "   ", "soon", "12s", "1e3", "nan", "inf", "Fri, 99 Foo 2024"]
)
def test_parse_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, T0) is None
