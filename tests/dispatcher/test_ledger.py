"""The ledger: every (event, subscribed webhook) pair arrives at least once
through crashes, a database restart, a flaky and a dead endpoint.

10,000 events over four event names and two orgs go to four webhooks:

- ``/healthy`` (org A, every name) answers 200 at once;
- ``/flaky`` (org B, three names) fails about 30 % of first attempts: 5xx,
  429 with ``Retry-After: 1``, or a 2 s stall past the 1 s client timeout;
  about 1 % of its events fail three times, which parks them in MongoDB;
- ``/dead`` (org A, two names) refuses connections until it comes up mid-run;
- ``/other`` (org B, two names) answers 200 at once.

Meanwhile the dispatcher (a real ``python -m dispatcher`` child) is SIGKILLed
twice and restarted, and its MongoDB (persistent storage) is stopped and
restarted once. Receivers record what they answered 2xx; the ledger then
checks that every expected pair arrived, that nothing arrived anywhere it was
not subscribed, counts duplicates, and checks each received eventId has a
DELIVERED log entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devstack import Server, Stack, free_port, mongo_server, mongo_uri
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import Webhook
from eventnotify.envelope import SourceEvent
from eventnotify.settings import MongoSettings
from eventnotify.store import Store, open_store
from tests.support.endpoints import LateReceiver
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, create_topics, make_event
from tests.support.processes import DispatcherProcess, dispatcher_env
from tests.support.receiver import Received, Receiver, Reply
from tests.support.stack import make_settings
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ORG_A, ORG_B = 1101, 1102
NAMES = ("badgeEarned", "cardUpdated", "requestUpdated", "streakStart")
EVENTS = 10_000
PRODUCE_PER_SECOND = 1_000
REF_IDS_PER_ORG = 400


# --------------------------------------------------------------------- receivers


def _hash(event_id: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}{event_id}".encode()).digest()[:4], "big")


@dataclass
class FlakyPlan:
    """Answers for ``/flaky``, deterministic per eventId.

    Each event is given a number of failing attempts (70 %: none, 25 %: one,
    4 %: two, 1 %: three) and each failure a kind (2/3 5xx, 1/5 429 with
    Retry-After, the rest a stall past the client's timeout). Bounding the
    failures per event keeps the run inside the retry schedule's first
    steps (in place at +1 s and +3 s, parked until +8 s), so the test needs no
    retry tuning that production would not use.
    """

    attempts: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)

    def __call__(self, rec: Received, _n: int) -> Reply:
        event_id = rec.json["eventId"]
        k = self.attempts[event_id]
        self.attempts[event_id] += 1
        bucket = _hash(event_id) % 100
        failures = 0 if bucket < 70 else 1 if bucket < 95 else 2 if bucket < 99 else 3
        if k >= failures:
            self.answered["200"] += 1
            return Reply(200)
        kind = _hash(event_id, f"kind{k}") % 15
        if kind < 10:
            status = (500, 502, 503)[kind % 3]
            self.answered["5xx"] += 1
            return Reply(status)
        if kind < 13:
            self.answered["429"] += 1
            return Reply(429, headers={"Retry-After": "1"})
        # Answered 200, but after the dispatcher gave up on it: the receiver
        # did the work, the dispatcher retries, the receiver sees a duplicate.
        self.answered["stall"] += 1
        return Reply(200, delay=2.0)


@dataclass
class HookCheck:
    """What one webhook must receive, and what it did receive."""

    hook: Webhook
    expected: set[str]
    received: Counter[str] = field(default_factory=Counter)
    strays: list[str] = field(default_factory=list)


class Ledger:
    """Folds the receivers' 2xx-answered requests into per-webhook counts."""

    def __init__(self, checks: dict[str, HookCheck], receivers: list[Receiver]) -> None:
        self.checks = checks
        self._receivers = receivers
        self._seen = [0] * len(receivers)
        self._seen_failed = [0] * len(receivers)

    def update(self) -> None:
        for i, receiver in enumerate(self._receivers):
            new = receiver.requests[self._seen[i] :]
            self._seen[i] += len(new)
            for rec in new:
                self.checks[rec.path].received[self._check_stray(rec)] += 1
            failed = receiver.failed[self._seen_failed[i] :]
            self._seen_failed[i] += len(failed)
            for rec, _status in failed:  # a stray is a stray whatever the answer
                self._check_stray(rec)

    def _check_stray(self, rec: Received) -> str:
        check = self.checks[rec.path]
        body = rec.json
        event_id: str = body["eventId"]
        hook = check.hook
        if (
            event_id not in check.expected
            or body["orgId"] != hook.org_id
            or body["eventName"] not in hook.event_names
        ):
            check.strays.append(f"{body['orgId']}/{body['eventName']}/{event_id}")
        return event_id

    def arrived(self, paths: list[str] | None = None) -> int:
        """Expected pairs that arrived at least once."""
        return sum(
            len(c.expected.intersection(c.received))
            for p, c in self.checks.items()
            if paths is None or p in paths
        )

    def expected(self, paths: list[str] | None = None) -> int:
        return sum(len(c.expected) for p, c in self.checks.items() if paths is None or p in paths)


# --------------------------------------------------------------------- fixtures


@pytest.fixture
def ledger_mongo(tmp_path: Path) -> Iterator[Server]:
    """A MongoDB of this test's own, on disk, so a stop and start keeps the data."""
    srv = mongo_server(free_port(), tmp_path, storage=str(tmp_path / "db"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _events() -> list[SourceEvent]:
    out = []
    for i in range(EVENTS):
        org = ORG_A if i % 2 == 0 else ORG_B
        name = NAMES[(i // 2) % len(NAMES)]
        out.append(make_event(org, name, f"{org}-{i % REF_IDS_PER_ORG}", {"seq": i}))
    return out


async def _produce(producer: EventProducer, events: list[SourceEvent]) -> None:
    """Publish at a fixed rate, so the faults below land while events still flow."""
    start = time.monotonic()
    for i, event in enumerate(events):
        due = start + i / PRODUCE_PER_SECOND
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        await producer.publish(event)
    await producer.flush()


# --------------------------------------------------------------------- the test


async def test_ledger_balances_through_crashes_and_outages(
    stack: Stack, ledger_mongo: Server, tmp_path: Path
) -> None:
    base = make_settings(stack)  # unique database name and topic prefix
    uri = mongo_uri(ledger_mongo.port)
    store: Store = open_store(MongoSettings(uri=uri, database=base.mongo.database))
    await store.ensure_indexes()

    receiver = Receiver()
    dead = LateReceiver()  # refuses connections until it starts
    await receiver.start()
    flaky = FlakyPlan()
    receiver.on("/flaky", flaky)

    hooks = {
        "/healthy": await add_webhook(
            store, ORG_A, receiver.url("/healthy"), list(NAMES), max_allowed_connections=16
        ),
        "/flaky": await add_webhook(
            store,
            ORG_B,
            receiver.url("/flaky"),
            ["badgeEarned", "cardUpdated", "requestUpdated"],
            max_allowed_connections=16,
            no_of_retry_attempts=8,
        ),
        "/dead": await add_webhook(
            store, ORG_A, dead.url("/dead"), ["cardUpdated", "streakStart"]
        ),  # noOfRetryAttempts 0: the default policy, which keeps retrying for days
        "/other": await add_webhook(
            store, ORG_B, receiver.url("/other"), ["badgeEarned", "streakStart"]
        ),
    }
    events = _events()
    checks = {
        path: HookCheck(
            hook,
            {
                delivered_event_id(e.event_id, hook.web_hook_id)
                for e in events
                if e.org_id == hook.org_id and e.event_name in hook.event_names
            },
        )
        for path, hook in hooks.items()
    }
    ledger = Ledger(checks, [receiver, dead])
    live = ["/healthy", "/flaky", "/other"]
    await create_topics(
        stack.kafka_bootstrap,
        [f"{base.kafka.topic_prefix}{n}" for n in NAMES],
        base.kafka.topic_partitions,
    )

    proc = DispatcherProcess(
        dispatcher_env(
            uri,
            base.mongo.database,
            stack.kafka_bootstrap,
            base.kafka.topic_prefix,
            EVENTNOTIFY_HTTP_TOTAL_TIMEOUT_SECONDS="1",
            EVENTNOTIFY_HTTP_CONNECT_TIMEOUT_SECONDS="1",
            # A dead endpoint is probed after 1, 2, 4, 8... s rather than 5, 10, 20...
            EVENTNOTIFY_CIRCUIT_COOLDOWN_SECONDS="1",
            EVENTNOTIFY_SHUTDOWN_DRAIN_SECONDS="5",
            MONGODB_TIMEOUT_MS="3000",
        ),
        tmp_path / "dispatcher.log",
    )

    async def progress(
        fraction: float, paths: list[str] | None = None, within: float = 120
    ) -> None:
        """Wait until ``fraction`` of the expected pairs (of ``paths``) arrived."""

        async def probe() -> bool:
            if not proc.alive:
                raise AssertionError("the dispatcher exited by itself")
            ledger.update()
            return ledger.arrived(paths) >= fraction * ledger.expected(paths)

        await wait_until(probe, within=within, interval=0.05)

    started = time.monotonic()
    marks: list[str] = []

    def mark(what: str) -> None:
        marks.append(f"{time.monotonic() - started:6.1f}s {what} ({ledger.arrived()} arrived)")

    producing: asyncio.Task[None] | None = None
    try:
        proc.start()
        async with EventProducer(base) as producer:
            producing = asyncio.create_task(_produce(producer, events))

            await progress(0.12, live)
            proc.kill()
            mark("dispatcher SIGKILLed (1)")
            proc.start()

            await progress(0.25, live)
            await dead.start()
            mark("dead endpoint came up")

            await progress(0.40, live)
            proc.kill()
            mark("dispatcher SIGKILLed (2)")
            proc.start()

            await progress(0.55, live)
            ledger_mongo.stop()
            mark("MongoDB stopped")
            # The outage itself: how long MongoDB stays down, not a synchronisation.
            await asyncio.sleep(3)
            ledger_mongo.start()
            mark("MongoDB restarted")

            await producing
            mark("all events produced")

        # Parked deliveries claimed by a killed process wait out their lease
        # (2 min, dispatcher.scheduler.LEASE) before anyone claims them again.
        await progress(1.0, within=200)
        mark("every pair arrived")

        received_ids = {i for c in checks.values() for i in c.received}

        async def all_delivered() -> bool:
            cursor = store.db["delivery_logs"].find(
                {"status": "DELIVERED"}, {"_id": 1}, batch_size=5000
            )
            delivered = {d["_id"] async for d in cursor}
            return received_ids <= delivered

        await wait_until(all_delivered, within=60, interval=0.5)
        mark("every received eventId logged DELIVERED")
        assert proc.stop() == 0, "graceful shutdown failed"
    except BaseException:
        print("\n".join(marks))
        print(f"--- dispatcher log tail ({proc.log_path}) ---\n{proc.tail()}")
        proc.kill()
        raise
    finally:
        if producing is not None and not producing.done():
            producing.cancel()
            with contextlib.suppress(BaseException):
                await producing
        await receiver.stop()
        await dead.stop()

    # ---------------------------------------------------------------- the ledger
    ledger.update()
    dead_logs = [
        d
        async for d in store.db["delivery_logs"].find(
            {"web_hook_id": hooks["/dead"].web_hook_id}, {"attempts": 1}
        )
    ]
    parked_left = await store.parked.count_all()
    await store.close()

    pairs = ledger.expected()
    duplicates = {p: sum(n - 1 for n in c.received.values()) for p, c in checks.items()}
    print("\n".join(marks))
    print(
        f"ledger: {len(events)} events, {pairs} (event, webhook) pairs, "
        f"{ledger.arrived()} arrived, {sum(duplicates.values())} duplicates "
        f"({', '.join(f'{p}: {n}' for p, n in duplicates.items())}); "
        f"dispatcher started {proc.starts}x, SIGKILLed {proc.kills}x; "
        f"/flaky answers {dict(flaky.answered)}; "
        f"/dead entries with >1 attempt: {sum(len(d['attempts']) > 1 for d in dead_logs)}; "
        f"parked left: {parked_left}"
    )
    for path, check in checks.items():
        assert not check.strays, (
            f"{path} received events it is not subscribed to: {check.strays[:5]}"
        )
        missing = check.expected - set(check.received)
        assert not missing, f"{path}: {len(missing)} pairs never arrived"
    assert proc.kills >= 2
    # The dead endpoint really was dead for a while: deliveries were retried.
    assert any(len(d["attempts"]) > 1 for d in dead_logs)
    assert flaky.answered["5xx"] and flaky.answered["429"] and flaky.answered["stall"]
