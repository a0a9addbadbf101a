"""Marks SLA breaches of deliveries that are still unfinished past their deadline."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.store.parked import ParkedDeliveryRepository
from eventnotify.timefmt import utcnow

log = logging.getLogger(__name__)


class SlaSweeper:
    """Every ``interval`` seconds, stamps slaBreachTimestamp on overdue entries."""

    def __init__(
        self, logs: DeliveryLogRepository, parked: ParkedDeliveryRepository, interval: float = 5.0
    ) -> None:
        self._logs = logs
        self._parked = parked
        self._interval = interval
        self._stopping = asyncio.Event()
        self.marked = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.marked += await self.sweep_once(utcnow())
            except Exception as exc:  # storage down: try again next round
                log.info("SLA sweep skipped: %s", exc)
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            except TimeoutError:
                pass

    async def sweep_once(self, now: datetime) -> int:
        """Stamp every overdue unfinished delivery; returns how many changed.

        Unfinished deliveries are exactly the parked ones (a delivery in its
        first attempts is recorded with its outcome, breach included)."""
        marked = 0
        while overdue := await self._parked.overdue(now):
            marked += await self._logs.mark_sla_breaches(overdue)
            await self._parked.mark_swept(list(overdue))
        return marked

    def shutdown(self) -> None:
        self._stopping.set()
