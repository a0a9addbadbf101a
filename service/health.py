"""Dependency health for grpc.health.v1: MongoDB and Kafka, probed in the
background and published as "eventnotify.mongo", "eventnotify.kafka" and the
overall "" service."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from grpc_health.v1 import health, health_pb2

from eventnotify.store import Store

log = logging.getLogger("eventnotify.health")
MONGO = "eventnotify.mongo"
KAFKA = "eventnotify.kafka"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def kafka_reachable(bootstrap_servers: str, wait: float) -> bool:
    """Whether any bootstrap server accepts a TCP connection. A cheap probe:
    the service itself only needs Kafka for publishing."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            async with asyncio.timeout(wait):
                _, writer = await asyncio.open_connection(host, int(port))
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


class HealthMonitor:
    """Probe dependencies every ``interval`` seconds and publish the result.

    The overall status follows MongoDB alone: every call of this service
    needs it, none needs Kafka yet, so a Kafka outage must not take the
    service out of a load balancer.
    """

    def __init__(
        self,
        servicer: health.aio.HealthServicer,
        store: Store,
        kafka_bootstrap: str,
        interval: float = 2.0,
    ) -> None:
        self.servicer = servicer
        self._store = store
        self._kafka = kafka_bootstrap
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last: dict[str, bool] = {}

    def mongo_known_down(self) -> bool:
        """Whether the last probe found MongoDB down (False before the first)."""
        return self._last.get(MONGO) is False

    @property
    def retry_after(self) -> float:
        """When a client refused for a known outage should retry: the next probe."""
        return self._interval

    async def probe_once(self) -> None:
        """Probe both dependencies once and publish their status."""
        timeout = max(self._interval, 0.5)
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
        # cancellation that lands as the ping completes, and shutdown would
        # then wait for this loop forever.
        try:
            async with asyncio.timeout(timeout):
                mongo_ok = await self._store.ping()
        except TimeoutError:
            mongo_ok = False
        kafka_ok = await kafka_reachable(self._kafka, timeout)
        for name, ok in ((MONGO, mongo_ok), (KAFKA, kafka_ok), ("", mongo_ok)):
            if self._last.get(name) != ok:
                log.info("health of %r is now %s", name or "overall", "up" if ok else "down")
            self._last[name] = ok
            await self.servicer.set(name, SERVING if ok else NOT_SERVING)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.probe_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    async def start(self) -> None:
        """Report every service NOT_SERVING until the first probe (so a check
        never answers NOT_FOUND), then probe in the background."""
        if self._task is None:
            for name in (MONGO, KAFKA, ""):
                await self.servicer.set(name, NOT_SERVING)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="health")

    async def shutdown(self) -> None:
        """Stop probing and report NOT_SERVING for everything."""
        self._stopping.set()
        if self._task is not None:
            # The event ends the loop even if a cancellation were lost; the
            # wait is bounded all the same (a probe is bounded by its timeout).
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=max(self._interval, 0.5) * 3)
            self._task = None
        await self.servicer.enter_graceful_shutdown()
