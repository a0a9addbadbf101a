"""Catch-up readers are few (EVENTNOTIFY_CATCHUP_READERS); a webhook whose
endpoint is slower than its events must not keep one while it has no room
for more records: another webhook waiting to be caught up gets the slot.

Against the real stack, with one reader slot: a slow webhook (1 s per
request, backlog of 4) falls behind and is being caught up; a healthy webhook
is then rewound and must be replayed in full while the slow one is still far
behind, not only once the slow one has been handed everything.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from devstack import Stack
from dispatcher.app import Dispatcher
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import format_ts, utcnow
from eventnotify.v1 import replay_pb2
from tests.dispatcher.test_replay import ORG, Replay, replay  # noqa: F401 (the fixture)
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver, Reply
from tests.support.stack import make_settings

EVENTS = 20


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return make_settings(
        stack,
        EVENTNOTIFY_CATCHUP_READERS="1",
        EVENTNOTIFY_MAX_BACKLOG_PER_WEBHOOK="4",
        EVENTNOTIFY_REFRESH_SECONDS="0.5",  # the rewind is picked up sooner
    )


async def test_a_webhook_behind_its_endpoint_gives_its_reader_slot_up(
    settings: Settings,
    store: Store,
    receiver: Receiver,
    dispatcher: Dispatcher,
    replay: Replay,  # noqa: F811
) -> None:
    stub, auth = replay
    receiver.on("/slow", lambda _r, _n: Reply(200, delay=1.0))
    slow = await add_webhook(
        store, ORG, receiver.url("/slow"), ["badgeEarned"], max_allowed_connections=1
    )
    healthy = await add_webhook(store, ORG, receiver.url("/healthy"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    since = format_ts(utcnow() - timedelta(seconds=5))
    async with EventProducer(settings) as p:
        for i in range(EVENTS):
            await p.publish_acked(make_event(ORG, "badgeEarned", f"e{i}", {}))
    await receiver.wait_for(lambda: len(receiver.ok_for("/healthy")) == EVENTS, within=60)

    # The slow webhook detached when its backlog of 4 was full; by its 6th
    # event it is being caught up from its own position.
    await receiver.wait_for(lambda: len(receiver.ok_for("/slow")) >= 6, within=30)
    assert dispatcher.positions.of_webhook(slow.web_hook_id)
    reply = await stub.RewindConsumerGroup(
        replay_pb2.RewindConsumerGroupRequest(web_hook_id=healthy.web_hook_id, since=since),
        metadata=auth,
    )
    assert reply.rewind_id
    await receiver.wait_for(lambda: len(receiver.ok_for("/healthy")) == 2 * EVENTS, within=60)
    # At 1 request a second, the slow one takes 20 s for all of them; a
    # reader kept for it would hand it the last ones only 4 s before that,
    # and only then be free for the rewound webhook.
    assert len(receiver.ok_for("/slow")) < EVENTS - 8
    # And it still gets everything, once.
    await receiver.wait_for(lambda: len(receiver.ok_for("/slow")) == EVENTS, within=60)
    assert len({r.json["eventId"] for r in receiver.ok_for("/slow")}) == EVENTS
