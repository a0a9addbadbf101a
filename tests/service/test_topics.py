"""Missing event topics are recreated: on first use, and after a broker
restart that lost them (the local broker keeps topics in memory)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from devstack import Stack, free_port, kafka_server
from eventnotify.producer import EventPublisher
from eventnotify.topics import ensure_topics


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_ensure_topics_creates_only_what_is_missing(stack: Stack) -> None:
    names = [f"ensure.{uuid.uuid4().hex[:8]}.{i}" for i in range(2)]
    created = await ensure_topics(stack.kafka_bootstrap, names, partitions=2)
    assert sorted(created) == sorted(names)
    assert set(names) <= await _topics(stack.kafka_bootstrap)
    assert await ensure_topics(stack.kafka_bootstrap, names, partitions=2) == []


async def test_publisher_recreates_topics_a_broker_restart_lost(tmp_path: Path) -> None:
    broker = kafka_server(free_port(), tmp_path)
    await asyncio.to_thread(broker.start)
    bootstrap = f"127.0.0.1:{broker.port}"
    try:
        async with EventPublisher(
            bootstrap,
            topic_prefix="lost.",
            topic_recheck_seconds=0,
            request_timeout_ms=5000,
            retry_backoff_ms=100,
        ) as pub:
            await pub.publish("badgeEarned", 1, "1_a", {"n": 1})
            await asyncio.to_thread(broker.stop)
            await asyncio.to_thread(broker.start)
            # The producer still has the topic in its metadata, and the broker
            # that lost it may take the send without complaint: the topic is
            # checked (recheck period 0 here) and recreated first.
            assert await pub.publish("badgeEarned", 1, "1_a", {"n": 2})
        assert await ensure_topics(bootstrap, ["lost.badgeEarned"], partitions=4) == []
    finally:
        await asyncio.to_thread(broker.stop)
