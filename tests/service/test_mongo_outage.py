"""MongoDB going away: UNAVAILABLE (not a hang), and recovery without a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from devstack import Stack, free_port, mongo_server, mongo_uri
from eventnotify.settings import MongoSettings
from eventnotify.v1 import webhook_pb2
from tests.service.conftest import ROOT_KEY, ApiFactory, create_hook, expect_error
from tests.service.test_health import wait_status
from tests.support.stack import make_settings

TIMEOUT_MS = 1000


async def test_unavailable_then_recovers(
    stack: Stack, make_api: ApiFactory, tmp_path: Path
) -> None:
    port = free_port()
    mongo = mongo_server(port, tmp_path, storage=str(tmp_path / "data"))
    await asyncio.to_thread(mongo.start)
    try:
        base = make_settings(stack, MONGODB_TIMEOUT_MS=str(TIMEOUT_MS))
        settings = base.replace(
            mongo=MongoSettings(uri=mongo_uri(port), database="outage", timeout_ms=TIMEOUT_MS),
            service=base.service.__class__(
                grpc_address="127.0.0.1:0", root_api_key=ROOT_KEY, metrics_port=0
            ),
        )
        api = await make_api(settings=settings, health_interval=0.2)
        md = await api.key(1)
        await create_hook(api, md)
        listed = webhook_pb2.ListWebhooksRequest()
        assert len((await api.webhooks.ListWebhooks(listed, metadata=md)).webhooks) == 1

        await asyncio.to_thread(mongo.kill)
        # A key not in the cache needs MongoDB too: that is UNAVAILABLE, not UNAUTHENTICATED.
        # The call must end (not hang on the dead server); the deadline is
        # for waiting only, far above the 1 s server-selection timeout.
        for metadata in (md, (("authorization", "Bearer en_x_unknown"),)):
            d = await expect_error(
                api.webhooks.ListWebhooks(listed, metadata=metadata, timeout=30),
                grpc.StatusCode.UNAVAILABLE,
            )
            assert d.info is not None and d.info.reason == "DEPENDENCY_UNAVAILABLE"
        await wait_status(api, "eventnotify.mongo", health_pb2.HealthCheckResponse.NOT_SERVING)

        await asyncio.to_thread(mongo.start)
        # The root key needs no lookup, so recovery does not depend on whether
        # the stand-in kept the org's key across a SIGKILL.
        md = (("authorization", f"Bearer {ROOT_KEY}"), ("x-org-id", "1"))
        deadline = time.monotonic() + 30
        while True:
            try:
                page = await api.webhooks.ListWebhooks(listed, metadata=md)
                break
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.UNAVAILABLE, err.details()
                assert time.monotonic() < deadline, "service did not recover"
                await asyncio.sleep(0.1)
        assert len(page.webhooks) in (0, 1)  # the stand-in may lose unflushed data on SIGKILL
        await create_hook(api, md, name="after-outage")
        await wait_status(api, "eventnotify.mongo", health_pb2.HealthCheckResponse.SERVING)
    finally:
        await asyncio.to_thread(mongo.stop)
