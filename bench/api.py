"""``make bench-api``: gRPC lookups next to the same queries made directly
with pymongo, and next to the same calls through the HTTP/JSON gateway, in
the same run, against the same database.

Method: seed N delivery-log entries and M webhooks through the repositories
(batched), start the gRPC service and the HTTP gateway in-process on free
ports, then for each query run C concurrent clients for D seconds per path
and record every call's latency. The paths: gRPC; the same query shape with
``AsyncMongoClient`` directly; the same call over HTTP (aiohttp client ->
gateway -> loopback gRPC -> server).
The three paths of a query run in alternating slices (``--rounds``), so a
change in the shared machine's load during the run hits them alike; besides
throughput and latency each path reports the benchmark process's CPU time
per call (client and server together, MongoDB's own process excluded).
Client and server share one process and event loop (as a sidecar would share
a host), so the gRPC figures include protobuf, auth, interceptor and Mongo,
and the HTTP figures also the HTTP client, the gateway and JSON.
Starts its own SecantusDB (and Tansu, for health) unless MONGODB_URI /
KAFKA_BOOTSTRAP_SERVERS are set. Bounded: it stops itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import grpc  # type: ignore[import-untyped]
from pymongo import ASCENDING

from devstack import start_stack
from eventnotify.domain import DeliveryStatus, LogEntry, Role, Webhook
from eventnotify.settings import MongoSettings, ServiceSettings, Settings
from eventnotify.store import Store, open_store
from eventnotify.timefmt import utcnow
from eventnotify.v1 import log_pb2, log_pb2_grpc, webhook_pb2, webhook_pb2_grpc
from service.core.keys import mint_key
from service.gateway.app import HttpGateway
from service.server import create_server
from tests.support.hooks import make_webhook

ORG = 1
Query = Callable[[], Awaitable[Any]]


def _hook(i: int) -> Webhook:
    return make_webhook(
        ORG, "https://example.com/hook", ["transactionAdded"], name=f"bench-{i}", headers={}
    )


def _entry(i: int, refs: int, group: str) -> LogEntry:
    t = utcnow() - timedelta(seconds=i)
    return LogEntry(
        event_id=f"bench-{i:07d}",
        source_event_id=f"src-{i}",
        org_id=ORG,
        web_hook_id="0" * 24,
        consumer_group_id=group,
        event_name="transactionAdded",
        ref_id=f"{ORG}_{i % refs}",
        request_id=str(uuid.uuid4()),
        status=DeliveryStatus.DELIVERED,
        ingested_at=t,
        started_at=t,
        ended_at=t + timedelta(milliseconds=40),
        last_http_status=200,
        last_duration_ms=40,
    )


async def seed(store: Store, logs: int, webhooks: int, refs: int) -> list[str]:
    """Write the data set; returns the consumer group ids."""
    await store.ensure_indexes()
    hooks = [_hook(i) for i in range(webhooks)]
    for hook in hooks:
        await store.webhooks.insert(hook)
    batch = 1000
    for start in range(0, logs, batch):
        group = hooks[(start // batch) % len(hooks)].consumer_group_id
        await store.logs.upsert_many(
            [_entry(i, refs, group) for i in range(start, min(start + batch, logs))]
        )
    return [h.consumer_group_id for h in hooks]


@dataclass
class Figures:
    """What one path achieved, summed over its slices."""

    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: float = 0.0

    def row(self) -> tuple[float, float, float, int, float]:
        """(rps, p50 ms, p99 ms, calls, process CPU µs per call)."""
        lat = self.latencies
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
        calls = len(lat)
        return calls / self.elapsed, q[49] * 1000, q[98] * 1000, calls, self.cpu / calls * 1e6


async def measure(query: Query, clients: int, duration: float, into: Figures) -> None:
    """Run ``clients`` concurrent loops of ``query`` for ``duration``; add to ``into``."""
    deadline = time.perf_counter() + duration

    async def client() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await query()
            into.latencies.append(time.perf_counter() - started)

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    into.elapsed += time.perf_counter() - began
    into.cpu += time.process_time() - cpu


async def compare(
    paths: list[Query], clients: int, duration: float, rounds: int
) -> list[tuple[float, float, float, int, float]]:
    """The paths measured in alternating slices (``rounds`` each, ``duration``
    in total per path), so drifts in the machine's load hit them alike."""
    figures = [Figures() for _ in paths]
    for _ in range(rounds):
        for query, into in zip(paths, figures, strict=True):
            await measure(query, clients, duration / rounds, into)
    return [f.row() for f in figures]


async def run(args: argparse.Namespace, settings: Settings) -> None:
    store = open_store(settings.mongo)
    print(f"seeding {args.logs} log entries and {args.webhooks} webhooks...", flush=True)
    started = time.perf_counter()
    await seed(store, args.logs, args.webhooks, args.refs)
    print(f"seeded in {time.perf_counter() - started:.1f}s", flush=True)
    _, secret = await mint_key(store.api_keys, ORG, Role.READ, "bench")
    server, port = await create_server(settings, store)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    md = (("authorization", f"Bearer {secret}"),)
    gateway = HttpGateway("127.0.0.1:0", f"127.0.0.1:{port}")
    http_base = f"http://127.0.0.1:{await gateway.start()}"
    session = aiohttp.ClientSession(
        headers={"authorization": f"Bearer {secret}"},
        connector=aiohttp.TCPConnector(limit=args.clients),
    )

    async def http_get(path: str) -> Any:
        async with session.get(http_base + path) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {r.status} {body[:200]!r}")
            return body

    logs = log_pb2_grpc.EventLogServiceStub(channel)
    hooks = webhook_pb2_grpc.WebhookServiceStub(channel)
    coll = store.db["delivery_logs"]
    wcoll = store.db["webhooks"]
    rnd = random.Random(7)

    def event_id() -> str:
        return f"bench-{rnd.randrange(args.logs):07d}"

    def ref_id() -> str:
        return f"{ORG}_{rnd.randrange(args.refs)}"

    async def mongo_list(cursor: Any) -> list[Any]:
        return [d async for d in cursor]

    queries: list[tuple[str, Query, Query, Query]] = [
        (
            "GetEventLog",
            lambda: logs.GetEventLog(log_pb2.GetEventLogRequest(event_id=event_id()), metadata=md),
            lambda: coll.find_one({"_id": event_id(), "org_id": ORG}),
            lambda: http_get(f"/v1/eventLogs/{event_id()}"),
        ),
        (
            "ListEventLogsByRefId",
            lambda: logs.ListEventLogsByRefId(
                log_pb2.ListEventLogsByRefIdRequest(ref_id=ref_id()), metadata=md
            ),
            lambda: mongo_list(
                coll.find({"org_id": ORG, "ref_id": ref_id()})
                .sort([("ingested_at", ASCENDING), ("_id", ASCENDING)])
                .limit(1000)
            ),
            lambda: http_get(f"/v1/refs/{ref_id()}/eventLogs"),
        ),
        (
            "ListWebhooks",
            lambda: hooks.ListWebhooks(webhook_pb2.ListWebhooksRequest(page_size=50), metadata=md),
            lambda: mongo_list(
                wcoll.find({"org_id": ORG, "active": True}).sort("_id", ASCENDING).limit(51)
            ),
            lambda: http_get("/v1/webhooks?pageSize=50"),
        ),
    ]
    rows = []
    try:
        for name, via_grpc, via_mongo, via_http in queries:
            if args.query and name not in args.query:
                continue
            g, m, h = await compare(
                [via_grpc, via_mongo, via_http], args.clients, args.duration, args.rounds
            )
            rows.append((name, g, m, h))
            print(
                f"  {name}: gRPC {g[0]:.0f} rps, pymongo {m[0]:.0f} rps, HTTP {h[0]:.0f} rps",
                flush=True,
            )
    finally:
        await session.close()
        await gateway.stop()
        await channel.close()
        await server.stop(1)
        await store.close()
    print()
    print(
        f"method: {args.clients} concurrent clients, {args.duration:.0f}s per query and path "
        f"in {args.rounds} alternating slices, "
        f"{args.logs} log entries ({args.refs} refIds), {args.webhooks} webhooks; "
        f"client and server in one process, {args.loop} event loop"
    )
    print(f"mongodb: {settings.mongo.uri}")
    header = (
        f"{'query':<22}{'path':<9}{'rps':>8}{'p50 ms':>9}{'p99 ms':>9}{'calls':>8}"
        f"{'CPU µs/call':>13}"
    )
    print(header)
    print("-" * len(header))
    for name, g, m, h in rows:
        for path, r in (("gRPC", g), ("pymongo", m), ("HTTP", h)):
            print(f"{name:<22}{path:<9}{r[0]:>8.0f}{r[1]:>9.2f}{r[2]:>9.2f}{r[3]:>8}{r[4]:>13.0f}")
        print(f"{'':<22}{'ratio':<9}{g[0] / m[0]:>8.2f}  (gRPC rps / pymongo rps)")
        print(f"{'':<22}{'ratio':<9}{h[0] / g[0]:>8.2f}  (HTTP rps / gRPC rps; target >= 0.8)")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, provide a stack, run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per query and path")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating slices per query (paths interleaved)"
    )
    parser.add_argument("--logs", type=int, default=20_000)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--refs", type=int, default=2_000)
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop (the service runs on uvloop when it is installed)",
    )
    parser.add_argument(
        "--query", action="append", help="only this query (repeatable; default: all)"
    )
    args = parser.parse_args(argv)
    base = Settings.from_env(os.environ)
    stack = None
    uri = os.environ.get("MONGODB_URI", "")
    if not uri:
        stack = start_stack(Path(tempfile.mkdtemp(prefix="bench-api-")), env=dict(os.environ))
        uri = stack.mongodb_uri
    print(f"servers: {'started locally (SecantusDB)' if stack else 'from MONGODB_URI'}")
    settings = base.replace(
        mongo=MongoSettings(
            uri=uri, database=f"bench_api_{uuid.uuid4().hex[:8]}", timeout_ms=base.mongo.timeout_ms
        ),
        service=ServiceSettings(grpc_address="127.0.0.1:0", rate_limit_per_second=0.0),
    )
    if stack is not None:
        settings = settings.replace(
            kafka=settings.kafka.__class__(bootstrap_servers=stack.kafka_bootstrap)
        )
    try:
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(run(args, settings))
        else:
            asyncio.run(run(args, settings))
    finally:
        if stack is not None:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
