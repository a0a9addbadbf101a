"""Load at a fixed rate, and latency figures measured at the receiver.

Each event is created (and its ``createdAt`` stamped) at its scheduled send
time, so created -> received measures the pipeline rather than a backlog the
producer built up front.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable

from eventnotify.envelope import SourceEvent
from tests.support.kafka import EventProducer
from tests.support.receiver import Received


async def publish_paced(
    producer: EventProducer, make: Callable[[int], SourceEvent], count: int, per_second: float
) -> list[SourceEvent]:
    """Publish ``make(i)`` for i in range(count), event i at start + i / per_second."""
    sent: list[SourceEvent] = []
    start = time.monotonic()
    for i in range(count):
        if (wait := start + i / per_second - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        event = make(i)
        await producer.publish(event)
        sent.append(event)
    await producer.flush()
    return sent


def latencies(requests: Iterable[Received], event_ids: set[str]) -> list[float]:
    """Seconds from the body's createdAt to the first arrival, per wanted eventId."""
    first: dict[str, float] = {}
    for rec in requests:
        body = rec.json
        event_id = body["eventId"]
        if event_id in event_ids and event_id not in first:
            first[event_id] = rec.at - body["createdAt"] / 1000
    return sorted(first.values())


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]
