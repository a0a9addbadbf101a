"""``make run``: the whole system on this machine, stopped cleanly by Ctrl-C.

Starts the MongoDB and Kafka stand-ins (unless MONGODB_URI /
KAFKA_BOOTSTRAP_SERVERS point elsewhere), the gRPC service and one dispatcher,
each as a child process; mints (once) an admin API key for org 1 and keeps it
in ``.eventnotify/credentials.json`` so the CLI works with no flags.

Ports: EVENTNOTIFY_DEV_MONGO_PORT (27017), EVENTNOTIFY_DEV_KAFKA_PORT (9092),
EVENTNOTIFY_GRPC_ADDRESS (127.0.0.1:50051), EVENTNOTIFY_HTTP_ADDRESS
(127.0.0.1:8080, the HTTP/JSON gateway). MongoDB data persists in
``.eventnotify/mongo``; the Kafka stand-in keeps messages in memory only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading

from devstack import REPO, start_stack, wait_for_port
from eventnotify.domain import Role
from eventnotify.settings import Settings
from eventnotify.store import open_store
from service.core.keys import mint_key

STATE = REPO / ".eventnotify"
CREDENTIALS = STATE / "credentials.json"
DEV_ORG = 1


async def _dev_key(settings: Settings) -> str:
    """The stored dev key if MongoDB still knows it, else a new one."""
    store = open_store(settings.mongo)
    try:
        await store.ensure_indexes()
        if CREDENTIALS.exists():
            secret = json.loads(CREDENTIALS.read_text()).get("api_key", "")
            if secret and await store.api_keys.find_by_secret(secret) is not None:
                return str(secret)
        _, secret = await mint_key(store.api_keys, DEV_ORG, Role.ADMIN, "make run")
        return secret
    finally:
        await store.close()


def main(argv: list[str]) -> int:
    if argv[:1] != ["run"]:
        sys.stderr.write("usage: python -m devstack run\n")
        return 2
    STATE.mkdir(exist_ok=True)
    logs = STATE / "logs"
    env = dict(os.environ)
    stack = start_stack(
        logs,
        env,
        mongo_port=int(env.get("EVENTNOTIFY_DEV_MONGO_PORT", "27017")),
        kafka_port=int(env.get("EVENTNOTIFY_DEV_KAFKA_PORT", "9092")),
        mongo_storage=str(STATE / "mongo"),
    )
    children: list[subprocess.Popen[bytes]] = []
    kcat_port = int(env.get("EVENTNOTIFY_DEV_KCAT_PORT", "9093"))
    try:
        env.update(MONGODB_URI=stack.mongodb_uri, KAFKA_BOOTSTRAP_SERVERS=stack.kafka_bootstrap)
        # Locally the receivers you try things with run on this machine.
        env.setdefault("EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS", "127.0.0.1,localhost,::1")
        env.setdefault("EVENTNOTIFY_HTTP_ADDRESS", "127.0.0.1:8080")
        settings = Settings.from_env(env)
        secret = asyncio.run(_dev_key(settings))
        address = settings.service.grpc_address
        CREDENTIALS.write_text(json.dumps({"api_key": secret, "address": address}, indent=2))
        if any(srv.name == "kafka" for srv in stack.servers):
            # librdkafka 2.0 clients (Debian's kcat) cannot read Tansu's
            # ApiVersions answer: give them a translating port of their own.
            out = (logs / "kafka-shim.log").open("ab")
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "devstack.kafka_shim",
                        str(kcat_port),
                        stack.kafka_bootstrap,
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
            out.close()
        for name in ("service", "dispatcher"):
            out = (logs / f"{name}.log").open("ab")
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", name], env=env, stdout=out, stderr=subprocess.STDOUT
                )
            )
            out.close()
        wait_for_port(int(address.rsplit(":", 1)[1]), 30, children[-2])
        http = settings.service.http_address
        print(
            f"eventnotify is running\n"
            f"  gRPC        {address}   (reflection on: grpcurl -plaintext {address} list)\n"
            f"  HTTP/JSON   http://{http}   (OpenAPI: http://{http}/openapi.json)\n"
            f"  MongoDB     {stack.mongodb_uri}\n"
            f"  Kafka       {stack.kafka_bootstrap}   (kcat / librdkafka: 127.0.0.1:{kcat_port})\n"
            f"  API key     {secret}   (org {DEV_ORG}, admin; saved in {CREDENTIALS})\n"
            f"  metrics     http://127.0.0.1:{settings.service.metrics_port}/metrics (service), "
            f"http://127.0.0.1:{settings.dispatcher.metrics_port}/metrics (dispatcher)\n"
            f"  logs        {logs}/\n"
            f"Ctrl-C stops everything.",
            flush=True,
        )
        return _wait(children)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        stack.stop()
        print("stopped", flush=True)


def _wait(children: list[subprocess.Popen[bytes]]) -> int:
    """Block until Ctrl-C / SIGTERM (0) or until a child dies (1)."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):
        for child in children:
            if child.poll() is not None:
                sys.stderr.write(f"{child.args!r} exited with {child.returncode}; see logs\n")
                return 1
    return 0
