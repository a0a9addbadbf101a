"""Reading back what is on a topic, to check exactly what a producer wrote."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


@dataclass(frozen=True)
class Record:
    """One record as stored by the broker."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int


async def read_topic(bootstrap: str, topic: str, within: float = 30.0) -> list[Record]:
    """Every record on every partition of ``topic`` (none if it does not exist),
    read up to each partition's high watermark."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, bootstrap, topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Record] = []

        async def behind() -> bool:
            # The high watermark of each partition's fetch responses, not
            # end_offsets(): the local broker's ListOffsets answers the start
            # of the last batch + 1, which hides all but a batch's first record.
            for tp in tps:
                high = consumer.highwater(tp)
                if high is None or await consumer.position(tp) < high:
                    return True
            return False

        async def drain() -> None:
            while await behind():
                batches = await consumer.getmany(*tps, timeout_ms=200)
                for tp, msgs in batches.items():
                    out.extend(
                        Record(
                            tp.topic,
                            tp.partition,
                            m.offset,
                            m.key,
                            m.value or b"",
                            {k: bytes(v) for k, v in m.headers},
                            m.timestamp,
                        )
                        for m in msgs
                    )

        await asyncio.wait_for(drain(), within)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, bootstrap: str, topic: str) -> set[int]:
    # Asked only for a topic that exists: a metadata request for a missing one
    # could create it on brokers that auto-create topics.
    if topic not in await consumer.topics():
        return set()
    # The consumer's own metadata does not track a topic it was not given yet;
    # a producer's partitions_for waits for it.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        return set(await producer.partitions_for(topic))
    finally:
        await producer.stop()
