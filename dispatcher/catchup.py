"""Catch-up readers: bring detached webhooks back to the shared stream.

A detached webhook (backlog was full, circuit open, created while the stream
was past its first events, or rewound) is read from its own position by a
group-less reader of its own, one webhook per reader and at most
``catchup_readers`` at once, so Kafka connections do not grow with webhooks.
The reader hands records to ``Fanout.handle(only=...)`` with the same cap,
ordering and circuit rules as live delivery, and merges the webhook back into
the shared stream at an exact offset: when the next record it would hand is
the shared stream's next one on that partition, the webhook is attached
there, so nothing is skipped or handed twice. Its stored position is kept
(and advanced to its lowest unrecorded outcome) until every catch-up outcome
before the merge point is recorded; the reader does not wait for that, nor,
while another webhook waits for a slot, for a webhook with no room for more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from dispatcher.consumers import stop_consumer
from dispatcher.fanout import Fanout, RecordDone
from dispatcher.intake import SharedIntake
from dispatcher.offsets import PartitionWatermark
from dispatcher.positions import Positions
from dispatcher.recorder import Recorder
from dispatcher.runtime import WebhookRuntime
from eventnotify.domain import CircuitState
from eventnotify.settings import Settings

log = logging.getLogger(__name__)
SCAN_SECONDS = 0.05
PERSIST_SECONDS = 0.5
POLL_MS = 100
# Longest a reader whose webhook has no room waits for one of its outcomes
# before it looks again (room may also come from the webhook's live records).
ROOM_WAIT_SECONDS = 0.2


class CatchUp:
    """Starts and supervises the catch-up readers of this process."""

    def __init__(
        self,
        settings: Settings,
        intake: SharedIntake,
        fanout: Fanout,
        positions: Positions,
        recorder: Recorder,
        runtimes: Callable[[], dict[str, WebhookRuntime]],
    ) -> None:
        self._settings = settings
        self._intake = intake
        self._fanout = fanout
        self._positions = positions
        self._recorder = recorder
        self._runtimes = runtimes
        self._readers: dict[str, asyncio.Task[None]] = {}
        # The runtime each reader serves. A webhook retired and brought back
        # (deactivated, then reactivated) has a new runtime: its old reader
        # must not hand records on its behalf (they would be dropped as
        # retired while its position moved past them).
        self._serving: dict[str, WebhookRuntime] = {}
        self._stopping = asyncio.Event()
        # Some webhook was ready to be caught up and found no free slot at
        # the last scan.
        self._contended = False

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._scan()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), SCAN_SECONDS)
        for task in list(self._readers.values()):
            task.cancel()
        if self._readers:  # each also ends on _stopping; bounded all the same
            await asyncio.wait(set(self._readers.values()), timeout=10.0)

    def shutdown(self) -> None:
        self._stopping.set()

    def restart(self, hook_id: str) -> None:
        """Stop a webhook's reader (a rewind moved its position); the next
        scan starts a new one."""
        task = self._readers.pop(hook_id, None)
        self._serving.pop(hook_id, None)
        if task is not None:
            task.cancel()

    @property
    def readers(self) -> int:
        """Catch-up readers running now."""
        return len(self._readers)

    def reading(self, hook_id: str) -> bool:
        return hook_id in self._readers

    def _scan(self) -> None:
        self._contended = False
        runtimes = self._runtimes()
        limit = self._settings.dispatcher.catchup_readers
        for hook_id in self._positions.detached_webhooks():
            rt = runtimes.get(hook_id)
            if hook_id in self._readers:
                if rt is not None and self._serving.get(hook_id) is rt:
                    continue
                self.restart(hook_id)  # retired, or replaced by a new runtime
            if rt is None or rt.retired:
                self._positions.forget_webhook(hook_id)
                continue
            if not self._ready(rt):
                continue
            if len(self._readers) >= limit:
                self._contended = True  # a reader with nothing to hand gives way
                return
            task = asyncio.create_task(self._read(rt), name=f"catch-up-{hook_id}")
            self._readers[hook_id] = task
            self._serving[hook_id] = rt
            task.add_done_callback(self._ended_cb(hook_id))

    def _ended_cb(self, hook_id: str) -> Callable[[asyncio.Task[None]], None]:
        def ended(task: asyncio.Task[None]) -> None:
            self._ended(hook_id, task)

        return ended

    def _ended(self, hook_id: str, task: asyncio.Task[None]) -> None:
        if self._readers.get(hook_id) is task:
            del self._readers[hook_id]
            self._serving.pop(hook_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("catch-up reader failed", exc_info=task.exception())

    def _ready(self, rt: WebhookRuntime) -> bool:
        """Whether a reader for ``rt`` would have work: room to hand records
        (hence not while a half-open probe is out), and a backlog under half,
        so a reader that gave up for a full backlog is not restarted at once."""
        half = max(1, self._settings.dispatcher.max_backlog_per_webhook // 2)
        return self._room(rt) > 0 and rt.backlog < half

    def _room(self, rt: WebhookRuntime) -> int:
        rt.circuit.poll(time.monotonic())
        if rt.circuit.state is CircuitState.OPEN or not self._recorder.healthy:
            return -1
        if rt.circuit.state is CircuitState.HALF_OPEN:
            return 0 if rt.backlog else 1  # one probe at a time
        return max(0, min(500, self._settings.dispatcher.max_backlog_per_webhook - rt.backlog))

    async def _read(self, rt: WebhookRuntime) -> None:
        hook_id = rt.hook.web_hook_id
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._settings.dispatcher.fetch_max_wait_ms,
        )
        await consumer.start()
        tracker = self._positions.pending(hook_id)
        recorded = asyncio.Event()  # one of this reader's outcomes was recorded
        extra = {"web_hook_id": hook_id, "consumer_group_id": rt.hook.consumer_group_id}
        log.info(
            "catching up from %s",
            ",".join(
                f"{tp.topic}/{tp.partition}/{d.offset}"
                for tp, d in sorted(self._positions.of_webhook(hook_id).items())
            ),
            extra=extra,
        )
        seen: dict[TopicPartition, int] = {}  # partition -> generation it was seeked for
        last_persist = 0.0
        try:
            while not self._stopping.is_set() and self._current(rt):
                mine = {
                    tp: d
                    for tp, d in self._positions.of_webhook(hook_id).items()
                    if d.offset is not None
                }
                if not mine:
                    # Merged back everywhere. Outcomes still pending finish
                    # without the reader: ``Positions._settle`` stores the
                    # webhook as live once they are recorded. Waiting for them
                    # here held the slot for as long as the log took to write
                    # them (seconds, under load), and other webhooks waited.
                    return
                # Before any reassignment: stopping right after one is what
                # aiokafka handles worst (see dispatcher/consumers.py).
                room = self._room(rt)
                if room < 0:
                    log.info("catch-up paused (circuit or MongoDB)", extra=extra)
                    return  # circuit open again or MongoDB down: stay detached
                if room == 0:
                    # Its endpoint is slower than its events (or a half-open
                    # probe is out). If another webhook waits for a slot, give
                    # this one up rather than hand a record each time one
                    # finishes: the scan starts a new reader once the backlog
                    # is down to half (``_ready``), so a slow webhook costs a
                    # reader start per half a backlog, not a slot for as long
                    # as it is behind. With no one waiting, keep the reader: a
                    # start costs a Kafka client, and one webhook behind a
                    # busy log (``make bench``) would restart it per batch.
                    if self._contended:
                        log.info("catch-up paused (backlog of %d)", rt.backlog, extra=extra)
                        return
                    recorded.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(recorded.wait(), ROOM_WAIT_SECONDS)
                    continue
                if set(mine) != set(consumer.assignment()):
                    consumer.assign(sorted(mine))
                    for tp, d in mine.items():  # assign() forgets positions
                        consumer.seek(tp, d.offset)  # type: ignore[arg-type]
                for tp, d in mine.items():
                    if seen.get(tp) != d.generation:
                        # A new detach or a rewind: start over from its position.
                        # (Outcomes still pending keep their own watermark.)
                        consumer.seek(tp, d.offset)  # type: ignore[arg-type]
                        seen[tp] = d.generation
                try:
                    batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=room)
                except KafkaError as exc:
                    log.info("catch-up fetch failed: %s", exc)
                    await asyncio.sleep(0.5)
                    continue
                if not self._current(rt):
                    return  # retired or replaced while fetching: hand nothing
                for tp, messages in batch.items():
                    got = mine.get(tp)
                    if got is None or seen.get(tp) != got.generation:
                        continue
                    d = got
                    assert d.offset is not None
                    for msg in messages:
                        if self._merge_if_caught_up(tp, hook_id, msg.offset):
                            break
                        if msg.offset < d.offset:
                            continue
                        if not rt.circuit.allows_traffic:
                            # Stop handing; the rest of the batch is read again later.
                            consumer.seek(tp, d.offset)
                            break
                        wm = tracker.add(tp, msg.offset)
                        d.offset = msg.offset + 1
                        self._fanout.handle(
                            tp, msg, RecordDone(_done(wm, msg.offset, recorded)), only=rt
                        )
                for tp, d in mine.items():
                    if d.offset is not None and self._positions.get(tp, hook_id) is d:
                        self._merge_if_caught_up(tp, hook_id, d.offset)
                now = time.monotonic()
                if now - last_persist >= PERSIST_SECONDS:
                    last_persist = now
                    self._persist(hook_id)
        finally:
            if self._current(rt):
                self._persist(hook_id)  # where the next reader will start
            await stop_consumer(consumer)

    def _persist(self, hook_id: str) -> None:
        for tp, d in self._positions.of_webhook(hook_id).items():
            if d.offset is not None:
                self._positions.persist(tp, hook_id, d.offset)

    def _current(self, rt: WebhookRuntime) -> bool:
        """Whether ``rt`` is still the webhook's runtime (not retired, not
        replaced after a deactivate/reactivate)."""
        return not rt.retired and self._runtimes().get(rt.hook.web_hook_id) is rt

    def _merge_if_caught_up(self, tp: TopicPartition, hook_id: str, offset: int) -> bool:
        """Attach the webhook on ``tp`` when ``offset`` is the shared stream's next."""
        live = self._intake.live_next(tp)
        if live is None or offset < live:
            return False
        self._positions.attach(tp, hook_id)
        log.info("merged back into the shared stream at %s/%s/%s", tp.topic, tp.partition, live)
        return True


def _done(wm: PartitionWatermark, offset: int, recorded: asyncio.Event) -> Callable[[], None]:
    def done() -> None:
        wm.done(offset)
        recorded.set()

    return done
