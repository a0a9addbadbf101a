"""Which deliveries ReplayService schedules: RecoverFailed never re-sends a
SendTestEvent delivery, and ResendEvent refuses one (a new SendTestEvent is
the way to test again). Observed in the parked-deliveries collection the
dispatchers' scheduler reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest

from eventnotify.domain import DeliveryStatus, LogEntry, Role
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import format_ts, utcnow
from eventnotify.v1 import replay_pb2, replay_pb2_grpc
from service.core.keys import mint_key
from service.server import create_server
from tests.service.conftest import details_of
from tests.support.hooks import add_webhook

ORG = 41


@dataclass
class Replay:
    stub: replay_pb2_grpc.ReplayServiceStub
    auth: tuple[tuple[str, str], ...]


@pytest.fixture
async def replay(settings: Settings, store: Store) -> AsyncIterator[Replay]:
    server, port = await create_server(settings, store)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    _, secret = await mint_key(store.api_keys, ORG, Role.WRITE, "replay rules")
    try:
        yield Replay(
            replay_pb2_grpc.ReplayServiceStub(channel), (("authorization", f"Bearer {secret}"),)
        )
    finally:
        await channel.close()
        await server.stop(0)


def failed(hook_id: str, group: str, *, test: bool) -> LogEntry:
    at = utcnow() - timedelta(minutes=2)
    event_id = f"{'test' if test else 'real'}-{uuid.uuid4().hex[:8]}"
    return LogEntry(
        event_id=event_id,
        source_event_id="src-" + event_id,
        org_id=ORG,
        web_hook_id=hook_id,
        consumer_group_id=group,
        event_name="badgeEarned",
        ref_id=("test-" if test else "") + "41_1",
        request_id="",
        status=DeliveryStatus.FAILED,
        ingested_at=at,
        ended_at=at,
        failure_reason="HTTP 500",
        test=test,
        source_event={"eventId": "src-" + event_id, "eventName": "badgeEarned", "data": {}},
    )


async def test_recover_failed_skips_test_sends_and_resend_refuses_them(
    store: Store, replay: Replay
) -> None:
    hook = await add_webhook(store, ORG, "http://127.0.0.1:9/never", ["badgeEarned"])
    real = failed(hook.web_hook_id, hook.consumer_group_id, test=False)
    test = failed(hook.web_hook_id, hook.consumer_group_id, test=True)
    await store.logs.upsert_many([real, test])
    since = format_ts(utcnow() - timedelta(hours=1))
    reply = await replay.stub.RecoverFailed(
        replay_pb2.RecoverFailedRequest(web_hook_id=hook.web_hook_id, since=since),
        metadata=replay.auth,
    )
    assert reply.scheduled == 1
    assert await store.parked.ids_for(hook.web_hook_id) == [real.event_id]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await replay.stub.ResendEvent(
            replay_pb2.ResendEventRequest(event_id=test.event_id), metadata=replay.auth
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = details_of(caught.value).info
    assert info is not None and info.reason == "TEST_DELIVERY"
    assert await store.parked.ids_for(hook.web_hook_id) == [real.event_id]
