"""Marks SLA breaches of deliveries that are still unfinished past their deadline."""

from __future__ import annotations

import asyncio
import logging

from service.store.logs import DeliveryLogRepository
from service.timefmt import utcnow

log = logging.getLogger(__name__)


class SlaSweeper:
    """Every ``interval`` seconds, stamps slaBreachTimestamp on overdue entries."""

    def __init__(self, logs: DeliveryLogRepository, interval: float = 5.0) -> None:
        self._logs = logs
        self._interval = interval
        self._stopping = asyncio.Event()
        self.marked = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.marked += await self._logs.mark_sla_breaches(utcnow())
            except Exception as exc:  # storage down: try again next round
                log.info("SLA sweep skipped: %s", exc)
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            except TimeoutError:
                pass

    def shutdown(self) -> None:
        self._stopping.set()
