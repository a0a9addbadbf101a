"""maxAllowedConnections: under load a slow receiver sees exactly the cap in
flight from one process, never more, and a cap that is not reached is not a
cap that was tested (serial delivery would also "never exceed" it)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from dispatcher.app import Dispatcher
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Behaviour, Received, Receiver, Reply

ORG = 303
EVENTS = 250
# (path, cap, receiver delay in seconds): each takes about EVENTS * delay / cap = 10 s.
CAPPED = (("/five", 5, 0.2), ("/two", 2, 0.08))


async def test_slow_receiver_sees_exactly_the_cap_in_flight(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hooks = {}
    for path, cap, delay in CAPPED:
        receiver.on(path, _answer_after(delay))
        hooks[path] = await add_webhook(
            store, ORG, receiver.url(path), ["badgeEarned"], max_allowed_connections=cap
        )
    await dispatcher.supervisor.sync()

    # Sample what each receiver has in flight, to show how much of the run
    # the cap was actually filled (printed, not asserted: the tail drains).
    samples: dict[str, list[int]] = {path: [] for path, _, _ in CAPPED}

    async def sample() -> None:
        while True:
            for path in samples:
                if receiver.in_flight.get(path):
                    samples[path].append(receiver.in_flight[path])
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    try:
        async with EventProducer(settings) as producer:
            for i in range(EVENTS):  # all at once: a backlog is the load
                await producer.publish(make_event(ORG, "badgeEarned", f"r{i}", {"i": i}))
            await producer.flush()
        for path, _, _ in CAPPED:
            await receiver.wait_for(_has_all(receiver, path), within=60)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    elapsed = time.monotonic() - started

    for path, cap, delay in CAPPED:
        at_cap = sum(n == cap for n in samples[path]) / max(1, len(samples[path]))
        print(
            f"{path}: cap {cap}, receiver max in flight {receiver.max_in_flight[path]}, "
            f"{at_cap:.0%} of busy samples at the cap, all {EVENTS} in {elapsed:.1f}s "
            f"(ideal {EVENTS * delay / cap:.1f}s)"
        )
        assert receiver.max_in_flight[path] == cap, path


def _answer_after(delay: float) -> Behaviour:
    return lambda _r, _n: Reply(200, delay=delay)


def _has_all(receiver: Receiver, path: str) -> Callable[[], bool]:
    return lambda: len(receiver.ok_for(path)) >= EVENTS


async def test_a_delivery_waiting_to_retry_in_place_does_not_hold_back_the_queue(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    # Cap 1: one request in flight at a time. The first event fails once and
    # waits (about a second) to be retried in place; it holds no connection
    # slot meanwhile, so the events queued behind it go out during that wait,
    # not after it.
    def behaviour(r: Received, _n: int) -> Reply:
        first_try = r.json["refId"] == "first" and not receiver.failed
        return Reply(503 if first_try else 200)

    receiver.on("/one", behaviour)
    await add_webhook(store, ORG, receiver.url("/one"), ["badgeEarned"], max_allowed_connections=1)
    await dispatcher.supervisor.sync()
    async with EventProducer(settings) as producer:
        await producer.publish(make_event(ORG, "badgeEarned", "first", {"i": 0}))
        await producer.flush()
        await receiver.wait_for(lambda: bool(receiver.failed), within=30)
        for i in range(5):
            await producer.publish(make_event(ORG, "badgeEarned", f"next{i}", {"i": i}))
        await producer.flush()
    await receiver.wait_for(lambda: len(receiver.ok_for("/one")) >= 6, within=30)

    ok = receiver.ok_for("/one")
    retried = next(r for r in ok if r.json["refId"] == "first")
    later = [r for r in ok if r.json["refId"] != "first"]
    assert len(later) == 5
    assert receiver.max_in_flight["/one"] == 1
    # All five were delivered while the first waited for its retry.
    assert max(r.at for r in later) < retried.at, [r.json["refId"] for r in ok]
