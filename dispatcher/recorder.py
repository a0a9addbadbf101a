"""Durable recording of outcomes, in batches.

Every outcome (a log entry, a parked delivery, a finished parked delivery to
remove) is handed to ``Recorder.submit``, whose ``on_durable`` callback runs
once the batch holding it is written (``Recorder.record`` is the awaitable form
for callers that can wait). Kafka offsets are marked done only from that
callback, which is what makes delivery at-least-once. When MongoDB is down,
the batch is retried with backoff and ``healthy`` turns False so consumers
pause fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eventnotify.domain import LogEntry
from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.store.parked import ParkedDelivery, ParkedDeliveryRepository

log = logging.getLogger(__name__)


class Awaiting:
    """An ``on_durable`` callback that is also told when its outcome is
    queued: decided, and waiting only for its write (see ``Share``)."""

    __slots__ = ()

    def queued(self) -> None:
        """The outcome is decided and queued for writing."""

    def __call__(self) -> None:
        raise NotImplementedError


@dataclass
class _Item:
    on_durable: Callable[[], None] = field(repr=False)
    queued_at: float = 0.0
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
        self._full = asyncio.Event()
        self._stopping = False
        # When the oldest write of the batch being written was queued.
        self._writing_since: float | None = None
        self.healthy = True

    async def record(
        self,
        entry: LogEntry | None,
        park: ParkedDelivery | None = None,
        unpark: str | None = None,
    ) -> None:
        """Queue writes and wait until they are durable."""
        done = asyncio.get_running_loop().create_future()
        self.submit(entry, park, unpark, on_durable=lambda: done.set_result(None))
        await done

    def submit(
        self,
        entry: LogEntry | None,
        park: ParkedDelivery | None = None,
        unpark: str | None = None,
        *,
        on_durable: Callable[[], None],
    ) -> None:
        """Queue writes; ``on_durable`` runs once they are written. The hot
        path uses this form: nothing has to wait, the callback marks the Kafka
        offset done."""
        self._queue.append(_Item(on_durable, time.monotonic(), entry, park, unpark))
        if isinstance(on_durable, Awaiting):
            on_durable.queued()
        self._wakeup.set()
        if len(self._queue) >= self._max_batch:
            self._full.set()

    async def run(self) -> None:
        """Write batches until ``shutdown`` and the queue is empty."""
        while not (self._stopping and not self._queue):
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Fewer, larger round trips: wait until a full batch is queued or
            # the oldest write has waited max_delay. Deliveries are not slowed
            # (they happened already); only their log entry and commit wait.
            deadline = self._queue[0].queued_at + self._max_delay
            while len(self._queue) < self._max_batch and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._full.clear()
                try:
                    await asyncio.wait_for(self._full.wait(), remaining)
                except TimeoutError:
                    break
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            self._writing_since = batch[0].queued_at
            try:
                await self._write_until_done(batch)
            finally:
                self._writing_since = None
            for item in batch:
                item.on_durable()

    def lag(self) -> float:
        """How long the oldest outcome not yet durable has waited, in seconds
        (0 when every outcome is written)."""
        if self._writing_since is not None:
            oldest = self._writing_since
        elif self._queue:
            oldest = self._queue[0].queued_at
        else:
            return 0.0
        return max(0.0, time.monotonic() - oldest)

    async def _write_until_done(self, batch: list[_Item]) -> None:
        delay = 0.2
        while True:
            try:
                await self._write(batch)
            except Exception as exc:  # storage down or failing: keep the batch, back off
                if self.healthy:
                    log.warning("recording failed, retrying: %s", exc)
                self.healthy = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if not self.healthy:
                log.info("recording recovered")
            self.healthy = True
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
        self._full.set()


def _latest(entries: list[LogEntry]) -> list[LogEntry]:
    # One write per event id per batch: the last state wins.
    by_id: dict[str, LogEntry] = {}
    for e in entries:
        by_id[e.event_id] = e
    return list(by_id.values()) if len(by_id) != len(entries) else entries
