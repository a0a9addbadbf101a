"""MongoDB faults: journaled writes survive a SIGKILL; a known outage is
answered UNAVAILABLE at once with RetryInfo; an unknown one is given up on
before the caller's deadline. Each test runs its own killed server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from devstack import Server, Stack, free_port, mongo_server, mongo_uri
from eventnotify.settings import MongoSettings, Settings
from eventnotify.store import open_store
from eventnotify.v1 import webhook_pb2
from tests.service.conftest import ROOT_KEY, ApiFactory, expect_error
from tests.service.test_health import wait_status
from tests.support.hooks import add_webhook
from tests.support.stack import make_settings

ROOT = (("authorization", f"Bearer {ROOT_KEY}"), ("x-org-id", "1"))


@pytest.fixture
async def own_mongo(tmp_path: Path) -> AsyncIterator[Server]:
    server = mongo_server(free_port(), tmp_path, storage=str(tmp_path / "data"))
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def _settings(stack: Stack, mongo: Server, **env: str) -> Settings:
    base = make_settings(stack, **env)
    return base.replace(
        mongo=MongoSettings(uri=mongo_uri(mongo.port), database="faults", timeout_ms=5000),
        service=base.service.__class__(
            grpc_address="127.0.0.1:0", root_api_key=ROOT_KEY, metrics_port=0
        ),
    )


def test_every_write_is_journaled_with_majority_by_default() -> None:
    store = open_store(MongoSettings(uri="mongodb://127.0.0.1:1/"))
    for repo in ("webhooks", "logs", "parked", "event_types", "api_keys", "orders"):
        coll = getattr(store, repo)._coll if hasattr(getattr(store, repo), "_coll") else None
        concern = (coll.write_concern if coll is not None else store.db.write_concern).document
        assert concern == {"w": "majority", "j": True}, repo
    relaxed = open_store(
        MongoSettings(uri="mongodb://127.0.0.1:1/", journal=False, write_concern_w="1")
    )
    assert relaxed.db.write_concern.document == {"w": 1, "j": False}


async def test_acknowledged_writes_survive_a_sigkill(stack: Stack, own_mongo: Server) -> None:
    settings = _settings(stack, own_mongo)
    store = open_store(settings.mongo)
    try:
        hooks = await asyncio.gather(
            *(
                add_webhook(store, 1, f"https://e.example/{i}", ["badgeEarned"], name=f"h{i}")
                for i in range(60)
            )
        )
    finally:
        await store.close()
    await asyncio.to_thread(own_mongo.kill)  # right after the acknowledgements
    await asyncio.to_thread(own_mongo.start)
    store = open_store(settings.mongo)
    try:
        for hook in hooks:
            assert await store.webhooks.get(1, hook.web_hook_id) is not None, hook.name
    finally:
        await store.close()


async def test_known_outage_is_unavailable_at_once_with_retry_info(
    stack: Stack, own_mongo: Server, make_api: ApiFactory
) -> None:
    api = await make_api(settings=_settings(stack, own_mongo), health_interval=0.2)
    listed = webhook_pb2.ListWebhooksRequest()
    await api.webhooks.ListWebhooks(listed, metadata=ROOT)
    await asyncio.to_thread(own_mongo.kill)
    await wait_status(api, "eventnotify.mongo", health_pb2.HealthCheckResponse.NOT_SERVING)
    started = time.monotonic()
    d = await expect_error(
        api.webhooks.ListWebhooks(listed, metadata=ROOT, timeout=3.0), grpc.StatusCode.UNAVAILABLE
    )
    # Far below the 5 s server selection timeout: the call never touched MongoDB.
    assert time.monotonic() - started < 1.0
    assert d.retry is not None and d.retry.retry_delay.ToMilliseconds() > 0


async def test_unknown_outage_answers_before_the_callers_deadline(
    stack: Stack, own_mongo: Server, make_api: ApiFactory
) -> None:
    # A monitor that will not notice in time: the call itself meets the outage.
    api = await make_api(settings=_settings(stack, own_mongo), health_interval=3600)
    await wait_status(api, "eventnotify.mongo", health_pb2.HealthCheckResponse.SERVING)
    await asyncio.to_thread(own_mongo.kill)
    # The driver would wait 5 s for a server; the deadline is 1.5 s, and the
    # answer is the real reason, not the caller's DEADLINE_EXCEEDED.
    await expect_error(
        api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest(), metadata=ROOT, timeout=1.5),
        grpc.StatusCode.UNAVAILABLE,
    )
