"""Failing and retrying on the local stack: classification, parking, 410 and
dead letters, each observed at a real receiver and in the MongoDB log."""

from __future__ import annotations

import pytest

from devstack import Stack
from dispatcher.app import Dispatcher
from eventnotify.catalog.sample import sample_data
from eventnotify.catalog.standard import STANDARD_EVENTS
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus, EventType, LogEntry
from eventnotify.envelope import encode
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.store.logs import LogFilter, LogSort
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver, Reply
from tests.support.stack import make_settings
from tests.support.waiting import logged_as, wait_until

ORG = 7
UNKNOWN = "noSuchEvent"  # in no catalogue


@pytest.fixture
def settings(stack: Stack) -> Settings:
    # One in-place attempt, so a retriable failure is parked at once.
    return make_settings(stack, EVENTNOTIFY_IN_PLACE_ATTEMPTS="1")


async def entry_with(store: Store, event_id: str, *statuses: DeliveryStatus) -> LogEntry:
    return await logged_as(store, ORG, event_id, *statuses)


async def test_retriable_failure_is_parked_then_delivered(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    # 503, then 429 with Retry-After, then success. The default delay before
    # the second retry is 2 s +-20 % (at most 2.4 s); Retry-After asks for 4 s,
    # so only an honoured header makes the gap reach 4 s.
    replies = [Reply(503), Reply(429, headers={"Retry-After": "4"}), Reply(200)]
    receiver.on("/flaky", lambda _r, n: replies[min(n, 2)])
    hook = await add_webhook(store, ORG, receiver.url("/flaky"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", f"{ORG}_1", {"b": 1})
    async with EventProducer(settings) as p:
        await p.publish(event)
    event_id = delivered_event_id(event.event_id, hook.web_hook_id)

    parked = await entry_with(store, event_id, DeliveryStatus.RETRYING)
    assert parked.next_attempt_at is not None
    assert await store.parked.count_for(hook.web_hook_id) == 1

    done = await entry_with(store, event_id, DeliveryStatus.DELIVERED)
    assert [a.http_status for a in done.attempts] == [503, 429, 200]
    assert done.attempts[1].time >= done.attempts[0].time
    # Retry-After: 4 was honoured between the 429 and the success (the
    # stored times have millisecond precision, hence the 10 ms allowance).
    gap = (done.attempts[2].time - done.attempts[1].time).total_seconds()
    assert gap >= 3.99, gap
    assert await wait_until(lambda: _no_parked(store, hook.web_hook_id))
    # Every attempt carried the same eventId and webhook-id.
    ids = {r.headers["webhook-id"] for r, _ in receiver.failed} | {
        r.headers["webhook-id"] for r in receiver.requests
    }
    assert ids == {event_id}


async def _no_parked(store: Store, hook_id: str) -> bool:
    return await store.parked.count_for(hook_id) == 0


async def test_non_retriable_fails_at_once_and_keeps_event_for_replay(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/bad", lambda _r, _n: Reply(400, body="nope"))
    hook = await add_webhook(store, ORG, receiver.url("/bad"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", f"{ORG}_2", {"b": 2})
    async with EventProducer(settings) as p:
        await p.publish(event)
    entry = await entry_with(
        store, delivered_event_id(event.event_id, hook.web_hook_id), DeliveryStatus.FAILED
    )
    assert len(entry.attempts) == 1
    assert entry.attempts[0].http_status == 400
    assert entry.attempts[0].response_body == "nope"
    assert "non-retriable" in entry.failure_reason
    assert entry.source_event is not None and entry.source_event["event_id"] == event.event_id
    assert await store.parked.count_for(hook.web_hook_id) == 0


async def test_gone_deactivates_the_webhook(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/gone", lambda _r, _n: Reply(410))
    hook = await add_webhook(store, ORG, receiver.url("/gone"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    first = make_event(ORG, "badgeEarned", f"{ORG}_3", {"b": 3})
    async with EventProducer(settings) as p:
        await p.publish(first)
    await entry_with(
        store, delivered_event_id(first.event_id, hook.web_hook_id), DeliveryStatus.FAILED
    )

    async def deactivated() -> bool:
        h = await store.webhooks.get(ORG, hook.web_hook_id)
        return h is not None and not h.active and "410" in h.deactivation_reason

    await wait_until(deactivated)
    await dispatcher.supervisor.sync()
    assert dispatcher.supervisor.consumer(hook.web_hook_id) is None
    # Later events are not sent to a deactivated webhook.
    later = make_event(ORG, "badgeEarned", f"{ORG}_4", {"b": 4})
    async with EventProducer(settings) as p:
        await p.publish(later)
    await dispatcher.supervisor.sync()
    assert all(r.json["eventId"] != later.event_id for r, _ in receiver.failed)
    assert len(receiver.failed) == 1


async def test_bad_input_is_dead_lettered_and_delivery_continues(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    # Also subscribed to a name absent from the catalogue, so its topic exists
    # and is read: a record there reaches the catalogue check.
    hook = await add_webhook(store, ORG, receiver.url("/ok"), ["transactionAdded", UNKNOWN])
    await dispatcher.supervisor.sync()
    schema = STANDARD_EVENTS["transactionAdded"].schema
    assert schema is not None
    good = make_event(ORG, "transactionAdded", f"{ORG}_5", sample_data(schema))
    invalid_data = sample_data(schema)
    invalid_data["transactionId"] = "not-a-number"
    invalid = make_event(ORG, "transactionAdded", f"{ORG}_6", invalid_data)
    misplaced = make_event(ORG, UNKNOWN, f"{ORG}_7", {})
    unknown = make_event(ORG, UNKNOWN, f"{ORG}_7b", {})
    after = make_event(ORG, "transactionAdded", f"{ORG}_8", sample_data(schema))
    async with EventProducer(settings) as p:
        topic = p.topic("transactionAdded")
        await p.publish(good)
        await p.publish_raw(
            topic, b"\xff\x00garbage", headers=[("content-type", b"application/x-protobuf")]
        )
        await p.publish_raw(topic, b"{not json", headers=[("content-type", b"application/json")])
        await p.publish(invalid)
        # a record whose eventName is not its topic's
        value, headers = encode(misplaced)
        await p.publish_raw(topic, value, headers=headers)
        # on its own topic: the name is simply not in the catalogue
        await p.publish_acked(unknown)
        await p.publish(after)
        await p.flush()

    await receiver.wait_for(lambda: len(receiver.ok_for("/ok")) == 2)
    assert {r.json["refId"] for r in receiver.ok_for("/ok")} == {good.ref_id, after.ref_id}

    async def dead_letters() -> list[LogEntry]:
        page = await store.logs.list_for_group(
            ORG,
            LogFilter(hook.consumer_group_id, status=DeliveryStatus.DEAD_LETTERED),
            LogSort.TIME_ASC,
            after=None,
            limit=50,
        )
        return page if len(page) == 5 else []

    entries = await wait_until(dead_letters)
    reasons = sorted(e.failure_reason for e in entries)
    assert any("undecodable protobuf" in r for r in reasons), reasons
    assert any("invalid JSON" in r for r in reasons), reasons
    assert any("schema-invalid" in r and "data.transactionId" in r for r in reasons), reasons
    by_ref = {e.ref_id: e for e in entries}
    assert by_ref[misplaced.ref_id].failure_reason == (
        f"eventName {UNKNOWN!r} does not belong on topic {topic!r}"
    )
    assert by_ref[misplaced.ref_id].kafka_position.startswith(topic + "/")
    assert by_ref[unknown.ref_id].failure_reason == f"unknown event name {UNKNOWN!r}"
    assert by_ref[unknown.ref_id].kafka_position.startswith(p.topic(UNKNOWN) + "/")
    assert sum(e.kafka_position.startswith(topic + "/") for e in entries) == 4


async def test_flag_mode_delivers_schema_invalid_events_and_marks_them(
    stack: Stack, receiver: Receiver
) -> None:
    settings = make_settings(stack, EVENTNOTIFY_SCHEMA_MODE="flag")
    store_ = __import__("eventnotify.store", fromlist=["open_store"]).open_store(settings.mongo)
    await store_.ensure_indexes()
    hook = await add_webhook(store_, ORG, receiver.url("/flag"), ["transactionAdded"])
    d = Dispatcher(settings)
    await d.start()
    try:
        await d.supervisor.sync()
        schema = STANDARD_EVENTS["transactionAdded"].schema
        assert schema is not None
        data = sample_data(schema)
        data["amount"] = "lots"
        event = make_event(ORG, "transactionAdded", f"{ORG}_9", data)
        async with EventProducer(settings) as p:
            await p.publish(event)
        await receiver.wait_for(lambda: len(receiver.ok_for("/flag")) == 1)

        async def flagged() -> LogEntry | None:
            e = await store_.logs.get(ORG, delivered_event_id(event.event_id, hook.web_hook_id))
            return e if e is not None and e.status is DeliveryStatus.DELIVERED else None

        entry = await wait_until(flagged)
        assert "data.amount" in entry.schema_violation
    finally:
        await d.shutdown()
        await store_.close()


async def test_inactive_event_for_org_is_dead_lettered(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/x"), ["badgeEarned"])
    await store.event_types.save(ORG, EventType(name="badgeEarned", active=False, standard=True))
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", f"{ORG}_10", {})
    async with EventProducer(settings) as p:
        await p.publish(event)
    entry = await entry_with(
        store, delivered_event_id(event.event_id, hook.web_hook_id), DeliveryStatus.DEAD_LETTERED
    )
    assert "not active" in entry.failure_reason
    assert receiver.ok_for("/x") == []
