"""Durable recording of outcomes, in batches.

Every outcome (a log entry, a parked delivery, a finished parked delivery to
remove) is handed to ``Recorder.record``, which returns once the batch holding
it is written. Callers commit Kafka offsets only after that, which is what
makes delivery at-least-once. When MongoDB is down, the batch is retried with
backoff and ``healthy`` turns False so consumers pause fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from service.domain import LogEntry
from service.store.logs import DeliveryLogRepository
from service.store.parked import ParkedDelivery, ParkedDeliveryRepository

log = logging.getLogger(__name__)


@dataclass
class _Item:
    done: asyncio.Future[None] = field(repr=False)
    entry: LogEntry | None = None
    park: ParkedDelivery | None = None
    unpark: str | None = None


class Recorder:
    """Batches writes to the delivery log and the parked-deliveries collection."""

    def __init__(
        self,
        logs: DeliveryLogRepository,
        parked: ParkedDeliveryRepository,
        max_batch: int = 500,
        max_delay: float = 0.02,
    ) -> None:
        self._logs = logs
        self._parked = parked
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._queue: list[_Item] = []
        self._wakeup = asyncio.Event()
        self._stopping = False
        self.healthy = True
        self._healthy_event = asyncio.Event()
        self._healthy_event.set()

    async def record(
        self,
        entry: LogEntry | None,
        park: ParkedDelivery | None = None,
        unpark: str | None = None,
    ) -> None:
        """Queue writes and wait until they are durable."""
        item = _Item(asyncio.get_running_loop().create_future(), entry, park, unpark)
        self._queue.append(item)
        self._wakeup.set()
        await item.done

    async def wait_healthy(self) -> None:
        await self._healthy_event.wait()

    async def run(self) -> None:
        """Write batches until ``shutdown`` and the queue is empty."""
        idle = True
        while not (self._stopping and not self._queue):
            if not self._queue:
                idle = True
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if idle and len(self._queue) < self._max_batch and not self._stopping:
                # After a quiet spell, let a burst gather into one round trip.
                # Under load there is no wait: what queued during the previous
                # write is the next batch, and the database never sits idle.
                await asyncio.sleep(self._max_delay)
            idle = False
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            await self._write_until_done(batch)
            for item in batch:
                if not item.done.done():
                    item.done.set_result(None)

    async def _write_until_done(self, batch: list[_Item]) -> None:
        delay = 0.2
        while True:
            try:
                await self._write(batch)
            except Exception as exc:  # storage down or failing: keep the batch, back off
                if self.healthy:
                    log.warning("recording failed, retrying: %s", exc)
                self.healthy = False
                self._healthy_event.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if not self.healthy:
                log.info("recording recovered")
            self.healthy = True
            self._healthy_event.set()
            return

    async def _write(self, batch: list[_Item]) -> None:
        # Parked deliveries first: a RETRYING log entry must never exist without
        # the parked delivery that will finish it.
        await self._parked.park_many([i.park for i in batch if i.park is not None])
        await self._logs.write_many(_latest([i.entry for i in batch if i.entry is not None]))
        removals = [i.unpark for i in batch if i.unpark is not None]
        if removals:
            await self._parked.remove_many(removals)

    def shutdown(self) -> None:
        self._stopping = True
        self._wakeup.set()


def _latest(entries: list[LogEntry]) -> list[LogEntry]:
    # One write per event id per batch: the last state wins.
    by_id: dict[str, LogEntry] = {}
    for e in entries:
        by_id[e.event_id] = e
    return list(by_id.values()) if len(by_id) != len(entries) else entries
