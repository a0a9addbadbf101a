"""The Python producer helper against the real broker, with a running
dispatcher delivering what it wrote to a real receiver."""

from __future__ import annotations

import uuid

import pytest

from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.envelope import JSON, PROTOBUF, decode
from eventnotify.producer import EventPublisher
from eventnotify.receiver import verify
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.receiver import Receiver
from tests.support.records import read_topic

ORG = 17
DATA = {"transactionId": 5, "amount": 12.5, "customerIdentifiers": {"customerId": 9}}


async def test_published_events_are_delivered_in_both_encodings(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/p"), ["transactionAdded"])
    await dispatcher.supervisor.sync()
    prefix = settings.kafka.topic_prefix
    async with EventPublisher(settings.kafka.bootstrap_servers, topic_prefix=prefix) as pub:
        first = await pub.publish("transactionAdded", ORG, f"{ORG}_tx-5", DATA, request_id="req-5")
        second = await pub.publish(
            "transactionAdded",
            ORG,
            f"{ORG}_tx-5",
            DATA,
            event_id="producer-chosen-id",
            created_at_ms=1_700_000_000_000,
            loyalty_event_id="loy-1",
            as_json=True,
        )
    assert uuid.UUID(first).version == 4 and second == "producer-chosen-id"

    # On the wire: the event's topic, keyed by refId, content type in a header.
    records = await read_topic(settings.kafka.bootstrap_servers, f"{prefix}transactionAdded")
    assert [r.key for r in records] == [f"{ORG}_tx-5".encode()] * 2
    assert [r.headers["content-type"].decode() for r in records] == [PROTOBUF, JSON]
    assert [decode(r.value, None, 0).event_id for r in records] == [first, second]

    await receiver.wait_for(lambda: len(receiver.ok_for("/p")) == 2)
    by_id = {r.json["eventId"]: r for r in receiver.ok_for("/p")}
    one = by_id[delivered_event_id(first, hook.web_hook_id)]
    two = by_id[delivered_event_id(second, hook.web_hook_id)]
    verify(hook.secrets[0].secret, one.headers, one.body)
    assert one.json["apiRequestId"] == "req-5" and one.json["orgId"] == ORG
    assert one.json["data"] == DATA and one.json["createdAt"] > 1_700_000_000_000
    assert two.json["data"] == DATA and two.json["createdAt"] == 1_700_000_000_000
    assert two.json["loyaltyEventId"] == "loy-1" and two.json["refId"] == f"{ORG}_tx-5"


async def test_ref_id_is_required(settings: Settings) -> None:
    async with EventPublisher(settings.kafka.bootstrap_servers) as pub:
        assert pub.topic("tierUpgraded") == "eventnotify.events.tierUpgraded"
        with pytest.raises(ValueError, match="ref_id"):
            await pub.publish("tierUpgraded", ORG, "", {})
