"""The receiver example in docs/receivers.md runs as written: a user copies it
next to eventnotify/receiver.py, starts it, and it accepts signed deliveries,
drops repeats and refuses bad signatures."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from eventnotify.signing import new_secret, webhook_headers
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "receivers.md"


def python_blocks(markdown: str) -> list[str]:
    """The ```python blocks of a markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def running_sample(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    (sample,) = [b for b in python_blocks(DOC.read_text()) if "web.run_app" in b]
    (tmp_path / "receiver_app.py").write_text(sample)
    shutil.copy(REPO / "eventnotify" / "receiver.py", tmp_path / "receiver.py")
    secret, port = new_secret(), _free_port()
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "receiver_app.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}/webhooks/eventnotify", secret, proc
    finally:
        proc.terminate()
        proc.wait(10)


async def test_the_documented_receiver_runs_and_verifies(
    running_sample: tuple[str, str, subprocess.Popen[str]],
) -> None:
    url, secret, proc = running_sample
    event = {"eventName": "pointsIssued", "eventId": "evt-1", "orgId": 1, "data": {}}
    body = json.dumps(event).encode()
    signed = webhook_headers([secret], "evt-1", int(time.time()), body)
    async with aiohttp.ClientSession() as http:

        async def post(headers: dict[str, str]) -> int | None:
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    return resp.status
            except aiohttp.ClientConnectionError:
                return None  # not listening yet

        assert await wait_until(lambda: post(signed), within=20) == 204
        assert await post(signed) == 204  # a repeat is acknowledged
        forged = {**signed, "webhook-signature": "v1,AAAA"}
        assert await post(forged) == 400
    proc.terminate()
    out, _ = await asyncio.to_thread(proc.communicate, timeout=10)
    assert out.count("processed pointsIssued evt-1") == 1, out
