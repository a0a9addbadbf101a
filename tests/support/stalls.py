"""A slow webhook's request stalled on one record while the group commits
past it: the shared set-up of the slow-commit and rebalance tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from dispatcher.intake import group_id_of
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus, Webhook
from eventnotify.envelope import SourceEvent
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.kafka import EventProducer
from tests.support.receiver import Receiver
from tests.support.waiting import logged_as, wait_until


@contextlib.asynccontextmanager
async def group_reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer in the dispatchers' shared group that only reads its
    committed offsets (it never joins: no subscription)."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=group_id_of(settings),
        enable_auto_commit=False,
    )
    await reader.start()
    try:
        yield reader
    finally:
        await reader.stop()


async def stall_and_commit_past(
    producer: EventProducer,
    store: Store,
    receiver: Receiver,
    group_reader: AIOKafkaConsumer,
    fast: Webhook,
    stalled: SourceEvent,
    after: SourceEvent,
) -> tuple[TopicPartition, int]:
    """Publish ``stalled`` then ``after`` (one partition); return once the
    webhook at ``/fast`` has both, the one at ``/slow`` has its request for
    ``stalled`` open, and the shared group (read through ``group_reader``)
    has committed past ``after``: the stalled record's share moved to the slow
    webhook's own stored position. Returns the partition and ``after``'s offset."""
    await producer.publish_acked(stalled)
    await producer.publish_acked(after)
    await receiver.wait_for(lambda: len(receiver.ok_for("/fast")) == 2, within=60)
    await receiver.wait_for(lambda: receiver.in_flight.get("/slow", 0) == 1, within=60)
    entry = await logged_as(
        store,
        fast.org_id,
        delivered_event_id(after.event_id, fast.web_hook_id),
        DeliveryStatus.DELIVERED,
    )
    topic, partition, offset = entry.kafka_position.rsplit("/", 2)
    tp = TopicPartition(topic, int(partition))

    async def committed_past_after() -> bool:
        return (await group_reader.committed(tp) or 0) > int(offset)

    await wait_until(committed_past_after, within=30, interval=0.1)
    return tp, int(offset)
