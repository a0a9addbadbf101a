"""Producing test events to the real broker."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import NotLeaderForPartitionError

from eventnotify.envelope import SourceEvent, encode, topic_for
from eventnotify.settings import Settings
from eventnotify.timefmt import to_epoch_ms, utcnow


def make_event(
    org_id: int, event_name: str, ref: str, data: dict[str, Any] | None = None, **kw: Any
) -> SourceEvent:
    return SourceEvent(
        event_id=kw.pop("event_id", str(uuid.uuid4())),
        event_name=event_name,
        org_id=org_id,
        ref_id=ref,
        request_id=kw.pop("request_id", str(uuid.uuid4())),
        created_at_ms=kw.pop("created_at_ms", to_epoch_ms(utcnow())),
        data=data if data is not None else {},
        **kw,
    )


class EventProducer:
    """Publishes SourceEvents (protobuf by default) and raw records."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            enable_idempotence=False,
            linger_ms=5,
        )
        self._ready: set[str] = set()  # topics that acked a record

    async def __aenter__(self) -> EventProducer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    def topic(self, event_name: str) -> str:
        return topic_for(self.settings.kafka.topic_prefix, event_name)

    async def publish(self, event: SourceEvent, *, as_json: bool = False) -> None:
        value, headers = encode(event, as_json=as_json)
        await self._send(self.topic(event.event_name), value, event.ref_id.encode(), headers)

    async def _send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        """Fire and forget, except the first record of each topic: that one is
        acked, with retries, so a topic the broker has only just created (it
        answers NOT_LEADER for a while) cannot silently lose the records a
        test publishes right after creating its webhooks."""
        if topic in self._ready:
            await self._producer.send(topic, value, key=key, headers=headers)
        else:
            await self._send_acked(topic, value, key, headers)

    async def _send_acked(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        headers: list[tuple[str, bytes]],
        attempts: int = 5,
    ) -> None:
        # A send the broker refused (Tansu answers NOT_LEADER for a while
        # after a topic appears) wrote nothing, so it is sent again.
        for left in range(attempts - 1, -1, -1):
            try:
                await self._producer.send_and_wait(topic, value, key=key, headers=headers)
                self._ready.add(topic)
                return
            except NotLeaderForPartitionError:
                if not left:
                    raise

    async def publish_acked(self, event: SourceEvent, attempts: int = 5) -> None:
        """Publish and wait for the broker's ack (sent again if refused)."""
        value, headers = encode(event)
        topic = self.topic(event.event_name)
        await self._send_acked(topic, value, event.ref_id.encode(), headers, attempts)

    async def publish_raw(
        self,
        topic: str,
        value: bytes,
        key: bytes = b"k",
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        await self._send(topic, value, key, headers or [])

    async def flush(self) -> None:
        await self._producer.flush()


async def create_topics(bootstrap: str, topics: list[str], partitions: int) -> None:
    """Create ``topics`` with ``partitions`` each (replication 1: the local broker)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()
