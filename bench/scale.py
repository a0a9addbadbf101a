"""``make bench-scale``: one dispatcher process carrying many webhooks.

Method
------
- Servers: its own SecantusDB and Tansu (``devstack``) unless ``MONGODB_URI``
  / ``KAFKA_BOOTSTRAP_SERVERS`` say otherwise. The dispatcher is a real
  ``python -m dispatcher`` child (``tests.support.processes``), so its CPU,
  RSS and sockets are its own: CPU from ``/proc/<pid>/stat`` (utime+stime),
  RSS from ``/proc/<pid>/status``, Kafka connections = its TCP sockets whose
  peer is the broker's port (``/proc/<pid>/fd`` x ``/proc/net/tcp``). The
  receiver is ``tests.support.receiver.Receiver`` in this (bench) process.
- Webhooks: N active HTTP webhooks (default 10,000) over ``orgs`` orgs
  (default 50), each subscribed to 3 of 20 standard event names, inserted
  straight into MongoDB before the dispatcher starts.
- Idle: after the dispatcher owns its partitions, CPU over ``idle_seconds``
  with no events flowing, as % of one core.
- New webhook -> first event: a webhook is created (stored) and an event for
  it published at once; the time until the receiver has it. ``samples`` times.
- Fan-out: F webhooks (1, 10, 50; ``--fanouts``) on one (org, event name);
  events are published as a backlog of ~``fanout_deliveries`` deliveries
  (6,000; ``--fanout-deliveries``) and the dispatcher's CPU over the phase /
  deliveries gives CPU per delivery. The phase's CPU includes the process's
  background work (heartbeats, the webhook refresh) for as long as the phase
  lasts, so each phase's length is printed too; with 1,500 deliveries that
  share made the figures swing by up to 2x between runs.
- Latency: one webhook; events paced at ``rate``/s for ``paced_seconds``;
  created (publish time, this clock) -> received p50/p99. Next to it, the
  floor: a bare aiokafka producer -> consumer loop on the same broker with the
  same ``fetch_max_wait_ms`` and the same pacing.
- Isolation: ``iso_webhooks`` webhooks: all but 20 each on one of 20 names,
  the other 20 on all 20 names (so every event also goes to them). Events
  paced at ``iso_rate``/s over the names for ``iso_seconds``; the one-name
  webhooks' created -> received p99 in a run in which the 20 are 10 that
  refuse connections and 10 that answer after 2 s, against the mean of two
  runs where all are healthy, one before it and one after (each run has an
  org and webhooks of its own). Before and after, because the runs drift:
  the local MongoDB stand-in's CPU grows with the data it holds (its TTL
  sweep scans every document), 49 % of a core in the first run and 78 % in
  the third, measured, and the second run alone would carry that drift as
  if it were interference. (In a full run the dispatcher's full webhook
  read, every 5 minutes, also falls in the isolation phase; it no longer
  stalls deliveries, see docs/dispatcher.md.) Each run starts once the dispatcher has settled
  (``settled``: no catch-up reader, no position written for a second, the
  log up to date), so what the set-up of 1,000 new webhooks leaves behind is
  not measured; and the first second of each run is published but not
  counted: the runs start after a quiet spell, when the intake polls only
  every ``EVENTNOTIFY_IDLE_POLL_MS``, and whether those first events wait
  for that poll is chance. Each run prints the CPU of every process. Sized
  below what the local MongoDB stand-in records per second (about 500
  healthy deliveries/s), so it measures interference, not overload. Between
  the faulty run and the last one, the faulty endpoints recover (a listener
  on the dead port, the slow ones answer at once) and every event must
  reach every faulty webhook (parked retries, catch-up from Kafka) within
  ``recovery_seconds``.
Bounded: every wait has a deadline; the bench stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from devstack import Stack, free_port, start_stack
from eventnotify.catalog.sample import sample_data
from eventnotify.catalog.standard import STANDARD_EVENTS
from eventnotify.entrypoint import run_on_loop
from eventnotify.envelope import encode, topic_for
from eventnotify.settings import MongoSettings
from eventnotify.store import Store, open_store
from eventnotify.store.webhooks import to_doc
from eventnotify.timefmt import utcnow
from tests.support.hooks import make_webhook
from tests.support.kafka import make_event
from tests.support.metrics import scrape
from tests.support.processes import DispatcherProcess, dispatcher_env
from tests.support.receiver import Receiver, Reply

NAMES = [n for n, e in STANDARD_EVENTS.items() if e.schema is not None][:20]
EXTRA = [n for n, e in STANDARD_EVENTS.items() if e.schema is not None][20:30]
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Config:
    webhooks: int = 10_000
    orgs: int = 50
    # Idle CPU over this long; the full webhook read (every FULL_SYNC_SECONDS,
    # 300 s) falls later in a full run, in the isolation phase.
    idle_seconds: float = 35.0
    samples: int = 20
    fanout_deliveries: int = 6_000
    fanouts: tuple[int, ...] = (1, 10, 50)
    rate: float = 200.0
    paced_seconds: float = 10.0
    iso_webhooks: int = 1_000
    iso_rate: float = 10.0
    iso_seconds: float = 20.0
    recovery_seconds: float = 180.0
    fetch_wait_ms: int = 10
    refresh_seconds: float = 1.0


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, what: str, figure: str, target: str) -> None:
        self.rows.append((what, figure, target))
        print(f"  {what}: {figure}  (target {target})", flush=True)


# -- the dispatcher process, seen from /proc ------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def connections_to(pid: int, port: int) -> int:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            remote_port = int(parts[2].rsplit(":", 1)[1], 16)
            if remote_port == port and parts[9] in inodes and parts[3] == "01":
                count += 1
    return count


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def at_least(receiver: Receiver, path: str, n: int) -> Callable[[], bool]:
    def probe() -> bool:
        return len(receiver.ok_for(path)) >= n

    return probe


async def until(probe: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)  # the probes scan the receiver's list: not too often


# -- the bench ---------------------------------------------------------------------


class Bench:
    def __init__(self, cfg: Config, stack: Stack, workdir: Path) -> None:
        self.cfg = cfg
        self.stack = stack
        self.workdir = workdir
        self.prefix = f"s{uuid.uuid4().hex[:6]}."
        self.database = f"scale_{uuid.uuid4().hex[:6]}"
        self.store: Store = open_store(MongoSettings(uri=stack.mongodb_uri, database=self.database))
        self.receiver = Receiver()
        self.producer = AIOKafkaProducer(
            bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=False, linger_ms=1
        )
        self.sent: dict[str, float] = {}  # refId -> publish time
        self.report = Report()
        self.proc: DispatcherProcess | None = None
        self.metrics_port = free_port()  # read only by ``settled``

    @property
    def kafka_port(self) -> int:
        return int(self.stack.kafka_bootstrap.rsplit(":", 1)[1])

    async def publish(self, org: int, name: str, ref: str) -> None:
        schema = STANDARD_EVENTS[name].schema
        assert schema is not None
        now = time.time()
        event = make_event(org, name, ref, sample_data(schema), created_at_ms=int(now * 1000))
        value, headers = encode(event)
        self.sent[ref] = now
        await self.producer.send(
            topic_for(self.prefix, name), value, key=ref.encode(), headers=headers
        )

    def latencies(self, path: str) -> list[float]:
        return [r.at - self.sent[r.json["refId"]] for r in self.receiver.ok_for(path)]

    async def add_hooks(self, hooks: list[Any]) -> None:
        for i in range(0, len(hooks), 1000):
            await self.store.db["webhooks"].insert_many([to_doc(h) for h in hooks[i : i + 1000]])

    async def setup(self) -> None:
        await self.store.ensure_indexes()
        await self.receiver.start()
        await self.producer.start()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.stack.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [NewTopic(topic_for(self.prefix, n), 4, 1) for n in NAMES + EXTRA]
            )
        finally:
            await admin.close()
        rng = random.Random(8)
        hooks = [
            make_webhook(
                1 + i % self.cfg.orgs,
                self.receiver.url("/idle"),
                rng.sample(NAMES, 3),
                max_allowed_connections=4,
            )
            for i in range(self.cfg.webhooks)
        ]
        t = time.monotonic()
        await self.add_hooks(hooks)
        print(f"  inserted {len(hooks)} webhooks in {time.monotonic() - t:.1f} s", flush=True)

    def start_dispatcher(self) -> DispatcherProcess:
        env = dispatcher_env(
            self.stack.mongodb_uri,
            self.database,
            self.stack.kafka_bootstrap,
            self.prefix,
            EVENTNOTIFY_FETCH_MAX_WAIT_MS=str(self.cfg.fetch_wait_ms),
            EVENTNOTIFY_REFRESH_SECONDS=str(self.cfg.refresh_seconds),
            EVENTNOTIFY_LOG_LEVEL=os.environ.get("EVENTNOTIFY_LOG_LEVEL", "WARNING"),
            LOG_LEVEL="WARNING",
            EVENTNOTIFY_DISPATCHER_METRICS_PORT=str(self.metrics_port),
        )
        proc = DispatcherProcess(env, self.workdir / "dispatcher.log")
        proc.start()
        self.proc = proc
        return proc

    async def ready(self) -> None:
        # Ready = a probe event to a probe webhook arrives.
        hook = make_webhook(9999, self.receiver.url("/probe"), [NAMES[0]])
        await self.add_hooks([hook])
        deadline = time.monotonic() + 120
        n = 0
        while not self.receiver.ok_for("/probe"):
            if time.monotonic() > deadline:
                raise TimeoutError("dispatcher not ready")
            await self.publish(9999, NAMES[0], f"probe{n}")
            n += 1
            await asyncio.sleep(1.0)

    async def idle(self, pid: int) -> None:
        c0, t0 = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(self.cfg.idle_seconds)
        cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100
        r = self.report
        r.add(f"idle CPU, {self.cfg.webhooks} webhooks", f"{cpu:.1f} % of a core", "<= 5 %")
        r.add("Kafka connections", str(connections_to(pid, self.kafka_port)), "independent of N")
        r.add("RSS", f"{rss_mib(pid):.0f} MiB", "<= 1024 MiB")

    async def new_webhook(self) -> None:
        waits = []
        for i in range(self.cfg.samples):
            path = f"/new{i}"
            org = 5000 + i
            await self.add_hooks([make_webhook(org, self.receiver.url(path), [NAMES[i % 20]])])
            await self.publish(org, NAMES[i % 20], f"new{i}")
            await until(at_least(self.receiver, path, 1), 30, f"first event at {path}")
            waits.append(self.latencies(path)[0])
        self.report.add(
            f"new webhook -> first event ({len(waits)} samples)",
            f"p50 {pct(waits, 0.5) * 1000:.0f} ms, p99 {pct(waits, 0.99) * 1000:.0f} ms",
            "p99 <= 2000 ms",
        )

    async def fanout(self, pid: int) -> None:
        per: dict[int, float] = {}
        for k, fan in enumerate(self.cfg.fanouts):
            org, name = 6000 + fan, EXTRA[k]
            path = f"/fan{fan}"
            await self.add_hooks(
                [
                    make_webhook(org, self.receiver.url(path), [name], max_allowed_connections=16)
                    for _ in range(fan)
                ]
            )
            # Let the dispatcher pick them up (first event of each arrives).
            await self.publish(org, name, f"warm{fan}")
            await until(at_least(self.receiver, path, fan), 60, "fan-out warm-up")
            events = max(1, self.cfg.fanout_deliveries // fan)
            base = len(self.receiver.ok_for(path))
            c0, t0 = cpu_seconds(pid), time.monotonic()
            for i in range(events):
                await self.publish(org, name, f"f{fan}-{i}")
            await self.producer.flush()
            want = base + events * fan
            await until(at_least(self.receiver, path, want), 180, "fan-out")
            per[fan] = (cpu_seconds(pid) - c0) / (events * fan) * 1e6
            # The phase's length matters: background work (heartbeats, the
            # supervisor's refresh) is counted in the phase's CPU too.
            print(
                f"  fan-out {fan}: {events * fan} deliveries in "
                f"{time.monotonic() - t0:.1f} s, {per[fan]:.0f} us CPU each",
                flush=True,
            )
        fans = list(per)
        self.report.add(
            f"CPU per delivery, fan-out {' / '.join(map(str, fans))} "
            f"(~{self.cfg.fanout_deliveries} deliveries each)",
            " / ".join(f"{per[f]:.0f}" for f in fans)
            + f" us ({per[fans[-1]] / per[fans[0]]:.2f}x)",
            f"fan-out {fans[-1]} <= 1.2x fan-out {fans[0]}",
        )

    async def paced(self) -> None:
        org, name, path = 7000, EXTRA[3], "/paced"
        await self.add_hooks(
            [make_webhook(org, self.receiver.url(path), [name], max_allowed_connections=16)]
        )
        await self.publish(org, name, "paced-warm")
        await until(lambda: bool(self.receiver.ok_for(path)), 30, "paced warm-up")
        n = int(self.cfg.rate * self.cfg.paced_seconds)
        start = time.monotonic()
        for i in range(n):
            due = start + i / self.cfg.rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            await self.publish(org, name, f"p{i}")
        await until(lambda: len(self.receiver.ok_for(path)) >= n + 1, 60, "paced")
        lat = [
            x
            for r, x in zip(self.receiver.ok_for(path), self.latencies(path), strict=True)
            if r.json["refId"] != "paced-warm"
        ]
        floor = await self.bare_floor(n)
        self.report.add(
            f"created -> received at {self.cfg.rate:.0f}/s "
            f"(fetch_max_wait_ms {self.cfg.fetch_wait_ms})",
            f"p50 {pct(lat, 0.5) * 1000:.1f} ms, p99 {pct(lat, 0.99) * 1000:.1f} ms; "
            f"bare produce->consume p50 {pct(floor, 0.5) * 1000:.1f} ms, "
            f"p99 {pct(floor, 0.99) * 1000:.1f} ms",
            "p50 <= 20 ms, p99 <= 100 ms",
        )

    async def bare_floor(self, n: int) -> list[float]:
        topic = f"{self.prefix}floor"
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.stack.kafka_bootstrap,
            group_id=f"floor-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.cfg.fetch_wait_ms,
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.kafka_bootstrap, linger_ms=1)
        await producer.start()
        await producer.send_and_wait(topic, b"warm")
        await consumer.start()
        out: list[float] = []

        async def consume() -> None:
            while len(out) < n:
                batch = await consumer.getmany(timeout_ms=200)
                now = time.time()
                for msgs in batch.values():
                    out.extend(now - float(m.value) for m in msgs if m.value != b"warm")

        task = asyncio.create_task(consume())
        start = time.monotonic()
        for i in range(n):
            due = start + i / self.cfg.rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            await producer.send(topic, repr(time.time()).encode())
        await asyncio.wait_for(task, 60)
        await consumer.stop()
        await producer.stop()
        return out

    async def settled(self, within: float = 120.0) -> None:
        """Wait until the set-up has left nothing behind: no catch-up reader
        (1,000 webhooks created at once are caught up from their creation),
        no webhook position written for a second, the log up to date. Read
        from the dispatcher's own metrics (only those three: the others
        cover 10,000 webhooks and cost a scrape of its own)."""
        names = (
            "eventnotify_dispatcher_catchup_readers",
            "eventnotify_dispatcher_position_writes_total",
            "eventnotify_dispatcher_log_lag_seconds",
        )
        deadline = time.monotonic() + within
        last = -1.0
        while time.monotonic() < deadline:
            s = await scrape(self.metrics_port, names=names)
            writes = s.value(names[1])
            if s.value(names[0]) == 0 and s.value(names[2]) < 0.1 and writes == last:
                return
            last = writes
            await asyncio.sleep(1.0)
        raise TimeoutError("the dispatcher did not settle")

    async def isolation(self) -> None:
        """Healthy deliveries' latency among faulty webhooks, against all
        healthy before and after; the faulty endpoints recover in between
        and must get everything."""
        # Bound, not listening: refused, and no other process can take it.
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
        before, _ = await self.iso_run(0, None)
        faulty, twenty = await self.iso_run(1, dead_port)
        closed.close()
        n = int(self.cfg.iso_rate * self.cfg.iso_seconds)
        await self.recovery(twenty, dead_port, n + 20)
        after, _ = await self.iso_run(2, None)
        baseline = (pct(before, 0.99) + pct(after, 0.99)) / 2
        ratio = pct(faulty, 0.99) / baseline
        self.report.add(
            f"healthy latency among {self.cfg.iso_webhooks} webhooks, 10 dead + 10 slow (2 s) "
            f"on every event, {self.cfg.iso_rate:.0f} events/s x "
            f"{self.cfg.iso_webhooks // 20 - 1} webhooks",
            f"p50 {pct(faulty, 0.5) * 1000:.0f} / p99 {pct(faulty, 0.99) * 1000:.0f} ms vs "
            f"all healthy before p50 {pct(before, 0.5) * 1000:.0f} / p99 "
            f"{pct(before, 0.99) * 1000:.0f} ms and after p50 {pct(after, 0.5) * 1000:.0f} / "
            f"p99 {pct(after, 0.99) * 1000:.0f} ms (p99 {ratio:.2f}x their mean; "
            f"{pct(faulty, 0.99) / pct(before, 0.99):.2f}x before, "
            f"{pct(faulty, 0.99) / pct(after, 0.99):.2f}x after)",
            "p99 <= 1.2x",
        )

    async def iso_run(self, k: int, dead_port: int | None) -> tuple[list[float], list[Any]]:
        """One isolation run in org 8000 + ``k``: all healthy, or (with
        ``dead_port``) with 10 dead and 10 slow webhooks on every event.
        Returns the one-name webhooks' latencies and the twenty others."""
        names = NAMES
        org, path = 8000 + k, f"/iso{k}"
        n = int(self.cfg.iso_rate * self.cfg.iso_seconds)
        lead = int(self.cfg.iso_rate)  # the first second is not counted (see the method)
        healthy = self.cfg.iso_webhooks - 20  # measured: each on one name
        hooks = [
            make_webhook(org, self.receiver.url(path), [names[i % 20]], max_allowed_connections=4)
            for i in range(healthy)
        ]
        # Twenty more, subscribed to every name (each event also goes to all
        # 20): healthy, or 10 dead + 10 slow.
        twenty = []
        for i in range(10):
            if dead_port is not None:
                dead = f"http://127.0.0.1:{dead_port}/dead{i}"
                slow = self.receiver.url(f"/slow{i}")
                self.receiver.on(f"/slow{i}", lambda _r, _n: Reply(200, delay=2.0))
            else:
                dead = slow = self.receiver.url("/spare")
            twenty.append(make_webhook(org, dead, names, max_allowed_connections=4))
            twenty.append(make_webhook(org, slow, names, max_allowed_connections=4))
        await self.add_hooks(hooks + twenty)
        for name in names:
            await self.publish(org, name, f"isow{k}-{name}")
        await until(at_least(self.receiver, path, healthy), 120, "isolation warm-up")
        await self.settled()
        base = len(self.receiver.ok_for(path))
        per_name = [sum(1 for i in range(healthy) if i % 20 == j) for j in range(20)]
        what = "faulty" if dead_port is not None else "all healthy"
        print(f"  isolation run {k + 1}, {what}: publishing", flush=True)
        assert self.proc is not None and self.proc.proc is not None
        pids = {"dispatcher": self.proc.proc.pid, "bench": os.getpid()}
        pids |= {srv.name: srv.proc.pid for srv in self.stack.servers if srv.proc is not None}
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start = time.monotonic()
        for i in range(n):
            due = start + i / self.cfg.iso_rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            await self.publish(org, names[i % 20], f"iso{k}-{i}")
        want = base + sum(per_name[i % 20] for i in range(n))
        await until(at_least(self.receiver, path, want), 180, "isolation")
        took = time.monotonic() - start
        cpu = ", ".join(
            f"{name} {100 * (cpu_seconds(pid) - cpu0[name]) / took:.0f}%"
            for name, pid in pids.items()
        )
        print(f"  isolation run {k + 1}: CPU of a core: {cpu}", flush=True)
        return [
            x
            for r, x in zip(
                self.receiver.ok_for(path)[base:], self.latencies(path)[base:], strict=True
            )
            if int(r.json["refId"].rsplit("-", 1)[1]) >= lead
        ], twenty

    async def recovery(self, hooks: list[Any], dead_port: int, events: int) -> None:
        """The dead endpoints come back and the slow ones answer at once:
        every event must reach every faulty webhook (parked retries and
        catch-up from Kafka), within a bounded wait."""
        back = Receiver()
        await back.start(dead_port)
        for i in range(10):
            self.receiver.on(f"/slow{i}", lambda _r, _n: Reply(200))
        want = len(hooks) * events

        got: set[str] = set()
        seen = [0, 0]  # requests already counted, per receiver

        def delivered() -> int:
            # Incremental: the probe runs every few ms over a growing list.
            for k, (rec, prefix) in enumerate(((back, "/dead"), (self.receiver, "/slow"))):
                fresh = rec.requests[seen[k] :]
                seen[k] += len(fresh)
                got.update(r.json["eventId"] for r in fresh if r.path.startswith(prefix))
            return len(got)

        t = time.monotonic()
        with contextlib.suppress(TimeoutError):  # reported, not raised
            await until(lambda: delivered() >= want, self.cfg.recovery_seconds, "recovery")
        took = time.monotonic() - t
        await back.stop()
        self.report.add(
            "faulty webhooks after their endpoints recover",
            f"{delivered()} of {want} deliveries in {took:.0f} s",
            f"all, within {self.cfg.recovery_seconds:.0f} s",
        )

    async def close(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        await self.producer.stop()
        await self.receiver.stop()
        await self.store.close()


async def run(cfg: Config, phases: set[str]) -> Report:
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    stack = start_stack(workdir / "stack")
    bench = Bench(cfg, stack, workdir)
    try:
        await bench.setup()
        proc = bench.start_dispatcher()
        assert proc.proc is not None
        pid = proc.proc.pid
        t = time.monotonic()
        await bench.ready()
        print(f"  dispatcher serving after {time.monotonic() - t:.1f} s", flush=True)
        await asyncio.sleep(3)  # let start-up work settle before measuring idle
        if "idle" in phases:
            await bench.idle(pid)
        if "new" in phases:
            await bench.new_webhook()
        if "fanout" in phases:
            await bench.fanout(pid)
        if "latency" in phases:
            await bench.paced()
        if "isolation" in phases:
            await bench.isolation()
    except BaseException:
        if bench.proc is not None:
            print(bench.proc.tail(30))
        raise
    finally:
        await bench.close()
        stack.stop()
    return bench.report


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--webhooks", type=int, default=Config.webhooks)
    p.add_argument("--samples", type=int, default=Config.samples)
    p.add_argument("--iso-webhooks", type=int, default=Config.iso_webhooks)
    p.add_argument("--rate", type=float, default=Config.rate)
    p.add_argument("--fetch-wait-ms", type=int, default=Config.fetch_wait_ms)
    p.add_argument("--refresh-seconds", type=float, default=Config.refresh_seconds)
    p.add_argument("--phases", default="idle,new,fanout,latency,isolation")
    p.add_argument("--fanout-deliveries", type=int, default=Config.fanout_deliveries)
    p.add_argument(
        "--fanouts",
        default=",".join(map(str, Config.fanouts)),
        help="fan-out sizes, comma-separated; the last is compared with the first",
    )
    a = p.parse_args()
    cfg = Config(
        webhooks=a.webhooks,
        samples=a.samples,
        iso_webhooks=a.iso_webhooks,
        rate=a.rate,
        fetch_wait_ms=a.fetch_wait_ms,
        refresh_seconds=a.refresh_seconds,
        fanout_deliveries=a.fanout_deliveries,
        fanouts=tuple(int(f) for f in a.fanouts.split(",")),
    )
    print(f"bench-scale: {cfg}", flush=True)
    started = time.monotonic()
    report = run_on_loop(run(cfg, set(a.phases.split(","))))
    print("\n| figure | measured | target |\n|---|---|---|")
    for what, figure, target in report.rows:
        print(f"| {what} | {figure} | {target} |")
    print(
        f"\nmachine: {os.cpu_count()} cores; servers: SecantusDB + Tansu (devstack, 127.0.0.1); "
        f"took {time.monotonic() - started:.0f} s; finished at {utcnow().isoformat()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
