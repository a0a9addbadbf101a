"""A real HTTP receiver on 127.0.0.1 that records every request and answers
with statuses and delays the test chooses."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


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


class Receiver:
    """aiohttp server recording requests per path; behaviours set per path."""

    def __init__(self) -> None:
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

    async def start(self) -> None:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
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
            else:
                self.failed.append((rec, reply.status))
            async with self._changed:
                self._changed.notify_all()
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers)
        finally:
            self.in_flight[path] -= 1

    def ok_for(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 30.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on every request)."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(_wait(), within)
