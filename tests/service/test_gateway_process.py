"""``python -m service`` starts the HTTP gateway when EVENTNOTIFY_HTTP_ADDRESS
is set, answers through it, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from devstack import REPO, Stack, free_port
from service.server import loopback_target
from tests.support.stack import make_settings
from tests.support.waiting import wait_until

ROOT = "root-key-of-the-process-test"


@pytest.mark.parametrize(
    ("address", "port", "target"),
    [
        ("0.0.0.0:50051", 50051, "127.0.0.1:50051"),
        ("127.0.0.1:0", 4242, "127.0.0.1:4242"),
        ("[::]:50051", 50051, "127.0.0.1:50051"),
        ("[::1]:50051", 50051, "[::1]:50051"),
        ("10.0.0.5:7000", 7000, "10.0.0.5:7000"),
    ],
)
def test_loopback_target(address: str, port: int, target: str) -> None:
    assert loopback_target(address, port) == target


async def test_service_process_serves_http_when_configured(stack: Stack, tmp_path: Path) -> None:
    settings = make_settings(stack)
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTNOTIFY_", "KAFKA_"))}
    env.update(
        MONGODB_URI=settings.mongo.uri,
        MONGODB_DATABASE=settings.mongo.database,
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka.bootstrap_servers,
        EVENTNOTIFY_GRPC_ADDRESS=f"127.0.0.1:{free_port()}",
        EVENTNOTIFY_HTTP_ADDRESS=f"127.0.0.1:{http_port}",
        EVENTNOTIFY_SERVICE_METRICS_PORT="0",
        EVENTNOTIFY_ROOT_API_KEY=ROOT,
    )
    log = (tmp_path / "service.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", env=env, cwd=REPO, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def answers() -> int | None:
                assert proc.returncode is None, (tmp_path / "service.log").read_text()
                try:
                    async with session.get(base + "/openapi.json") as r:
                        return r.status
                except aiohttp.ClientConnectionError:
                    return None

            assert await wait_until(answers, within=60) == 200
            headers = {"authorization": f"Bearer {ROOT}", "x-org-id": "5"}
            async with session.get(base + "/v1/webhooks", headers=headers) as r:
                assert r.status == 200 and (await r.json()) == {
                    "webhooks": [],
                    "nextPageToken": "",
                }
            async with session.get(base + "/v3/webHooks") as r:
                assert r.status == 401
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        log.close()
    assert code == 0, (tmp_path / "service.log").read_text()
