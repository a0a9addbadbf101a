"""A running gRPC service with a Kafka producer, for tests that need the
service's full wiring (test sends to QUEUE webhooks, the CLI, the gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer

from eventnotify.settings import Settings
from eventnotify.store import Store, open_store
from service.server import ApiServer, create_server


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[ApiServer, int, Store]]:
    """(server, its gRPC port, the store); everything stopped on exit."""
    store = open_store(settings.mongo)
    await store.ensure_indexes()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    try:
        server, port = await create_server(settings, store, producer=producer)
        await server.start()
        try:
            yield server, port, store
        finally:
            await server.stop(0)
    finally:
        await producer.stop()
        await store.close()
