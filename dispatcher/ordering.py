"""Per-key ordering for webhooks with ``orderedDelivery``.

Events of one refId run one after another, in arrival order; events of other
refIds proceed in parallel (still under the webhook's connection cap). Each key
holds a chain of futures: an event waits for the one before it with its key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedSequencer:
    """Serialises work per key, FIFO, without blocking other keys."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Future[None]] = {}

    def reserve(self, key: str) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
        """Take the next place in ``key``'s line, synchronously (so arrival
        order is kept). Returns (what to wait for, what to resolve when done)."""
        loop = asyncio.get_running_loop()
        mine: asyncio.Future[None] = loop.create_future()
        previous = self._tails.get(key)
        self._tails[key] = mine
        return previous, mine

    @asynccontextmanager
    async def turn(
        self, key: str, place: tuple[asyncio.Future[None] | None, asyncio.Future[None]]
    ) -> AsyncIterator[None]:
        """Wait for the previous holder of ``key``, run, then hand over."""
        previous, mine = place
        try:
            if previous is not None:
                await asyncio.shield(previous)
            yield
        finally:
            if not mine.done():
                mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    def busy(self, key: str) -> bool:
        return key in self._tails

    def __len__(self) -> int:
        return len(self._tails)
