"""The gRPC server: ``create_server`` wires servicers, health and reflection;
``serve`` is the process's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import grpc  # type: ignore[import-untyped]
from eventnotify.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    log_pb2,
    log_pb2_grpc,
    replay_pb2,
    replay_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
)
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.api.auth import Authenticator, RateLimiter
from service.api.catalog import CatalogServicer
from service.api.interceptors import ApiInterceptor
from service.api.keys import ApiKeyServicer
from service.api.logs import LogServicer
from service.api.replay import ReplayServicer
from service.api.webhooks import WebhookServicer
from service.errors import Unavailable
from service.health import HealthMonitor
from service.logging import configure_logging
from service.settings import Settings
from service.store import Store, open_store

log = logging.getLogger("eventnotify.server")


async def create_server(
    settings: Settings, store: Store, *, health_interval: float = 2.0
) -> tuple[ApiServer, int]:
    """A server bound to ``settings.service.grpc_address`` (not started) and
    the port it got, so tests can bind port 0. ``start()`` also starts the
    dependency health monitor; ``stop(grace)`` stops both."""
    authenticator = Authenticator(store.api_keys, settings.service.root_api_key)
    limiter = RateLimiter(settings.service.rate_limit_per_second, settings.service.rate_limit_burst)
    server = grpc.aio.server(interceptors=[ApiInterceptor(authenticator, limiter)])
    webhook_pb2_grpc.add_WebhookServiceServicer_to_server(WebhookServicer(store), server)
    catalog_pb2_grpc.add_EventCatalogServiceServicer_to_server(CatalogServicer(store), server)
    log_pb2_grpc.add_EventLogServiceServicer_to_server(LogServicer(store), server)
    admin_pb2_grpc.add_ApiKeyServiceServicer_to_server(ApiKeyServicer(store, authenticator), server)
    replay_pb2_grpc.add_ReplayServiceServicer_to_server(ReplayServicer(store), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    monitor = HealthMonitor(
        health_servicer, store, settings.kafka.bootstrap_servers, interval=health_interval
    )
    names = [
        webhook_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
        catalog_pb2.DESCRIPTOR.services_by_name["EventCatalogService"].full_name,
        log_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name,
        admin_pb2.DESCRIPTOR.services_by_name["ApiKeyService"].full_name,
        replay_pb2.DESCRIPTOR.services_by_name["ReplayService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    ]
    reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port(settings.service.grpc_address)
    if port == 0:
        raise OSError(f"cannot bind {settings.service.grpc_address}")
    return ApiServer(server, monitor), port


class ApiServer:
    """A ``grpc.aio.Server`` that also runs the health monitor: started and
    stopped together, so callers manage one object. Other attributes are the
    wrapped server's."""

    def __init__(self, server: Any, monitor: HealthMonitor) -> None:
        self.grpc_server = server
        self.health_monitor = monitor

    async def start(self) -> None:
        """Start serving, then probing dependencies."""
        await self.grpc_server.start()
        await self.health_monitor.start()

    async def stop(self, grace: float | None) -> None:
        """Report NOT_SERVING, then stop, letting calls finish within ``grace``."""
        await self.health_monitor.shutdown()
        await self.grpc_server.stop(grace)

    async def wait_for_termination(self) -> bool:
        """Block until the server stops."""
        return bool(await self.grpc_server.wait_for_termination())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.grpc_server, name)


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
        server, port = await create_server(settings, store)
        await server.start()
        log.info(
            "gRPC service listening", extra={"address": settings.service.grpc_address, "port": port}
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("shutting down", extra={"grace_seconds": settings.service.shutdown_grace_seconds})
        await server.stop(settings.service.shutdown_grace_seconds)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    finally:
        await store.close()
