"""Settings of both processes, built once from the environment at the edge.

Every field names its environment variable and says what it does; the README's
configuration table is printed from these definitions
(``python -m eventnotify.settings``), so docs and code cannot drift apart.
``Settings.from_env`` validates everything at start-up and raises
``SettingsError`` naming the offending variable.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def setting(env: str, default: Any, doc: str) -> Any:
    """Declare one setting: its environment variable, default and meaning."""
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class MongoSettings:
    """Where and how to reach MongoDB."""

    uri: str = setting(
        "MONGODB_URI",
        "mongodb://127.0.0.1:27017/?replicaSet=secantus&retryWrites=false",
        "MongoDB connection string (MongoDB >= 6.0; a replica set in production).",
    )
    database: str = setting("MONGODB_DATABASE", "eventnotify", "Database name.")
    timeout_ms: int = setting(
        "MONGODB_TIMEOUT_MS", 5000, "Server selection / operation timeout in milliseconds."
    )
    log_ttl_days: int = setting(
        "EVENTNOTIFY_LOG_TTL_DAYS", 30, "Days a delivery log entry is kept (TTL index)."
    )
    journal: bool = setting(
        "EVENTNOTIFY_MONGO_JOURNAL",
        True,
        "Write concern j: every write is acknowledged only once journaled, so a "
        "committed Kafka offset never outlives its log entry in a crash.",
    )
    write_concern_w: str = setting(
        "EVENTNOTIFY_MONGO_W",
        "majority",
        'Write concern w: "majority" (a replica set, as production needs) or a number.',
    )


@dataclass(frozen=True)
class KafkaSettings:
    """Where and how to reach Kafka."""

    bootstrap_servers: str = setting(
        "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "Comma-separated Kafka bootstrap servers."
    )
    topic_prefix: str = setting(
        "EVENTNOTIFY_TOPIC_PREFIX",
        "eventnotify.events.",
        "Topic of an event = prefix + eventName.",
    )
    topic_partitions: int = setting(
        "EVENTNOTIFY_TOPIC_PARTITIONS", 4, "Partitions of event topics eventnotify creates."
    )
    session_timeout_ms: int = setting(
        "KAFKA_SESSION_TIMEOUT_MS", 10000, "Consumer group session timeout (Kafka's default)."
    )
    heartbeat_interval_ms: int = setting(
        "KAFKA_HEARTBEAT_INTERVAL_MS", 3000, "Consumer heartbeat interval (Kafka's default)."
    )


@dataclass(frozen=True)
class ServiceSettings:
    """The gRPC service."""

    grpc_address: str = setting(
        "EVENTNOTIFY_GRPC_ADDRESS", "127.0.0.1:50051", "host:port the gRPC server listens on."
    )
    http_address: str = setting(
        "EVENTNOTIFY_HTTP_ADDRESS",
        "",
        "host:port of the HTTP/JSON gateway (v1 REST, the original's v3 paths, "
        "/openapi.json) the service also serves (empty = off).",
    )
    metrics_port: int = setting(
        "EVENTNOTIFY_SERVICE_METRICS_PORT", 9464, "Prometheus port of the service (0 = off)."
    )
    root_api_key: str = setting(
        "EVENTNOTIFY_ROOT_API_KEY",
        "",
        "Deployment root key: may mint API keys for any org (empty = none).",
    )
    rate_limit_per_second: float = setting(
        "EVENTNOTIFY_RATE_LIMIT_RPS", 200.0, "Sustained calls per second allowed per org."
    )
    rate_limit_burst: int = setting(
        "EVENTNOTIFY_RATE_LIMIT_BURST", 400, "Calls an org may make in a burst."
    )
    shutdown_grace_seconds: float = setting(
        "EVENTNOTIFY_SHUTDOWN_GRACE_SECONDS", 10.0, "Time in-flight calls get on shutdown."
    )


@dataclass(frozen=True)
class DispatcherSettings:
    """The Kafka-consuming dispatcher."""

    metrics_port: int = setting(
        "EVENTNOTIFY_DISPATCHER_METRICS_PORT", 9465, "Prometheus port of the dispatcher (0 = off)."
    )
    http_connect_timeout_seconds: float = setting(
        "EVENTNOTIFY_HTTP_CONNECT_TIMEOUT_SECONDS", 5.0, "TCP connect timeout of a delivery."
    )
    http_total_timeout_seconds: float = setting(
        "EVENTNOTIFY_HTTP_TOTAL_TIMEOUT_SECONDS", 30.0, "Total time a delivery attempt may take."
    )
    allowed_private_hosts: str = setting(
        "EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS",
        "",
        "Comma-separated hosts/IPs/CIDRs that may be delivered to although private or loopback.",
    )
    response_body_cap_bytes: int = setting(
        "EVENTNOTIFY_RESPONSE_BODY_CAP_BYTES", 4096, "Bytes of a receiver's response kept."
    )
    in_place_attempts: int = setting(
        "EVENTNOTIFY_IN_PLACE_ATTEMPTS",
        3,
        "Attempts made in place before a failing delivery is parked in MongoDB.",
    )
    in_place_max_delay_seconds: float = setting(
        "EVENTNOTIFY_IN_PLACE_MAX_DELAY_SECONDS",
        2.0,
        "Longest backoff waited in place; longer ones park the delivery.",
    )
    schema_mode: str = setting(
        "EVENTNOTIFY_SCHEMA_MODE",
        "reject",
        "Schema-invalid events: 'reject' (dead-letter) or 'flag' (deliver, mark the log).",
    )
    refresh_seconds: float = setting(
        "EVENTNOTIFY_REFRESH_SECONDS",
        2.0,
        "How often webhook and catalogue changes are picked up.",
    )
    circuit_failure_threshold: int = setting(
        "EVENTNOTIFY_CIRCUIT_FAILURE_THRESHOLD",
        10,
        "Consecutive failed attempts that open a webhook's circuit (it detaches until a probe).",
    )
    circuit_base_cooldown_seconds: float = setting(
        "EVENTNOTIFY_CIRCUIT_COOLDOWN_SECONDS",
        5.0,
        "First pause of an open circuit before a probe; doubles per failed probe (max 5 min).",
    )
    max_backlog_per_webhook: int = setting(
        "EVENTNOTIFY_MAX_BACKLOG_PER_WEBHOOK",
        1000,
        "Handed-out-but-unrecorded events per webhook before it detaches from the shared stream.",
    )
    log_batch_size: int = setting(
        "EVENTNOTIFY_LOG_BATCH_SIZE", 500, "Most log entries written in one round trip."
    )
    log_batch_delay_ms: int = setting(
        "EVENTNOTIFY_LOG_BATCH_DELAY_MS",
        100,
        "Longest time a log write waits to fill a batch (deliveries are not delayed).",
    )
    shutdown_drain_seconds: float = setting(
        "EVENTNOTIFY_SHUTDOWN_DRAIN_SECONDS",
        15.0,
        "Time in-flight deliveries get to finish on shutdown before they are left to Kafka.",
    )
    scheduler_concurrency: int = setting(
        "EVENTNOTIFY_SCHEDULER_CONCURRENCY", 64, "Parked deliveries re-sent at once."
    )
    group_id: str = setting(
        "EVENTNOTIFY_DISPATCHER_GROUP_ID",
        "",
        "Kafka consumer group shared by every dispatcher process of a deployment "
        "(empty = the topic prefix followed by 'eventnotify-dispatcher').",
    )
    fetch_max_wait_ms: int = setting(
        "EVENTNOTIFY_FETCH_MAX_WAIT_MS",
        20,
        "Longest time the broker may hold the shared consumer's fetch (lower = less latency).",
    )
    idle_poll_ms: int = setting(
        "EVENTNOTIFY_IDLE_POLL_MS",
        250,
        "After 1 s without records the shared consumer fetches only this often: each fetch "
        "covers every subscribed partition, so this sets the idle CPU; it is also the most "
        "it adds to the first event after a quiet spell.",
    )
    catchup_readers: int = setting(
        "EVENTNOTIFY_CATCHUP_READERS",
        8,
        "Detached webhooks caught up at once in one process (each uses one Kafka reader).",
    )


@dataclass(frozen=True)
class Settings:
    """Everything configurable, for both processes."""

    mongo: MongoSettings = field(default_factory=MongoSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    dispatcher: DispatcherSettings = field(default_factory=DispatcherSettings)
    log_level: str = setting("EVENTNOTIFY_LOG_LEVEL", "INFO", "Log level of both processes.")
    metrics_host: str = setting(
        "EVENTNOTIFY_METRICS_HOST",
        "127.0.0.1",
        "Address both processes' Prometheus endpoints bind (0.0.0.0 to scrape from elsewhere).",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build and validate settings from an environment mapping."""
        built: Settings = _build(cls, env)
        if built.dispatcher.schema_mode not in ("reject", "flag"):
            raise SettingsError(
                "EVENTNOTIFY_SCHEMA_MODE must be 'reject' or 'flag' "
                f"(got {built.dispatcher.schema_mode!r})"
            )
        http = built.service.http_address
        host, _, port = http.rpartition(":")
        if http and not (host and port.isdigit() and int(port) < 65536):
            raise SettingsError(
                f"EVENTNOTIFY_HTTP_ADDRESS must be host:port, e.g. 0.0.0.0:8080 (got {http!r})"
            )
        return built

    def replace(self, **changes: Any) -> Settings:
        """A copy with some top-level sections or fields replaced."""
        return dataclasses.replace(self, **changes)


def _convert(env_name: str, raw: str, kind: Any) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise SettingsError(f"{env_name}={raw!r} is not a valid {kind.__name__}") from None
    return raw


def _build(cls: Any, env: Mapping[str, str]) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            values[f.name] = _build(kind, env)
            continue
        env_name = f.metadata["env"]
        if env_name in env and env[env_name] != "":
            value = _convert(env_name, env[env_name], kind)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise SettingsError(f"{env_name} must not be negative (got {value})")
            values[f.name] = value
    return cls(**values)


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) of every setting, in order."""
    rows: list[tuple[str, str, str]] = []

    def walk(cls: Any) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name])
            else:
                rows.append((f.metadata["env"], repr(f.default), f.metadata["doc"]))

    walk(Settings)
    return rows


if __name__ == "__main__":
    sys.stdout.write("| Variable | Default | Meaning |\n|---|---|---|\n")
    for env_name, default, doc in describe():
        sys.stdout.write(f"| `{env_name}` | `{default}` | {doc} |\n")
