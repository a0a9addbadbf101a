"""Every port ``make run`` listens on, and a check that they are free before
anything starts (a busy port otherwise shows up as a dead child process whose
cause is only in its log file)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eventnotify.settings import Settings


@dataclass(frozen=True)
class Port:
    """One port ``make run`` needs, and the variable that moves it."""

    what: str
    host: str
    port: int
    variable: str
    example: str  # the variable's value that moves it, PORT standing for the port


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def planned_ports(env: Mapping[str, str], settings: Settings) -> list[Port]:
    """The ports ``make run`` will listen on with this environment: the
    MongoDB and Kafka stand-ins (unless MONGODB_URI / KAFKA_BOOTSTRAP_SERVERS
    name servers of your own), the kcat shim, the gRPC API and both metrics
    endpoints (unless set to 0)."""
    ports: list[Port] = []
    if not env.get("MONGODB_URI"):
        ports.append(
            Port(
                "MongoDB stand-in",
                "127.0.0.1",
                int(env.get("EVENTNOTIFY_DEV_MONGO_PORT", "27017")),
                "EVENTNOTIFY_DEV_MONGO_PORT",
                "PORT",
            )
        )
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        ports.append(
            Port(
                "Kafka stand-in",
                "127.0.0.1",
                int(env.get("EVENTNOTIFY_DEV_KAFKA_PORT", "9092")),
                "EVENTNOTIFY_DEV_KAFKA_PORT",
                "PORT",
            )
        )
        ports.append(
            Port(
                "kcat port (Kafka shim)",
                "127.0.0.1",
                int(env.get("EVENTNOTIFY_DEV_KCAT_PORT", "9093")),
                "EVENTNOTIFY_DEV_KCAT_PORT",
                "PORT",
            )
        )
    host, port = _host_port(settings.service.grpc_address)
    ports.append(Port("gRPC API", host, port, "EVENTNOTIFY_GRPC_ADDRESS", f"{host}:PORT"))
    if settings.service.http_address:
        host, port = _host_port(settings.service.http_address)
        ports.append(
            Port("HTTP/JSON gateway", host, port, "EVENTNOTIFY_HTTP_ADDRESS", f"{host}:PORT")
        )
    if settings.service.metrics_port:
        ports.append(
            Port(
                "service metrics",
                "0.0.0.0",
                settings.service.metrics_port,
                "EVENTNOTIFY_SERVICE_METRICS_PORT",
                "PORT (0 turns it off)",
            )
        )
    if settings.dispatcher.metrics_port:
        ports.append(
            Port(
                "dispatcher metrics",
                "0.0.0.0",
                settings.dispatcher.metrics_port,
                "EVENTNOTIFY_DISPATCHER_METRICS_PORT",
                "PORT (0 turns it off)",
            )
        )
    return ports


def can_bind(host: str, port: int) -> bool:
    """Whether a listener could bind host:port right now. SO_REUSEADDR, as
    servers set it, so a port that only has connections in TIME_WAIT counts
    as free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def conflicts(ports: list[Port], is_free: Callable[[str, int], bool] = can_bind) -> list[str]:
    """One line per port that is taken (or planned twice), naming the variable
    that moves it; empty when every port is free."""
    lines: list[str] = []
    seen: dict[int, Port] = {}
    for p in ports:
        move = f"move it with {p.variable}={p.example.replace('PORT', '<port>')}"
        if p.port in seen:
            lines.append(
                f"port {p.port} is planned for both the {seen[p.port].what} and the {p.what}: "
                f"{move}"
            )
        elif p.port and not is_free(p.host, p.port):
            lines.append(f"port {p.port} ({p.what}) is already in use: {move}")
        seen.setdefault(p.port, p)
    return lines
