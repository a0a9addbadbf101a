"""The dispatcher process: composition root and lifecycle.

``Dispatcher.start`` builds every client once and starts the long-running
components; ``shutdown`` stops fetching, drains in-flight deliveries
(bounded), records them, commits and leaves the consumer groups.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from aiokafka import AIOKafkaProducer

from dispatcher.catalog_cache import CatalogCache
from dispatcher.catchup import CatchUp
from dispatcher.fanout import Fanout
from dispatcher.fetcher import RecordFetcher
from dispatcher.intake import SharedIntake, group_id_of
from dispatcher.metrics import DispatcherMetrics, ParkedCounts, ProcessCollector, RuntimeCollector
from dispatcher.pipeline import Deliverer
from dispatcher.positions import Positions
from dispatcher.recorder import Recorder
from dispatcher.runtime import WebhookRuntime
from dispatcher.scheduler import RetryScheduler
from dispatcher.supervisor import Supervisor, WebhookView
from dispatcher.sweeper import SlaSweeper
from eventnotify.delivery.addresses import AddressPolicy
from eventnotify.delivery.http_sender import HttpSender
from eventnotify.delivery.queue_sender import QueueSender
from eventnotify.metrics import MetricsServer, new_registry
from eventnotify.settings import Settings
from eventnotify.store import Store, open_store

log = logging.getLogger(__name__)


async def _retry(what: str, action: object) -> None:
    delay = 0.2
    while True:
        try:
            await action()  # type: ignore[operator]
            return
        except Exception as exc:
            log.warning("%s failed, retrying: %s", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class Dispatcher:
    """One dispatcher process."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.owner = f"dispatcher-{uuid.uuid4().hex[:12]}"
        self.store = store or open_store(settings.mongo)
        d = settings.dispatcher
        # This process's own registry: tests run several dispatchers in one process.
        self.registry = new_registry()
        self.metrics = DispatcherMetrics(self.registry)
        self.http = HttpSender(
            AddressPolicy(d.allowed_private_hosts),
            d.http_connect_timeout_seconds,
            d.http_total_timeout_seconds,
            d.response_body_cap_bytes,
        )
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            enable_idempotence=False,
            linger_ms=2,
        )
        self.recorder = Recorder(
            self.store.logs,
            self.store.parked,
            max_batch=d.log_batch_size,
            max_delay=d.log_batch_delay_ms / 1000,
        )
        self.deliverer = Deliverer(
            self.http, QueueSender(self.producer), self.recorder, self.store.webhooks, d
        )
        self.catalog = CatalogCache(self.store.event_types)
        self.fetcher = RecordFetcher(settings.kafka.bootstrap_servers)
        self.positions = Positions(group_id_of(settings), self.store.positions)
        index_ref: list[Supervisor] = []  # the index lives in the supervisor, built below
        self.fanout = Fanout(
            self.catalog,
            self.deliverer,
            self.recorder,
            self.positions,
            settings.kafka.topic_prefix,
            d,
            lambda org, name: index_ref[0].index.subscribers(org, name),
            lambda name: index_ref[0].index.of_name(name),
        )
        prefix = settings.kafka.topic_prefix
        self.intake = SharedIntake(
            settings,
            self.fanout,
            self.positions,
            self.recorder,
            lambda topic: index_ref[0].index.of_name(topic.removeprefix(prefix)),
        )
        self.catchup = CatchUp(
            settings,
            self.intake,
            self.fanout,
            self.positions,
            self.recorder,
            lambda: self.supervisor.runtimes,
        )
        self.supervisor = Supervisor(
            self.store,
            self.catalog,
            settings,
            self.intake,
            self.positions,
            self.owner,
            self.metrics,
            on_rewind=self.catchup.restart,
            drop_retired=lambda ids: self.scheduler.drop_retired(ids),
        )
        index_ref.append(self.supervisor)
        self.scheduler = RetryScheduler(
            self.store.parked,
            self.store.logs,
            self.deliverer,
            self.recorder,
            self.fetcher,
            self.store.webhooks,
            lambda: self.supervisor.runtimes,
            self.supervisor.waiting,
            self.owner,
            d.scheduler_concurrency,
            lease=timedelta(seconds=2 * d.http_total_timeout_seconds + 10),
        )
        self.sweeper = SlaSweeper(self.store.logs, self.store.parked)
        self.parked_counts = ParkedCounts(self.store.parked, d.refresh_seconds)
        self.registry.register(RuntimeCollector(self._runtime_views, self.parked_counts))
        self.registry.register(
            ProcessCollector(
                self.recorder.lag,
                lambda: self.catchup.readers,
                lambda: self.positions.writes_total,
            )
        )
        self.metrics_server: MetricsServer | None = None
        if d.metrics_port:
            self.metrics_server = MetricsServer(
                self.registry, settings.metrics_host, d.metrics_port
            )
        self._recorder_task: asyncio.Task[None] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._intake_task: asyncio.Task[None] | None = None

    def _runtime_views(self) -> list[tuple[WebhookRuntime, WebhookView | None]]:
        return [(v.rt, v) for v in self.supervisor.views()]

    async def start(self) -> None:
        if self.metrics_server is not None:  # first: scrapeable while waiting for MongoDB
            await self.metrics_server.start()
        await _retry("MongoDB indexes", self.store.ensure_indexes)
        await _retry("Kafka producer", self.producer.start)
        await self.http.start()
        # The recorder outlives the workers: they hand it outcomes until they stop.
        self._recorder_task = asyncio.create_task(self.recorder.run(), name="recorder")
        # The first sync runs before the intake reads: webhooks that exist at
        # start-up are served from the shared group's position.
        try:
            await self.supervisor.sync()
            self.supervisor.synced.set()
        except Exception as exc:
            log.warning("first webhook sync failed, retrying in the background: %s", exc)
        self._intake_task = asyncio.create_task(self.intake.run(), name="intake")
        self._workers = [
            asyncio.create_task(self.supervisor.run(), name="supervisor"),
            asyncio.create_task(self.catchup.run(), name="catch-up"),
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self.sweeper.run(), name="sla-sweeper"),
        ]
        if self.metrics_server is not None:  # nobody reads the parked count otherwise
            self._workers.append(asyncio.create_task(self.parked_counts.run(), name="parked-count"))
        log.info("dispatcher %s started", self.owner)

    async def shutdown(self) -> None:
        """Drain and stop, in dependency order: stop following webhooks and
        catching up, then drain the intake (in-flight deliveries recorded and
        committed), then the recorder."""
        self.supervisor.shutdown()
        self.scheduler.shutdown()
        self.sweeper.shutdown()
        self.parked_counts.shutdown()
        self.catchup.shutdown()
        self.intake.shutdown()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._intake_task is not None:
            await asyncio.gather(self._intake_task, return_exceptions=True)
        # Only now: the workers' last outcomes must still be written.
        self.recorder.shutdown()
        if self._recorder_task is not None:
            await asyncio.gather(self._recorder_task, return_exceptions=True)
        await self.http.close()
        await self.fetcher.close()
        await self.producer.stop()
        await self.store.close()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        log.info("dispatcher %s stopped", self.owner)
