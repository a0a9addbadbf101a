"""Writing events to Kafka: a helper for producers, and the service's own sink.

``EventPublisher`` is for services that write to Kafka directly::

    async with EventPublisher("kafka:9092") as publisher:
        event_id = await publisher.publish(
            "transactionAdded", org_id=42, ref_id="42_tx-981", data={"amount": 12.5}
        )

It builds the ``EventEnvelope`` (filling eventId and createdAt), picks the topic
(``<prefix><eventName>``), keys the record by refId so one entity's events stay
in order on one partition, and sets the ``content-type`` header. It does not
check the event against the catalogue: the dispatcher does, and dead-letters
what breaks its schema (use the gRPC ``EventIngestService`` to be told at once).

``KafkaSink`` is how the gRPC service produces (PublishEvent, test sends to
QUEUE webhooks): the same encoding, with Kafka's errors turned into the
retriable ``Unavailable`` here, in one place.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from eventnotify.envelope import SourceEvent, encode, topic_for
from eventnotify.errors import Unavailable
from eventnotify.logging import DependencyLog
from eventnotify.settings import KafkaSettings
from eventnotify.timefmt import to_epoch_ms, utcnow
from eventnotify.topics import TopicGuard

log = logging.getLogger(__name__)

DEFAULT_TOPIC_PREFIX: str = KafkaSettings().topic_prefix


@dataclass(frozen=True)
class Position:
    """Where a record landed."""

    topic: str
    partition: int
    offset: int


def new_event(
    event_name: str,
    org_id: int,
    ref_id: str,
    data: dict[str, Any],
    *,
    request_id: str = "",
    event_id: str | None = None,
    created_at_ms: int | None = None,
    loyalty_event_id: str = "",
    headers: dict[str, str] | None = None,
) -> SourceEvent:
    """A SourceEvent with eventId (a new UUID) and createdAt (now) filled when not given."""
    return SourceEvent(
        event_id=event_id or str(uuid.uuid4()),
        event_name=event_name,
        org_id=org_id,
        ref_id=ref_id,
        request_id=request_id,
        created_at_ms=created_at_ms or to_epoch_ms(utcnow()),
        data=data,
        loyalty_event_id=loyalty_event_id,
        headers=dict(headers or {}),
    )


async def produce_events(
    producer: AIOKafkaProducer,
    topic_prefix: str,
    events: Sequence[SourceEvent],
    *,
    as_json: bool = False,
) -> list[Position]:
    """Produce ``events`` in order and wait until every one is acknowledged.

    All records are handed to the producer before any acknowledgement is
    awaited, so a batch travels in a few requests rather than one round trip
    per event; per-partition order is still the given order. Raises the first
    ``KafkaError`` (others may have been written: retry with the same eventIds).
    """
    pending = []
    for event in events:
        value, headers = encode(event, as_json=as_json)
        pending.append(
            await producer.send(
                topic_for(topic_prefix, event.event_name),
                value,
                key=event.ref_id.encode(),
                headers=headers,
            )
        )
    # return_exceptions: every acknowledgement is awaited even when one fails,
    # so no future is left with an exception nobody retrieved.
    results = await asyncio.gather(*pending, return_exceptions=True)
    positions: list[Position] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        positions.append(Position(result.topic, result.partition, result.offset))
    return positions


class EventPublisher:
    """Publishes events to eventnotify's topics; one per process, shared.

    ``producer_options`` go to ``aiokafka.AIOKafkaProducer`` (security settings,
    ``linger_ms``...). With ``create_missing_topics`` (the default) an event's
    topic is created with ``topic_partitions`` partitions when it does not
    exist, on first use, after a failed send, and when last seen more than
    ``topic_recheck_seconds`` ago (a broker that lost it).
    Use as an async context manager, or call ``start`` and ``stop``.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        create_missing_topics: bool = True,
        topic_partitions: int = KafkaSettings().topic_partitions,
        topic_recheck_seconds: float = 30.0,
        **producer_options: Any,
    ) -> None:
        # Idempotence needs broker features not every Kafka-compatible broker
        # has; at-least-once delivery and eventId dedupe make it unnecessary.
        producer_options.setdefault("enable_idempotence", False)
        self.topic_prefix = topic_prefix
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **producer_options)
        self._topics = (
            TopicGuard(bootstrap_servers, topic_partitions, recheck_every=topic_recheck_seconds)
            if create_missing_topics
            else None
        )

    async def start(self) -> None:
        """Connect to the cluster."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush what is pending and disconnect."""
        await self._producer.stop()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def topic(self, event_name: str) -> str:
        """The topic events of ``event_name`` are written to."""
        return topic_for(self.topic_prefix, event_name)

    async def publish(
        self,
        event_name: str,
        org_id: int,
        ref_id: str,
        data: dict[str, Any],
        *,
        request_id: str = "",
        event_id: str | None = None,
        created_at_ms: int | None = None,
        loyalty_event_id: str = "",
        as_json: bool = False,
    ) -> str:
        """Publish one event and wait for Kafka's acknowledgement; returns its eventId.

        Pass your own ``event_id`` when a retry of yours could publish the same
        event twice: receivers deduplicate on it. ``as_json`` writes the
        canonical JSON envelope instead of protobuf (both are accepted).
        """
        if not ref_id:
            raise ValueError("ref_id is required: it is the Kafka key")
        event = new_event(
            event_name,
            org_id,
            ref_id,
            data,
            request_id=request_id,
            event_id=event_id,
            created_at_ms=created_at_ms,
            loyalty_event_id=loyalty_event_id,
        )
        await self.publish_event(event, as_json=as_json)
        return event.event_id

    async def publish_event(self, event: SourceEvent, *, as_json: bool = False) -> Position:
        """Publish a ready-made event; returns where it landed."""
        topic = [self.topic(event.event_name)]
        if self._topics is None:
            [position] = await produce_events(
                self._producer, self.topic_prefix, [event], as_json=as_json
            )
            return position
        await self._topics.ensure(topic)
        try:
            [position] = await produce_events(
                self._producer, self.topic_prefix, [event], as_json=as_json
            )
        except KafkaError:
            self._topics.forget(topic)
            if not await self._topics.ensure(topic):
                raise
            [position] = await produce_events(
                self._producer, self.topic_prefix, [event], as_json=as_json
            )
        return position


class KafkaSink:
    """The gRPC service's producer, started in the background by its owner.

    The service must serve webhook management while Kafka is down, so its
    composition root does not wait for Kafka: it runs ``connect`` as a task,
    and until that succeeds (or whenever Kafka fails) calls get ``Unavailable``.
    A producer someone else already started is passed with ``connected=True``.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic_prefix: str,
        *,
        connected: bool = False,
        topics: TopicGuard | None = None,
        dependency: DependencyLog | None = None,
    ) -> None:
        self.producer = producer
        self.topic_prefix = topic_prefix
        self._connected = connected
        self._topics = topics
        self._dependency = dependency

    @property
    def connected(self) -> bool:
        """Whether the producer has started (sends can be attempted)."""
        return self._connected

    async def connect(self, retry_delay: float = 1.0, max_delay: float = 10.0) -> None:
        """Start the producer, retrying until it succeeds (or the task is cancelled)."""
        delay = retry_delay
        while not self._connected:
            try:
                await self.producer.start()
            except KafkaError as exc:
                log.warning("Kafka producer cannot connect yet, retrying: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)
            else:
                self._connected = True

    async def close(self) -> None:
        """Flush and stop the producer."""
        await self.producer.stop()

    async def publish(self, events: Sequence[SourceEvent]) -> list[Position]:
        """Produce ``events`` (protobuf); ``Unavailable`` when Kafka cannot take them."""
        if not self._connected:
            raise Unavailable("Kafka is not reachable yet; retry later", reason="KAFKA_UNAVAILABLE")
        topics = {topic_for(self.topic_prefix, e.event_name) for e in events}
        try:
            try:
                if self._topics is not None:
                    await self._topics.ensure(topics)
                positions = await produce_events(self.producer, self.topic_prefix, events)
            except KafkaError:
                # The topics may have vanished (a broker restart that lost
                # them, auto-creation off): recreate what is missing and, if
                # anything was, send once more.
                if self._topics is None:
                    raise
                self._topics.forget(topics)
                if not await self._topics.ensure(topics):
                    raise
                positions = await produce_events(self.producer, self.topic_prefix, events)
        except KafkaError as exc:
            if self._dependency is not None:
                self._dependency.failed(type(exc).__name__)
            raise Unavailable(
                f"Kafka did not accept the events ({type(exc).__name__}); earlier ones "
                "of a batch may be written: retry with the same eventIds",
                reason="KAFKA_UNAVAILABLE",
            ) from exc
        if self._dependency is not None:
            self._dependency.recovered()
        return positions
