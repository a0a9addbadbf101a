"""One slow live webhook does not hold the shared group's commit: after a
record has been open for HOLD_SECONDS, the webhook still owing its outcome
carries it in its own stored position, the group commits past it, and a crash
sends that record again to the slow webhook only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dispatcher.intake import group_id_of
from eventnotify.delivery.request import delivered_event_id
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.processes import DispatcherProcess, env_for
from tests.support.receiver import Receiver, Reply
from tests.support.stalls import group_reader, stall_and_commit_past

ORG = 57


async def test_a_stalled_request_does_not_hold_everyones_commit(
    settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    # The slow endpoint's first request stalls well past the commit (the
    # receiver waits for it to finish at teardown: not much longer).
    receiver.on("/slow", lambda _r, n: Reply(200, delay=25.0 if n == 0 else 0.0))
    slow = await add_webhook(store, ORG, receiver.url("/slow"), ["badgeEarned"])
    fast = await add_webhook(store, ORG, receiver.url("/fast"), ["badgeEarned"])
    env = env_for(settings)
    first = DispatcherProcess(env, tmp_path / "first.log")
    second = DispatcherProcess(env, tmp_path / "second.log")
    # One refId: every event on one partition, in order.
    stalled, after, marker = (make_event(ORG, "badgeEarned", "s", {"n": n}) for n in range(3))
    group = group_id_of(settings)
    try:
        first.start()
        async with group_reader(settings) as reader, EventProducer(settings) as p:
            # The slow request is still open, yet the group commits past it.
            tp, offset = await stall_and_commit_past(
                p, store, receiver, reader, fast, stalled, after
            )
            assert receiver.in_flight.get("/slow", 0) == 1
            stored = await store.positions.load(group, [(tp.topic, tp.partition)])
            own = {p.web_hook_id: p.offset for p in stored}
            assert own.get(slow.web_hook_id, 10**9) <= offset - 1  # at "stalled" or before
            first.kill()
            second.start()
            # The slow webhook is sent "stalled" again; the fast one nothing twice.
            stalled_id = delivered_event_id(stalled.event_id, slow.web_hook_id)
            await receiver.wait_for(
                lambda: stalled_id in {r.json["eventId"] for r in receiver.ok_for("/slow")},
                within=90,
            )
            await p.publish_acked(marker)
            await receiver.wait_for(lambda: len(receiver.ok_for("/fast")) >= 3, within=60)
    except BaseException:
        print(first.tail(), second.tail(), sep="\n----\n")
        raise
    finally:
        first.kill()
        await asyncio.to_thread(second.stop)
    assert [r.json["eventId"] for r in receiver.ok_for("/fast")] == [
        delivered_event_id(e.event_id, fast.web_hook_id) for e in (stalled, after, marker)
    ]
