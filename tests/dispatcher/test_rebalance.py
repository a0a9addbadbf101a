"""Rebalances that hand a process back the partitions it just gave up (the
usual case: a new event name subscribed, with Kafka's eager protocol every
partition is revoked and assigned again) replay nothing: webhooks that were
live stay live, including one created while the process runs and one whose
record is still pending with a stalled request."""

from __future__ import annotations

from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver, Reply
from tests.support.stalls import group_reader, stall_and_commit_past

ORG = 58
# Long enough to span the hold, a commit and the two rebalances below.
STALL_SECONDS = 12.0


def ids_at(receiver: Receiver, path: str) -> list[str]:
    return [r.json["eventId"] for r in receiver.ok_for(path)]


async def test_partitions_handed_back_by_a_rebalance_replay_nothing(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/slow", lambda _r, n: Reply(200, delay=STALL_SECONDS if n == 0 else 0.0))
    # Created while the dispatcher runs (its first events come from their
    # creation time, not from the group's position).
    await dispatcher.supervisor.sync()
    slow = await add_webhook(store, ORG, receiver.url("/slow"), ["badgeEarned"])
    fast = await add_webhook(store, ORG, receiver.url("/fast"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    stalled, after, marker = (make_event(ORG, "badgeEarned", "h", {"n": n}) for n in range(3))
    async with group_reader(settings) as reader, EventProducer(settings) as p:
        tp, _ = await stall_and_commit_past(p, store, receiver, reader, fast, stalled, after)

        # A new event name: the shared consumer subscribes to its topic,
        # and the group rebalances every partition, this one included.
        await add_webhook(store, ORG, receiver.url("/other"), ["cardUpdated"])
        await dispatcher.supervisor.sync()
        news = make_event(ORG, "cardUpdated", "o", {})
        await p.publish_acked(news)
        await receiver.wait_for(lambda: len(receiver.ok_for("/other")) == 1, within=60)
        assert any(t.topic.endswith("cardUpdated") for t in dispatcher.intake.assignment())
        assert tp in dispatcher.intake.assignment()
        # The stall spans the rebalance (else this test proves nothing).
        assert receiver.in_flight.get("/slow", 0) == 1

        # And again, with nothing new on this partition since: the group's
        # offset it is handed back at is the one it was assigned at.
        await add_webhook(store, ORG, receiver.url("/third"), ["streakStart"])
        await dispatcher.supervisor.sync()
        await p.publish_acked(make_event(ORG, "streakStart", "t", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/third")) == 1, within=60)
        assert receiver.in_flight.get("/slow", 0) == 1

        await p.publish_acked(marker)
        await receiver.wait_for(lambda: len(receiver.ok_for("/fast")) >= 3, within=60)
        await receiver.wait_for(lambda: len(receiver.ok_for("/slow")) >= 3, within=60)
        # No reader was needed for either webhook.
        assert not dispatcher.catchup.reading(slow.web_hook_id)
        assert not dispatcher.catchup.reading(fast.web_hook_id)
    expected = [stalled, after, marker]
    assert ids_at(receiver, "/fast") == [
        delivered_event_id(e.event_id, fast.web_hook_id) for e in expected
    ]
    assert sorted(ids_at(receiver, "/slow")) == sorted(
        delivered_event_id(e.event_id, slow.web_hook_id) for e in expected
    )


async def test_a_new_event_name_while_a_record_is_open_replays_nothing(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """Subscribing to a new topic replaces the consumer's subscription, so
    the revoke that follows can no longer commit (aiokafka: "No partitions
    assigned"). What was handed out must be committed before: otherwise the
    partition is read again from the last commit and every webhook is sent
    again what it already had."""
    receiver.on("/slow", lambda _r, n: Reply(200, delay=3.0 if n == 0 else 0.0))
    slow = await add_webhook(store, ORG + 100, receiver.url("/slow"), ["badgeEarned"])
    fast = await add_webhook(store, ORG + 100, receiver.url("/fast"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    first, marker = (make_event(ORG + 100, "badgeEarned", "n", {"n": n}) for n in range(2))
    async with EventProducer(settings) as p:
        await p.publish_acked(first)
        await receiver.wait_for(
            lambda: receiver.in_flight.get("/slow", 0) == 1 and len(receiver.ok_for("/fast")) == 1
        )
        # The record is still open (the slow request, well within the hold).
        assert dispatcher.intake.open_records() == 1
        await add_webhook(store, ORG + 100, receiver.url("/other"), ["cardUpdated"])
        await dispatcher.supervisor.sync()
        await p.publish_acked(make_event(ORG + 100, "cardUpdated", "o", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/other")) == 1, within=60)
        assert receiver.in_flight.get("/slow", 0) == 1  # the rebalance came first

        await p.publish_acked(marker)
        await receiver.wait_for(lambda: len(receiver.ok_for("/slow")) >= 2, within=60)
        await receiver.wait_for(lambda: len(receiver.ok_for("/fast")) >= 2, within=60)
    for path, hook in (("/fast", fast), ("/slow", slow)):
        assert sorted(ids_at(receiver, path)) == sorted(
            delivered_event_id(e.event_id, hook.web_hook_id) for e in (first, marker)
        ), path
    assert not dispatcher.catchup.reading(slow.web_hook_id)
