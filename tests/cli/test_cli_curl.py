"""``eventnotify --curl``: each call is also printed as the curl command that
does the same through the HTTP gateway, and that command really works."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.gateway.app import HttpGateway
from tests.cli.conftest import Api, Cli


@pytest.fixture
async def gateway_url(api: Api) -> AsyncIterator[str]:
    gateway = HttpGateway("127.0.0.1:0", f"127.0.0.1:{api.port}")
    port = await gateway.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await gateway.stop()


async def _sh(line: str, key: str) -> Any:
    """Run a printed curl line in a shell (its $EVENTNOTIFY_API_KEY expanded)."""
    proc = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        line + " -w '\\n%{http_code}'",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"EVENTNOTIFY_API_KEY": key, "PATH": "/usr/bin:/bin"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    body, _, status = out.decode().rpartition("\n")
    assert status == "200", (line, body, err)
    return json.loads(body)


async def test_printed_curl_commands_do_what_the_cli_did(cli: Cli, gateway_url: str) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed", pytrace=False)
    created = await cli.ok(
        "--curl", gateway_url, "--json", "webhooks", "create", "--name", "c1",
        "--url", "https://example.com/a", "--event", "transactionAdded",
        "--max-connections", "5",
    )  # fmt: skip
    line = next(x for x in created.err.splitlines() if x.startswith("curl "))
    assert "-X POST" in line and "/v1/webhooks" in line
    assert "Bearer $EVENTNOTIFY_API_KEY" in line and cli.key not in line
    # The same request over HTTP creates the same webhook (under another name).
    again = await _sh(line.replace('"name": "c1"', '"name": "c2"'), cli.key)
    assert again["webhook"]["maxAllowedConnections"] == 5
    hook_id = created.json()["webhook"]["webHookId"]

    for args in (
        ("webhooks", "get", hook_id),
        ("webhooks", "list", "--page-size", "1"),
        ("webhooks", "update", hook_id, "--sla", "45"),
        ("events", "schema", "transactionAdded"),
        ("logs", "group", created.json()["webhook"]["consumerGroupId"], "--status", "failed"),
        ("logs", "by-ref", "1_777"),
    ):
        result = await cli.ok("--curl", gateway_url, *args)
        lines = [x for x in result.err.splitlines() if x.startswith("curl ")]
        assert lines, (args, result.err)
        for line in lines:
            await _sh(line, cli.key)
    got = await _sh(f"curl -sS {gateway_url}/v1/webhooks/{hook_id} "
                    '-H "authorization: Bearer $EVENTNOTIFY_API_KEY"', cli.key)  # fmt: skip
    assert got["slaInSeconds"] == 45
