"""The local stack is real: MongoDB wire (with change streams) and Kafka protocol."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from eventnotify.settings import Settings


async def test_mongo_roundtrip_and_change_stream(
    settings: Settings, mongo_client: AsyncMongoClient[dict[str, object]]
) -> None:
    coll = mongo_client[settings.mongo.database]["smoke"]
    await coll.insert_many([{"n": i} for i in range(5)])
    assert await coll.count_documents({}) == 5
    async with await coll.watch() as stream:
        await coll.insert_one({"n": 99})
        change = await asyncio.wait_for(stream.next(), 10)
    assert change["fullDocument"]["n"] == 99  # type: ignore[index]


async def test_kafka_produce_consume_with_group(settings: Settings) -> None:
    topic = settings.kafka.topic_prefix + "smoke"
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id="smoke-group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka.session_timeout_ms,
        heartbeat_interval_ms=settings.kafka.heartbeat_interval_ms,
    )
    await consumer.start()
    try:
        seen: list[bytes] = []
        while len(seen) < 3:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += [m.value for msgs in batch.values() for m in msgs if m.value is not None]
    finally:
        await consumer.stop()
    assert seen == [b"m0", b"m1", b"m2"]
