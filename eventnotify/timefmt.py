"""Timestamps in the original system's wire format.

The original API writes times as ``2020-04-20T10:35:47.473+0000``; our proto
fields keep that format so JSON clients see the same strings. Inside the
code every time is an aware UTC ``datetime``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    """Now, in UTC, truncated to milliseconds (what MongoDB stores).

    Built from integer milliseconds: several calls per delivery, and this is
    about half the cost of ``datetime.now`` followed by ``replace``."""
    return _EPOCH + timedelta(milliseconds=time.time_ns() // 1_000_000)


def format_ts(value: datetime | None) -> str:
    """``datetime`` -> ``2020-04-20T10:35:47.473+0000``; ``None`` -> ``""``."""
    if value is None:
        return ""
    if value.tzinfo is None:  # pymongo returns naive UTC datetimes by default
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_ts(text: str) -> datetime:
    """Parse our format, or RFC 3339 / ISO 8601; raise ``ValueError`` otherwise."""
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    # "+0530" -> "+05:30": fromisoformat accepts both on 3.11, but be explicit.
    if len(raw) > 5 and raw[-5] in "+-" and raw[-4:].isdigit():
        raw = raw[:-2] + ":" + raw[-2:]
    parsed = datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def from_epoch_ms(ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_epoch_ms(value: datetime) -> int:
    """Aware (or naive UTC) datetime -> epoch milliseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)
