"""A real HTTP receiver on 127.0.0.1 that records every request and answers
with statuses and delays the test chooses.

The benchmarks run the same receiver in a process of its own
(``python -m tests.support.receiver PORT``), so its CPU is not counted, and
read its arrival figures from ``GET /_stats/{path}``."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from eventnotify.entrypoint import run_on_loop


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"


Behaviour = Callable[[Received, int], Reply]  # (request, nth request to this path) -> reply


@dataclass
class Arrivals:
    """First arrivals at one path: distinct eventIds and created -> received
    latency (the body's ``createdAt`` against this host's clock)."""

    first_at: float = 0.0
    seen: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)  # seconds, in arrival order

    def add(self, rec: Received) -> None:
        body = rec.json
        event_id = body["eventId"]
        if event_id not in self.seen:
            self.seen.add(event_id)
            self.latencies.append(rec.at - body["createdAt"] / 1000)
            self.first_at = self.first_at or rec.at

    def summary(self, skip: int = 0) -> dict[str, float]:
        """Distinct count, first arrival, and p50/p99 latency after ``skip`` arrivals."""
        lat = sorted(self.latencies[skip:])
        return {
            "distinct": len(self.seen),
            "first_at": self.first_at,
            "p50": percentile(lat, 50),
            "p99": percentile(lat, 99),
        }


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


class Receiver:
    """aiohttp server recording requests per path; behaviours set per path."""

    def __init__(self, track_arrivals: bool = False) -> None:
        self.track_arrivals = track_arrivals  # keep ``arrivals`` (bodies must be envelopes)
        self.arrivals: dict[str, Arrivals] = {}
        self.requests: list[Received] = []  # answered 2xx
        self.failed: list[tuple[Received, int]] = []  # answered otherwise
        self.behaviours: dict[str, Behaviour] = {}
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str, behaviour: Behaviour) -> None:
        self.behaviours[path] = behaviour

    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_get("/_stats/{path:.*}", self._stats)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        rec = Received(
            path, request.method, dict(request.headers), await request.read(), time.time()
        )
        n = self._counts.get(path, 0)
        self._counts[path] = n + 1
        self.in_flight[path] = self.in_flight.get(path, 0) + 1
        self.max_in_flight[path] = max(self.max_in_flight.get(path, 0), self.in_flight[path])
        async with self._changed:
            self._changed.notify_all()  # arrivals matter too (in-flight counts)
        try:
            behaviour = self.behaviours.get(path)
            reply = behaviour(rec, n) if behaviour else Reply()
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if 200 <= reply.status < 300:
                self.requests.append(rec)
                if self.track_arrivals:
                    self.arrivals.setdefault(path, Arrivals()).add(rec)
            else:
                self.failed.append((rec, reply.status))
            async with self._changed:
                self._changed.notify_all()
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers)
        finally:
            self.in_flight[path] -= 1

    async def _stats(self, request: web.Request) -> web.Response:
        arrivals = self.arrivals.get("/" + request.match_info["path"], Arrivals())
        return web.json_response(arrivals.summary(int(request.query.get("skip", "0"))))

    def ok_for(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 30.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on every request)."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(_wait(), within)


async def serve(port: int) -> None:
    """Run a tracking receiver on ``port`` until SIGTERM (the benchmarks' receiver)."""
    receiver = Receiver(track_arrivals=True)
    await receiver.start(port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await receiver.stop()


if __name__ == "__main__":
    run_on_loop(serve(int(sys.argv[1])))
