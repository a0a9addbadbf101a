"""WebhookService.SendTestEvent against real receivers: a live one gets a
signed, schema-valid sample at once; a dead one is a reported failure, not an
RPC error; both show in the webhook's delivery log as test entries."""

from __future__ import annotations

import grpc
import pytest

from devstack import free_port
from eventnotify.catalog.schemas import validate_data
from eventnotify.catalog.standard import STANDARD_EVENTS
from eventnotify.domain import Role
from eventnotify.receiver import verify
from eventnotify.settings import Settings
from eventnotify.v1 import log_pb2, webhook_pb2, webhook_pb2_grpc
from service.core.keys import mint_key
from tests.service.conftest import Api, ApiFactory, Metadata, create_hook, expect_error
from tests.support.receiver import Receiver, Reply
from tests.support.records import read_topic
from tests.support.service import serving

LONG_BODY = "é" * 3000  # 6000 bytes: the excerpt must stop at 1 KiB, on a character


async def _log(api: Api, md: Metadata, event_id: str) -> log_pb2.DeliveryLogEntry:
    entry: log_pb2.DeliveryLogEntry = await api.logs.GetEventLog(
        log_pb2.GetEventLogRequest(event_id=event_id), metadata=md
    )
    return entry


async def test_live_receiver_gets_a_signed_schema_valid_sample(
    api: Api, org1: Metadata, receiver: Receiver
) -> None:
    receiver.on("/hook", lambda _r, _n: Reply(202, body=LONG_BODY))
    created = await create_hook(api, org1, web_hook_url=receiver.url("/hook"))
    hook_id = created.webhook.web_hook_id

    reply = await api.webhooks.SendTestEvent(
        webhook_pb2.SendTestEventRequest(web_hook_id=hook_id), metadata=org1
    )

    assert reply.success and reply.http_status == 202 and reply.error == ""
    assert reply.signature_sent
    assert len(reply.response_excerpt.encode()) <= 1024
    assert LONG_BODY.startswith(reply.response_excerpt) and reply.response_excerpt
    [got] = receiver.ok_for("/hook")  # delivered before the call returned
    verify(created.signing_secret, got.headers, got.body)
    body = got.json
    assert body["eventId"] == reply.event_id == got.headers["webhook-id"]
    # The webhook's first event name by default, with data its schema accepts.
    assert body["eventName"] == "transactionAdded"
    assert validate_data(STANDARD_EVENTS["transactionAdded"].schema or {}, body["data"]) == []
    assert body["data"]["transactionId"]  # a full sample, not an empty object

    entry = await _log(api, org1, reply.event_id)
    assert entry.test and entry.status == log_pb2.DELIVERED
    assert entry.web_hook_id == hook_id and entry.event_name == "transactionAdded"
    assert [a.http_status for a in entry.attempts] == [202]


async def test_chosen_event_type_and_its_limits(
    api: Api, org1: Metadata, receiver: Receiver
) -> None:
    created = await create_hook(api, org1, web_hook_url=receiver.url("/pick"))
    hook_id = created.webhook.web_hook_id
    reply = await api.webhooks.SendTestEvent(
        webhook_pb2.SendTestEventRequest(web_hook_id=hook_id, event_name="tierUpgraded"),
        metadata=org1,
    )
    assert reply.success
    [got] = receiver.ok_for("/pick")
    assert got.json["eventName"] == "tierUpgraded"
    assert validate_data(STANDARD_EVENTS["tierUpgraded"].schema or {}, got.json["data"]) == []

    err = await expect_error(
        api.webhooks.SendTestEvent(
            webhook_pb2.SendTestEventRequest(web_hook_id=hook_id, event_name="noSuchEvent"),
            metadata=org1,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert err.fields == ["event_name"]
    other = await api.key(2, Role.WRITE)
    await expect_error(
        api.webhooks.SendTestEvent(
            webhook_pb2.SendTestEventRequest(web_hook_id=hook_id), metadata=other
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert len(receiver.ok_for("/pick")) == 1  # refused calls sent nothing


async def test_dead_receiver_is_a_failed_result_not_an_rpc_error(api: Api, org1: Metadata) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/gone"  # nothing listens there
    created = await create_hook(api, org1, web_hook_url=dead_url)

    reply = await api.webhooks.SendTestEvent(
        webhook_pb2.SendTestEventRequest(web_hook_id=created.webhook.web_hook_id),
        metadata=org1,
    )

    assert not reply.success and reply.http_status == 0
    assert reply.error  # e.g. "connection failed: ... refused"
    assert reply.signature_sent  # it was signed; nobody was there to check
    entry = await _log(api, org1, reply.event_id)
    assert entry.test and entry.status == log_pb2.FAILED
    assert entry.attempts[0].error == reply.error
    assert reply.error in entry.failure_reason


async def test_error_status_is_a_failed_result(
    api: Api, org1: Metadata, receiver: Receiver
) -> None:
    receiver.on("/busy", lambda _r, _n: Reply(503, body="try later"))
    created = await create_hook(api, org1, web_hook_url=receiver.url("/busy"))
    reply = await api.webhooks.SendTestEvent(
        webhook_pb2.SendTestEventRequest(web_hook_id=created.webhook.web_hook_id),
        metadata=org1,
    )
    assert (reply.success, reply.http_status, reply.error) == (False, 503, "")
    assert reply.response_excerpt == "try later"
    assert (await _log(api, org1, reply.event_id)).status == log_pb2.FAILED


async def test_the_address_policy_applies_to_test_sends(
    make_api: ApiFactory, receiver: Receiver
) -> None:
    # No private destinations allowed: the receiver on 127.0.0.1 is off limits.
    # Named by its address, the webhook is refused at create already; named by
    # a name resolving to it, the test send is refused when it connects.
    api = await make_api(EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS="")
    md = await api.key(1, Role.WRITE)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create_hook(api, md, name="by-address", web_hook_url=receiver.url("/private"))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not allowed" in (refused.value.details() or "")
    created = await create_hook(
        api, md, name="by-name", web_hook_url=f"http://localhost:{receiver.port}/private"
    )
    reply = await api.webhooks.SendTestEvent(
        webhook_pb2.SendTestEventRequest(web_hook_id=created.webhook.web_hook_id),
        metadata=md,
    )
    assert (reply.success, reply.http_status) == (False, 0)
    assert "not allowed" in reply.error or "private or reserved" in reply.error
    assert (await _log(api, md, reply.event_id)).status == log_pb2.FAILED
    assert receiver.requests == [] and receiver.failed == []  # nothing left the server


async def test_a_redirect_is_reported_not_followed(
    api: Api, org1: Metadata, receiver: Receiver
) -> None:
    receiver.on("/old", lambda _r, _n: Reply(307, headers={"Location": "/new"}))
    created = await create_hook(api, org1, web_hook_url=receiver.url("/old"))
    reply = await api.webhooks.SendTestEvent(
        webhook_pb2.SendTestEventRequest(web_hook_id=created.webhook.web_hook_id),
        metadata=org1,
    )
    assert (reply.success, reply.http_status, reply.error) == (False, 307, "")
    assert receiver.ok_for("/new") == []  # a 307 would have re-sent the signed POST there
    assert [r.path for r, _ in receiver.failed] == ["/old"]


async def test_the_logged_response_body_stops_at_the_cap(
    make_api: ApiFactory, receiver: Receiver
) -> None:
    api = await make_api(EVENTNOTIFY_RESPONSE_BODY_CAP_BYTES="100")
    md = await api.key(1, Role.WRITE)
    receiver.on("/chatty", lambda _r, _n: Reply(200, body="z" * 10_000))
    created = await create_hook(api, md, web_hook_url=receiver.url("/chatty"))
    reply = await api.webhooks.SendTestEvent(
        webhook_pb2.SendTestEventRequest(web_hook_id=created.webhook.web_hook_id), metadata=md
    )
    assert reply.success and reply.response_excerpt == "z" * 100
    [attempt] = (await _log(api, md, reply.event_id)).attempts
    assert (attempt.response_body, attempt.response_truncated) == ("z" * 100, True)


async def test_queue_webhook_gets_the_sample_on_its_topic(settings: Settings) -> None:
    async with serving(settings) as (_server, port, store):
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            _, secret = await mint_key(store.api_keys, 3, Role.WRITE, "queue test")
            md = (("authorization", f"Bearer {secret}"),)
            stub = webhook_pb2_grpc.WebhookServiceStub(channel)
            topic = f"{settings.kafka.topic_prefix}out"
            created = await stub.CreateWebhook(
                webhook_pb2.CreateWebhookRequest(
                    webhook=webhook_pb2.Webhook(
                        name="to-kafka",
                        event_names=["pointsIssued"],
                        web_hook_url=topic,
                        web_hook_type=webhook_pb2.QUEUE,
                        method_type=webhook_pb2.POST,
                        max_allowed_connections=1,
                    )
                ),
                metadata=md,
            )
            reply = await stub.SendTestEvent(
                webhook_pb2.SendTestEventRequest(web_hook_id=created.webhook.web_hook_id),
                metadata=md,
            )
            assert reply.success and reply.error == "" and reply.signature_sent
            [record] = await read_topic(settings.kafka.bootstrap_servers, topic)
            headers = {k: v.decode() for k, v in record.headers.items()}
            verify(created.signing_secret, headers, record.value)
            assert headers["webhook-id"] == reply.event_id
        finally:
            await channel.close()
