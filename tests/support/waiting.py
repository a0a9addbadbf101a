"""Awaiting conditions instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from eventnotify.domain import DeliveryStatus, LogEntry
from eventnotify.store import Store

T = TypeVar("T")


async def wait_until(
    probe: Callable[[], Awaitable[T | None]], within: float = 30.0, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {result!r})")
        await asyncio.sleep(interval)


async def logged_as(
    store: Store, org_id: int, event_id: str, *statuses: DeliveryStatus
) -> LogEntry:
    """The log entry of ``event_id`` once it has one of ``statuses``."""

    async def probe() -> LogEntry | None:
        e = await store.logs.get(org_id, event_id)
        return e if e is not None and e.status in statuses else None

    return await wait_until(probe)
