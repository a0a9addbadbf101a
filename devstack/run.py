"""``make run``: the whole system on this machine, stopped cleanly by Ctrl-C.

Checks that every port it needs is free (``devstack.ports``), then starts the
MongoDB and Kafka stand-ins (unless MONGODB_URI / KAFKA_BOOTSTRAP_SERVERS point
elsewhere), the kcat shim, the gRPC service and one dispatcher, each as a
child process in its own session, so the terminal's Ctrl-C reaches only this
process, which stops them in the reverse order of their start: the dispatcher
and the service first, while the servers they talk to are still up.

It mints (once) an admin API key for org 1 and keeps it in
``.eventnotify/credentials.json`` so the CLI works with no flags.
EVENTNOTIFY_DEV_STATE_DIR moves ``.eventnotify`` (logs, MongoDB data,
credentials). MongoDB data persists there; the Kafka stand-in keeps messages
in memory only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack import REPO, Stack, start_stack, wait_for_port
from devstack.ports import conflicts, planned_ports
from eventnotify.domain import Role
from eventnotify.settings import Settings, SettingsError
from eventnotify.store import open_store
from service.core.keys import mint_key

DEV_ORG = 1
STOP_TIMEOUT = 30.0


def state_dir(env: Mapping[str, str]) -> Path:
    """Where ``make run`` keeps logs, MongoDB data and the credentials file."""
    return Path(env.get("EVENTNOTIFY_DEV_STATE_DIR") or REPO / ".eventnotify")


def _stored_key(credentials: Path) -> str:
    """The key a previous run saved, or ""."""
    if not credentials.exists():
        return ""
    return str(json.loads(credentials.read_text()).get("api_key", ""))


async def _dev_key(settings: Settings, stored: str) -> str:
    """The stored dev key if MongoDB still knows it, else a new one."""
    store = open_store(settings.mongo)
    try:
        await store.ensure_indexes()
        if stored and await store.api_keys.find_by_secret(stored) is not None:
            return stored
        _, secret = await mint_key(store.api_keys, DEV_ORG, Role.ADMIN, "make run")
        return secret
    finally:
        await store.close()


@dataclass
class Child:
    """A process this run started (and only it stops)."""

    name: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Child:
    with (logs / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Child(name, proc)


def banner(
    address: str, stack: Stack, secret: str, settings: Settings, state: Path, kcat_port: str
) -> str:
    """What ``make run`` prints once everything answers: where each part is,
    then the commands that make a first delivery happen."""
    logs = state / "logs"
    return (
        f"eventnotify is running\n"
        f"  gRPC        {address}   (reflection on: grpcurl -plaintext {address} list)\n"
        f"  HTTP/JSON   http://{settings.service.http_address}   "
        f"(OpenAPI: http://{settings.service.http_address}/openapi.json)\n"
        f"  MongoDB     {stack.mongodb_uri}\n"
        f"  Kafka       {stack.kafka_bootstrap}   (kcat / librdkafka: 127.0.0.1:{kcat_port})\n"
        f"  API key     {secret}   (org {DEV_ORG}, admin; saved in {state / 'credentials.json'})\n"
        f"  metrics     http://127.0.0.1:{settings.service.metrics_port}/metrics (service), "
        f"http://127.0.0.1:{settings.dispatcher.metrics_port}/metrics (dispatcher)\n"
        f"  logs        {logs}/\n"
        f"Ctrl-C stops everything.\n"
        f"A first delivery, in a second terminal (`. .venv/bin/activate` first; "
        f"docs/getting-started.md):\n"
        f"  1. eventnotify webhooks create --name first --url http://127.0.0.1:8765/ "
        f"--event pointsIssued --max-connections 2\n"
        f"  2. eventnotify dev receiver --port 8765 --secret whsec_...   "
        f"(in a third terminal, with the signingSecret step 1 printed)\n"
        f"  3. eventnotify publish pointsIssued --ref 1_cust-77 "
        f'--data \'{{"customerIdentifiers":{{"customerId":77}},"loyaltyProgramId":3,'
        f'"totalPointsIssued":120.5}}\'\n'
        f"  4. eventnotify logs get EVENT_ID   (the EVENT_ID step 3 printed)"
    )


def main(argv: list[str]) -> int:
    if argv[:1] != ["run"]:
        sys.stderr.write("usage: python -m devstack run\n")
        return 2
    env = dict(os.environ)
    # Locally the receivers you try things with run on this machine.
    env.setdefault("EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS", "127.0.0.1,localhost,::1")
    env.setdefault("EVENTNOTIFY_HTTP_ADDRESS", "127.0.0.1:8080")
    try:
        settings = Settings.from_env(env)
        busy = conflicts(planned_ports(env, settings))
    except (SettingsError, ValueError) as exc:
        sys.stderr.write(f"make run: {exc}\n")
        return 2
    if busy:
        for line in busy:
            sys.stderr.write(f"make run: {line}\n")
        sys.stderr.write("make run: nothing was started (every port is listed in docs/ports.md)\n")
        return 1
    # Until the wait loop takes over, SIGTERM unwinds like Ctrl-C, so whatever
    # was started is stopped by _run's finally.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run(env, state_dir(env))
    except KeyboardInterrupt:
        return 130


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _run(env: dict[str, str], state: Path) -> int:
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    credentials = state / "credentials.json"
    try:
        stack = start_stack(
            logs,
            env,
            mongo_port=int(env.get("EVENTNOTIFY_DEV_MONGO_PORT", "27017")),
            kafka_port=int(env.get("EVENTNOTIFY_DEV_KAFKA_PORT", "9092")),
            mongo_storage=str(state / "mongo"),
        )
    except (RuntimeError, TimeoutError) as exc:
        sys.stderr.write(f"make run: a stand-in server did not start ({exc}); see {logs}/\n")
        return 1
    # Started in this order; stopped in the reverse one.
    children: list[Child] = []
    try:
        env.update(MONGODB_URI=stack.mongodb_uri, KAFKA_BOOTSTRAP_SERVERS=stack.kafka_bootstrap)
        settings = Settings.from_env(env)
        secret = asyncio.run(_dev_key(settings, _stored_key(credentials)))
        address = settings.service.grpc_address
        credentials.write_text(json.dumps({"api_key": secret, "address": address}, indent=2))
        if any(srv.name == "kafka" for srv in stack.servers):
            # librdkafka 2.0 clients (Debian's kcat) cannot read Tansu's
            # ApiVersions answer: give them a translating port of their own.
            shim = env.get("EVENTNOTIFY_DEV_KCAT_PORT", "9093")
            argv = [sys.executable, "-m", "devstack.kafka_shim", shim, stack.kafka_bootstrap]
            children.append(_spawn("kafka-shim", argv, env, logs))
        service = _spawn("service", [sys.executable, "-m", "service"], env, logs)
        children.append(service)
        children.append(_spawn("dispatcher", [sys.executable, "-m", "dispatcher"], env, logs))
        try:
            wait_for_port(int(address.rsplit(":", 1)[1]), 60, service.proc)
        except (RuntimeError, TimeoutError) as exc:
            sys.stderr.write(f"make run: the service did not start ({exc}); see {logs}/\n")
            return 1
        kcat_port = env.get("EVENTNOTIFY_DEV_KCAT_PORT", "9093")
        print(banner(address, stack, secret, settings, state, kcat_port), flush=True)
        return _wait(children)
    finally:
        for child in reversed(children):
            child.stop()
        stack.stop()
        print("stopped", flush=True)


def _wait(children: list[Child]) -> int:
    """Block until Ctrl-C / SIGTERM (0) or until a child dies (1)."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):
        for child in children:
            if child.proc.poll() is not None:
                sys.stderr.write(
                    f"make run: the {child.name} exited with {child.proc.returncode}; see its log\n"
                )
                return 1
    return 0
