"""End to end on the local stack: Kafka -> dispatcher -> real HTTP receiver -> log."""

from __future__ import annotations

from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus
from eventnotify.receiver import verify
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

ORG = 101
OTHER_ORG = 202


async def test_delivers_signed_envelope_and_logs_it(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/a"), ["badgeEarned"])
    other = await add_webhook(store, OTHER_ORG, receiver.url("/b"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    events = [make_event(ORG, "badgeEarned", f"{ORG}_{i}", {"badge": i}) for i in range(5)]
    async with EventProducer(settings) as producer:
        for e in events:
            await producer.publish(e)
        # JSON envelope variant, told apart by the content-type header
        json_event = make_event(ORG, "badgeEarned", f"{ORG}_json", {"badge": "j"})
        await producer.publish(json_event, as_json=True)
        await producer.publish(make_event(OTHER_ORG, "badgeEarned", "x", {"badge": 0}))
        await producer.flush()
    await receiver.wait_for(lambda: len(receiver.ok_for("/a")) == 6)
    await receiver.wait_for(lambda: len(receiver.ok_for("/b")) == 1)

    received = {r.json["eventId"]: r for r in receiver.ok_for("/a")}
    for e in [*events, json_event]:
        want_id = delivered_event_id(e.event_id, hook.web_hook_id)
        req = received[want_id]
        body = req.json
        assert body["eventName"] == "badgeEarned"
        assert body["orgId"] == ORG
        assert body["refId"] == e.ref_id
        assert body["apiRequestId"] == e.request_id
        assert body["createdAt"] == e.created_at_ms
        assert body["data"] == e.data
        assert body["loyaltyEventId"] is None
        assert req.headers["x-test"] == "1"
        assert req.headers["webhook-id"] == want_id
        verify(hook.secrets[0].secret, req.headers, req.body)
    assert all(r.json["orgId"] == OTHER_ORG for r in receiver.ok_for("/b"))

    async def logged() -> bool:
        entries = [
            await store.logs.get(ORG, delivered_event_id(e.event_id, hook.web_hook_id))
            for e in events
        ]
        return all(x is not None and x.status is DeliveryStatus.DELIVERED for x in entries)

    await wait_until(logged)
    entry = await store.logs.get(ORG, delivered_event_id(events[0].event_id, hook.web_hook_id))
    assert entry is not None
    assert entry.consumer_group_id == hook.consumer_group_id
    assert entry.last_http_status == 200
    assert entry.started_at is not None and entry.ended_at is not None
    assert entry.sla_breach_at is None
    assert len(entry.attempts) == 1
    # other org's webhook never logs org ORG's events and vice versa
    assert await store.logs.get(OTHER_ORG, entry.event_id) is None
    assert other.web_hook_id != hook.web_hook_id
