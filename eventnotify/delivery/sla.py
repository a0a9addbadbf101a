"""Delivery SLA arithmetic: pure functions.

A webhook's ``slaInSeconds`` is how long after ingestion an event should be
delivered. A delivery that ends after that deadline, or is still unfinished
past it, records the deadline as its ``slaBreachTimestamp``; using the
deadline rather than the moment we noticed keeps the value the same however
often or late the dispatcher looks.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def sla_deadline(ingested_at: datetime, sla_seconds: int) -> datetime:
    """When delivery of an event ingested at ``ingested_at`` is due."""
    if sla_seconds < 0:
        raise ValueError("sla_seconds must not be negative")
    return ingested_at + timedelta(seconds=sla_seconds)


def breach_timestamp(
    ingested_at: datetime,
    sla_seconds: int,
    ended_at: datetime | None,
    now: datetime,
) -> datetime | None:
    """The SLA deadline if the delivery missed it, else ``None``.

    ``ended_at`` is when the delivery reached its final outcome, ``None`` while
    it is pending or retrying; then ``now`` decides, so an event still stuck
    past its deadline already shows the breach.
    """
    deadline = sla_deadline(ingested_at, sla_seconds)
    finished_or_now = ended_at if ended_at is not None else now
    return deadline if finished_or_now > deadline else None
