"""``make run`` checks every port before starting anything: a busy one is
named in one line with the variable that moves it, and nothing starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import REPO
from devstack.ports import Port, conflicts, planned_ports
from eventnotify.settings import Settings
from tests.support.devrun import clean_env, free_port_env


def _port(what: str, port: int, variable: str) -> Port:
    return Port(what, "127.0.0.1", port, variable, "PORT")


@pytest.mark.parametrize(
    ("busy", "expected"),
    [
        (set(), []),
        (
            {9092},
            [
                "port 9092 (Kafka stand-in) is already in use: move it with "
                "EVENTNOTIFY_DEV_KAFKA_PORT=<port>"
            ],
        ),
        (
            {27017, 9092},
            [
                "port 27017 (MongoDB stand-in) is already in use: move it with "
                "EVENTNOTIFY_DEV_MONGO_PORT=<port>",
                "port 9092 (Kafka stand-in) is already in use: move it with "
                "EVENTNOTIFY_DEV_KAFKA_PORT=<port>",
            ],
        ),
    ],
)
def test_conflicts_name_each_busy_port_and_its_variable(
    busy: set[int], expected: list[str]
) -> None:
    ports = [
        _port("MongoDB stand-in", 27017, "EVENTNOTIFY_DEV_MONGO_PORT"),
        _port("Kafka stand-in", 9092, "EVENTNOTIFY_DEV_KAFKA_PORT"),
    ]
    assert conflicts(ports, lambda _h, p: p not in busy) == expected


def test_a_port_planned_twice_is_a_conflict() -> None:
    ports = [
        _port("Kafka stand-in", 9092, "EVENTNOTIFY_DEV_KAFKA_PORT"),
        _port("kcat port (Kafka shim)", 9092, "EVENTNOTIFY_DEV_KCAT_PORT"),
    ]
    (line,) = conflicts(ports, lambda _h, _p: True)
    assert "planned for both the Kafka stand-in and the kcat port" in line
    assert "EVENTNOTIFY_DEV_KCAT_PORT=<port>" in line


def test_planned_ports_follow_the_environment() -> None:
    env = {
        "EVENTNOTIFY_DEV_MONGO_PORT": "1111",
        "EVENTNOTIFY_GRPC_ADDRESS": "127.0.0.1:2222",
        "EVENTNOTIFY_DISPATCHER_METRICS_PORT": "0",
    }
    ports = {p.variable: p.port for p in planned_ports(env, Settings.from_env(env))}
    assert ports == {
        "EVENTNOTIFY_DEV_MONGO_PORT": 1111,
        "EVENTNOTIFY_DEV_KAFKA_PORT": 9092,
        "EVENTNOTIFY_DEV_KCAT_PORT": 9093,
        "EVENTNOTIFY_GRPC_ADDRESS": 2222,
        "EVENTNOTIFY_SERVICE_METRICS_PORT": 9464,
    }
    # Servers of your own are not started, so their ports are not checked.
    own = {**env, "MONGODB_URI": "mongodb://db:27017", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"}
    names = {p.variable for p in planned_ports(own, Settings.from_env(own))}
    assert names == {"EVENTNOTIFY_GRPC_ADDRESS", "EVENTNOTIFY_SERVICE_METRICS_PORT"}


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "EVENTNOTIFY_DEV_MONGO_PORT",
            "{port}",
            "port {port} (MongoDB stand-in) is already in use: "
            "move it with EVENTNOTIFY_DEV_MONGO_PORT=<port>",
        ),
        (
            "EVENTNOTIFY_DEV_KAFKA_PORT",
            "{port}",
            "port {port} (Kafka stand-in) is already in use: "
            "move it with EVENTNOTIFY_DEV_KAFKA_PORT=<port>",
        ),
        (
            "EVENTNOTIFY_GRPC_ADDRESS",
            "127.0.0.1:{port}",
            "port {port} (gRPC API) is already in use: "
            "move it with EVENTNOTIFY_GRPC_ADDRESS=127.0.0.1:<port>",
        ),
    ],
)
def test_make_run_with_a_busy_port_says_which_and_starts_nothing(
    tmp_path: Path, variable: str, value: str, line: str
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = clean_env(tmp_path, **free_port_env())
        env[variable] = value.format(port=port)
        env["EVENTNOTIFY_DEV_STATE_DIR"] = str(tmp_path / "state")
        run = subprocess.run(
            [sys.executable, "-m", "devstack", "run"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "make run: " + line.format(port=port),
        "make run: nothing was started (every port is listed in docs/ports.md)",
    ]
    assert "Traceback" not in run.stdout + run.stderr
    assert not (tmp_path / "state").exists()  # no log file, no database: nothing started


def test_docs_list_every_port_with_its_default_and_variable() -> None:
    table = (REPO / "docs" / "ports.md").read_text()
    rows = {
        line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")
    }
    for p in planned_ports({}, Settings.from_env({})):
        assert str(p.port) in rows, p
        assert f"`{p.variable}`" in rows[str(p.port)], p
