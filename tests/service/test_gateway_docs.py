"""Every curl line of docs/http.md, run against a live gateway (placeholders
replaced by real ids), answers 200: the documentation cannot rot."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack import REPO, Stack
from eventnotify.domain import DeliveryStatus, LogEntry, Role
from eventnotify.timefmt import utcnow
from service.core.keys import mint_key
from service.gateway.app import HttpGateway
from tests.support.service import serving
from tests.support.stack import make_settings

DOC = REPO / "docs" / "http.md"
# Lines that would reach the internet (a test delivery to example.com).
SKIPPED = (":sendTestEvent",)


@pytest.fixture
async def live(stack: Stack) -> AsyncIterator[tuple[str, str, Any]]:
    """(gateway URL, an ADMIN key of org 1, the store), with a Kafka producer."""
    async with serving(make_settings(stack)) as (_server, port, store):
        gateway = HttpGateway("127.0.0.1:0", f"127.0.0.1:{port}")
        http_port = await gateway.start()
        _, key = await mint_key(store.api_keys, 1, Role.ADMIN, "docs test")
        try:
            yield f"http://127.0.0.1:{http_port}", key, store
        finally:
            await gateway.stop()


async def _run(line: str, url: str, key: str) -> tuple[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        line + " -w '\\n%{http_code}'",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            "PATH": "/usr/bin:/bin",
            "H": url,
            "A": f"authorization: Bearer {key}",
            "J": "content-type: application/json",
        },
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    body, _, status = out.decode().rpartition("\n")
    return status, json.loads(body) if body else None


async def _failed_delivery(store: Any, hook: dict[str, Any]) -> dict[str, str]:
    """A FAILED delivery of ``hook`` in the log; the placeholders it fills."""
    at = utcnow() - timedelta(minutes=1)
    entry = LogEntry(
        event_id="doc-event-1",
        source_event_id="doc-src",
        org_id=1,
        web_hook_id=hook["webHookId"],
        consumer_group_id=hook["consumerGroupId"],
        event_name="transactionAdded",
        ref_id="1_38236069",
        request_id="doc-request",
        status=DeliveryStatus.FAILED,
        ingested_at=at,
        started_at=at,
        ended_at=at,
        last_http_status=500,
        last_duration_ms=10,
    )
    await store.logs.upsert_many([entry])
    return {
        "<eventId>": entry.event_id,
        "<publishedEventId>": entry.source_event_id,
        "<requestId>": entry.request_id,
        "<refId>": entry.ref_id,
    }


async def test_every_documented_curl_line_works(live: tuple[str, str, Any], tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed", pytrace=False)
    url, key, store = live
    lines = [x for x in DOC.read_text().splitlines() if x.startswith("curl ")]
    # Deletions last: the other calls need their webhook active.
    lines.sort(key=lambda x: "-X DELETE" in x)
    assert len(lines) >= 30
    ids: dict[str, str] = {}
    for line in lines:
        if any(s in line for s in SKIPPED):
            continue
        todo = re.findall(r"<[A-Za-z]+>", line)
        missing = [p for p in todo if p not in ids]
        assert not missing, (line, missing)
        for placeholder in todo:
            line = line.replace(placeholder, ids[placeholder])
        status, body = await _run(line, url, key)
        assert status == "200", (line, status, json.dumps(body))
        data = body.get("data", body) if isinstance(body, dict) else body
        if isinstance(data, dict):
            hook = data.get("webhook", data)
            if "webHookId" in hook and "DemoWebhook1" in line:
                ids["<id>"] = hook["webHookId"]
                ids["<group>"] = hook["consumerGroupId"]
                ids.update(await _failed_delivery(store, hook))
            if "webHookId" in hook and "DemoWebhook2" in line:
                ids["<webHookId>"] = hook["webHookId"]
            if "apiKey" in data:
                ids["<keyId>"] = data["apiKey"]["keyId"]
