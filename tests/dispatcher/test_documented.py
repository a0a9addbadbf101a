"""Documented dispatcher behaviours end to end (docs/dispatcher.md): the retry
budget, reactivation, rewind to now, the backlog limit and graceful shutdown.

Each test makes the behaviour observable at a real receiver and in the
MongoDB log, and waits on a later event (a marker) rather than on time before
asserting that something did not happen."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from devstack import Stack
from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus
from eventnotify.envelope import SourceEvent
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import utcnow
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.processes import DispatcherProcess, env_for
from tests.support.receiver import Received, Receiver, Reply
from tests.support.stack import make_settings
from tests.support.waiting import logged_as, wait_until

ORG = 71
BACKLOG = 2
DRAIN_SECONDS = 8.0


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return make_settings(
        stack,
        EVENTNOTIFY_IN_PLACE_ATTEMPTS="1",
        EVENTNOTIFY_REFRESH_SECONDS="0.5",
        EVENTNOTIFY_MAX_BACKLOG_PER_WEBHOOK=str(BACKLOG),
    )


def ids_at(receiver: Receiver, path: str) -> list[str]:
    return [r.json["eventId"] for r in receiver.ok_for(path)]


async def test_no_of_retry_attempts_n_fails_after_exactly_n_retries(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    retries = 2
    receiver.on("/down", lambda _r, _n: Reply(503))
    hook = await add_webhook(
        store, ORG, receiver.url("/down"), ["badgeEarned"], no_of_retry_attempts=retries
    )
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", "n", {})
    async with EventProducer(settings) as p:
        await p.publish(event)
    event_id = delivered_event_id(event.event_id, hook.web_hook_id)
    entry = await logged_as(store, ORG, event_id, DeliveryStatus.FAILED)
    # The first attempt and exactly N retries: at the endpoint and in the log.
    assert [a.http_status for a in entry.attempts] == [503] * (retries + 1)
    sent = [r for r, _ in receiver.failed if r.headers["webhook-id"] == event_id]
    assert len(sent) == retries + 1
    assert await store.parked.count_for(hook.web_hook_id) == 0
    assert entry.source_event is not None  # kept for a replay


async def test_reactivation_delivers_what_is_published_after_it(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/re"), ["badgeEarned"])
    await dispatcher.supervisor.sync()

    def mine(e: SourceEvent) -> str:
        return delivered_event_id(e.event_id, hook.web_hook_id)

    # One ref: every event on one partition, in publish order.
    before, meanwhile, after = (
        make_event(ORG, "badgeEarned", "r", {"n": n}) for n in ("before", "meanwhile", "after")
    )
    async with EventProducer(settings) as p:
        await p.publish_acked(before)
        await receiver.wait_for(lambda: mine(before) in ids_at(receiver, "/re"), within=90)
        await store.webhooks.set_fields(
            hook.web_hook_id, {"active": False, "last_updated_on": utcnow()}
        )

        async def retired() -> bool:
            await dispatcher.supervisor.sync()
            return dispatcher.supervisor.consumer(hook.web_hook_id) is None

        await wait_until(retired, within=90)
        await p.publish_acked(meanwhile)
        await store.webhooks.set_fields(
            hook.web_hook_id, {"active": True, "last_updated_on": utcnow()}
        )

        async def serving() -> bool:
            await dispatcher.supervisor.sync()
            return dispatcher.supervisor.consumer(hook.web_hook_id) is not None

        await wait_until(serving, within=90)
        await p.publish_acked(after)
        # "after" follows "meanwhile" on the partition: once it arrived,
        # "meanwhile" has been passed over.
        await receiver.wait_for(lambda: mine(after) in ids_at(receiver, "/re"), within=90)
    assert ids_at(receiver, "/re") == [mine(before), mine(after)]
    assert await store.logs.get(ORG, mine(meanwhile)) is None


async def test_reactivation_while_a_catch_up_reader_still_runs(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """A webhook deactivated and reactivated while its catch-up reader is still
    busy (here: waiting on a slow first delivery) gets a new runtime; the old
    reader must stop, not hand the new runtime's records to the retired one
    (which dropped them while moving the position past them)."""
    receiver.on("/rc", lambda _r, n: Reply(200, delay=3.0 if n == 0 else 0.0))
    # Another webhook of the name, so the shared stream reads its topic.
    other = await add_webhook(store, ORG, receiver.url("/rc-other"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    first, after = (make_event(ORG, "badgeEarned", "c", {"n": n}) for n in ("first", "after"))
    async with EventProducer(settings) as p:
        created = utcnow()
        await p.publish_acked(first)
        other_first = delivered_event_id(first.event_id, other.web_hook_id)
        await receiver.wait_for(lambda: other_first in ids_at(receiver, "/rc-other"), within=90)
        # Created before ``first`` was published, but known to the dispatcher
        # only after the shared stream passed it (as when its refresh comes
        # later): served by a catch-up reader, which stays alive while the
        # slow delivery is pending.
        hook = await add_webhook(
            store,
            ORG,
            receiver.url("/rc"),
            ["badgeEarned"],
            created_on=created,
            last_updated_on=created,
        )

        def mine(e: SourceEvent) -> str:
            return delivered_event_id(e.event_id, hook.web_hook_id)

        await dispatcher.supervisor.sync()
        await receiver.wait_for(lambda: receiver.in_flight.get("/rc", 0) == 1, within=90)
        assert dispatcher.catchup.reading(hook.web_hook_id)
        await store.webhooks.set_fields(
            hook.web_hook_id, {"active": False, "last_updated_on": utcnow()}
        )
        await dispatcher.supervisor.sync()
        assert dispatcher.supervisor.consumer(hook.web_hook_id) is None
        await store.webhooks.set_fields(
            hook.web_hook_id, {"active": True, "last_updated_on": utcnow()}
        )
        # Published after the reactivation and passed by the shared stream
        # (``other`` has it) while the slow first delivery is still pending:
        # the reactivated webhook is caught up on that partition, by a reader.
        await p.publish_acked(after)
        other_after = delivered_event_id(after.event_id, other.web_hook_id)
        await receiver.wait_for(lambda: other_after in ids_at(receiver, "/rc-other"), within=90)
        await dispatcher.supervisor.sync()
        await receiver.wait_for(lambda: mine(after) in ids_at(receiver, "/rc"), within=90)
    assert ids_at(receiver, "/rc").count(mine(after)) == 1


async def test_rewind_to_now_redelivers_nothing_old(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/rw"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    old = [make_event(ORG, "badgeEarned", "w", {"n": n}) for n in range(3)]
    new = make_event(ORG, "badgeEarned", "w", {"n": "new"})

    def mine(e: SourceEvent) -> str:
        return delivered_event_id(e.event_id, hook.web_hook_id)

    async with EventProducer(settings) as p:
        for e in old:
            await p.publish_acked(e)
        await receiver.wait_for(lambda: len(receiver.ok_for("/rw")) == len(old), within=90)
        order = await store.orders.add_rewind(hook.web_hook_id, utcnow(), utcnow())

        async def applied() -> bool:
            await dispatcher.supervisor.sync()
            return bool(await store.orders.applied_by(order))

        await wait_until(applied, within=90)
        await p.publish_acked(new)
        # Same partition: a redelivery of an old event would come before it.
        await receiver.wait_for(lambda: mine(new) in ids_at(receiver, "/rw"), within=90)
    assert ids_at(receiver, "/rw") == [mine(e) for e in [*old, new]]


async def test_backlog_limit_detaches_a_slow_webhook_and_it_catches_up(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    backlogs: list[int] = []
    slow_hook_id: list[str] = []

    def slow(_r: Received, _n: int) -> Reply:
        rt = dispatcher.supervisor.runtimes.get(slow_hook_id[0])
        if rt is not None:
            backlogs.append(rt.backlog)
        return Reply(200, delay=0.2)

    receiver.on("/slow", slow)
    hook = await add_webhook(
        store, ORG, receiver.url("/slow"), ["badgeEarned"], max_allowed_connections=1
    )
    slow_hook_id.append(hook.web_hook_id)
    fast = await add_webhook(store, ORG, receiver.url("/fast"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    events = [make_event(ORG, "badgeEarned", f"b{n % 4}", {"n": n}) for n in range(20)]
    async with EventProducer(settings) as p:
        # New webhooks start detached (caught up from their creation time);
        # one event on every ref's partition makes both live on the shared
        # stream first, so what follows tests the shared stream's detach.
        for ref in ("b0", "b1", "b2", "b3"):
            await p.publish_acked(make_event(ORG, "badgeEarned", ref, {"n": -1}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/slow")) == 4, within=90)
        await receiver.wait_for(lambda: len(receiver.ok_for("/fast")) == 4, within=90)

        async def all_live() -> bool:
            view = dispatcher.supervisor.consumer(hook.web_hook_id)
            owned = dispatcher.intake.owned(view.topics) if view is not None else []
            return bool(owned) and all(
                dispatcher.positions.get(tp, hook.web_hook_id) is None for tp in owned
            )

        await wait_until(all_live)
        backlogs.clear()
        for e in events:
            await p.publish(e)
        await p.flush()
    fast_ids = {delivered_event_id(e.event_id, fast.web_hook_id) for e in events}
    slow_ids = {delivered_event_id(e.event_id, hook.web_hook_id) for e in events}
    # The shared stream moved on: the fast webhook has everything while the
    # slow one (0.2 s a delivery, one at a time) is still far behind.
    await receiver.wait_for(lambda: fast_ids <= set(ids_at(receiver, "/fast")), within=90)
    assert len(receiver.ok_for("/slow")) < 4 + len(events) // 2
    # The slow one catches up with nothing lost, and never held more than
    # its backlog limit in memory.
    await receiver.wait_for(lambda: slow_ids <= set(ids_at(receiver, "/slow")), within=90)
    assert backlogs and max(backlogs) <= BACKLOG, backlogs
    # Per ref, in publish order (a ref is one partition).
    for ref in ("b0", "b1", "b2", "b3"):
        got = [r.json["data"]["n"] for r in receiver.ok_for("/slow") if r.json["refId"] == ref]
        assert got == [-1] + [e.data["n"] for e in events if e.ref_id == ref], (ref, got)


async def test_graceful_shutdown_finishes_and_records_in_flight_deliveries(
    stack: Stack, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.on("/busy", lambda _r, _n: Reply(200, delay=2.0))
    hook = await add_webhook(
        store, ORG, receiver.url("/busy"), ["badgeEarned"], max_allowed_connections=4
    )
    proc = DispatcherProcess(
        env_for(settings, EVENTNOTIFY_SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS)),
        tmp_path / "dispatcher.log",
    )
    proc.start()
    try:
        # A marker first: once it is delivered the process is consuming.
        async with EventProducer(settings) as p:
            await p.publish_acked(make_event(ORG, "badgeEarned", "g", {"n": "warm"}))
            await receiver.wait_for(lambda: len(receiver.ok_for("/busy")) == 1, within=90)
            events = [make_event(ORG, "badgeEarned", f"g{n}", {"n": n}) for n in range(4)]
            for e in events:
                await p.publish_acked(e)
        await receiver.wait_for(lambda: receiver.in_flight.get("/busy", 0) == 4, within=90)
        stopping = time.monotonic()
        # SIGTERM; the helper would SIGKILL only after the drain bound plus
        # a wide margin for the process's own teardown.
        code = await asyncio.to_thread(proc.stop, DRAIN_SECONDS + 20)
        took = time.monotonic() - stopping
    except BaseException:
        print(proc.tail())
        proc.kill()
        raise
    assert code == 0, proc.tail()
    print(f"SIGTERM -> exit {took:.1f} s (drain bound {DRAIN_SECONDS} s)")
    # Every in-flight delivery completed and its outcome was recorded
    # before the process exited.
    assert {r.json["refId"] for r in receiver.ok_for("/busy")} >= {e.ref_id for e in events}
    for e in events:
        entry = await store.logs.get(ORG, delivered_event_id(e.event_id, hook.web_hook_id))
        assert entry is not None and entry.status is DeliveryStatus.DELIVERED, e.ref_id
