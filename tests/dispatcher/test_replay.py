"""The three replay paths, driven through the gRPC ReplayService and observed
at a real receiver: resend one, recover failed ones, rewind the group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest

from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus, Role
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import format_ts, utcnow
from eventnotify.v1 import replay_pb2, replay_pb2_grpc
from service.core.keys import mint_key
from service.server import create_server
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Receiver, Reply
from tests.support.waiting import wait_until

Replay = tuple[replay_pb2_grpc.ReplayServiceStub, tuple[tuple[str, str], ...]]

ORG = 31


@pytest.fixture
async def replay(settings: Settings, store: Store) -> AsyncIterator[Replay]:
    server, port = await create_server(settings, store)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    _, secret = await mint_key(store.api_keys, ORG, Role.WRITE, "replay test")
    try:
        yield replay_pb2_grpc.ReplayServiceStub(channel), (("authorization", f"Bearer {secret}"),)
    finally:
        await channel.close()
        await server.stop(0)


async def test_resend_one_delivery_keeps_its_event_id(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher, replay: Replay
) -> None:  # type: ignore[no-untyped-def]
    stub, auth = replay
    hook = await add_webhook(store, ORG, receiver.url("/r"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", "r1", {})
    async with EventProducer(settings) as p:
        await p.publish(event)
    event_id = delivered_event_id(event.event_id, hook.web_hook_id)

    async def delivered() -> bool:
        e = await store.logs.get(ORG, event_id)
        return e is not None and e.status is DeliveryStatus.DELIVERED

    await wait_until(delivered)
    reply = await stub.ResendEvent(replay_pb2.ResendEventRequest(event_id=event_id), metadata=auth)
    assert reply.event_id == event_id
    await receiver.wait_for(lambda: len(receiver.ok_for("/r")) == 2)
    assert [r.json["eventId"] for r in receiver.ok_for("/r")] == [event_id, event_id]

    async def two_attempts() -> bool:
        e = await store.logs.get(ORG, event_id)
        return e is not None and len(e.attempts) == 2 and e.status is DeliveryStatus.DELIVERED

    await wait_until(two_attempts)
    # Another org cannot resend it.
    _, other = await mint_key(store.api_keys, ORG + 1, Role.WRITE, "other")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ResendEvent(
            replay_pb2.ResendEventRequest(event_id=event_id),
            metadata=(("authorization", f"Bearer {other}"),),
        )
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_recover_failed_since_time(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher, replay: Replay
) -> None:  # type: ignore[no-untyped-def]
    stub, auth = replay
    state = {"accept": False}
    receiver.on("/f", lambda _r, _n: Reply(200) if state["accept"] else Reply(422))
    hook = await add_webhook(store, ORG, receiver.url("/f"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    events = [make_event(ORG, "badgeEarned", f"f{i}", {}) for i in range(4)]
    since = format_ts(utcnow() - timedelta(minutes=1))
    async with EventProducer(settings) as p:
        for e in events:
            await p.publish(e)
    ids = [delivered_event_id(e.event_id, hook.web_hook_id) for e in events]

    async def all_failed() -> bool:
        got = [await store.logs.get(ORG, i) for i in ids]
        return all(e is not None and e.status is DeliveryStatus.FAILED for e in got)

    await wait_until(all_failed)
    state["accept"] = True
    reply = await stub.RecoverFailed(
        replay_pb2.RecoverFailedRequest(web_hook_id=hook.web_hook_id, since=since), metadata=auth
    )
    assert reply.scheduled == 4
    await receiver.wait_for(lambda: len(receiver.ok_for("/f")) == 4)
    assert sorted(r.json["eventId"] for r in receiver.ok_for("/f")) == sorted(ids)
    # A bad time is a field error, not INTERNAL.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RecoverFailed(
            replay_pb2.RecoverFailedRequest(web_hook_id=hook.web_hook_id, since="yesterday"),
            metadata=auth,
        )
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_rewind_redelivers_everything_since(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher, replay: Replay
) -> None:  # type: ignore[no-untyped-def]
    stub, auth = replay
    hook = await add_webhook(store, ORG, receiver.url("/w"), ["badgeEarned", "cardUpdated"])
    await dispatcher.supervisor.sync()
    since = format_ts(utcnow() - timedelta(seconds=5))
    async with EventProducer(settings) as p:
        # Acked (with retries): the topics are new, and the local broker may
        # refuse a send to a partition whose leader it has not settled yet.
        for i in range(3):
            await p.publish_acked(make_event(ORG, "badgeEarned", f"w{i}", {}))
        await p.publish_acked(make_event(ORG, "cardUpdated", "w3", {}))
    await receiver.wait_for(lambda: len(receiver.ok_for("/w")) == 4)
    first = sorted(r.json["eventId"] for r in receiver.ok_for("/w"))
    reply = await stub.RewindConsumerGroup(
        replay_pb2.RewindConsumerGroupRequest(web_hook_id=hook.web_hook_id, since=since),
        metadata=auth,
    )
    assert reply.rewind_id
    await receiver.wait_for(lambda: len(receiver.ok_for("/w")) == 8, within=30)
    again = sorted(r.json["eventId"] for r in receiver.ok_for("/w")[4:])
    assert again == first
