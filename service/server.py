"""The gRPC server: ``create_server`` wires servicers, health and reflection;
``serve`` is the process's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import grpc  # type: ignore[import-untyped]
from aiokafka import AIOKafkaProducer
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from eventnotify.delivery.addresses import AddressPolicy
from eventnotify.delivery.http_sender import HttpSender
from eventnotify.errors import Unavailable
from eventnotify.logging import configure_logging, dependency
from eventnotify.metrics import MetricsServer, new_registry
from eventnotify.producer import KafkaSink
from eventnotify.settings import Settings
from eventnotify.store import Store, open_store
from eventnotify.topics import TopicGuard
from eventnotify.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
    log_pb2,
    log_pb2_grpc,
    replay_pb2,
    replay_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
)
from service.api.auth import Authenticator, RateLimiter
from service.api.catalog import CatalogServicer
from service.api.ingest import IngestServicer
from service.api.interceptors import ApiInterceptor
from service.api.keys import ApiKeyServicer
from service.api.logs import LogServicer
from service.api.replay import ReplayServicer
from service.api.webhooks import WebhookServicer
from service.core.test_send import TestSenders
from service.gateway.app import HttpGateway
from service.grpc_metrics import GrpcMetrics
from service.health import HealthMonitor
from service.reflection import enable_reflection

log = logging.getLogger("eventnotify.server")


async def create_server(
    settings: Settings,
    store: Store,
    *,
    health_interval: float = 2.0,
    producer: KafkaSink | AIOKafkaProducer | None = None,
) -> tuple[ApiServer, int]:
    """A server bound to ``settings.service.grpc_address`` (not started) and
    the port it got, so tests can bind port 0. ``start()`` also starts the
    dependency health monitor; ``stop(grace)`` stops both.

    ``producer`` is what PublishEvent(s) and test sends to QUEUE webhooks write
    with: an already started ``AIOKafkaProducer``, or a ``KafkaSink`` its owner
    connects in the background (``serve``). Without one those calls answer
    UNAVAILABLE. The caller keeps ownership: the server never stops it."""
    sink = (
        KafkaSink(
            producer,
            settings.kafka.topic_prefix,
            connected=True,
            topics=TopicGuard(settings.kafka.bootstrap_servers, settings.kafka.topic_partitions),
        )
        if isinstance(producer, AIOKafkaProducer)
        else producer
    )
    d = settings.dispatcher
    policy = AddressPolicy(d.allowed_private_hosts)
    # Test sends go out exactly as deliveries do: same address policy and timeouts.
    test_http = HttpSender(
        policy,
        d.http_connect_timeout_seconds,
        d.http_total_timeout_seconds,
        d.response_body_cap_bytes,
    )
    authenticator = Authenticator(store.api_keys, settings.service.root_api_key)
    limiter = RateLimiter(settings.service.rate_limit_per_second, settings.service.rate_limit_burst)
    registry = new_registry()
    health_servicer = health.aio.HealthServicer()
    monitor = HealthMonitor(
        health_servicer, store, settings.kafka.bootstrap_servers, interval=health_interval
    )
    interceptor = ApiInterceptor(
        authenticator,
        limiter,
        GrpcMetrics(registry),
        dependencies=monitor,
        max_store_wait=settings.mongo.timeout_ms / 1000,
    )
    server = grpc.aio.server(interceptors=[interceptor])
    webhook_pb2_grpc.add_WebhookServiceServicer_to_server(
        WebhookServicer(store, TestSenders(test_http, sink), address_policy=policy), server
    )
    ingest_pb2_grpc.add_EventIngestServiceServicer_to_server(IngestServicer(store, sink), server)
    catalog_pb2_grpc.add_EventCatalogServiceServicer_to_server(CatalogServicer(store), server)
    log_pb2_grpc.add_EventLogServiceServicer_to_server(LogServicer(store), server)
    admin_pb2_grpc.add_ApiKeyServiceServicer_to_server(ApiKeyServicer(store, authenticator), server)
    replay_pb2_grpc.add_ReplayServiceServicer_to_server(ReplayServicer(store), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [
        webhook_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
        catalog_pb2.DESCRIPTOR.services_by_name["EventCatalogService"].full_name,
        log_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name,
        admin_pb2.DESCRIPTOR.services_by_name["ApiKeyService"].full_name,
        replay_pb2.DESCRIPTOR.services_by_name["ReplayService"].full_name,
        ingest_pb2.DESCRIPTOR.services_by_name["EventIngestService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    ]
    enable_reflection(names, server)
    port = server.add_insecure_port(settings.service.grpc_address)
    if port == 0:
        raise OSError(f"cannot bind {settings.service.grpc_address}")
    metrics = None
    if settings.service.metrics_port:
        metrics = MetricsServer(registry, settings.metrics_host, settings.service.metrics_port)
    return ApiServer(server, monitor, test_http, metrics=metrics), port


class ApiServer:
    """A ``grpc.aio.Server`` that also runs the health monitor and the
    Prometheus endpoint (when configured): started and stopped together, so
    callers manage one object. Other attributes are the wrapped server's."""

    def __init__(
        self,
        server: Any,
        monitor: HealthMonitor,
        test_http: HttpSender | None = None,
        *,
        metrics: MetricsServer | None = None,
    ) -> None:
        self.grpc_server = server
        self.health_monitor = monitor
        self.test_http = test_http
        self.metrics_server = metrics

    async def start(self) -> None:
        """Start serving, then probing dependencies."""
        if self.test_http is not None:
            await self.test_http.start()
        await self.grpc_server.start()
        await self.health_monitor.start()
        if self.metrics_server is not None:
            await self.metrics_server.start()

    async def stop(self, grace: float | None) -> None:
        """Report NOT_SERVING, then stop, letting calls finish within ``grace``."""
        await self.health_monitor.shutdown()
        await self.grpc_server.stop(grace)
        if self.test_http is not None:
            await self.test_http.close()
        if self.metrics_server is not None:
            await self.metrics_server.stop()

    async def wait_for_termination(self) -> bool:
        """Block until the server stops."""
        return bool(await self.grpc_server.wait_for_termination())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.grpc_server, name)


def loopback_target(grpc_address: str, port: int) -> str:
    """Where the HTTP gateway reaches this process's gRPC server: its own host
    unless that is a wildcard, then the loopback address."""
    host = grpc_address.rpartition(":")[0].strip("[]")
    if host in ("", "0.0.0.0", "::", "*"):
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def ensure_indexes_with_retry(store: Store, attempts_log_every: int = 5) -> None:
    """Create indexes, waiting for MongoDB to come up (the service may start first)."""
    attempt = 0
    while True:
        try:
            await store.ensure_indexes()
            return
        except Unavailable:
            attempt += 1
            if attempt % attempts_log_every == 1:
                log.warning("MongoDB not reachable yet; retrying index creation")
            await asyncio.sleep(1.0)


async def serve(settings: Settings) -> None:
    """Run the service until SIGTERM/SIGINT, then stop gracefully."""
    configure_logging(settings.log_level)
    store = open_store(settings.mongo)
    try:
        await ensure_indexes_with_retry(store)
        # Kafka may come up after us: webhook management must not wait for it,
        # so the producer connects in the background and publishing answers
        # UNAVAILABLE until it has.
        sink = KafkaSink(
            AIOKafkaProducer(
                bootstrap_servers=settings.kafka.bootstrap_servers,
                enable_idempotence=False,
                linger_ms=2,
                request_timeout_ms=10000,
            ),
            settings.kafka.topic_prefix,
            topics=TopicGuard(settings.kafka.bootstrap_servers, settings.kafka.topic_partitions),
            dependency=dependency("kafka"),
        )
        connecting = asyncio.create_task(sink.connect(), name="kafka-producer-connect")
        server, port = await create_server(settings, store, producer=sink)
        await server.start()
        log.info(
            "gRPC service listening", extra={"address": settings.service.grpc_address, "port": port}
        )
        gateway = None
        if settings.service.http_address:
            target = loopback_target(settings.service.grpc_address, port)
            gateway = HttpGateway(settings.service.http_address, target)
            http_port = await gateway.start()
            log.info(
                "HTTP gateway listening",
                extra={"address": settings.service.http_address, "port": http_port},
            )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("shutting down", extra={"grace_seconds": settings.service.shutdown_grace_seconds})
        if gateway is not None:  # first: its calls go to the gRPC server
            await gateway.stop()
        await server.stop(settings.service.shutdown_grace_seconds)
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await sink.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    finally:
        await store.close()
