"""The wire format works from any Kafka client: kcat (librdkafka, no
eventnotify code) publishes a JSON envelope exactly as the README shows, and a
running dispatcher delivers it to a receiver, signed."""

from __future__ import annotations

import asyncio
import json
import uuid

from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus
from eventnotify.envelope import topic_for
from eventnotify.receiver import verify
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.integration.conftest import require_tool
from tests.support.hooks import add_webhook
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

ORG = 23


async def test_kcat_json_event_is_delivered(
    settings: Settings,
    store: Store,
    receiver: Receiver,
    dispatcher: Dispatcher,
    librdkafka_bootstrap: str,
) -> None:
    kcat = require_tool("kcat")
    hook = await add_webhook(store, ORG, receiver.url("/kcat"), ["pointsIssued"])
    await dispatcher.supervisor.sync()
    event_id = str(uuid.uuid4())
    ref_id = f"{ORG}_cust-77"
    envelope = {
        "eventId": event_id,
        "eventName": "pointsIssued",
        "orgId": ORG,
        "refId": ref_id,
        "requestId": "req-kcat",
        "createdAt": 1_760_000_000_000,
        "data": {
            "customerIdentifiers": {"customerId": 77},
            "loyaltyProgramId": 3,
            "totalPointsIssued": 120.5,
        },
    }
    topic = topic_for(settings.kafka.topic_prefix, "pointsIssued")
    # The README's one-liner: one JSON object per line on stdin.
    proc = await asyncio.create_subprocess_exec(
        kcat,
        "-P",
        "-b",
        librdkafka_bootstrap,
        "-t",
        topic,
        "-k",
        ref_id,
        "-H",
        "content-type=application/json",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(json.dumps(envelope).encode() + b"\n"), 60)
    assert proc.returncode == 0, (out + err).decode(errors="replace")

    await receiver.wait_for(lambda: len(receiver.ok_for("/kcat")) == 1)
    [got] = receiver.ok_for("/kcat")
    verify(hook.secrets[0].secret, got.headers, got.body)
    body = got.json
    assert body["eventId"] == delivered_event_id(event_id, hook.web_hook_id)
    assert body["eventName"] == "pointsIssued" and body["refId"] == ref_id
    assert body["apiRequestId"] == "req-kcat" and body["createdAt"] == 1_760_000_000_000
    assert body["data"] == envelope["data"]

    async def logged() -> bool:
        entry = await store.logs.get(ORG, body["eventId"])
        return entry is not None and entry.status is DeliveryStatus.DELIVERED

    await wait_until(logged)
