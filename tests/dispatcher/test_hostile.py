"""Hostile records on the shared intake: every one is dead-lettered with a
reason, and good events behind them on the same partition are delivered."""

from __future__ import annotations

from dispatcher.app import Dispatcher
from eventnotify.domain import DeliveryStatus, LogEntry
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.store.logs import LogFilter, LogSort
from tests.dispatcher.hostile_corpus import corpus
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

ORG = 88
NAME = "badgeEarned"


async def test_hostile_records_are_dead_lettered_and_do_not_block_the_partition(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/h"), [NAME])
    await dispatcher.supervisor.sync()
    records = corpus(ORG, NAME)
    before = make_event(ORG, NAME, "k", {"n": "before"})
    after = [make_event(ORG, NAME, "k", {"n": i}) for i in range(3)]
    async with EventProducer(settings) as p:
        topic = p.topic(NAME)
        await p.publish(before)
        # Same key as the good events: one partition, hostile records in between.
        for _what, value, headers in records:
            await p.publish_raw(topic, value, key=b"k", headers=headers)
        for e in after:
            await p.publish(e)
        await p.flush()

    await receiver.wait_for(lambda: len(receiver.ok_for("/h")) == 4, within=60)
    assert [r.json["data"]["n"] for r in receiver.ok_for("/h")] == ["before", 0, 1, 2]

    async def dead_letters() -> list[LogEntry]:
        page = await store.logs.list_for_group(
            ORG,
            LogFilter(hook.consumer_group_id, status=DeliveryStatus.DEAD_LETTERED),
            LogSort.TIME_ASC,
            after=None,
            limit=100,
        )
        return page if len(page) >= len(records) else []

    entries = await wait_until(dead_letters)
    assert len(entries) == len(records)
    assert all(e.failure_reason for e in entries)
    assert all(e.kafka_position.startswith(topic) for e in entries)
    # The intake survived: it still delivers.
    late = make_event(ORG, NAME, "k", {"n": "late"})
    async with EventProducer(settings) as p:
        await p.publish(late)
    await receiver.wait_for(lambda: len(receiver.ok_for("/h")) == 5)
