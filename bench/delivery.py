"""``make bench``: the real dispatcher next to a bare consume -> POST -> log
loop, in the same run, against the same servers and the same receiver.

Method
------
- Servers: its own SecantusDB and Tansu (``devstack``) unless
  ``MONGODB_URI`` / ``KAFKA_BOOTSTRAP_SERVERS`` point at real ones. The
  receiver is the tests' receiver (``tests/support/receiver.py``) in a
  separate process, so its CPU is not counted; it records each eventId's first
  arrival and created -> received latency (the body's ``createdAt`` against
  its own clock, same host).
- Throughput and CPU (backlog phase): N events (protobuf envelopes, one
  topic, 4 partitions) are produced before timing starts. Each contender then
  consumes its own copy from a fresh consumer group, POSTs every event with
  at most C requests in flight, writes one log document per delivery in
  batches and commits. Deliveries/s = N / (first arrival -> all N received
  and logged). CPU us/delivery = ``time.process_time()`` of this process
  over the same window (from when the first delivery is seen, polled every
  10 ms) / the deliveries made in it; the backlog keeps both contenders busy,
  so idle wake-ups do not inflate the figure. The one-time start-up
  (connecting, joining the group, the dispatcher's first webhook read) is
  left out: it is not per-delivery work. The table also prints the figure
  over the whole phase, start-up included.
- Both contenders run in this process on the production event loop
  (uvloop when installed, ``eventnotify.entrypoint.run_on_loop``).
- Latency (paced phase): after a warm-up, a separate producer process
  publishes at a fixed rate well below both throughputs, stamping
  ``createdAt`` at send time; p50/p99 are over those events' first arrivals.
- The bare loop: aiokafka ``getmany`` (500) -> decode the envelope and build
  the same JSON body -> aiohttp POST (connector limit C) -> one
  ``insert_many`` of a log document per delivery (same shape and the same
  indexes as the delivery log) -> commit, the next batch's POSTs overlapping
  the previous batch's write. No signing, matching, retries, caps or
  per-message bookkeeping.
- Our dispatcher: ``dispatcher.app.Dispatcher`` in this process with one
  HTTP webhook whose maxAllowedConnections is C. When the bench owns the
  MongoDB stand-in, each contender gets it restarted and empty (its write
  speed falls as documents pile up, which would favour whoever runs first).
  It runs with the garbage-collector settings ``python -m dispatcher`` uses
  (``dispatcher/gc_tuning.py``), applied after the bare loop has finished;
  the bare loop keeps CPython's defaults unless ``--bare-gc-tuned`` (with
  them it spends ~30 us per delivery less here, mostly young collections).

- Rounds: the two contenders run ``--rounds`` times (3), alternating, each
  round on topics of its own; the ratios are the medians of the rounds'
  ratios. On a shared 2-core machine one contender's CPU per delivery moves
  by 10-15 % between runs, so a single pair is a coin toss near a target.

Targets (issue 3): throughput >= 0.9x the bare loop, CPU per delivery <=
1.3x. Bounded: every phase has a deadline; the bench stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from google.protobuf import json_format
from pymongo import AsyncMongoClient

from devstack import Stack, free_port, start_stack, wait_for_port
from dispatcher import gc_tuning
from dispatcher.app import Dispatcher
from eventnotify.domain import Webhook
from eventnotify.entrypoint import run_on_loop
from eventnotify.envelope import encode, topic_for
from eventnotify.logging import configure_logging
from eventnotify.settings import Settings
from eventnotify.store import open_store
from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.timefmt import utcnow
from eventnotify.v1 import envelope_pb2
from tests.support.hooks import make_webhook
from tests.support.kafka import create_topics, make_event

ORG = 1
BACKLOG_EVENT = "badgeEarned"
PACED_EVENT = "cardUpdated"
WARM_UP = 20
PHASE_DEADLINE_SECONDS = 600.0
# How often the start of a backlog phase is looked for: the CPU figure counts
# from the first delivery seen.
FIRST_POLL_SECONDS = 0.01
POLL_SECONDS = 0.1
TARGET_THROUGHPUT = 0.9
TARGET_CPU = 1.3
Document = dict[str, Any]


@dataclass(frozen=True)
class Config:
    """What to run; defaults are ``make bench``'s."""

    events: int = 30_000  # per round and contender
    rounds: int = 3
    concurrency: int = 64
    paced_rate: float = 400.0
    paced_seconds: float = 10.0
    profile: str = ""
    # Give the bare loop the dispatcher's GC settings too (see --help).
    bare_gc_tuned: bool = False


@dataclass
class Result:
    """Figures of one contender."""

    name: str
    deliveries: int = 0
    busy_seconds: float = 0.0
    cpu_seconds: float = 0.0
    # The same from when the first delivery was seen (the throughput
    # window), without the contender's one-time start-up, and the deliveries
    # made in it.
    steady_cpu_seconds: float = 0.0
    steady_deliveries: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0

    @property
    def per_second(self) -> float:
        return self.deliveries / self.busy_seconds if self.busy_seconds else 0.0

    @property
    def cpu_us(self) -> float:
        n = self.steady_deliveries
        return self.steady_cpu_seconds / n * 1e6 if n else 0.0

    @property
    def cpu_us_with_start(self) -> float:
        return self.cpu_seconds / self.deliveries * 1e6 if self.deliveries else 0.0


# ------------------------------------------------------------------- receiver


class ReceiverClient:
    """Talks to the receiver process."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._session: aiohttp.ClientSession | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{path}"

    def _stats_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/_stats/hook/{path}"

    async def stats(self, path: str, skip: int | None = None) -> Document:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        query = f"?skip={skip}" if skip is not None else ""
        async with self._session.get(self._stats_url(path) + query) as r:
            doc: Document = dict(await r.json())
            return doc

    async def wait_distinct(self, path: str, count: int, interval: float | None = None) -> Document:
        async def probe() -> Document | None:
            st = await self.stats(path)
            return st if st["distinct"] >= count else None

        doc: Document = await _poll(probe, f"{count} deliveries at /{path}", interval)
        return doc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _poll(
    probe: Callable[[], Awaitable[Any]], what: str, interval: float | None = None
) -> Any:
    deadline = time.monotonic() + PHASE_DEADLINE_SECONDS
    while True:
        if result := await probe():
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: no {what} after {PHASE_DEADLINE_SECONDS:.0f}s")
        await asyncio.sleep(POLL_SECONDS if interval is None else interval)


# ------------------------------------------------------------------- producing


async def produce(bootstrap: str, topic: str, count: int, rate: float = 0.0) -> None:
    """Publish ``count`` events; at ``rate`` per second (createdAt stamped at
    send time) when given, else as fast as possible."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=2)
    await producer.start()
    try:
        name = topic.rsplit(".", 1)[-1]
        start = time.monotonic()
        for i in range(count):
            if rate and (wait := start + i / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            data = {"seq": i, "badge": "gold", "customerIdentifiers": {"customerId": i}}
            event = make_event(ORG, name, f"ref-{i % 997}", data)
            value, headers = encode(event)
            await producer.send(topic, value, key=event.ref_id.encode(), headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def paced_phase(
    receiver: ReceiverClient, bootstrap: str, topic: str, path: str, cfg: Config
) -> tuple[float, float]:
    """Warm up, then a fixed-rate load from a separate process: (p50, p99) ms."""
    await produce(bootstrap, topic, WARM_UP)
    await receiver.wait_distinct(path, WARM_UP)
    count = int(cfg.paced_rate * cfg.paced_seconds)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.delivery",
        "--produce",
        bootstrap,
        topic,
        str(count),
        str(cfg.paced_rate),
    )
    if await child.wait() != 0:
        raise RuntimeError("bench: the paced producer failed")
    await receiver.wait_distinct(path, WARM_UP + count)
    st = await receiver.stats(path, skip=WARM_UP)
    return st["p50"] * 1000, st["p99"] * 1000


# ------------------------------------------------------------------- bare loop


def _log_doc(
    msg: envelope_pb2.EventEnvelope,
    group: str,
    position: str,
    status: int,
    started: datetime,
    duration_ms: int,
    body: str,
) -> Document:
    """A log document with every key the delivery log's documents have, so
    both contenders make the database do the same work per delivery."""
    ingested = datetime.fromtimestamp(msg.created_at / 1000, UTC)
    ended = datetime.now(UTC)
    return {
        "_id": msg.event_id,
        "source_event_id": msg.event_id,
        "org_id": msg.org_id,
        "web_hook_id": group,
        "consumer_group_id": group,
        "event_name": msg.event_name,
        "ref_id": msg.ref_id,
        "request_id": msg.request_id,
        "status": "DELIVERED",
        "ingested_at": ingested,
        "started_at": started,
        "ended_at": ended,
        "sla_breach_at": None,
        "sla_deadline": ingested + timedelta(hours=1),
        "last_http_status": status,
        "last_duration_ms": duration_ms,
        "attempts": [
            {
                "time": started,
                "http_status": status,
                "duration_ms": duration_ms,
                "error": "",
                "response_body": body,
                "response_truncated": False,
            }
        ],
        "failure_reason": "",
        "next_attempt_at": None,
        "schema_violation": "",
        "kafka_position": position,
        "test": False,
        "source_event": None,
        "updated_at": ended,
        "expire_at": ingested + timedelta(days=30),
    }


class BareLoop:
    """consume -> POST -> batched insert_many -> commit, and nothing else."""

    def __init__(self, bootstrap: str, topic: str, url: str, logs: Any, concurrency: int) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._url = url
        self._logs = logs
        self._concurrency = concurrency
        self._group = str(uuid.uuid4())
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=2000,
            heartbeat_interval_ms=500,
        )
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency), trust_env=False
        )
        written: asyncio.Queue[tuple[list[Document], dict[TopicPartition, int]] | None]
        written = asyncio.Queue(maxsize=1)
        await consumer.start()
        writer = asyncio.create_task(self._write(written, consumer))
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                if not batch:
                    continue
                records = [m for msgs in batch.values() for m in msgs]
                docs = await asyncio.gather(*(self._post(session, m) for m in records))
                await written.put((docs, {tp: msgs[-1].offset + 1 for tp, msgs in batch.items()}))
            await written.put(None)
            await writer
        finally:
            writer.cancel()
            await session.close()
            await consumer.stop()

    async def _post(self, session: aiohttp.ClientSession, record: Any) -> Document:
        msg = envelope_pb2.EventEnvelope()
        msg.ParseFromString(record.value)
        payload = {
            "eventName": msg.event_name,
            "eventId": msg.event_id,
            "orgId": msg.org_id,
            "refId": msg.ref_id,
            "apiRequestId": msg.request_id,
            "createdAt": msg.created_at,
            "data": json_format.MessageToDict(msg.data),
            "loyaltyEventId": msg.loyalty_event_id or None,
        }
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        async with session.post(
            self._url,
            data=json.dumps(payload, separators=(",", ":")).encode(),
            headers={"content-type": "application/json"},
        ) as resp:
            text = (await resp.content.read(4097)).decode("utf-8", "replace")
            status = resp.status
        duration = int((time.perf_counter() - t0) * 1000)
        position = f"{record.topic}/{record.partition}/{record.offset}"
        return _log_doc(msg, self._group, position, status, started, duration, text[:4096])

    async def _write(
        self,
        queue: asyncio.Queue[tuple[list[Document], dict[TopicPartition, int]] | None],
        consumer: AIOKafkaConsumer,
    ) -> None:
        while (item := await queue.get()) is not None:
            docs, offsets = item
            await self._logs.insert_many(docs, ordered=False)
            await consumer.commit(offsets)


# ------------------------------------------------------------------- contenders


async def _timed(
    cfg: Config,
    name: str,
    receiver: ReceiverClient,
    path: str,
    start: Callable[[], Awaitable[None]],
    logged: Callable[[], Awaitable[int]],
) -> Result:
    """Start a contender, wait until all ``cfg.events`` are received and logged."""
    n = cfg.events
    profiler = cProfile.Profile(time.process_time) if cfg.profile else None
    cpu0 = time.process_time()
    if profiler is not None:
        profiler.enable()
    await start()
    first = await receiver.wait_distinct(path, 1, interval=FIRST_POLL_SECONDS)
    cpu_first = time.process_time()
    st = await receiver.wait_distinct(path, n)
    await _poll(lambda: _at_least(logged, n), f"{n} log entries for {name}")
    end = time.time()
    cpu_end = time.process_time()
    cpu = cpu_end - cpu0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{cfg.profile}-{path}.prof")
    return Result(
        name,
        n,
        busy_seconds=end - st["first_at"],
        cpu_seconds=cpu,
        steady_cpu_seconds=cpu_end - cpu_first,
        steady_deliveries=n - int(first["distinct"]),
    )


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


def _webhook(url: str, event_name: str, cap: int) -> Webhook:
    # Created "before" the backlog: a webhook gets only events published after
    # its creation, and this one must take the whole pre-produced backlog.
    before = utcnow() - timedelta(hours=1)
    return make_webhook(
        ORG,
        url,
        [event_name],
        headers={},
        max_allowed_connections=cap,
        created_on=before,
        last_updated_on=before,
    )


async def bench_bare(
    cfg: Config, settings: Settings, receiver: ReceiverClient, tag: str
) -> tuple[Result, tuple[float, float]]:
    prefix = settings.kafka.topic_prefix
    bootstrap = settings.kafka.bootstrap_servers
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongo.uri, tz_aware=True)
    db = client[settings.mongo.database + "_bare"]
    # Same indexes as the delivery log: the comparison is about the dispatcher,
    # not about index maintenance.
    await DeliveryLogRepository(db).ensure_indexes()
    logs = db["delivery_logs"]
    loops: list[tuple[BareLoop, asyncio.Task[None]]] = []
    defaults = gc.get_threshold()
    if cfg.bare_gc_tuned:
        gc_tuning.tune()

    def launch(topic: str, path: str) -> Callable[[], Awaitable[None]]:
        async def start() -> None:
            loop = BareLoop(bootstrap, topic, receiver.url(path), logs, cfg.concurrency)
            loops.append((loop, asyncio.create_task(loop.run())))

        return start

    try:
        result = await _timed(
            cfg,
            "bare loop",
            receiver,
            f"bare-{tag}",
            launch(topic_for(prefix + "bare.", BACKLOG_EVENT), f"bare-{tag}"),
            # Metadata count, O(1): a filtered count is a full scan on the
            # stand-in and would compete with the writes being measured.
            logs.estimated_document_count,
        )
        paced_path = f"bare-paced-{tag}"
        await launch(topic_for(prefix + "bare.", PACED_EVENT), paced_path)()
        latency = await paced_phase(
            receiver, bootstrap, topic_for(prefix + "bare.", PACED_EVENT), paced_path, cfg
        )
    finally:
        for loop, task in loops:
            loop.stop()
            await task
        await client.drop_database(db.name)
        await client.close()
        gc.set_threshold(*defaults)
    return result, latency


async def bench_ours(
    cfg: Config, settings: Settings, receiver: ReceiverClient, tag: str
) -> tuple[Result, tuple[float, float]]:
    ours = settings.replace(
        kafka=dataclasses.replace(
            settings.kafka, topic_prefix=settings.kafka.topic_prefix + "ours."
        )
    )
    store = open_store(ours.mongo)
    await store.ensure_indexes()
    hook = _webhook(receiver.url(f"ours-{tag}"), BACKLOG_EVENT, cfg.concurrency)
    await store.webhooks.insert(hook)
    # As `python -m dispatcher` does (dispatcher/__main__.py): this contender
    # runs in the bench's process, so it gets its process's GC settings here,
    # after the bare loop has finished, and they are put back afterwards.
    defaults = gc.get_threshold()
    gc_tuning.tune()
    dispatcher = Dispatcher(ours, store)
    logs = store.db["delivery_logs"]

    async def start() -> None:
        await dispatcher.start()
        gc_tuning.freeze_startup_objects()

    try:
        result = await _timed(
            cfg,
            "eventnotify dispatcher",
            receiver,
            f"ours-{tag}",
            start,
            # Only this contender writes here until the latency phase; every
            # backlog delivery ends DELIVERED (the receiver answers 200).
            logs.estimated_document_count,
        )
        paced = _webhook(receiver.url(f"ours-paced-{tag}"), PACED_EVENT, cfg.concurrency)
        await store.webhooks.insert(paced)
        await dispatcher.supervisor.sync()
        latency = await paced_phase(
            receiver,
            ours.kafka.bootstrap_servers,
            topic_for(ours.kafka.topic_prefix, PACED_EVENT),
            f"ours-paced-{tag}",
            cfg,
        )
    finally:
        await dispatcher.shutdown()  # closes the store too
        gc.unfreeze()
        gc.set_threshold(*defaults)
        client: AsyncMongoClient[Document] = AsyncMongoClient(ours.mongo.uri)
        await client.drop_database(ours.mongo.database)
        await client.close()
    return result, latency


# ------------------------------------------------------------------- main


def bench_settings(stack: Stack, env: Mapping[str, str]) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return Settings.from_env(
        {
            **env,
            "MONGODB_URI": stack.mongodb_uri,
            "MONGODB_DATABASE": f"bench_{suffix}",
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
            "EVENTNOTIFY_TOPIC_PREFIX": f"bench{suffix}.",
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
            "EVENTNOTIFY_DISPATCHER_METRICS_PORT": "0",
            "EVENTNOTIFY_LOG_LEVEL": env.get("EVENTNOTIFY_LOG_LEVEL", "WARNING"),
        }
    )


async def run(
    cfg: Config,
    settings: Settings,
    servers: str,
    receiver_port: int,
    fresh_mongo: Callable[[], None] | None,
) -> list[tuple[Result, Result]]:
    """``cfg.rounds`` rounds, each the bare loop then the dispatcher, on topics
    of their own; ``fresh_mongo`` (when the bench owns the server) restarts an
    empty in-memory MongoDB before each contender, because SecantusDB slows
    down as it accumulates writes (~20 % over the first 30,000 documents),
    which would favour whoever ran first. Rounds alternate the contenders so
    that a change in the machine's load during the run reaches both."""
    receiver = ReceiverClient(receiver_port)
    rounds: list[tuple[Result, Result]] = []
    try:
        for i in range(1, cfg.rounds + 1):
            tag = f"r{i}"
            each = _round_settings(settings, tag)
            await _backlog(cfg, each)
            print(f"round {i}/{cfg.rounds}: bare loop...", flush=True)
            if fresh_mongo is not None:
                await asyncio.to_thread(fresh_mongo)
            bare, bare_latency = await bench_bare(cfg, each, receiver, tag)
            bare.p50_ms, bare.p99_ms = bare_latency
            print(f"round {i}/{cfg.rounds}: eventnotify dispatcher...", flush=True)
            if fresh_mongo is not None:
                await asyncio.to_thread(fresh_mongo)
            ours, ours_latency = await bench_ours(cfg, each, receiver, tag)
            ours.p50_ms, ours.p99_ms = ours_latency
            rounds.append((bare, ours))
    finally:
        await receiver.close()
    report(cfg, rounds, servers)
    return rounds


def _round_settings(settings: Settings, tag: str) -> Settings:
    k = settings.kafka
    return settings.replace(kafka=dataclasses.replace(k, topic_prefix=f"{k.topic_prefix}{tag}."))


async def _backlog(cfg: Config, settings: Settings) -> None:
    """Create the round's topics and produce each contender's backlog."""
    prefix = settings.kafka.topic_prefix
    bootstrap = settings.kafka.bootstrap_servers
    topics = [
        topic_for(prefix + side, name)
        for side in ("bare.", "ours.")
        for name in (BACKLOG_EVENT, PACED_EVENT)
    ]
    await create_topics(bootstrap, topics, settings.kafka.topic_partitions)
    print(f"producing {cfg.events} events for each contender...", flush=True)
    for side in ("bare.", "ours."):
        await produce(bootstrap, topic_for(prefix + side, BACKLOG_EVENT), cfg.events)


def report(cfg: Config, rounds: list[tuple[Result, Result]], servers: str) -> None:
    print()
    print(f"servers: {servers}; receiver: aiohttp in a separate process on 127.0.0.1")
    print(
        f"{cfg.rounds} rounds; backlog phase: {cfg.events} events per round and contender, "
        f"{cfg.concurrency} requests in flight; latency phase: {cfg.paced_rate:.0f} events/s "
        f"for {cfg.paced_seconds:.0f}s from a separate producer process "
        "(see `python -m bench.delivery --help`)"
    )
    header = (
        f"{'':<28}{'deliveries/s':>14}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'CPU us/delivery':>18}{'with start-up':>15}"
    )
    print(header)
    print("-" * len(header))
    for i, pair in enumerate(rounds, 1):
        for r in pair:
            print(
                f"{f'round {i}: {r.name}':<28}{r.per_second:>14.0f}{r.p50_ms:>10.1f}"
                f"{r.p99_ms:>10.1f}{r.cpu_us:>18.0f}{r.cpu_us_with_start:>15.0f}"
            )
    throughput = [o.per_second / b.per_second for b, o in rounds]
    cpu = [o.cpu_us / b.cpu_us for b, o in rounds]
    with_start = [o.cpu_us_with_start / b.cpu_us_with_start for b, o in rounds]
    print(
        "CPU us/delivery: from the first delivery seen to all logged (the throughput "
        "window); with start-up: from the contender's start"
    )
    print(
        f"per round, ours/bare: throughput {_list(throughput)}; CPU per delivery {_list(cpu)} "
        f"(with start-up {_list(with_start)})"
    )
    t, c = statistics.median(throughput), statistics.median(cpu)
    print(
        f"ratios (median of the rounds): throughput ours/bare {t:.2f} "
        f"(target >= {TARGET_THROUGHPUT}: {'met' if t >= TARGET_THROUGHPUT else 'MISSED'}); "
        f"CPU per delivery ours/bare {c:.2f} "
        f"(target <= {TARGET_CPU}: {'met' if c <= TARGET_CPU else 'MISSED'})"
    )


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _restarter(stack: Stack) -> Callable[[], None] | None:
    """Restarts our own in-memory MongoDB empty; None for an external one."""
    owned = [s for s in stack.servers if s.name == "mongodb"]
    if not owned:
        return None
    server = owned[0]

    def restart() -> None:
        server.stop()
        server.start()

    return restart


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.delivery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events", type=int, default=Config.events, help="backlog per round and contender"
    )
    parser.add_argument(
        "--rounds", type=int, default=Config.rounds, help="bare loop then ours, this many times"
    )
    parser.add_argument("--concurrency", type=int, default=Config.concurrency)
    parser.add_argument("--paced-rate", type=float, default=Config.paced_rate)
    parser.add_argument("--paced-seconds", type=float, default=Config.paced_seconds)
    parser.add_argument(
        "--profile",
        default="",
        metavar="PREFIX",
        help="write cProfile (CPU time) stats of each backlog phase to PREFIX-<contender>.prof",
    )
    parser.add_argument(
        "--bare-gc-tuned",
        action="store_true",
        help="run the bare loop with the dispatcher's GC settings too (dispatcher/gc_tuning.py)",
    )
    parser.add_argument("--produce", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.produce:
        bootstrap, topic, count, rate = args.produce
        run_on_loop(produce(bootstrap, topic, int(count), float(rate)))
        return 0
    cfg = Config(
        events=args.events,
        rounds=args.rounds,
        concurrency=args.concurrency,
        paced_rate=args.paced_rate,
        paced_seconds=args.paced_seconds,
        profile=args.profile,
        bare_gc_tuned=args.bare_gc_tuned,
    )
    env = dict(os.environ)
    stack = start_stack(Path(tempfile.mkdtemp(prefix="bench-")), env=env)
    try:
        owned = {s.name for s in stack.servers}
        mongo = (
            "SecantusDB, started here, restarted empty for each contender"
            if "mongodb" in owned
            else "from MONGODB_URI, shared by both contenders in turn"
        )
        kafka = "Tansu, started here" if "kafka" in owned else "from KAFKA_BOOTSTRAP_SERVERS"
        servers = f"MongoDB {stack.mongodb_uri} ({mongo}), Kafka {stack.kafka_bootstrap} ({kafka})"
        settings = bench_settings(stack, env)
        configure_logging(settings.log_level)
        port = free_port()
        receiver = subprocess.Popen([sys.executable, "-m", "tests.support.receiver", str(port)])
        try:
            wait_for_port(port, 20, receiver)  # type: ignore[arg-type]
            run_on_loop(run(cfg, settings, servers, port, _restarter(stack)))
        finally:
            receiver.terminate()
            receiver.wait(10)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
