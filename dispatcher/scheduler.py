"""Re-sends parked deliveries when they are due.

Any dispatcher process may send any parked delivery: it claims it with a lease
in MongoDB first, so two processes never send the same one at once and a
crashed process's claims simply expire. Parked deliveries use the same
per-webhook connection cap and circuit breaker as fresh ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from dispatcher.fetcher import RecordFetcher
from dispatcher.pipeline import Deliverer, Job
from dispatcher.recorder import Recorder
from dispatcher.runtime import WebhookRuntime
from eventnotify.delivery import outcome
from eventnotify.delivery.entries import WEBHOOK_DELETED, new_entry
from eventnotify.domain import DeliveryStatus, LogEntry
from eventnotify.envelope import SourceEvent
from eventnotify.errors import Unavailable
from eventnotify.logging import consumer_group_id_var, event_id_var, request_id_var
from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.store.parked import ParkedDelivery, ParkedDeliveryRepository
from eventnotify.store.webhooks import WebhookRepository
from eventnotify.timefmt import utcnow

log = logging.getLogger(__name__)
# Idle polling backs off from the first to the second figure: a claim is a
# write on MongoDB, and an idle scheduler should not compete with log writes.
IDLE_POLL_SECONDS = (0.25, 2.0)


class RetryScheduler:
    """Claims due parked deliveries and runs them through the pipeline."""

    def __init__(
        self,
        parked: ParkedDeliveryRepository,
        logs: DeliveryLogRepository,
        deliverer: Deliverer,
        recorder: Recorder,
        fetcher: RecordFetcher,
        webhooks: WebhookRepository,
        runtimes: Callable[[], dict[str, WebhookRuntime]],
        waiting: Callable[[], list[str]],
        owner: str,
        concurrency: int,
        lease: timedelta,
    ) -> None:
        self._parked = parked
        self._logs = logs
        self._deliverer = deliverer
        self._recorder = recorder
        self._fetcher = fetcher
        self._webhooks = webhooks
        self._runtimes = runtimes
        # Webhooks whose parked deliveries must wait (circuit open, inactive).
        self._waiting = waiting
        self._owner = owner
        self._concurrency = concurrency
        # How long a claim holds: a crashed process's claims become due again
        # after this, so it is sized to one attempt plus recording.
        self._lease = lease
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        idle = IDLE_POLL_SECONDS[0]
        while not self._stopping.is_set():
            if await self._claim_some():
                idle = IDLE_POLL_SECONDS[0]
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), idle)
            except TimeoutError:
                pass
            idle = min(idle * 2, IDLE_POLL_SECONDS[1])
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=15)

    def shutdown(self) -> None:
        self._stopping.set()

    async def _claim_some(self) -> int:
        claimed = 0
        while len(self._tasks) < self._concurrency and not self._stopping.is_set():
            if not self._runtimes():
                break
            try:
                parked = await self._parked.claim_due(
                    utcnow(), self._owner, self._lease, self._waiting()
                )
            except Unavailable:
                break
            if parked is None:
                break
            claimed += 1
            task = asyncio.create_task(self._run_one(parked))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return claimed

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The lease runs out and another claim retries it.
            log.error("parked delivery failed", exc_info=task.exception())

    async def _run_one(self, p: ParkedDelivery) -> None:
        rt = self._runtimes().get(p.web_hook_id)
        if rt is None or not rt.circuit.allows_traffic:
            await self._parked.release(p.event_id, utcnow() + timedelta(seconds=5))
            return
        if rt.hook.ordered_delivery and await self._parked.has_earlier(p):
            await self._parked.release(p.event_id, utcnow() + timedelta(milliseconds=200))
            return
        # This task's own context: its log lines name the delivery and its group.
        consumer_group_id_var.set(rt.hook.consumer_group_id)
        event_id_var.set(p.event_id)
        event = SourceEvent.from_doc(p.event) if p.event else None
        if event is None and p.kafka_position:
            event = await self._fetcher.fetch(p.kafka_position)
        entry = await self._logs.get_any(p.event_id)
        if event is None:
            await self._give_up(p, entry)
            if entry is not None and rt.metrics is not None:
                rt.metrics.finished(DeliveryStatus.FAILED, None, False)
            return
        request_id_var.set(event.request_id or None)
        if entry is None:
            entry = new_entry(rt.hook, event, p.kafka_position, event.created_at_ms)
        entry.ended_at = None
        job = Job(
            event=event,
            entry=entry,
            attempts_made=p.attempts_made,
            first_attempt_at=p.first_attempt_at,
            seq=p.seq,
            from_parked=True,
        )
        if not rt.hook.ordered_delivery:
            await self._deliverer.deliver(rt, job, in_place=False)
            return
        key = event.ref_id
        async with rt.sequencer.turn(key, rt.sequencer.reserve(key)):
            status = await self._deliverer.deliver(rt, job, in_place=False)
            if status is not DeliveryStatus.RETRYING and not await self._parked.count_for(
                rt.hook.web_hook_id, key
            ):
                rt.parked_keys.discard(key)

    async def _give_up(self, p: ParkedDelivery, entry: LogEntry | None) -> None:
        log.warning("parked delivery %s: event no longer available", p.event_id)
        if entry is None:
            await self._parked.remove(p.event_id)
            return
        outcome.apply(entry, outcome.event_gone(utcnow()))
        await self._recorder.record(entry, unpark=p.event_id)

    async def drop_retired(self, active_ids: set[str], limit: int = 200) -> int:
        """Finish parked deliveries of deleted webhooks: FAILED with "webhook
        deleted", never sent. A deactivated webhook's parked deliveries wait
        for its reactivation (deactivation is a pause). Returns how many."""
        dropped = 0
        now = utcnow()
        # Asked of the parked deliveries, not of the webhooks: the cost follows
        # what is parked, not how many webhooks are active.
        others = sorted(await self._parked.webhook_ids() - active_ids)
        if not others:
            return 0
        for p in await self._parked.of_webhooks(others, limit):
            hook = await self._webhooks.get_any(p.web_hook_id)
            if hook is not None and (hook.active or hook.deactivation_reason != WEBHOOK_DELETED):
                # Activated since the ids were read (the next sync serves it),
                # or only deactivated: kept until it is active again.
                continue
            entry = await self._logs.get_any(p.event_id)
            if entry is None:
                await self._parked.remove(p.event_id)
                continue
            outcome.apply(entry, outcome.webhook_retired(hook is None, now))
            if p.event:
                entry.source_event = p.event
            await self._recorder.record(entry, unpark=p.event_id)
            dropped += 1
        return dropped
