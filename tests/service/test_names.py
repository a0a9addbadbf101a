"""The nearest known event name offered with "unknown event" errors."""

from __future__ import annotations

import pytest

from service.core.names import closest, unknown_event

KNOWN = ["transactionAdded", "transactionUpdated", "pointsIssued", "pointsRedeemed", "badgeEarned"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("TransactionAdded", "transactionAdded"),  # case only: always offered
        ("POINTSISSUED", "pointsIssued"),
        ("transactionAded", "transactionAdded"),  # one letter missing
        ("pointsRedeemd", "pointsRedeemed"),
        ("badgeEarn", "badgeEarned"),
        ("customerAdded", ""),  # shares a suffix only: nothing offered
        ("zzzz", ""),
        ("", ""),
    ],
)
def test_closest(given: str, expected: str) -> None:
    assert closest(given, KNOWN) == expected


def test_unknown_event_message() -> None:
    assert unknown_event("TransactionAdded", KNOWN) == (
        "unknown event 'TransactionAdded' (did you mean 'transactionAdded'?)"
    )
    assert unknown_event("nope", KNOWN) == "unknown event 'nope'"
