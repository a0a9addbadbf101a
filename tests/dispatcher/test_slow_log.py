"""A delivery log that falls behind is not a slow webhook (SharedIntake._unblock).

When MongoDB is slow, every record stays open until its outcomes are written,
longer than HOLD_SECONDS, although every webhook answered at once. Moving
those webhooks' shares to their own stored positions (what is done for a
webhook whose request is stalled) would gain the commit nothing and cost two
position writes per webhook, on the MongoDB that is already behind. Against
the real stack: the test's own MongoDB is paused (SIGSTOP) while deliveries
go on, until the log is well behind.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import Server, Stack, free_port, mongo_server, mongo_uri
from dispatcher.app import Dispatcher
from dispatcher.intake import HOLD_SECONDS
from dispatcher.positions import LIVE
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus
from eventnotify.store import open_store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver
from tests.support.stack import make_settings
from tests.support.waiting import logged_as, wait_until

ORG = 61
EVENTS = 5


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[Server]:
    """A MongoDB of this test's own: pausing it touches no other test."""
    srv = mongo_server(free_port(), tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _signal(srv: Server, sig: signal.Signals) -> None:
    assert srv.proc is not None and srv.proc.poll() is None
    os.kill(srv.proc.pid, sig)


async def test_a_log_behind_moves_no_share_to_stored_positions(
    stack: Stack, own_mongo: Server, receiver: Receiver
) -> None:
    base = make_settings(stack)
    settings = dataclasses.replace(
        base, mongo=dataclasses.replace(base.mongo, uri=mongo_uri(own_mongo.port))
    )
    store = open_store(settings.mongo)
    await store.ensure_indexes()
    hook = await add_webhook(store, ORG, receiver.url("/fast"), ["badgeEarned"])
    d = Dispatcher(settings)
    await d.start()
    paused = False
    try:
        async with EventProducer(settings) as producer:
            warm = make_event(ORG, "badgeEarned", "r", {"n": -1})
            await producer.publish_acked(warm)
            await logged_as(
                store,
                ORG,
                delivered_event_id(warm.event_id, hook.web_hook_id),
                DeliveryStatus.DELIVERED,
            )

            async def settled() -> bool:
                return not d.positions.dirty and d.recorder.lag() == 0

            await wait_until(settled)
            writes_before = d.positions.writes_total

            _signal(own_mongo, signal.SIGSTOP)
            paused = True
            events = [make_event(ORG, "badgeEarned", "r", {"n": n}) for n in range(EVENTS)]
            for e in events:
                await producer.publish_acked(e)
            await receiver.wait_for(lambda: len(receiver.ok_for("/fast")) == EVENTS + 1)

            async def log_well_behind() -> bool:
                # Well past the hold: the commit loop (every 0.1 s) has looked
                # at these records many times while they were over it.
                return d.recorder.lag() > 2.5 * HOLD_SECONDS

            await wait_until(log_well_behind, within=30)
            assert d.positions.writes_total == writes_before
            _signal(own_mongo, signal.SIGCONT)
            paused = False

            for e in events:
                await logged_as(
                    store,
                    ORG,
                    delivered_event_id(e.event_id, hook.web_hook_id),
                    DeliveryStatus.DELIVERED,
                )
            await wait_until(settled)
            # Nothing was detached or moved: no position was written for the
            # webhook after it was picked up, and none is stored as an offset.
            assert d.positions.writes_total == writes_before
            topic = producer.topic("badgeEarned")
            stored = await store.positions.load(
                d.intake.group_id,
                [(topic, p) for p in range(settings.kafka.topic_partitions)],
            )
            assert all(p.offset == LIVE for p in stored if p.web_hook_id == hook.web_hook_id)
    finally:
        if paused:
            _signal(own_mongo, signal.SIGCONT)
        await d.shutdown()
        await store.close()
