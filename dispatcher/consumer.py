"""The consume loop of one webhook: its own Kafka consumer group, its topics,
its org's events, bounded concurrency, commit watermarks, pause and resume.

Per message: decode -> keep only the webhook's org -> check the catalogue and
the schema (dead-letter what cannot be delivered) -> hand to the pipeline.
Offsets are committed only up to the lowest message whose outcome is not yet
durably recorded (``dispatcher.offsets``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from dispatcher.catalog_cache import CatalogCache
from dispatcher.offsets import OffsetTracker, PartitionWatermark
from dispatcher.pipeline import Deliverer, Job
from dispatcher.recorder import Recorder
from dispatcher.runtime import WebhookRuntime
from eventnotify.catalog.schemas import validate_data
from eventnotify.delivery.entries import new_entry
from eventnotify.delivery.request import dead_letter_event_id
from eventnotify.domain import CircuitState, DeliveryStatus, LogEntry
from eventnotify.envelope import EnvelopeError, SourceEvent, decode, topic_for
from eventnotify.logging import consumer_group_id_var, event_id_var, request_id_var
from eventnotify.settings import DispatcherSettings, KafkaSettings
from eventnotify.store.parked import ParkedDeliveryRepository
from eventnotify.timefmt import from_epoch_ms, utcnow

log = logging.getLogger(__name__)
FETCH_TIMEOUT_MS = 200
MAX_FETCH = 500
# Commit at most this often (and always when pausing, draining or revoked).
COMMIT_INTERVAL = 0.1


class WebhookConsumer:
    """Feeds one webhook's events from Kafka into the delivery pipeline."""

    def __init__(
        self,
        rt: WebhookRuntime,
        deliverer: Deliverer,
        catalog: CatalogCache,
        recorder: Recorder,
        parked: ParkedDeliveryRepository,
        kafka: KafkaSettings,
        settings: DispatcherSettings,
    ) -> None:
        self.rt = rt
        self._deliverer = deliverer
        self._catalog = catalog
        self._recorder = recorder
        self._parked = parked
        self._kafka = kafka
        self._settings = settings
        self._tracker = OffsetTracker()
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_recorded = asyncio.Event()
        self._progress = asyncio.Event()
        self._last_commit = 0.0
        self._stopping = False
        self._paused = False
        self._consumer: AIOKafkaConsumer | None = None
        self._rewinds: list[int] = []
        self.topics = sorted(topic_for(kafka.topic_prefix, n) for n in rt.hook.event_names)

    # -- lifecycle -----------------------------------------------------------

    async def run(self) -> None:
        """Consume until ``stop``; then drain, commit and leave the group."""
        hook = self.rt.hook
        # Every log line of this consumer and of the tasks it starts (deliveries,
        # the client's rebalance callbacks) names the consumer group.
        consumer_group_id_var.set(hook.consumer_group_id)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=hook.consumer_group_id,
            client_id=f"eventnotify-{hook.web_hook_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._kafka.session_timeout_ms,
            heartbeat_interval_ms=self._kafka.heartbeat_interval_ms,
            metadata_max_age_ms=30000,
        )
        self._consumer = consumer
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        await consumer.start()
        try:
            while not self._stopping:
                await self._step(consumer)
        finally:
            await self._drain(consumer)

    def stop(self) -> None:
        self._stopping = True

    def request_rewind(self, since_ms: int) -> None:
        """Re-deliver everything with a Kafka timestamp >= ``since_ms``."""
        self._rewinds.append(since_ms)

    async def _step(self, consumer: AIOKafkaConsumer) -> None:
        if self._rewinds and consumer.assignment():
            await self._rewind(consumer, min(self._rewinds))
            self._rewinds.clear()
        room = self._room()
        # Pausing is for long stops (open circuit, MongoDB down): pausing makes
        # the client drop what it prefetched, so a full backlog is handled by
        # fetching less, not by pausing.
        self._set_paused(consumer, room is None)
        if room == 0:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), FETCH_TIMEOUT_MS / 1000)
            await self._commit(consumer)
            return
        try:
            batch = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=room or 1)
        except KafkaError as exc:  # the client reconnects by itself; keep looping
            log.warning("fetch failed: %s", exc, extra=self._log_extra())
            await asyncio.sleep(0.5)
            return
        for tp, messages in batch.items():
            for msg in messages:
                self._accept(tp, msg)
        await self._commit(consumer)

    def _room(self) -> int | None:
        """How many more messages to take now; None = pause the consumer."""
        rt = self.rt
        rt.circuit.poll(time.monotonic())
        if not rt.circuit.allows_traffic or not self._recorder.healthy:
            return None
        if rt.circuit.state is CircuitState.HALF_OPEN:
            return 0 if self._tasks else 1  # one probe at a time
        # Backlog = messages taken from Kafka whose outcome is not durable yet.
        limit = self._settings.max_backlog_per_webhook
        backlog = self._tracker.open_count()
        room = max(0, min(MAX_FETCH, limit - backlog))
        # Near the limit, wait for a worthwhile batch rather than fetching a
        # few messages at a time (each fetch call has a fixed cost).
        if backlog and room < min(MAX_FETCH, limit) // 4:
            return 0
        return room

    def _set_paused(self, consumer: AIOKafkaConsumer, pause: bool) -> None:
        if pause == self._paused:
            return
        assigned = list(consumer.assignment())
        if pause:
            consumer.pause(*assigned)
        else:
            consumer.resume(*assigned)
        self._paused = pause

    # -- per message -----------------------------------------------------------

    def _accept(self, tp: TopicPartition, msg: Any) -> None:
        hook = self.rt.hook
        wm = self._tracker.add(tp, msg.offset)
        position = f"{tp.topic}/{tp.partition}/{msg.offset}"
        try:
            event = decode(msg.value, msg.headers, msg.timestamp)
        except EnvelopeError as exc:
            self._spawn(self._dead_letter(wm, msg, position, None, str(exc)))
            return
        if event.org_id != hook.org_id:
            wm.done(msg.offset)  # another org's event: not ours to deliver or log
            return
        reason, violation = self._check(tp.topic, event)
        if reason:
            self._spawn(self._dead_letter(wm, msg, position, event, reason))
            return
        entry = self._new_entry(event, position, msg.timestamp)
        entry.schema_violation = violation
        job = Job(event=event, entry=entry, seq=msg.offset)
        if hook.ordered_delivery:
            place = self.rt.sequencer.reserve(event.ref_id)
            self._spawn(self._deliver_ordered(wm, msg.offset, job, place))
        else:
            self._spawn(self._deliver(wm, msg.offset, job))

    def _check(self, topic: str, event: SourceEvent) -> tuple[str, str]:
        """(dead-letter reason, schema violation to flag); empty when fine."""
        if topic != topic_for(self._kafka.topic_prefix, event.event_name):
            return f"eventName {event.event_name!r} does not belong on topic {topic!r}", ""
        et = self._catalog.lookup(event.org_id, event.event_name)
        if et is None:
            return f"unknown event name {event.event_name!r}", ""
        if not et.active:
            return f"event {event.event_name!r} is not active for org {event.org_id}", ""
        if et.schema is None:
            return "", ""
        violations = validate_data(et.schema, event.data)
        if not violations:
            return "", ""
        first = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
        if self._settings.schema_mode == "flag":
            return "", first
        return f"schema-invalid: {first}", ""

    def _new_entry(self, event: SourceEvent, position: str, kafka_ts: int) -> LogEntry:
        return new_entry(self.rt.hook, event, position, kafka_ts)

    async def _deliver(self, wm: PartitionWatermark, offset: int, job: Job) -> None:
        _log_context(job)
        await self._deliverer.deliver(self.rt, job, on_recorded=self._recorded(wm, offset))

    async def _deliver_ordered(
        self, wm: PartitionWatermark, offset: int, job: Job, place: Any
    ) -> None:
        _log_context(job)
        on_recorded = self._recorded(wm, offset)
        async with self.rt.sequencer.turn(job.event.ref_id, place):
            if job.event.ref_id in self.rt.parked_keys:
                # An earlier event of this refId is parked: queue behind it.
                self._deliverer.park_behind(self.rt, job, on_recorded)
            else:
                await self._deliverer.deliver(self.rt, job, on_recorded=on_recorded)

    def _recorded(self, wm: PartitionWatermark, offset: int) -> Callable[[], None]:
        """Callback for when a message's outcome is durable: its offset is done."""

        def done() -> None:
            wm.done(offset)
            self._progress.set()
            if not self._tracker.open_count():
                self._all_recorded.set()

        return done

    async def _dead_letter(
        self,
        wm: PartitionWatermark,
        msg: Any,
        position: str,
        event: SourceEvent | None,
        reason: str,
    ) -> None:
        hook = self.rt.hook
        now = utcnow()
        if event is not None:
            entry = self._new_entry(event, position, msg.timestamp)
        else:
            key = msg.key.decode("utf-8", "replace") if msg.key else ""
            entry = LogEntry(
                event_id=dead_letter_event_id(position, hook.web_hook_id),
                source_event_id="",
                org_id=hook.org_id,
                web_hook_id=hook.web_hook_id,
                consumer_group_id=hook.consumer_group_id,
                event_name=position.rsplit("/", 2)[0].removeprefix(self._kafka.topic_prefix),
                ref_id=key,
                request_id="",
                status=DeliveryStatus.PENDING,
                ingested_at=from_epoch_ms(msg.timestamp),
                kafka_position=position,
            )
        entry.status = DeliveryStatus.DEAD_LETTERED
        entry.failure_reason = reason
        entry.ended_at = now
        entry.updated_at = now
        event_id_var.set(entry.event_id)
        request_id_var.set(entry.request_id or None)
        log.warning("dead-lettered %s: %s", position, reason, extra=self._log_extra())
        if self.rt.metrics is not None:
            self.rt.metrics.finished(DeliveryStatus.DEAD_LETTERED, None, False)
        self._recorder.submit(entry, on_durable=self._recorded(wm, msg.offset))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The offset stays open, so the message is redelivered after a restart.
            log.error("delivery task failed", exc_info=task.exception(), extra=self._log_extra())

    # -- offsets -----------------------------------------------------------------

    async def _commit(self, consumer: AIOKafkaConsumer, *, now: bool = False) -> None:
        """Commit every partition's watermark that moved; at most every
        COMMIT_INTERVAL unless ``now`` (a commit is a broker round trip)."""
        clock = time.monotonic()
        if not now and clock - self._last_commit < COMMIT_INTERVAL:
            return
        offsets = self._tracker.to_commit()
        if not offsets:
            return
        self._last_commit = clock
        try:
            await consumer.commit(offsets)  # type: ignore[arg-type]
        except KafkaError as exc:  # e.g. a rebalance took the partition: it is redelivered
            log.info("commit skipped: %s", exc, extra=self._log_extra())
            return
        self._tracker.committed(offsets)

    async def _rewind(self, consumer: AIOKafkaConsumer, since_ms: int) -> None:
        assigned = list(consumer.assignment())
        if not assigned:
            return
        found = await consumer.offsets_for_times({tp: since_ms for tp in assigned})
        ends = await consumer.end_offsets(assigned)
        for tp in assigned:
            hit = found.get(tp)
            offset = hit.offset if hit is not None else ends[tp]
            consumer.seek(tp, offset)
        # Messages from before the seek finish on their old watermarks.
        self._tracker.forget(set(assigned))
        log.info("rewound %d partitions to %d", len(assigned), since_ms, extra=self._log_extra())

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        if self._consumer is not None:
            await self._commit(self._consumer, now=True)
        self._tracker.forget(set(revoked))

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        if self.rt.hook.ordered_delivery:
            try:
                self.rt.parked_keys = await self._parked.keys_for(self.rt.hook.web_hook_id)
            except Exception as exc:
                log.warning("could not load parked keys: %s", exc, extra=self._log_extra())

    async def _drain(self, consumer: AIOKafkaConsumer) -> None:
        """Finish in-flight deliveries (bounded), commit, leave the group."""
        self._set_paused(consumer, True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.shutdown_drain_seconds
        if self._tasks:
            _, pending = await asyncio.wait(
                set(self._tasks), timeout=self._settings.shutdown_drain_seconds
            )
            for task in pending:  # left to Kafka: their offsets stay uncommitted
                task.cancel()
        if self._tracker.open_count():
            # Outcomes queued for recording: commit them once they are durable.
            self._all_recorded.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_recorded.wait(), max(0.0, deadline - loop.time()))
        try:
            await self._commit(consumer, now=True)
        finally:
            await consumer.stop()

    def assigned(self) -> bool:
        """Whether the group gave this consumer partitions (it is consuming)."""
        return self._consumer is not None and bool(self._consumer.assignment())

    def lag(self) -> int:
        """Messages fetched but not yet recorded."""
        return self._tracker.open_count()

    def kafka_lag(self) -> int | None:
        """Messages of the assigned partitions not yet handled: high watermark
        minus the offset we would commit, summed; None before any fetch.

        Local reads only (the watermark comes with every fetch response), so a
        metrics scrape may call it; while fetching is paused the watermark is
        the last one seen."""
        consumer = self._consumer
        if consumer is None:
            return None
        total: int | None = None
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            done = self._tracker.committable(tp)
            # None: a fetch answered but brought nothing since assignment, caught up.
            total = (total or 0) + (max(0, high - done) if done is not None else 0)
        return total

    def _log_extra(self) -> dict[str, str]:
        return {
            "web_hook_id": self.rt.hook.web_hook_id,
            "consumer_group_id": self.rt.hook.consumer_group_id,
        }


def _log_context(job: Job) -> None:
    # Runs inside the delivery's own task, whose context is a copy: no reset needed.
    event_id_var.set(job.entry.event_id)
    request_id_var.set(job.event.request_id or None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: WebhookConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._owner.on_assigned(assigned)
