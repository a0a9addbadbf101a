"""The installed ``eventnotify`` command where a new user stumbles first:
comma lists of events, which publish argument is missing, metrics by
webHookId, where a refused API key came from, lookups by the id ``publish``
printed, and ``dev receiver`` verifying signatures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devstack import free_port
from eventnotify import signing
from eventnotify.domain import DeliveryStatus, LogEntry
from eventnotify.timefmt import utcnow
from tests.cli.conftest import EXE, Cli, table_has, write_credentials
from tests.support.waiting import wait_until


async def _hook(cli: Cli, *events: str) -> dict[str, Any]:
    made = await cli.ok(
        "--json", "webhooks", "create", "--name", f"h-{time.monotonic_ns()}",
        "--url", "https://example.com/h", *events, "--max-connections", "1",
    )  # fmt: skip
    hook: dict[str, Any] = made.json()["webhook"]
    return hook


async def test_event_accepts_a_comma_list_and_repeats(cli: Cli) -> None:
    hook = await _hook(cli, "--event", "customerAdded,pointsIssued", "--event", "badgeEarned")
    assert hook["eventNames"] == ["customerAdded", "pointsIssued", "badgeEarned"]


async def test_unknown_event_suggests_the_nearest(cli: Cli) -> None:
    bad = await cli(
        "webhooks", "create", "--name", "x", "--url", "https://example.com/x",
        "--event", "CustomerAdded", "--max-connections", "1",
    )  # fmt: skip
    assert bad.code == 1
    assert "unknown event 'CustomerAdded' (did you mean 'customerAdded'?)" in bad.err


@pytest.mark.parametrize(
    ("args", "missing", "present"),
    [
        (["--ref", "1_1", "--data", "{}"], ["EVENT_NAME"], ["--ref", "--data"]),
        (["customerAdded", "--data", "{}"], ["--ref"], ["EVENT_NAME", "--data"]),
        (["customerAdded", "--ref", "1_1"], ["--data"], ["EVENT_NAME", "--ref"]),
        (["customerAdded"], ["--ref", "--data"], ["EVENT_NAME"]),
    ],
)
async def test_publish_says_which_argument_is_missing(
    cli: Cli, args: list[str], missing: list[str], present: list[str]
) -> None:
    result = await cli("publish", *args)
    assert result.code == 2
    [line] = result.err.splitlines()
    assert line.startswith("error: publish is missing ")
    for name in missing:
        assert name in line
    for name in present:
        assert f"{name} " not in line.removeprefix("error: publish is missing ").split("(")[0]


async def test_metrics_accepts_a_web_hook_id(cli: Cli) -> None:
    hook = await _hook(cli, "--event", "customerAdded")
    by_hook = await cli.ok("metrics", hook["webHookId"])
    assert by_hook.fields()["consumerGroupId"] == hook["consumerGroupId"]
    unknown = await cli("metrics", "no-such-id")
    assert unknown.code == 1
    assert "consumerGroupId or webHookId" in unknown.err
    assert "eventnotify webhooks list" in unknown.err


async def test_a_refused_key_says_where_it_came_from(cli: Cli, tmp_path: Path) -> None:
    flag = await cli.raw("--address", cli.address, "--api-key", "en_wrong", "events", "list")
    assert flag.code == 1 and "hint: the API key came from --api-key" in flag.err
    env = await cli.raw(
        "--address", cli.address, "events", "list", env={"EVENTNOTIFY_API_KEY": "en_wrong"}
    )
    assert env.code == 1 and "hint: the API key came from $EVENTNOTIFY_API_KEY" in env.err
    project = tmp_path / "project"
    path = write_credentials(project, cli.address, "en_stale")
    stale = await cli.raw("events", "list", cwd=project)
    assert stale.code == 1
    assert f"hint: the API key came from credentials file {path}" in stale.err
    assert "restart `make run`" in stale.err


async def test_logs_get_takes_the_published_id(cli: Cli) -> None:
    hooks = [await _hook(cli, "--event", "customerAdded") for _ in range(2)]
    source = f"published-{time.monotonic_ns()}"
    entries = [
        LogEntry(
            event_id=f"{source}-{n}",
            source_event_id=source,
            org_id=1,
            web_hook_id=h["webHookId"],
            consumer_group_id=h["consumerGroupId"],
            event_name="customerAdded",
            ref_id="1_42",
            request_id="",
            status=DeliveryStatus.DELIVERED,
            ingested_at=utcnow(),
        )
        for n, h in enumerate(hooks)
    ]
    await cli.api.store.logs.upsert_many(entries)
    listed = await cli.ok("logs", "get", source)
    assert "is a published event's id" in listed.err
    for e in entries:
        assert table_has(listed, e.event_id, "DELIVERED", e.web_hook_id)
    by_event = await cli.ok("--json", "logs", "by-event", source)
    assert [e["eventId"] for e in by_event.json()["entries"]] == [e.event_id for e in entries]
    one = await cli.ok("logs", "get", entries[0].event_id)
    assert one.fields()["sourceEventId"] == source
    missing = await cli("logs", "get", "nothing-has-this-id")
    assert missing.code == 1 and "reason: EVENT_LOG_NOT_FOUND" in missing.err


@pytest.fixture
async def dev_receiver(cli: Cli) -> AsyncIterator[tuple[str, str, list[str]]]:
    """``eventnotify dev receiver`` with a fresh secret: (url, secret, the
    lines it has printed so far)."""
    secret = signing.new_secret()
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(EXE), "dev", "receiver", "--port", str(port), "--secret", secret,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=cli.env,
    )  # fmt: skip
    lines: list[str] = []

    async def pump() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            lines.append(raw.decode().rstrip("\n"))

    task = asyncio.create_task(pump())
    try:

        async def listening() -> bool:
            return any("receiving webhooks at" in line for line in lines)

        await wait_until(listening)
        yield f"http://127.0.0.1:{port}/", secret, lines
    finally:
        proc.terminate()
        await proc.wait()
        await task


async def test_dev_receiver_verifies_signatures(
    dev_receiver: tuple[str, str, list[str]],
) -> None:
    url, secret, lines = dev_receiver
    body = json.dumps({"eventName": "pointsIssued", "eventId": "ev-dev-1"}).encode()
    now = int(time.time())
    good = signing.webhook_headers([secret], "msg-1", now, body)
    bad = signing.webhook_headers([signing.new_secret()], "msg-2", now, body)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=good) as resp:
            assert resp.status == 204
        async with session.post(url, data=body, headers=bad) as resp:
            assert resp.status == 400
        async with session.post(url, data=body) as resp:
            assert resp.status == 400
    expected = [
        "delivery: pointsIssued  eventId=ev-dev-1",
        "webhook-id: msg-1",
        "signature: verified",
        "webhook-id: msg-2",
        "signature: INVALID (no matching signature)",
        "signature: INVALID (missing header webhook-id)",
    ]

    async def printed() -> bool:
        text = "\n".join(lines)
        return all(e in text for e in expected)

    await wait_until(printed, within=10)
