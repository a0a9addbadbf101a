"""Receivers that answer a status line and then misbehave: what arrived is
recorded and marked truncated; the status decides the outcome."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from eventnotify.delivery.addresses import AddressPolicy
from eventnotify.delivery.http_sender import AttemptResult, HttpSender
from eventnotify.delivery.request import OutboundRequest

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_receiver(script: Script) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that reads a request and runs ``script``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = [
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ]
            await reader.readexactly(length[0] if length else 0)
            await script(writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def _send(port: int, total_timeout: float = 5.0, cap: int = 1024) -> AttemptResult:
    sender = HttpSender(AddressPolicy("127.0.0.1"), 2.0, total_timeout, cap)
    await sender.start()
    try:
        return await sender.send(
            OutboundRequest(
                url=f"http://127.0.0.1:{port}/hook",
                method="POST",
                headers={"content-type": "application/json"},
                body=b"{}",
            )
        )
    finally:
        await sender.close()


async def test_closed_mid_body_keeps_what_arrived_and_is_truncated() -> None:
    async def script(w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await w.drain()

    async with raw_receiver(script) as port:
        result = await _send(port)
    assert result.http_status == 200
    assert result.body == "partial"
    assert result.truncated
    assert result.error == ""


async def test_trickled_body_is_read_in_full_when_it_ends_in_time() -> None:
    async def script(w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for ch in b"abcdef":
            w.write(bytes([ch]))
            await w.drain()
            await asyncio.sleep(0.02)

    async with raw_receiver(script) as port:
        result = await _send(port)
    assert result.body == "abcdef"
    assert not result.truncated


async def test_body_trickled_past_the_timeout_is_truncated_not_a_failure() -> None:
    stop = asyncio.Event()

    async def script(w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 1000\r\n\r\nab")
        await w.drain()
        await stop.wait()  # never finishes the body

    async with raw_receiver(script) as port:
        result = await _send(port, total_timeout=0.5)
        stop.set()
    assert result.http_status == 202
    assert result.body == "ab"
    assert result.truncated


@pytest.mark.parametrize(("size", "truncated"), [(1024, False), (1025, True)])
async def test_body_over_the_cap_is_truncated(size: int, truncated: bool) -> None:
    async def script(w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)
        await w.drain()

    async with raw_receiver(script) as port:
        result = await _send(port)
    assert result.truncated is truncated
    assert len(result.body) == 1024
