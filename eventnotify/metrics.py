"""Prometheus plumbing shared by both processes: a registry per process and the
HTTP endpoint that exposes it.

Each process builds its own ``CollectorRegistry`` in its composition root and
hands it to whatever records metrics, instead of using prometheus_client's
global default registry: tests run several servers and dispatchers in one
process, and each must count only its own work.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.aiohttp import make_aiohttp_handler

log = logging.getLogger(__name__)


def new_registry() -> CollectorRegistry:
    """A registry with the standard process, platform and GC collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class MetricsServer:
    """Serves one registry at ``GET /metrics`` over HTTP (aiohttp).

    Scrapes are answered on the event loop, so collectors that read live
    asyncio state (the dispatcher's gauges) see it consistently.
    """

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self._host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        """Bind and listen; ``port`` is the bound port afterwards (port 0 picks one)."""
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self._registry))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # aiohttp keeps the asyncio server private
        sockets = getattr(server, "sockets", None) or ()
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._requested_port
        log.info("metrics listening", extra={"address": f"{self._host}:{self.port}"})

    async def stop(self) -> None:
        """Stop listening; idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def start_metrics_server(port: int, registry: CollectorRegistry, host: str) -> MetricsServer:
    """Start serving ``registry`` on ``host:port``; stop with ``await server.stop()``."""
    server = MetricsServer(registry, host, port)
    await server.start()
    return server
