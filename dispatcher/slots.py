"""A FIFO concurrency gate with O(1) acquire and release.

asyncio.Semaphore (Python 3.11) scans all of its waiters on every acquire,
and a busy webhook can have a thousand deliveries waiting for one of its
``maxAllowedConnections`` slots; this gate hands a released slot straight to
the oldest waiter instead.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class Slots:
    """At most ``capacity`` holders at once; waiters are served in order."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._free = capacity
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    async def __aenter__(self) -> None:
        if self._free and not self._waiters:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # a slot was handed to us as we were cancelled: pass it on
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip waiters cancelled while queued
                waiter.set_result(None)  # the slot goes to them; _free is unchanged
                return
        self._free += 1
