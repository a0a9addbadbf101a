"""Fetch one Kafka record by position, for replays of deliveries whose event is
not stored with them (a resend of a DELIVERED entry)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from dispatcher.consumers import stop_consumer
from eventnotify.envelope import EnvelopeError, SourceEvent, decode


class RecordFetcher:
    """A group-less consumer that reads single records on demand."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def fetch(self, position: str, wait_seconds: float = 5.0) -> SourceEvent | None:
        """The event at "topic/partition/offset", or None if it is gone or unusable."""
        try:
            topic, partition, offset = position.rsplit("/", 2)
            tp = TopicPartition(topic, int(partition))
        except ValueError:
            return None
        async with self._lock:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap, enable_auto_commit=False, group_id=None
                )
                await consumer.start()
                self._consumer = consumer
            self._consumer.assign([tp])
            self._consumer.seek(tp, int(offset))
            try:
                msg = await asyncio.wait_for(self._consumer.getone(tp), wait_seconds)
            except (TimeoutError, KafkaError):
                return None
        if msg.offset != int(offset):
            return None  # the record expired from the topic
        try:
            return decode(msg.value, msg.headers, msg.timestamp)
        except EnvelopeError:
            return None

    async def close(self) -> None:
        if self._consumer is not None:
            await stop_consumer(self._consumer)
            self._consumer = None
