"""Endpoints that fail the way dead webhooks do: a port that refuses
connections until the test brings the receiver up on it, and a black hole
that accepts connections and never answers."""

from __future__ import annotations

import asyncio
import contextlib

from devstack import free_port
from tests.support.receiver import Receiver


class LateReceiver(Receiver):
    """A ``Receiver`` whose port is chosen up front but which listens only
    once ``start`` is called: until then every connection is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()

    async def start(self, port: int = 0) -> None:
        await super().start(port or self.port)


class BlackHole:
    """Accepts TCP connections on 127.0.0.1, reads, never answers.

    Every attempt against it lasts until the client's own timeout, the worst
    case for a dispatcher that shares a process with healthy webhooks.
    """

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._swallow, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while await reader.read(65536):  # until the client gives up
                pass
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):  # close() alone leaves accepted sockets open
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
