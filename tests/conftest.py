"""Shared fixtures: one real local stack per test session, a fresh database
and topic prefix per test.

The stack is SecantusDB (MongoDB wire) and Tansu (Kafka protocol) on 127.0.0.1,
started here and stopped at the end of the session; set ``MONGODB_URI`` /
``KAFKA_BOOTSTRAP_SERVERS`` to run the suite against real servers instead.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from service.devstack import Stack, start_stack
from service.settings import KafkaSettings, MongoSettings, Settings

_counter = itertools.count()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = Path(os.environ.get("EVENTNOTIFY_TEST_LOG_DIR", tmp_path_factory.mktemp("stack")))
    running = start_stack(log_dir)
    try:
        yield running
    finally:
        running.stop()


def make_settings(stack: Stack, **env: str) -> Settings:
    """Settings for a test: its own database and topic prefix, fast group joins."""
    n = next(_counter)
    suffix = uuid.uuid4().hex[:8]
    base = Settings.from_env(
        {
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS": "127.0.0.1,localhost",
            "EVENTNOTIFY_SERVICE_METRICS_PORT": "0",
            "EVENTNOTIFY_DISPATCHER_METRICS_PORT": "0",
            "EVENTNOTIFY_GRPC_ADDRESS": "127.0.0.1:0",
            **env,
        }
    )
    mongo = MongoSettings(
        uri=stack.mongodb_uri,
        database=f"t{n}_{suffix}",
        timeout_ms=base.mongo.timeout_ms,
        log_ttl_days=base.mongo.log_ttl_days,
    )
    kafka = KafkaSettings(
        bootstrap_servers=stack.kafka_bootstrap,
        topic_prefix=f"t{n}{suffix}.",
        topic_partitions=base.kafka.topic_partitions,
        session_timeout_ms=base.kafka.session_timeout_ms,
        heartbeat_interval_ms=base.kafka.heartbeat_interval_ms,
    )
    return base.replace(mongo=mongo, kafka=kafka)


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return make_settings(stack)


@pytest.fixture
async def mongo_client(settings: Settings) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongo.uri, tz_aware=True
    )
    try:
        yield client
    finally:
        await client.close()
