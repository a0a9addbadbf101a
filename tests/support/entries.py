"""Delivery-log entries for tests: every required field filled in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventnotify.domain import DeliveryStatus, LogEntry

INGESTED = datetime(2026, 1, 1, tzinfo=UTC)


def log_entry(**fields: Any) -> LogEntry:
    """A PENDING delivery of org 1's webhook "w"; ``fields`` override any field."""
    defaults: dict[str, Any] = {
        "event_id": "e",
        "source_event_id": "s",
        "org_id": 1,
        "web_hook_id": "w",
        "consumer_group_id": "g",
        "event_name": "badgeEarned",
        "ref_id": "r",
        "request_id": "q",
        "status": DeliveryStatus.PENDING,
        "ingested_at": INGESTED,
    }
    return LogEntry(**(defaults | fields))
