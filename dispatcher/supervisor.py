"""Keeps one consumer running per active webhook, following changes.

Every ``refresh_seconds`` it reads the webhooks and the catalogue: it starts
consumers for new or reactivated webhooks, stops those of deactivated or
deleted ones, restarts a consumer whose subscription or cap changed, and
applies other changes (URL, headers, secrets, SLA, retries) in place. It also
stores circuit-breaker state changes and carries out rewind orders.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from dispatcher.catalog_cache import CatalogCache
from dispatcher.circuit import Circuit
from dispatcher.consumer import WebhookConsumer
from dispatcher.metrics import DispatcherMetrics
from dispatcher.runtime import WebhookRuntime
from eventnotify.domain import CircuitState, Webhook
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import to_epoch_ms, utcnow

log = logging.getLogger(__name__)


@dataclass
class _Running:
    consumer: WebhookConsumer
    task: asyncio.Task[None]


def _needs_restart(old: Webhook, new: Webhook) -> bool:
    return (
        sorted(old.event_names) != sorted(new.event_names)
        or old.max_allowed_connections != new.max_allowed_connections
        or old.ordered_delivery != new.ordered_delivery
    )


class Supervisor:
    """Owns the webhook runtimes and their consumers in this process."""

    def __init__(
        self,
        store: Store,
        catalog: CatalogCache,
        settings: Settings,
        make_consumer: Callable[[WebhookRuntime], WebhookConsumer],
        owner: str,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._catalog = catalog
        self._settings = settings
        self._make_consumer = make_consumer
        self._owner = owner
        self.runtimes: dict[str, WebhookRuntime] = {}
        self._running: dict[str, _Running] = {}
        self._known_topics: set[str] = set()
        self._stopping = asyncio.Event()
        # One sync at a time: two interleaved syncs would both start a consumer
        # for a new webhook, leaving an orphan that never sees config changes.
        self._sync_lock = asyncio.Lock()
        self.synced = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sync()
                self.synced.set()
            except Exception as exc:  # MongoDB or Kafka down: keep what runs, retry
                log.warning("webhook sync failed: %s", exc)
            try:
                await asyncio.wait_for(
                    self._stopping.wait(), self._settings.dispatcher.refresh_seconds
                )
            except TimeoutError:
                pass
        async with self._sync_lock:
            await asyncio.gather(*(self._stop(i) for i in list(self._running)))

    def shutdown(self) -> None:
        self._stopping.set()

    def consumer(self, web_hook_id: str) -> WebhookConsumer | None:
        running = self._running.get(web_hook_id)
        return running.consumer if running else None

    async def sync(self) -> None:
        """Bring running consumers in line with the stored webhooks."""
        async with self._sync_lock:
            await self._sync()

    async def _sync(self) -> None:
        await self._catalog.refresh()
        hooks = {h.web_hook_id: h for h in await self._store.webhooks.list_all()}
        for hook_id, running in list(self._running.items()):
            if running.task.done():
                # Crashed (e.g. Kafka unreachable at start): start it again below.
                error = None if running.task.cancelled() else running.task.exception()
                log.warning(
                    "consumer ended unexpectedly: %s", error, extra={"web_hook_id": hook_id}
                )
                del self._running[hook_id]
                continue
            hook = hooks.get(hook_id)
            rt = self.runtimes[hook_id]
            if hook is None or not hook.active or not rt.hook.active:
                await self._stop(hook_id)
        for hook in hooks.values():
            if not hook.active:
                continue
            current = self.runtimes.get(hook.web_hook_id)
            if current is not None and hook.web_hook_id in self._running:
                if not _needs_restart(current.hook, hook):
                    current.hook = hook  # URL, headers, secrets, SLA, retries: in place
                    continue
                await self._stop(hook.web_hook_id, restarting=True)
            await self._start(hook)
        await self._store_circuits()
        await self._apply_rewinds()

    async def _start(self, hook: Webhook) -> None:
        d = self._settings.dispatcher
        circuit = Circuit(
            threshold=d.circuit_failure_threshold, base_cooldown=d.circuit_base_cooldown_seconds
        )
        old = self.runtimes.get(hook.web_hook_id)
        if old is not None:
            circuit = old.circuit  # a restart keeps what we know of the endpoint
        rt = WebhookRuntime(
            hook=hook,
            circuit=circuit,
            metrics=self._metrics.for_webhook(hook.web_hook_id) if self._metrics else None,
        )
        consumer = self._make_consumer(rt)
        await self._ensure_topics(consumer.topics)
        self.runtimes[hook.web_hook_id] = rt
        task = asyncio.create_task(consumer.run(), name=f"consumer-{hook.web_hook_id}")
        self._running[hook.web_hook_id] = _Running(consumer, task)
        log.info(
            "consuming %s",
            ",".join(consumer.topics),
            extra={"web_hook_id": hook.web_hook_id, "consumer_group_id": hook.consumer_group_id},
        )

    async def _stop(self, hook_id: str, *, restarting: bool = False) -> None:
        running = self._running.pop(hook_id, None)
        # A restart keeps the runtime, so _start reuses what we know of the
        # endpoint (its circuit state).
        rt = self.runtimes.get(hook_id) if restarting else self.runtimes.pop(hook_id, None)
        if running is None:
            return
        running.consumer.stop()
        try:
            await running.task
        except Exception as exc:
            log.warning("consumer ended with %s", exc, extra={"web_hook_id": hook_id})
        if rt is not None:
            log.info("stopped consumer", extra={"web_hook_id": hook_id})

    async def _ensure_topics(self, topics: list[str]) -> None:
        missing = [t for t in topics if t not in self._known_topics]
        if not missing:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self._settings.kafka.bootstrap_servers)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            new = [
                NewTopic(t, self._settings.kafka.topic_partitions, 1)
                for t in missing
                if t not in existing
            ]
            if new:
                try:
                    await admin.create_topics(new)
                except TopicAlreadyExistsError:
                    pass
                except KafkaError as exc:
                    log.info("topic creation: %s", exc)
        finally:
            await admin.close()
        self._known_topics.update(missing)

    async def _store_circuits(self) -> None:
        now = time.monotonic()
        for rt in self.runtimes.values():
            rt.circuit.poll(now)
            if rt.circuit_dirty or rt.hook.circuit_state is not rt.circuit.state:
                rt.circuit_dirty = False
                rt.hook.circuit_state = rt.circuit.state
                await self._store.webhooks.set_fields(
                    rt.hook.web_hook_id, {"circuit_state": rt.circuit.state.value}
                )
                level = logging.WARNING if rt.circuit.state is CircuitState.OPEN else logging.INFO
                log.log(
                    level,
                    "circuit %s",
                    rt.circuit.state.value,
                    extra={
                        "web_hook_id": rt.hook.web_hook_id,
                        "consumer_group_id": rt.hook.consumer_group_id,
                    },
                )

    async def _apply_rewinds(self) -> None:
        if not self._running:
            return
        orders = await self._store.orders.pending_rewinds(
            self._owner, list(self._running), utcnow()
        )
        for order in orders:
            consumer = self.consumer(order.web_hook_id)
            if consumer is not None:
                consumer.request_rewind(to_epoch_ms(order.since))
                await self._store.orders.mark_applied(order.order_id, self._owner)
