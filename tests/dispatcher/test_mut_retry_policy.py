"""dispatcher.retry_policy: the edges mutation testing found unguarded (the
3xx/4xx boundaries, exact jitter, error messages, naive clocks)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.retry_policy import (
    Outcome,
    RetryPolicy,
    classify_status,
    next_delay,
    parse_retry_after,
    should_retry,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (199, Outcome.RETRIABLE),
        (300, Outcome.PERMANENT),  # the first redirect status: never followed
        (399, Outcome.PERMANENT),
        (407, Outcome.PERMANENT),
        (409, Outcome.PERMANENT),
        (428, Outcome.PERMANENT),
        (430, Outcome.PERMANENT),
        (499, Outcome.PERMANENT),
    ],
)
def test_classify_status_edges(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": -1}, "max_attempts must not be negative"),
        ({"max_age": timedelta(0)}, "max_age must be positive"),
        ({"max_age": -timedelta(seconds=1)}, "max_age must be positive"),
        ({"schedule": ()}, "schedule must be a non-empty list of non-negative delays"),
        ({"schedule": (float("nan"),)}, "schedule must be a non-empty list of non-negative delays"),
        ({"jitter_ratio": 1.5}, r"jitter_ratio must be in \[0, 1\)"),
        ({"max_delay": -timedelta(seconds=1)}, "max_delay must be positive"),
    ],
)
def test_policy_errors_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_small_but_valid_policies_are_accepted() -> None:
    # Under a day of retrying, and zero or fractional delays, are legitimate.
    policy = RetryPolicy(max_age=timedelta(hours=1), schedule=(0.0, 0.5), jitter_ratio=0)
    assert [next_delay(policy, n, retry_after=None, rng=random.Random(1)) for n in (1, 2, 3)] == [
        0.0,
        0.5,
        0.5,
    ]
    assert RetryPolicy(max_delay=timedelta(seconds=1)).max_delay == timedelta(seconds=1)


def test_jitter_is_added_to_the_base_delay_exactly() -> None:
    policy = RetryPolicy()
    draw = random.Random(99).uniform(-0.2, 0.2)
    got = next_delay(policy, 4, retry_after=None, rng=random.Random(99))
    assert got == pytest.approx(30 * (1 + draw))


def test_attempt_numbering_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^attempt_number starts at 1$"):
        next_delay(RetryPolicy(), 0, retry_after=None, rng=random.Random(1))
    with pytest.raises(ValueError, match=r"^attempts_made starts at 1$"):
        should_retry(RetryPolicy(), 0, T0, T0)


def test_retry_after_date_against_a_naive_now_is_read_as_utc() -> None:
    naive_now = datetime(2024, 3, 1, 12, 0)
    assert parse_retry_after("Fri, 01 Mar 2024 12:02:00 GMT", naive_now) == 120.0
