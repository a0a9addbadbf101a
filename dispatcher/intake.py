"""The shared intake: one Kafka consumer per dispatcher process, in one
consumer group per deployment, reading every subscribed event topic once.

The consume loop only polls, tracks commit watermarks, pauses while MongoDB is
down and commits; each record is handed to ``Fanout.handle``. Commit rule: a
partition's offset is committed only when, for that record and every earlier
one, each live webhook's outcome is durably recorded, or the webhook detached
at or before it with its own position durably stored (positions are flushed
to MongoDB before every commit). Partition ownership decides everything: the
process holding a partition serves its live webhooks and catches up its
detached ones; a rebalance hands both over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndTimestamp

from dispatcher.consumers import stop_consumer
from dispatcher.fanout import Fanout, RecordDone
from dispatcher.offsets import OffsetTracker, PartitionWatermark
from dispatcher.positions import Positions
from dispatcher.recorder import Recorder
from dispatcher.runtime import WebhookRuntime
from eventnotify.settings import Settings
from eventnotify.topics import ensure_topics

log = logging.getLogger(__name__)
POLL_MS = 200
MAX_RECORDS = 500
COMMIT_INTERVAL = 0.1
# Missing topics (a broker that lost its data) are looked for this often.
TOPIC_CHECK_SECONDS = 10.0
TOPIC_CHECK_TIMEOUT = 5.0
# After this long without records the intake fetches in short bursts.
IDLE_AFTER_SECONDS = 1.0
# Records handed out but not recorded, over all webhooks, before fetching waits.
MAX_OPEN_RECORDS = 20_000
# A record open longer than this holds the group's commit for everyone: the
# live webhooks still owing an outcome for it carry it in their own stored
# positions instead (see SharedIntake._unblock).
HOLD_SECONDS = 1.0


def group_id_of(settings: Settings) -> str:
    return settings.dispatcher.group_id or f"{settings.kafka.topic_prefix}eventnotify-dispatcher"


class SharedIntake:
    """Reads the event topics once and fans every record out."""

    def __init__(
        self,
        settings: Settings,
        fanout: Fanout,
        positions: Positions,
        recorder: Recorder,
        subscribers_of_topic: Callable[[str], Iterable[WebhookRuntime]],
    ) -> None:
        self._settings = settings
        self._fanout = fanout
        self._positions = positions
        self._recorder = recorder
        self._subscribers_of_topic = subscribers_of_topic
        self.group_id = group_id_of(settings)
        self.prefix = settings.kafka.topic_prefix
        self._tracker = OffsetTracker()
        self._consumer: AIOKafkaConsumer | None = None
        self._wanted: set[str] = set()
        self._subscribed: set[str] = set()
        self._changed = asyncio.Event()
        self._stopping = False
        self._paused = False
        self._commit_lock = asyncio.Lock()
        self._last_topic_check = 0.0
        # Per partition: the next offset the shared stream hands out; the
        # exact point where a catching-up webhook merges back.
        self._next: dict[TopicPartition, int] = {}
        self._progress = asyncio.Event()
        self._last_record = 0.0
        # Per partition: open records by offset, with the time they were handed.
        self._open: dict[TopicPartition, dict[int, tuple[float, RecordDone]]] = {}

    # -- what other components ask -------------------------------------------

    def set_topics(self, topics: set[str]) -> None:
        if topics != self._wanted:
            self._wanted = set(topics)
            self._changed.set()

    @property
    def topics(self) -> set[str]:
        return set(self._wanted)

    def assignment(self) -> set[TopicPartition]:
        c = self._consumer
        return set(c.assignment()) if c is not None else set()

    def owned(self, topics: Iterable[str]) -> list[TopicPartition]:
        wanted = set(topics)
        return [tp for tp in self.assignment() if tp.topic in wanted and tp in self._next]

    def live_next(self, tp: TopicPartition) -> int | None:
        return self._next.get(tp)

    def highwater(self, tp: TopicPartition) -> int | None:
        c = self._consumer
        return c.highwater(tp) if c is not None else None

    async def offsets_for(
        self, tps: list[TopicPartition], since_ms: int
    ) -> dict[TopicPartition, int]:
        """First offset at or after ``since_ms`` per partition (the end if none)."""
        c = self._consumer
        if c is None or not tps:
            return {}
        found = await c.offsets_for_times({tp: since_ms for tp in tps})
        ends = await c.end_offsets(tps)
        return {tp: _offset_or(found.get(tp), ends[tp]) for tp in tps}

    def open_records(self) -> int:
        return self._tracker.open_count()

    # -- lifecycle -------------------------------------------------------------

    async def run(self) -> None:
        k = self._settings.kafka
        consumer = AIOKafkaConsumer(
            bootstrap_servers=k.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"eventnotify-{self.group_id}",
            enable_auto_commit=False,
            # A deployment's first start: from the beginning, and each webhook
            # takes only records newer than its creation (``since_ms``).
            auto_offset_reset="earliest",
            session_timeout_ms=k.session_timeout_ms,
            heartbeat_interval_ms=k.heartbeat_interval_ms,
            fetch_max_wait_ms=self._settings.dispatcher.fetch_max_wait_ms,
            metadata_max_age_ms=30000,
            max_partition_fetch_bytes=1 << 20,
        )
        self._consumer = consumer
        started = False
        committer: asyncio.Task[None] | None = None
        try:
            while not self._stopping:
                if not started:
                    try:
                        await consumer.start()
                        started = True
                    except KafkaError as exc:
                        log.warning("shared consumer start failed, retrying: %s", exc)
                        await asyncio.sleep(1.0)
                        continue
                    committer = asyncio.create_task(self._commit_loop(consumer), name="commit")
                await self._step(consumer)
        finally:
            if committer is not None:
                # Bounded, and the loop also ends on _stopping: a cancellation
                # lost inside a client library must not hold up the drain.
                committer.cancel()
                await asyncio.wait({committer}, timeout=5.0)
            if started:
                await self._drain(consumer)

    def shutdown(self) -> None:
        self._stopping = True
        self._changed.set()

    async def _step(self, consumer: AIOKafkaConsumer) -> None:
        await self._follow_topics(consumer)
        if not self._subscribed:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 1.0)
            return
        await self._resolve_positions()
        # MongoDB down: outcomes cannot be recorded, so stop taking records.
        self._set_paused(consumer, not self._recorder.healthy)
        if self._tracker.open_count() >= MAX_OPEN_RECORDS:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), POLL_MS / 1000)
            return
        timeout_ms = POLL_MS
        if not self._paused and time.monotonic() - self._last_record >= IDLE_AFTER_SECONDS:
            timeout_ms = await self._idle_pause(consumer)
        try:
            batch = await consumer.getmany(timeout_ms=timeout_ms, max_records=MAX_RECORDS)
        except KafkaError as exc:  # the client reconnects by itself; keep looping
            log.warning("fetch failed: %s", exc)
            await asyncio.sleep(0.5)
            return
        if not batch:
            return
        self._last_record = now = time.monotonic()
        for tp, messages in batch.items():
            if self._positions.waiting_on(tp):
                # A webhook here waits for "from time T" to become an offset
                # (created or rewound while this batch was fetched): hand
                # nothing past it. The batch is read again once that is
                # resolved, next step, so the webhook can be attached live
                # at the stream's position instead of needing a catch-up
                # reader for records the stream has just passed.
                with contextlib.suppress(IllegalStateError):
                    consumer.seek(tp, messages[0].offset)
                continue
            if not self._anyone_live(tp):
                # Every webhook of this partition is detached here (each
                # catch-up reader hands it these records) or retired: none
                # takes a record from the shared stream, so none is opened.
                # Exact for the whole batch: nothing attaches while it is
                # handed out (merges happen in the readers' tasks).
                self._next[tp] = messages[-1].offset + 1
                self._tracker.passed(tp, messages[-1].offset)
                continue
            records = self._open.setdefault(tp, {})
            for msg in messages:
                self._next[tp] = msg.offset + 1
                wm = self._tracker.add(tp, msg.offset)
                rd = RecordDone(self._done(wm, msg.offset, records), shared=True)
                records[msg.offset] = (now, rd)
                self._fanout.handle(tp, msg, rd)

    def _anyone_live(self, tp: TopicPartition) -> bool:
        """Whether some webhook of ``tp``'s topic is served from the shared
        stream on ``tp`` (not detached there, not retired)."""
        return any(True for _ in self._live_on(tp))

    def _live_on(self, tp: TopicPartition) -> Iterator[str]:
        """The webhooks served from the shared stream on ``tp``."""
        positions = self._positions
        for rt in self._subscribers_of_topic(tp.topic):
            hook_id = rt.hook.web_hook_id
            if not rt.retired and positions.get(tp, hook_id) is None:
                yield hook_id

    async def _idle_pause(self, consumer: AIOKafkaConsumer) -> int:
        """Nothing arrived for a while: stop fetching for ``idle_poll_ms``,
        then fetch briefly. A short fetch_max_wait_ms keeps latency low under
        load (the broker may hold each fetch that long), but fetching back to
        back with it costs a round trip every few ms while nothing flows; this
        caps idle fetching at a few per second, at the price of up to
        ``idle_poll_ms`` on the first event after a quiet spell.
        Returns the getmany timeout to use."""
        assigned = list(consumer.assignment())
        _pause(consumer, assigned)
        try:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait(), self._settings.dispatcher.idle_poll_ms / 1000
                )
        finally:
            if not self._paused:
                _resume(consumer, assigned)
        return 2 * self._settings.dispatcher.fetch_max_wait_ms + 20

    def _done(
        self, wm: PartitionWatermark, offset: int, records: dict[int, tuple[float, RecordDone]]
    ) -> Callable[[], None]:
        def done() -> None:
            wm.done(offset)
            records.pop(offset, None)
            self._progress.set()

        return done

    def _unblock(self, hold: float = HOLD_SECONDS) -> None:
        """Let the commit pass records held open longer than ``hold`` by
        slow live webhooks (a request stalled until its timeout, in-place
        retries): each such webhook's share of the record moves to its own
        pending outcomes, and its stored position (at most that record) is
        written before the commit. The webhook stays live. After a crash only
        that webhook is caught up from there; without this, every webhook
        would be sent again everything after the slow record.

        A share whose outcome is decided and only waits for the delivery log
        stays: when the log falls behind, that is every webhook's share of
        every recent record, and moving them would write two positions per
        webhook (moved, then live again) into the MongoDB that is already
        behind. The record completes when the log catches up. With no hold
        (partitions being revoked) every share moves: the commit must cover
        every record handed out.
        """
        now = time.monotonic()
        for tp, records in self._open.items():
            while self._tracker.open_count_of(tp):
                low = self._tracker.committable(tp)
                entry = records.get(low) if low is not None else None
                if low is None or entry is None or now - entry[0] < hold:
                    break
                for share in entry[1].shares or ():
                    if (hold == 0 or not share.decided) and share.move(
                        self._positions.pending(share.hook_id), tp, low
                    ):
                        self._positions.persist(tp, share.hook_id, low)
                if self._tracker.committable(tp) == low:
                    break  # still open (not held by a share, or by the log): leave it

    async def _follow_topics(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if self._wanted == self._subscribed and now - self._last_topic_check < TOPIC_CHECK_SECONDS:
            return
        self._last_topic_check = now
        try:
            # Bounded: with the broker down this must not hold the loop.
            await asyncio.wait_for(self._ensure_topics(self._wanted), TOPIC_CHECK_TIMEOUT)
        except Exception as exc:  # Kafka down: the client retries; so do we, later
            log.info("topic check failed: %s", exc)
        if self._wanted != self._subscribed:
            # Subscribing again replaces the consumer's subscription and its
            # assignment at once, so the revoke that follows cannot commit
            # ("No partitions assigned"): commit everything handed out now,
            # or the partitions are read again from the last commit and every
            # webhook is sent again what it already had. Nothing more is
            # handed out from here to the revoke (this is the fetch loop).
            if self._subscribed:
                await self._commit(consumer, hold=0.0)
            if self._wanted:
                consumer.subscribe(sorted(self._wanted), listener=_Rebalance(self))
            else:
                consumer.unsubscribe()
            self._subscribed = set(self._wanted)
            log.info("shared intake reads %d topics", len(self._subscribed))

    async def _ensure_topics(self, topics: set[str]) -> None:
        """Create missing event topics (first use, or a broker that lost them)."""
        await ensure_topics(
            self._settings.kafka.bootstrap_servers,
            topics,
            partitions=self._settings.kafka.topic_partitions,
        )

    async def _resolve_positions(self) -> None:
        """Turn "from time T" positions (new webhooks, rewinds) into offsets."""
        pending = self._positions.unresolved()
        if not pending:
            return
        by_since: dict[int, list[TopicPartition]] = {}
        for tp, _hook, d in pending:
            if tp in self._next:
                by_since.setdefault(d.since_ms, []).append(tp)
        try:
            resolved = {
                s: await self.offsets_for(sorted(set(tps)), s) for s, tps in by_since.items()
            }
        except KafkaError as exc:
            log.info("position lookup failed, retrying: %s", exc)
            return
        for tp, hook_id, d in pending:
            offset = resolved.get(d.since_ms, {}).get(tp)
            if offset is None:
                continue
            live = self._next.get(tp)
            if live is not None and offset >= live and self._positions.settled(tp, hook_id):
                # Nothing of its own to catch up (the usual case for a new
                # webhook): live at once, no reader. Records from ``live`` up
                # to ``offset`` are older than it and skipped by their time.
                self._positions.attach(tp, hook_id)
                self._positions.release(tp, hook_id)
            else:
                self._positions.resolve(tp, hook_id, offset)

    def _set_paused(self, consumer: AIOKafkaConsumer, pause: bool) -> None:
        if pause == self._paused:
            return
        assigned = list(consumer.assignment())
        if pause:
            _pause(consumer, assigned)
        else:
            _resume(consumer, assigned)
        self._paused = pause

    # -- offsets ---------------------------------------------------------------

    async def _commit_loop(self, consumer: AIOKafkaConsumer) -> None:
        """Commit every COMMIT_INTERVAL, apart from the fetch loop (a commit is
        a broker round trip, and fetching must not wait for it)."""
        while not self._stopping:
            await asyncio.sleep(COMMIT_INTERVAL)
            try:
                await self._commit(consumer)
            except Exception as exc:  # never let the committer die
                log.warning("commit failed: %s", exc)

    async def _commit(self, consumer: AIOKafkaConsumer, hold: float = HOLD_SECONDS) -> bool:
        """Store positions, then commit what they allow. True when both
        were done (or there was nothing to commit)."""
        async with self._commit_lock:
            # Snapshot first: a webhook detached after this point detaches at
            # or after these offsets, so the flush below covers every detach
            # the commit may pass.
            self._unblock(hold)
            offsets = self._tracker.to_commit()
            self._positions.stamp(self._subscribers_of_topic)
            try:
                await self._positions.flush()
            except Exception as exc:
                log.warning("storing webhook positions failed; not committing: %s", exc)
                return False
            if not offsets:
                return True
            try:
                await consumer.commit(offsets)  # type: ignore[arg-type]
            except KafkaError as exc:  # e.g. a rebalance took the partition: redelivered
                log.info("commit skipped: %s", exc)
                return False
            self._tracker.committed(offsets)
            return True

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        # Every record handed out moves to its webhooks' own positions (no
        # hold), so the commit covers all of them: whoever gets a partition
        # next reads on from where this process stopped, and sends again only
        # to the webhooks whose outcome was still pending.
        if self._consumer is not None and await self._commit(self._consumer, hold=0.0):
            for tp in revoked:
                committed = self._tracker.committed_offset(tp)
                if committed is not None:
                    self._positions.hand_back(tp, committed, self._live_on(tp))
        self._tracker.forget(set(revoked))
        self._positions.forget_partitions(revoked)
        for tp in revoked:
            self._next.pop(tp, None)
            self._open.pop(tp, None)

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None or not assigned:
            return
        # The client may fetch for new partitions while this callback awaits:
        # hold them until we know who is detached where and the merge points.
        _pause(consumer, assigned)
        log.info("consuming %s", ",".join(sorted(f"{tp.topic}/{tp.partition}" for tp in assigned)))
        try:
            await self._prepare(consumer, assigned)
        finally:
            if not self._paused:
                _resume(consumer, assigned)

    async def _prepare(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        # Where this consumer will really read from (the committed offset, or
        # the reset position): the exact merge point for catch-up.
        starts: dict[TopicPartition, int] = {}
        for tp in assigned:
            try:
                starts[tp] = await consumer.position(tp)
            except IllegalStateError:  # taken away again by a newer rebalance
                continue
        try:
            await self._positions.load(assigned)
        except Exception as exc:
            log.warning("could not load webhook positions: %s", exc)
        # Nothing awaited from here on: a catch-up reader must not start from
        # a loaded position before it is clamped or taken back below.
        self._positions.drop_handed(assigned)
        for tp, start in starts.items():
            self._next[tp] = start
            self._tracker.starts_at(tp, start)
            # A stored position past the group's is clamped to it: records
            # between them were handed to the webhook live, but their outcomes
            # may not have been recorded before the last owner stopped.
            self._positions.clamp(tp, start)
            kept = self._positions.take_back(tp, start)
            mark = self._positions.mark(tp)
            for rt in self._subscribers_of_topic(tp.topic):
                hook_id = rt.hook.web_hook_id
                if (
                    hook_id in kept
                    or self._positions.get(tp, hook_id) is not None
                    or self._positions.known_live(tp, hook_id)
                ):
                    continue
                # New here: newer than what the last committer knew (or, with
                # no mark, created or reactivated while we run). The group's
                # offset may have passed its first events: from its own start.
                if rt.since_ms > mark if mark is not None else rt.dynamic:
                    self._positions.detach(tp, hook_id, None, rt.since_ms)
        self._positions.own(assigned)

    async def _drain(self, consumer: AIOKafkaConsumer) -> None:
        """Finish in-flight deliveries (bounded), commit, leave the group."""
        self._set_paused(consumer, True)
        d = self._settings.dispatcher
        loop = asyncio.get_running_loop()
        deadline = loop.time() + d.shutdown_drain_seconds
        tasks = set(self._fanout.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=d.shutdown_drain_seconds)
            for task in pending:  # left to Kafka: their offsets stay uncommitted
                task.cancel()
        while self._tracker.open_count() and loop.time() < deadline:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), max(0.01, deadline - loop.time()))
        try:
            await self._commit(consumer)
        finally:
            await stop_consumer(consumer, grace=5.0)


def _offset_or(hit: OffsetAndTimestamp | None, end: int) -> int:
    """The offset of an ``offsets_for_times`` answer, or ``end`` when no
    record is that recent. Kafka says so with no answer (None); the local
    Kafka stand-in (Tansu) answers offset 0 with timestamp -1 instead, which
    taken at its word sends every new webhook's catch-up reader through the
    whole partition."""
    if hit is None or hit.timestamp < 0:
        return end
    return int(hit.offset)


def _pause(consumer: AIOKafkaConsumer, tps: Iterable[TopicPartition]) -> None:
    """Pause those of ``tps`` still assigned. A rebalance can run while we
    await, and the client raises for a partition it no longer holds, leaving
    the rest untouched (paused partitions would then stay paused)."""
    consumer.pause(*(set(tps) & consumer.assignment()))


def _resume(consumer: AIOKafkaConsumer, tps: Iterable[TopicPartition]) -> None:
    """Resume those of ``tps`` still assigned (see ``_pause``)."""
    consumer.resume(*(set(tps) & consumer.assignment()))


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: SharedIntake) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._owner.on_assigned(assigned)
