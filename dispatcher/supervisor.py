"""Follows the stored webhooks: keeps one runtime per active webhook, the
(org, eventName) index and the shared intake's topics in line with them.

Every ``refresh_seconds`` it reads the webhooks and the catalogue. A webhook
created or reactivated while the process runs is *dynamic*: it starts from its
creation (or reactivation) time, caught up from Kafka if the shared stream is
already past it. A deleted or deactivated webhook is retired at once: nothing
more is sent to it, and deliveries still queued for it finish FAILED. Other
changes (URL, headers, secrets, SLA, retries, cap) apply in place. It also
stores circuit-breaker state changes and carries out rewind orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiokafka import TopicPartition

from dispatcher.catalog_cache import CatalogCache
from dispatcher.circuit import Circuit
from dispatcher.index import WebhookIndex
from dispatcher.intake import SharedIntake
from dispatcher.metrics import DispatcherMetrics
from dispatcher.positions import Positions
from dispatcher.runtime import WebhookRuntime
from dispatcher.slots import Slots
from eventnotify.delivery.entries import WEBHOOK_DELETED
from eventnotify.domain import CircuitState, Webhook
from eventnotify.envelope import topic_for
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import to_epoch_ms, utcnow

log = logging.getLogger(__name__)
# Up to this many webhooks every refresh reads them all (cheap, and catches
# deletions and raw edits at once). Above it, a refresh reads only webhooks
# whose last_updated_on moved (every API change moves it, deletion included),
# and a full read runs every FULL_SYNC_SECONDS: it only finds documents
# removed or edited behind the API's back, and reading 10,000 webhooks costs
# about 1.5 s of CPU on the bench machine, so it is rare.
FULL_SYNC_BELOW = 2_000
FULL_SYNC_SECONDS = 300.0
CHANGE_MARGIN = timedelta(seconds=5)
# A sync going through many webhooks lets the loop run this often (deliveries
# under way must not wait for all of them).
YIELD_EVERY = 500


class WebhookView:
    """One webhook as this process serves it (for tests, metrics and health)."""

    def __init__(self, rt: WebhookRuntime, intake: SharedIntake, positions: Positions) -> None:
        self.rt = rt
        self._intake = intake
        self._positions = positions
        self.topics = sorted(topic_for(intake.prefix, n) for n in rt.hook.event_names)

    def assigned(self) -> bool:
        """Whether this process owns any partition of the webhook's topics."""
        return bool(self._intake.owned(self.topics))

    def kafka_lag(self) -> int | None:
        """Records the webhook has not been handed on the partitions this
        process owns (from its own position when detached, from the shared
        stream's otherwise) plus its unrecorded backlog; None before any fetch."""
        total: int | None = None
        for tp in self._intake.owned(self.topics):
            high = self._intake.highwater(tp)
            if high is None:
                continue
            d = self._positions.get(tp, self.rt.hook.web_hook_id)
            at = d.offset if d is not None else self._intake.live_next(tp)
            total = (total or 0) + (max(0, high - at) if at is not None else 0)
        return None if total is None else total + self.rt.backlog


class Supervisor:
    """Owns the webhook runtimes of this process."""

    def __init__(
        self,
        store: Store,
        catalog: CatalogCache,
        settings: Settings,
        intake: SharedIntake,
        positions: Positions,
        owner: str,
        metrics: DispatcherMetrics | None = None,
        on_rewind: Callable[[str], None] | None = None,
        drop_retired: Callable[[set[str]], Awaitable[int]] | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._catalog = catalog
        self._settings = settings
        self._intake = intake
        self._positions = positions
        self._owner = owner
        self._on_rewind = on_rewind
        self._drop_retired = drop_retired
        self.index = WebhookIndex()
        self.runtimes: dict[str, WebhookRuntime] = {}
        # Runtimes whose circuit is not closed, or changed since it was
        # stored: the only ones a refresh looks at (idle cost independent of
        # the number of webhooks).
        self._watched: dict[str, WebhookRuntime] = {}
        self._inactive: set[str] = set()
        # Deactivated, not deleted: their parked deliveries wait for them.
        self._paused: set[str] = set()
        self._loaded = False
        self._last_full: datetime | None = None
        self._last_look: datetime | None = None
        self._stopping = asyncio.Event()
        self._sync_lock = asyncio.Lock()
        self.synced = asyncio.Event()
        # Allowed skew between the clocks that stamp webhooks and this one.
        self.clock_margin = CHANGE_MARGIN

    async def run(self) -> None:
        """Refresh every ``refresh_seconds`` (the first read, at start-up, is
        ``Dispatcher.start``'s; until one succeeds, retry at that pace)."""
        while not self._stopping.is_set():
            if self._loaded:
                await self._pause()
                if self._stopping.is_set():
                    return
            try:
                await self.sync()
                self.synced.set()
            except Exception as exc:  # MongoDB or Kafka down: keep what runs, retry
                log.warning("webhook sync failed: %s", exc)
                if not self._loaded:
                    await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self._settings.dispatcher.refresh_seconds)

    def shutdown(self) -> None:
        self._stopping.set()

    def consumer(self, web_hook_id: str) -> WebhookView | None:
        rt = self.runtimes.get(web_hook_id)
        return WebhookView(rt, self._intake, self._positions) if rt is not None else None

    def views(self) -> list[WebhookView]:
        return [WebhookView(rt, self._intake, self._positions) for rt in self.runtimes.values()]

    async def sync(self) -> None:
        """Bring the runtimes, the index and the intake's topics in line."""
        async with self._sync_lock:
            await self._sync()

    async def _sync(self) -> None:
        await self._catalog.refresh()
        started = utcnow()
        full = (
            self._last_full is None
            or len(self.runtimes) < FULL_SYNC_BELOW
            or (started - self._last_full).total_seconds() >= FULL_SYNC_SECONDS
        )
        changed = False
        if full:
            hooks = {h.web_hook_id: h async for h in self._store.webhooks.iter_all()}
            for hook_id in list(self.runtimes):
                hook = hooks.get(hook_id)
                if hook is None or not hook.active:
                    await self._retire(hook_id, "deleted" if hook is None else "inactive")
                    changed = True
        else:
            # Many webhooks: read only what changed since the last look (with
            # a margin for clock skew); deletions are found by the full read.
            assert self._last_look is not None
            since = self._last_look - self.clock_margin
            hooks = {h.web_hook_id: h for h in await self._store.webhooks.list_changed(since)}
            for hook_id, hook in hooks.items():
                if not hook.active and hook_id in self.runtimes:
                    await self._retire(hook_id, "inactive")
                    changed = True
        for i, hook in enumerate(hooks.values()):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a full read: let deliveries run
            if not hook.active:
                self._inactive.add(hook.web_hook_id)
                if hook.deactivation_reason == WEBHOOK_DELETED:
                    self._paused.discard(hook.web_hook_id)
                else:
                    self._paused.add(hook.web_hook_id)
                continue
            current = self.runtimes.get(hook.web_hook_id)
            if current is None:
                self._add(hook)
                changed = True
            else:
                changed |= self._update(current, hook)
        if not self._loaded:
            # Every webhook created or reactivated before this (less a margin
            # for clock skew) is known from now on: the partitions' mark.
            self._positions.known_through_ms = to_epoch_ms(started - self.clock_margin)
        self._loaded = True
        self._last_look = started
        if full:
            self._last_full = started
        if changed:
            self.index.rebuild(self.runtimes.values())
            prefix = self._settings.kafka.topic_prefix
            self._intake.set_topics({topic_for(prefix, n) for n in self.index.names()})
        await self._store_circuits()
        await self._apply_rewinds()
        if full and self._drop_retired is not None:
            await self._drop_retired(set(self.runtimes))

    def _add(self, hook: Webhook) -> None:
        d = self._settings.dispatcher
        reactivated = hook.web_hook_id in self._inactive
        self._inactive.discard(hook.web_hook_id)
        self._paused.discard(hook.web_hook_id)
        since = hook.last_updated_on if reactivated else hook.created_on
        rt = WebhookRuntime(
            hook=hook,
            circuit=Circuit(
                threshold=d.circuit_failure_threshold,
                base_cooldown=d.circuit_base_cooldown_seconds,
            ),
            metrics=self._metrics.for_webhook(hook.web_hook_id) if self._metrics else None,
            since_ms=to_epoch_ms(since),
            dynamic=self._loaded,
            on_circuit_change=self._watch,
        )
        self.runtimes[hook.web_hook_id] = rt
        if hook.circuit_state is not CircuitState.CLOSED:
            self._watch(rt)  # stored open by an earlier process: a new circuit is closed
        if rt.dynamic:
            self._start_from_time(rt, hook.event_names, rt.since_ms)
        if hook.ordered_delivery:
            asyncio.get_running_loop().create_task(self._load_parked_keys(rt))
        log.info(
            "serving webhook",
            extra={"web_hook_id": hook.web_hook_id, "consumer_group_id": hook.consumer_group_id},
        )

    def _update(self, rt: WebhookRuntime, hook: Webhook) -> bool:
        old = rt.hook
        if hook.circuit_state is not rt.circuit.state:
            self._watch(rt)  # stored differently (another process): store ours
        if hook == old:
            # Unchanged: keep the object already held. A full read would
            # otherwise swap in 10,000 new ones, which outlive every young
            # collection and make each older-generation pass of the garbage
            # collector walk them (measured: gen1 passes of 80-100 ms).
            return False
        added = sorted(set(hook.event_names) - set(old.event_names))
        if old.max_allowed_connections != hook.max_allowed_connections:
            rt.slots = Slots(hook.max_allowed_connections)
        rt.hook = hook  # URL, headers, secrets, SLA, retries: in place
        if added:
            # Newly subscribed names start now, like a new webhook.
            self._start_from_time(rt, added, to_epoch_ms(hook.last_updated_on))
        return sorted(old.event_names) != sorted(hook.event_names)

    def _start_from_time(self, rt: WebhookRuntime, names: list[str], since_ms: int) -> None:
        prefix = self._settings.kafka.topic_prefix
        for tp in self._intake.owned(topic_for(prefix, n) for n in names):
            self._positions.detach(tp, rt.hook.web_hook_id, None, since_ms)

    def _watch(self, rt: WebhookRuntime) -> None:
        self._watched[rt.hook.web_hook_id] = rt

    def waiting(self) -> list[str]:
        """Webhooks whose parked deliveries must wait: circuit open, or
        deactivated (a pause). A few, however many webhooks there are."""
        now = time.monotonic()
        held = []
        for hook_id, rt in self._watched.items():
            rt.circuit.poll(now)
            if not rt.circuit.allows_traffic:
                held.append(hook_id)
        return held + sorted(self._paused)

    async def _retire(self, hook_id: str, why: str) -> None:
        rt = self.runtimes.pop(hook_id)
        self._watched.pop(hook_id, None)
        rt.retired = why
        rt.hook.active = False
        self._inactive.add(hook_id)
        self._positions.forget_webhook(hook_id)
        try:
            await self._store.positions.remove_webhook(hook_id)
        except Exception as exc:
            log.info("could not drop positions of %s: %s", hook_id, exc)
        log.info("webhook %s: stopped serving", why, extra={"web_hook_id": hook_id})

    async def _load_parked_keys(self, rt: WebhookRuntime) -> None:
        try:
            rt.parked_keys |= await self._store.parked.keys_for(rt.hook.web_hook_id)
        except Exception as exc:
            log.warning("could not load parked keys: %s", exc)

    async def _store_circuits(self) -> None:
        now = time.monotonic()
        for hook_id, rt in list(self._watched.items()):
            if self.runtimes.get(hook_id) is not rt:
                del self._watched[hook_id]
                continue
            rt.circuit.poll(now)
            if (
                rt.circuit.state is CircuitState.CLOSED
                and not rt.circuit_dirty
                and rt.hook.circuit_state is CircuitState.CLOSED
            ):
                del self._watched[hook_id]
                continue
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
        if not self.runtimes:
            return
        orders = await self._store.orders.pending_rewinds(self._owner, None, utcnow())
        prefix = self._settings.kafka.topic_prefix
        for order in orders:
            rt = self.runtimes.get(order.web_hook_id)
            if rt is None:
                continue
            since = to_epoch_ms(order.since)
            tps: list[TopicPartition] = self._intake.owned(
                topic_for(prefix, n) for n in rt.hook.event_names
            )
            if not tps:
                continue  # not ours yet: the order stays pending
            # Rewind = detach at the offsets for that time; the catch-up reader
            # redelivers from there and merges back.
            rt.since_ms = min(rt.since_ms, since)
            for tp in tps:
                self._positions.detach(tp, rt.hook.web_hook_id, None, since, force=True)
            if self._on_rewind is not None:
                self._on_rewind(rt.hook.web_hook_id)
            await self._store.orders.mark_applied(order.order_id, self._owner)
            log.info(
                "rewound to %s", order.since.isoformat(), extra={"web_hook_id": rt.hook.web_hook_id}
            )
