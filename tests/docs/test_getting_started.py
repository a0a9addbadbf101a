"""docs/getting-started.md, run as written: ``make run`` (its entry,
``python -m devstack run``, with every port moved to a free one so it can run
beside a developer's own), then each ``$`` command of the page in order, from
a directory whose ``.eventnotify`` is that run's state (where the command
finds the credentials, as in the repository). Placeholders the page asks the
reader to fill (``whsec_...``, ``EVENT_ID``) are filled from the earlier
commands' output, and the receiver's port 8765 and the kcat port 9093 are
moved to the free ones in use. (kcat comes with ``make system-deps``.)

Then Ctrl-C (SIGINT to the whole process group, as a terminal sends it) must
stop everything within bounds, with no ERROR logged by the service or the
dispatcher: they stop before the servers they talk to.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from devstack import REPO, free_port
from tests.support.devrun import DevRun, LineReader, clean_env, free_port_env

PAGE = REPO / "docs" / "getting-started.md"
RECEIVER_PORT = "8765"
READY_WITHIN = 240.0  # SecantusDB and Tansu on a loaded 2-core machine
DELIVERED_WITHIN = 60.0
STOP_WITHIN = 90.0
KCAT_EVENT_ID = "8f6c2b1e-4f2a-4c55-9a53-3d7f0e0b6a10"


def page_commands() -> list[str]:
    """The ``$ ...`` lines of the page's console blocks, in order."""
    commands: list[str] = []
    in_console = False
    for line in PAGE.read_text().splitlines():
        if line.startswith("```"):
            in_console = line.strip() == "```console"
            continue
        if in_console and line.startswith("$ "):
            commands.append(line[2:])
    return commands


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result


def _field(output: str, name: str) -> str:
    for line in output.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] == name:
            return parts[1].strip()
    raise AssertionError(f"no {name} in:\n{output}")


def _errors(log: str) -> list[str]:
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in {"ERROR", "CRITICAL"}:
            found.append(line)
    return found


@pytest.mark.own_stack
def test_getting_started_page_runs_as_written(tmp_path: Path) -> None:
    commands = page_commands()
    assert commands[:2] == ["make run", ". .venv/bin/activate"]
    port = str(free_port())
    ports = free_port_env()
    kcat_port = ports["EVENTNOTIFY_DEV_KCAT_PORT"]
    env = clean_env(tmp_path / "home", **ports)
    (tmp_path / "home").mkdir()
    stack = DevRun(tmp_path, env)
    receiver: subprocess.Popen[bytes] | None = None
    user_env = clean_env(tmp_path / "home")  # the second terminal: no variables set
    try:
        stack.start()
        stack.wait_ready(READY_WITHIN)
        assert stack.out is not None
        # The banner ends with this page's commands of a first delivery.
        banner = stack.out.text().splitlines()
        steps = [line.split(". ", 1)[1].split("   (")[0] for line in banner[-4:]]
        assert steps == [c for c in commands if c.startswith("eventnotify ")][:4], banner

        secret = event_id = ""
        receiver_out: LineReader | None = None
        for command in commands[2:]:
            command = command.replace(RECEIVER_PORT, port)
            if "dev receiver" in command:
                assert secret, "the page starts the receiver before creating the webhook"
                receiver = subprocess.Popen(
                    ["bash", "-c", "exec " + command.replace("whsec_...", secret)],
                    cwd=tmp_path,
                    env=user_env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                assert receiver.stdout is not None
                receiver_out = LineReader(receiver.stdout)
                assert receiver_out.wait_for("receiving webhooks at", 30), receiver_out.text()
                continue
            if "EVENT_ID" in command:
                assert event_id and receiver_out is not None
                # The receiver shows the delivery, verified with the secret.
                assert receiver_out.wait_for("signature: verified", DELIVERED_WITHIN), (
                    receiver_out.text()
                )
                assert "INVALID" not in receiver_out.text()
                command = command.replace("EVENT_ID", event_id)
                deadline = time.monotonic() + DELIVERED_WITHIN
                while True:  # the log is written in batches, just after the answer
                    result = _run(command, tmp_path, user_env)
                    if "DELIVERED" in result.stdout or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert "published event's id" in result.stderr
                rows = [r for r in result.stdout.splitlines()[1:] if r.strip()]
                assert len(rows) == 1 and "DELIVERED" in rows[0], result.stdout
                assert "pointsIssued" in rows[0] and "1_cust-77" in rows[0]
                continue
            if command.startswith("echo ") and "| kcat " in command:
                assert receiver_out is not None
                kcat = command.replace("127.0.0.1:9093", f"127.0.0.1:{kcat_port}")
                _run(kcat, tmp_path, user_env)
                assert receiver_out.wait_count("signature: verified", 2, DELIVERED_WITHIN), (
                    receiver_out.text()
                )
                found = _run(f"eventnotify logs get {KCAT_EVENT_ID}", tmp_path, user_env)
                assert "pointsIssued" in found.stdout, found
                continue
            result = _run(command, tmp_path, user_env)
            if "webhooks create" in command:
                secret = _field(result.stdout, "signingSecret")
                assert secret.startswith("whsec_")
            elif command.startswith("eventnotify publish"):
                header, row = result.stdout.splitlines()[:2]
                assert header.split()[0] == "EVENT_ID"
                event_id = row.split()[0]
                assert f"eventnotify logs get {event_id}" in result.stderr
        assert event_id and receiver_out is not None
        assert re.search(r"delivery: pointsIssued  eventId=\S+", receiver_out.text())

        assert stack.ctrl_c(STOP_WITHIN) == 0
        assert stack.out.wait_for("stopped", 5)
        for name in ("service", "dispatcher"):
            assert _errors(stack.log(name)) == [], stack.log(name)[-3000:]
    finally:
        if receiver is not None and receiver.poll() is None:
            receiver.terminate()
            receiver.wait(10)
        stack.kill()
