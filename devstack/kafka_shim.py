"""A Kafka-protocol shim that lets librdkafka 2.0 clients (Debian bookworm's
kcat) talk to the local Tansu broker.

Why: Tansu writes every tagged field of an ApiVersions v3 response, even those
at their default value (FinalizedFeaturesEpoch = -1 ...), which Apache Kafka
omits. librdkafka before 2.1 skips tagged fields one byte short, so it
misreads that response and drops the connection. The shim removes the
top-level tagged fields of ApiVersions responses — all of Tansu's are at their
defaults, so the response means the same — and points the brokers advertised
in Metadata responses at itself, so the client's later connections come
through it too. Everything else passes byte for byte. It assumes one broker,
which the local stack has; against a real Kafka it changes nothing relevant.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import struct
import sys

API_VERSIONS = 18
METADATA = 3


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated Kafka message")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.take(self.uvarint())  # size, then that many bytes

    def skip_string(self, compact: bool) -> None:
        length = self.uvarint() - 1 if compact else self.int16()
        if length > 0:
            self.take(length)


def rewrite_api_versions(payload: bytes, version: int) -> bytes:
    """An ApiVersions v3+ response without its top-level tagged fields."""
    if version < 3:
        return payload
    r = _Reader(payload, 4)  # correlation id; this response's header has no tags
    r.int16()  # error code
    for _ in range(r.uvarint() - 1):
        r.take(6)  # api key, min and max version
        r.skip_tags()
    r.int32()  # throttle time
    return payload[: r.pos] + b"\x00"


def rewrite_metadata(payload: bytes, version: int, port: int) -> bytes:
    """A Metadata response whose brokers all have port ``port``."""
    flexible = version >= 9
    out = bytearray(payload)
    r = _Reader(payload, 4)
    if flexible:
        r.skip_tags()
    if version >= 3:
        r.int32()  # throttle time
    count = r.uvarint() - 1 if flexible else r.int32()
    for _ in range(count):
        r.int32()  # node id
        r.skip_string(flexible)  # host (unchanged: 127.0.0.1 already)
        out[r.pos : r.pos + 4] = struct.pack(">i", port)
        r.int32()
        if version >= 1:
            r.skip_string(flexible)  # rack
        if flexible:
            r.skip_tags()
    return bytes(out)


async def _frame(reader: asyncio.StreamReader) -> bytes | None:
    try:
        size = struct.unpack(">i", await reader.readexactly(4))[0]
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None


class KafkaShim:
    """Listens on 127.0.0.1 and relays to ``upstream`` ("host:port")."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        u_writer: asyncio.StreamWriter | None = None
        try:
            u_reader, u_writer = await asyncio.open_connection(*self._upstream)
            asked: dict[int, tuple[int, int]] = {}  # correlation id -> (api key, version)
            await asyncio.gather(
                self._requests(c_reader, u_writer, asked),
                self._responses(u_reader, c_writer, asked),
            )
        except (OSError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            for writer in (c_writer, u_writer):
                if writer is not None:
                    writer.close()

    async def _requests(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        asked: dict[int, tuple[int, int]],
    ) -> None:
        while (payload := await _frame(reader)) is not None:
            key, version, correlation = struct.unpack(">hhi", payload[:8])
            asked[correlation] = (key, version)
            writer.write(struct.pack(">i", len(payload)) + payload)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    async def _responses(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        asked: dict[int, tuple[int, int]],
    ) -> None:
        while (payload := await _frame(reader)) is not None:
            key, version = asked.pop(struct.unpack(">i", payload[:4])[0], (-1, -1))
            if key == API_VERSIONS:
                payload = rewrite_api_versions(payload, version)
            elif key == METADATA:
                payload = rewrite_metadata(payload, version, self.port)
            writer.write(struct.pack(">i", len(payload)) + payload)
            await writer.drain()
        writer.close()


async def _main(port: int, upstream: str) -> None:
    shim = KafkaShim(upstream)
    await shim.start(port)
    print(f"kcat-compatible Kafka on {shim.bootstrap} -> {upstream}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await shim.stop()


if __name__ == "__main__":
    # python -m devstack.kafka_shim PORT UPSTREAM  (used by `make run`)
    asyncio.run(_main(int(sys.argv[1]), sys.argv[2]))
