"""EventIngestService against a real server, broker and database: what it
accepts is on the topic exactly as the wire format says; what it rejects is
reported field by field and never written."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from aiokafka import AIOKafkaProducer

from devstack import free_port
from eventnotify.catalog.sample import sample_data
from eventnotify.catalog.standard import STANDARD_EVENTS
from eventnotify.domain import EventType, Role
from eventnotify.envelope import decode, topic_for
from eventnotify.producer import KafkaSink
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import to_epoch_ms, utcnow
from eventnotify.v1 import envelope_pb2, ingest_pb2, ingest_pb2_grpc
from service.core.keys import mint_key
from service.server import create_server
from tests.service.conftest import Metadata, expect_error
from tests.support.records import read_topic

ORG = 7
CUSTOMER = {"customerId": 42}


@dataclass
class Ingest:
    settings: Settings
    store: Store
    stub: Any
    md: Metadata

    def topic(self, event_name: str) -> str:
        return topic_for(self.settings.kafka.topic_prefix, event_name)

    async def records(self, event_name: str) -> list[Any]:
        return await read_topic(self.settings.kafka.bootstrap_servers, self.topic(event_name))


async def _key(store: Store, org: int, role: Role = Role.WRITE) -> Metadata:
    _, secret = await mint_key(store.api_keys, org, role, "ingest test")
    return (("authorization", f"Bearer {secret}"),)


@pytest.fixture
async def ingest(settings: Settings, store: Store) -> AsyncIterator[Ingest]:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    server, port = await create_server(settings, store, producer=producer)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Ingest(
            settings,
            store,
            ingest_pb2_grpc.EventIngestServiceStub(channel),
            await _key(store, ORG),
        )
    finally:
        await channel.close()
        await server.stop(0)
        await producer.stop()


def envelope(event_name: str = "transactionAdded", **fields: Any) -> Any:
    """An EventEnvelope; ``data`` defaults to a valid transactionAdded body."""
    data = fields.pop("data", {"transactionId": 981, "customerIdentifiers": CUSTOMER})
    fields.setdefault("ref_id", f"{ORG}_tx-981")
    msg = envelope_pb2.EventEnvelope(event_name=event_name, **fields)
    if data is not None:
        msg.data.update(data)
    return msg


async def test_publish_event_fills_ids_and_writes_the_wire_format(ingest: Ingest) -> None:
    before = to_epoch_ms(utcnow())
    reply = await ingest.stub.PublishEvent(
        ingest_pb2.PublishEventRequest(event=envelope(request_id="req-1")), metadata=ingest.md
    )
    assert uuid.UUID(reply.event_id).version == 4
    assert reply.topic == ingest.topic("transactionAdded")
    [record] = await ingest.records("transactionAdded")
    assert (record.partition, record.offset) == (reply.partition, reply.offset)
    assert record.key == f"{ORG}_tx-981".encode()
    assert record.headers["content-type"] == b"application/x-protobuf"
    event = decode(record.value, list(record.headers.items()), record.timestamp_ms)
    assert event.event_id == reply.event_id
    assert event.org_id == ORG  # taken from the API key
    assert event.request_id == "req-1"
    assert event.created_at_ms >= before
    assert event.data == {"transactionId": 981, "customerIdentifiers": CUSTOMER}


async def test_given_ids_are_kept(ingest: Ingest) -> None:
    reply = await ingest.stub.PublishEvent(
        ingest_pb2.PublishEventRequest(
            event=envelope(event_id="producer-id-1", org_id=ORG, created_at=1_700_000_000_000)
        ),
        metadata=ingest.md,
    )
    assert reply.event_id == "producer-id-1"
    [record] = await ingest.records("transactionAdded")
    event = decode(record.value, list(record.headers.items()), record.timestamp_ms)
    assert (event.event_id, event.created_at_ms) == ("producer-id-1", 1_700_000_000_000)


async def test_invalid_event_lists_every_violation_and_writes_nothing(ingest: Ingest) -> None:
    bad = envelope(
        org_id=ORG + 1,
        ref_id="",
        data={"transactionId": "not-a-number", "amount": "12", "customerIdentifiers": {}},
    )
    err = await expect_error(
        ingest.stub.PublishEvent(ingest_pb2.PublishEventRequest(event=bad), metadata=ingest.md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(err.fields) == {
        "event.org_id",
        "event.ref_id",
        "event.data.transactionId",
        "event.data.amount",
        "event.data.customerIdentifiers.customerId",
    }
    assert "ORG_ID_MISMATCH" in err.reasons and "REF_ID_REQUIRED" in err.reasons
    assert await ingest.records("transactionAdded") == []


async def test_unknown_and_inactive_events_are_refused(ingest: Ingest) -> None:
    redeemed = STANDARD_EVENTS["pointsRedeemed"]
    await ingest.store.event_types.save(ORG, dataclasses.replace(redeemed, active=False))
    valid = sample_data(redeemed.schema or {})
    for name, reason in (
        ("noSuchEvent", "EVENT_NAME_UNKNOWN"),
        ("pointsRedeemed", "EVENT_NAME_INACTIVE"),
    ):
        err = await expect_error(
            ingest.stub.PublishEvent(
                ingest_pb2.PublishEventRequest(event=envelope(name, data=valid)),
                metadata=ingest.md,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert err.fields == ["event.event_name"] and err.reasons == [reason]
    # Another org's catalogue is its own: pointsRedeemed is still active there.
    other = await _key(ingest.store, ORG + 1)
    reply = await ingest.stub.PublishEvent(
        ingest_pb2.PublishEventRequest(event=envelope("pointsRedeemed", data=valid)), metadata=other
    )
    assert reply.topic == ingest.topic("pointsRedeemed")


async def test_custom_event_is_checked_against_its_own_schema(ingest: Ingest) -> None:
    schema = {
        "type": "object",
        "properties": {"visits": {"type": "integer", "minimum": 1}},
        "required": ["visits"],
    }
    await ingest.store.event_types.insert(
        ORG, EventType("storeVisited", active=True, standard=False, schema=schema)
    )
    err = await expect_error(
        ingest.stub.PublishEvent(
            ingest_pb2.PublishEventRequest(event=envelope("storeVisited", data={"visits": 0})),
            metadata=ingest.md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.fields == ["event.data.visits"]
    await ingest.stub.PublishEvent(
        ingest_pb2.PublishEventRequest(event=envelope("storeVisited", data={"visits": 3})),
        metadata=ingest.md,
    )
    [record] = await ingest.records("storeVisited")
    assert decode(record.value, list(record.headers.items()), 0).data == {"visits": 3}


async def test_batch_is_validated_whole_then_published_in_order(ingest: Ingest) -> None:
    good = [envelope(data={"transactionId": i, "customerIdentifiers": CUSTOMER}) for i in range(3)]
    broken = [*good[:2], envelope(data={"customerIdentifiers": CUSTOMER}), good[2]]
    err = await expect_error(
        ingest.stub.PublishEvents(
            ingest_pb2.PublishEventsRequest(events=broken), metadata=ingest.md
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.fields == ["events[2].data.transactionId"]
    assert await ingest.records("transactionAdded") == []  # not even the valid ones

    reply = await ingest.stub.PublishEvents(
        ingest_pb2.PublishEventsRequest(events=good), metadata=ingest.md
    )
    assert len({r.event_id for r in reply.results}) == 3
    records = await ingest.records("transactionAdded")
    # One refId, so one partition, in request order.
    assert [(r.partition, r.offset) for r in records] == [
        (r.partition, r.offset) for r in reply.results
    ]
    assert [decode(r.value, None, 0).data["transactionId"] for r in records] == [0, 1, 2]


async def test_batch_size_is_bounded(ingest: Ingest) -> None:
    for events in ([], [envelope()] * 501):
        err = await expect_error(
            ingest.stub.PublishEvents(
                ingest_pb2.PublishEventsRequest(events=events), metadata=ingest.md
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert err.fields == ["events"]


async def test_read_key_cannot_publish(ingest: Ingest) -> None:
    reader = await _key(ingest.store, ORG, Role.READ)
    await expect_error(
        ingest.stub.PublishEvent(ingest_pb2.PublishEventRequest(event=envelope()), metadata=reader),
        grpc.StatusCode.PERMISSION_DENIED,
    )


async def test_kafka_down_is_unavailable_not_internal(settings: Settings, store: Store) -> None:
    # A producer pointed at a port nobody listens on: its background connect
    # never succeeds, as when Kafka is down while the service runs.
    dead = KafkaSink(
        AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{free_port()}", enable_idempotence=False),
        settings.kafka.topic_prefix,
    )
    connecting = asyncio.create_task(dead.connect(retry_delay=0.05))
    for producer in (dead, None):
        server, port = await create_server(settings, store, producer=producer)
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            stub = ingest_pb2_grpc.EventIngestServiceStub(channel)
            err = await expect_error(
                stub.PublishEvent(
                    ingest_pb2.PublishEventRequest(event=envelope()),
                    metadata=await _key(store, ORG),
                ),
                grpc.StatusCode.UNAVAILABLE,
            )
            assert err.info is not None and err.info.reason == "KAFKA_UNAVAILABLE"
            # Validation still comes first: a bad event is INVALID_ARGUMENT.
            await expect_error(
                stub.PublishEvent(
                    ingest_pb2.PublishEventRequest(event=envelope(data={})),
                    metadata=await _key(store, ORG),
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
        finally:
            await channel.close()
            await server.stop(0)
    assert not dead.connected
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await connecting
    await dead.close()
