"""A Kafka consumer stopped right after its assignment changed still stops.

aiokafka 0.14 loses the fetch task's cancellation in that moment and a plain
``stop()`` never returns (``dispatcher/consumers.py``). A catch-up reader does
exactly this when its webhook's circuit opens after it reassigned its
partitions; the reader then never ended and the webhook was never caught up
again (seen as a rare failure of ``test_isolation.py``).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devstack import Stack
from dispatcher.consumers import stop_consumer
from eventnotify.settings import Settings
from tests.support.kafka import create_topics

PARTITIONS = 4
RECORDS = 40


@pytest.mark.timeout(60)
@pytest.mark.parametrize("attempt", range(3))
async def test_a_consumer_reassigned_just_before_stopping_stops(
    stack: Stack, settings: Settings, attempt: int
) -> None:
    topic = f"{settings.kafka.topic_prefix}stop-race-{attempt}"
    await create_topics(stack.kafka_bootstrap, [topic], PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        for i in range(RECORDS):
            await producer.send_and_wait(topic, b"x", partition=i % PARTITIONS)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    read = 0
    async with asyncio.timeout(30):
        while read < RECORDS:
            batch = await consumer.getmany(timeout_ms=1000)
            read += sum(len(records) for records in batch.values())
    # Nothing left: this fetch waits at the broker, so one is in flight when
    # the assignment changes, as in a reader whose circuit just opened.
    assert not await consumer.getmany(timeout_ms=50)
    consumer.assign(tps[:2])

    # A plain consumer.stop() never returns here (and swallows the
    # cancellation of a timeout around it): the pytest timeout ends it.
    started = time.monotonic()
    assert await stop_consumer(consumer, grace=1.0)
    assert time.monotonic() - started < 5
    fetch_task = consumer._fetcher._fetch_task
    assert fetch_task.done()
