"""Kafka going away and coming back: the dispatcher reconnects by itself, and
a graceful shutdown drains in-flight deliveries, records them and commits."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from devstack import free_port, kafka_server
from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus
from eventnotify.envelope import topic_for
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver, Reply
from tests.support.waiting import wait_until

ORG = 41


async def test_dispatcher_reconnects_after_kafka_outage(
    settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    # A broker of our own, frozen with SIGSTOP: unreachable for longer than the
    # session timeout (the group evicts the member), then back with its data.
    broker = kafka_server(free_port(), tmp_path)
    broker.start()
    kafka = dataclasses.replace(settings.kafka, bootstrap_servers=f"127.0.0.1:{broker.port}")
    settings = settings.replace(kafka=kafka)
    d = Dispatcher(settings)
    await d.start()
    try:
        hook = await add_webhook(store, ORG, receiver.url("/k"), ["badgeEarned"])
        await d.supervisor.sync()
        async with EventProducer(settings) as p:
            await p.publish(make_event(ORG, "badgeEarned", "k1", {}))
            await receiver.wait_for(lambda: len(receiver.ok_for("/k")) == 1)
            assert broker.proc is not None
            broker.proc.send_signal(signal.SIGSTOP)
            try:
                await asyncio.sleep(4)  # the outage itself: twice the session timeout
            finally:
                broker.proc.send_signal(signal.SIGCONT)
            for i in range(3):
                await p.publish(make_event(ORG, "badgeEarned", f"k{i + 2}", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/k")) >= 4, within=60)
        refs = sorted({r.json["refId"] for r in receiver.ok_for("/k")})
        assert refs == ["k1", "k2", "k3", "k4"]
        assert d.supervisor.consumer(hook.web_hook_id) is not None
    finally:
        await d.shutdown()
        broker.stop()


async def test_graceful_shutdown_drains_records_and_commits(
    settings: Settings, store: Store, receiver: Receiver
) -> None:
    receiver.on("/slow", lambda _r, _n: Reply(200, delay=1.0))
    hook = await add_webhook(store, ORG, receiver.url("/slow"), ["badgeEarned"])
    d = Dispatcher(settings)
    await d.start()
    await d.supervisor.sync()
    events = [make_event(ORG, "badgeEarned", f"g{i}", {}) for i in range(5)]
    async with EventProducer(settings) as p:
        for e in events:
            await p.publish(e)
    # Shut down while the five requests are in flight at the receiver.
    await receiver.wait_for(lambda: receiver.in_flight.get("/slow", 0) == 5)
    await d.shutdown()
    assert len(receiver.ok_for("/slow")) == 5
    for e in events:
        entry = await store.logs.get(ORG, delivered_event_id(e.event_id, hook.web_hook_id))
        assert entry is not None and entry.status is DeliveryStatus.DELIVERED
    # The offsets were committed: a new dispatcher redelivers nothing.
    d2 = Dispatcher(settings)
    await d2.start()
    try:
        await d2.supervisor.sync()

        async def consuming() -> bool:
            c = d2.supervisor.consumer(hook.web_hook_id)
            return c is not None and c.assigned()

        await wait_until(consuming)
        async with EventProducer(settings) as p:
            await p.publish(make_event(ORG, "badgeEarned", "after", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/slow")) == 6)
        assert [r.json["refId"] for r in receiver.ok_for("/slow")][-1] == "after"
        assert len({r.json["eventId"] for r in receiver.ok_for("/slow")}) == 6
    finally:
        await d2.shutdown()


async def test_dispatcher_recreates_topics_a_restarted_broker_lost(
    settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    # A broker of our own with in-memory storage: a restart loses every topic.
    broker = kafka_server(free_port(), tmp_path)
    broker.start()
    kafka = dataclasses.replace(settings.kafka, bootstrap_servers=f"127.0.0.1:{broker.port}")
    settings = settings.replace(kafka=kafka)
    await add_webhook(store, ORG, receiver.url("/lost"), ["badgeEarned"])
    d = Dispatcher(settings)
    await d.start()
    try:
        async with EventProducer(settings) as p:
            await p.publish(make_event(ORG, "badgeEarned", "l1", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/lost")) == 1)
        broker.stop()
        broker.start()
        topic = topic_for(settings.kafka.topic_prefix, "badgeEarned")

        async def recreated() -> bool:
            admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
            try:
                await admin.start()
                return topic in set(await admin.list_topics())
            except KafkaError:
                return False
            finally:
                await admin.close()

        await wait_until(recreated, within=60, interval=0.5)
        async with EventProducer(settings) as p:
            await p.publish(make_event(ORG, "badgeEarned", "l2", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/lost")) == 2, within=60)
        assert [r.json["refId"] for r in receiver.ok_for("/lost")] == ["l1", "l2"]
    finally:
        await d.shutdown()
        broker.stop()
