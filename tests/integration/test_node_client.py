"""The contracts work outside Python: a Node.js client (npm's @grpc/grpc-js
and @grpc/proto-loader, loading protos/ as they are) creates a webhook, lists
the catalogue and reads a delivery log from a real server."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from devstack import REPO
from eventnotify.delivery.entries import new_entry
from eventnotify.domain import DeliveryAttempt, DeliveryStatus, Role
from eventnotify.envelope import SourceEvent
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import to_epoch_ms, utcnow
from scripts.protogen import googleapis_include
from service.core.keys import mint_key
from service.server import create_server
from tests.integration.conftest import require_tool
from tests.support.hooks import add_webhook

ORG = 41
NODE_DIR = REPO / "tests" / "node"


@pytest.fixture
async def address(settings: Settings, store: Store) -> AsyncIterator[str]:
    server, port = await create_server(settings, store)
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def _seed_log(store: Store) -> dict[str, str]:
    """One delivered entry for a webhook of ORG, as the dispatcher records it."""
    hook = await add_webhook(store, ORG, "https://example.com/seeded", ["transactionAdded"])
    now = utcnow()
    event = SourceEvent(
        event_id="seed-source-1",
        event_name="transactionAdded",
        org_id=ORG,
        ref_id=f"{ORG}_node-ref",
        request_id="seed-req",
        created_at_ms=to_epoch_ms(now - timedelta(seconds=1)),
        data={"transactionId": 1},
    )
    entry = new_entry(hook, event, position="seed/0/0", kafka_ts=event.created_at_ms)
    entry.status = DeliveryStatus.DELIVERED
    entry.started_at = entry.ended_at = entry.updated_at = now
    entry.attempts = [DeliveryAttempt(time=now, http_status=200, duration_ms=12)]
    entry.last_http_status, entry.last_duration_ms = 200, 12
    await store.logs.write_many([entry])
    return {
        "SEED_EVENT_ID": entry.event_id,
        "SEED_WEB_HOOK_ID": hook.web_hook_id,
        "SEED_REF_ID": event.ref_id,
        "SEED_ORG_ID": str(ORG),
    }


async def test_node_client(store: Store, address: str) -> None:
    node = require_tool("node")
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.fail("tests/node/node_modules is missing: run `make system-deps`", pytrace=False)
    _, key = await mint_key(store.api_keys, ORG, Role.WRITE, "node client test")
    env = {
        **os.environ,
        **await _seed_log(store),
        "EVENTNOTIFY_ADDRESS": address,
        "EVENTNOTIFY_API_KEY": key,
        # The contracts import google/api/annotations.proto (HTTP rules).
        "EVENTNOTIFY_PROTO_INCLUDE": os.pathsep.join(str(p) for p in googleapis_include()),
    }
    # Asynchronously: the server answering node's calls runs on this loop.
    proc = await asyncio.create_subprocess_exec(
        node,
        "--test",
        "--test-reporter=tap",
        str(NODE_DIR / "client.test.mjs"),
        cwd=NODE_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    output = out.decode(errors="replace")
    print(output)
    assert proc.returncode == 0, output
    passed = re.search(r"^# pass (\d+)$", output, re.M)
    assert passed and int(passed.group(1)) >= 5, output
    assert re.search(r"^# fail 0$", output, re.M), output
    # What node created is really there.
    hooks = [h async for h in store.webhooks.iter_all()]
    assert [h.org_id for h in hooks if h.name == "node-client-hook"] == [ORG]
