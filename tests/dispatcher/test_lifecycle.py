"""A webhook's life on the shared intake: a new one gets what is published
after it was created (not the topic's backlog), deactivation takes effect
within its bound, and a deleted one is never sent its parked deliveries."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import replace
from datetime import timedelta

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
from tests.support.receiver import Receiver, Reply
from tests.support.stack import make_settings
from tests.support.waiting import logged_as, wait_until

ORG = 61
REFRESH = 0.5
# Documented bound (docs/dispatcher.md): one refresh, plus a margin for the
# sync itself on this slow stack.
DEACTIVATION_BOUND = REFRESH + 1.0


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return make_settings(
        stack, EVENTNOTIFY_REFRESH_SECONDS=str(REFRESH), EVENTNOTIFY_IN_PLACE_ATTEMPTS="1"
    )


async def test_new_webhook_gets_events_after_creation_not_the_backlog(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await add_webhook(store, ORG, receiver.url("/old"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    old_event = make_event(ORG, "badgeEarned", "k", {"n": "before"})
    async with EventProducer(settings) as p:
        await p.publish(old_event)
        await receiver.wait_for(lambda: len(receiver.ok_for("/old")) == 1)
        hook = await add_webhook(store, ORG, receiver.url("/new"), ["badgeEarned"])
        # Published at once, before the dispatcher can have seen the webhook.
        new_event = make_event(ORG, "badgeEarned", "k", {"n": "after"})
        await p.publish(new_event)
        await receiver.wait_for(lambda: len(receiver.ok_for("/new")) == 1)
        # Another event on the same partition: once the old webhook has it,
        # the new one has been handed everything before it.
        await p.publish(make_event(ORG, "badgeEarned", "k", {"n": "marker"}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/old")) == 3)
        await receiver.wait_for(lambda: len(receiver.ok_for("/new")) == 2)
    got = [r.json["data"]["n"] for r in receiver.ok_for("/new")]
    assert got == ["after", "marker"]
    assert receiver.ok_for("/new")[0].json["eventId"] == delivered_event_id(
        new_event.event_id, hook.web_hook_id
    )


async def test_a_time_past_every_record_resolves_to_the_end_of_the_partition(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """A new webhook starts at its creation time: where no record is that
    recent, its position is the partition's end, so it is live at once. The
    local broker answers that lookup with offset 0 (timestamp -1): taken at
    its word, every new webhook was caught up through the whole partition."""
    await add_webhook(store, ORG, receiver.url("/early"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    async with EventProducer(settings) as p:
        for n in range(6):
            await p.publish_acked(make_event(ORG, "badgeEarned", f"k{n}", {"n": n}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/early")) == 6)
        tps = dispatcher.intake.owned([p.topic("badgeEarned")])
    assert tps
    ends = {tp: dispatcher.intake.highwater(tp) for tp in tps}
    assert sum(e or 0 for e in ends.values()) >= 6
    later = int(time.time() * 1000) + 60_000
    assert await dispatcher.intake.offsets_for(tps, later) == ends
    # And a time before every record is each partition's first offset.
    assert await dispatcher.intake.offsets_for(tps, 0) == {tp: 0 for tp in tps}


async def test_a_webhook_the_last_committer_never_knew_gets_its_events(
    settings: Settings, store: Store, receiver: Receiver
) -> None:
    """A webhook created while a dispatcher runs that never reads it (no
    refresh before it stops): that dispatcher commits past the webhook's
    first event. The next dispatcher must serve the webhook from its creation
    (the partition's known-through mark is older than the webhook), not from
    the group's offset, and hand each event once."""
    await add_webhook(store, ORG, receiver.url("/witness"), ["badgeEarned"])
    blind = Dispatcher(
        settings.replace(dispatcher=replace(settings.dispatcher, refresh_seconds=3600))
    )
    blind.supervisor.clock_margin = timedelta(0)
    first = make_event(ORG, "badgeEarned", "u", {"n": "first"})
    second = make_event(ORG, "badgeEarned", "u", {"n": "second"})
    async with EventProducer(settings) as p:
        await blind.start()
        try:
            hook = await add_webhook(store, ORG, receiver.url("/unseen"), ["badgeEarned"])
            await p.publish_acked(first)
            await receiver.wait_for(lambda: len(receiver.ok_for("/witness")) == 1, within=60)
        finally:
            await blind.shutdown()  # drains, then commits past "first"
        assert receiver.ok_for("/unseen") == []
        successor = Dispatcher(settings)
        await successor.start()
        try:
            await receiver.wait_for(lambda: len(receiver.ok_for("/unseen")) == 1, within=60)
            await p.publish_acked(second)
            await receiver.wait_for(lambda: len(receiver.ok_for("/witness")) == 2, within=60)
            await receiver.wait_for(lambda: len(receiver.ok_for("/unseen")) == 2, within=60)
        finally:
            await successor.shutdown()
    assert [r.json["eventId"] for r in receiver.ok_for("/unseen")] == [
        delivered_event_id(e.event_id, hook.web_hook_id) for e in (first, second)
    ]


async def test_restart_does_not_replay_a_webhook_created_just_before_start(
    settings: Settings, store: Store, receiver: Receiver
) -> None:
    """A webhook created moments before the dispatcher started is newer than
    that dispatcher's known-through mark (which allows for clock skew); the
    dispatcher stores it as live, so its successor does not take it for new
    and replay it from its creation."""
    hook = await add_webhook(store, ORG, receiver.url("/fresh"), ["badgeEarned"])
    events = [make_event(ORG, "badgeEarned", "f", {"n": n}) for n in range(2)]
    async with EventProducer(settings) as p:
        for e in events:
            d = Dispatcher(settings)
            await d.start()
            try:
                await p.publish_acked(e)
                await receiver.wait_for(functools.partial(_has, receiver, "/fresh", e), within=60)
            finally:
                await d.shutdown()
    assert [r.json["eventId"] for r in receiver.ok_for("/fresh")] == [
        delivered_event_id(e.event_id, hook.web_hook_id) for e in events
    ]


def _has(receiver: Receiver, path: str, event: SourceEvent) -> bool:
    return any(
        r.json["refId"] == event.ref_id and r.json["data"] == event.data
        for r in receiver.ok_for(path)
    )


async def test_deactivation_takes_effect_within_its_bound(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/off"), ["badgeEarned"])
    await add_webhook(store, ORG, receiver.url("/on"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    async with EventProducer(settings) as p:
        await p.publish(make_event(ORG, "badgeEarned", "k", {"n": 0}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/off")) == 1)
        await store.webhooks.set_fields(
            hook.web_hook_id, {"active": False, "last_updated_on": utcnow()}
        )
        deactivated = time.time()
        # Right at the edge: may still arrive (it is inside the bound).
        await p.publish(make_event(ORG, "badgeEarned", "k", {"n": 1}))
        await p.flush()
        # The bound itself is what is tested here, not a synchronisation.
        await asyncio.sleep(DEACTIVATION_BOUND)
        for n in range(2, 5):
            await p.publish(make_event(ORG, "badgeEarned", "k", {"n": n}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/on")) == 5)
    late = [
        r.json["data"]["n"]
        for r in receiver.ok_for("/off")
        if r.at - deactivated > DEACTIVATION_BOUND
    ]
    assert late == []
    assert {r.json["data"]["n"] for r in receiver.ok_for("/off")} <= {0, 1}


async def test_parked_deliveries_of_a_deleted_webhook_are_dropped(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/gone", lambda _r, _n: Reply(503))
    hook = await add_webhook(store, ORG, receiver.url("/gone"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", "p", {})
    async with EventProducer(settings) as p:
        await p.publish(event)
    event_id = delivered_event_id(event.event_id, hook.web_hook_id)
    await logged_as(store, ORG, event_id, DeliveryStatus.RETRYING)
    assert await store.webhooks.delete(ORG, hook.web_hook_id)
    attempts_at_delete = len(receiver.failed)
    entry = await logged_as(store, ORG, event_id, DeliveryStatus.FAILED)
    assert entry.failure_reason == "webhook deleted"
    assert entry.source_event is not None

    async def unparked() -> bool:
        return await store.parked.count_for(hook.web_hook_id) == 0

    await wait_until(unparked)
    assert len(receiver.failed) <= attempts_at_delete + 1  # one may have been in flight


async def test_a_full_read_keeps_the_webhooks_it_already_holds(
    store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """An unchanged webhook keeps the object the process holds (a full read
    of 10,000 would otherwise make as many new long-lived objects for the
    garbage collector to walk); a changed one is replaced."""
    same = await add_webhook(store, ORG, receiver.url("/same"), ["badgeEarned"])
    edited = await add_webhook(store, ORG, receiver.url("/edited"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    held = {
        h: dispatcher.supervisor.runtimes[h].hook for h in (same.web_hook_id, edited.web_hook_id)
    }
    edited.url = receiver.url("/moved")
    edited.last_updated_on = utcnow()
    await store.webhooks.replace(edited)
    await dispatcher.supervisor.sync()
    assert dispatcher.supervisor.runtimes[same.web_hook_id].hook is held[same.web_hook_id]
    now = dispatcher.supervisor.runtimes[edited.web_hook_id].hook
    assert now is not held[edited.web_hook_id]
    assert now.url == receiver.url("/moved")
