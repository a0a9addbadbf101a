"""Stopping an aiokafka consumer within a bound.

aiokafka 0.14's background fetch task can lose the cancellation ``stop()``
sends it: right after the assignment changes (``assign()``), the task cancels
its in-flight fetches and waits for them with ``CancelledError`` suppressed,
so a cancellation arriving then is swallowed, the task carries on, and
``stop()`` waits for it forever (a timeout around ``stop()`` does not help:
its cancellation is suppressed in the same way). A catch-up reader that reassigned its
partitions and then stopped (its webhook's circuit had opened) hung there,
stayed registered, and its webhook was never caught up again.
``tests/dispatcher/test_consumers.py`` reproduces it against the broker.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

log = logging.getLogger(__name__)
STOP_SECONDS = 2.0


async def stop_consumer(consumer: AIOKafkaConsumer, grace: float = STOP_SECONDS) -> bool:
    """Stop ``consumer``; True once it has stopped.

    When ``stop()`` has not finished within ``grace``, the fetch task is
    cancelled again (the cancellation it lost) and ``stop()`` gets as long
    again. False if it still has not finished: logged, and left to finish in
    the background, so no caller ever waits longer than twice ``grace``."""
    stopping = asyncio.ensure_future(consumer.stop())
    for _ in range(2):
        done, _pending = await asyncio.wait({stopping}, timeout=grace)
        if done:
            exc = stopping.exception()
            if exc is not None:
                log.info("consumer stopped with an error: %s", exc)
            return True
        _cancel_fetch_task(consumer)
    log.warning("a Kafka consumer did not stop within %.0f s; left to finish", 2 * grace)
    return False


def _cancel_fetch_task(consumer: AIOKafkaConsumer) -> None:
    # Private to aiokafka, hence looked up defensively: a version without it
    # just keeps the bounded wait.
    task = getattr(getattr(consumer, "_fetcher", None), "_fetch_task", None)
    if isinstance(task, asyncio.Task) and not task.done():
        task.cancel()
