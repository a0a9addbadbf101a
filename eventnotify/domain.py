"""The domain model shared by the service and the dispatcher.

Plain dataclasses: protobuf types never reach this layer (conversion lives in
``service.convert``) and MongoDB document shapes live in ``eventnotify.store``.
All times are aware UTC datetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class WebhookType(enum.StrEnum):
    """Delivery channel of a webhook."""

    HTTP = "HTTP"
    QUEUE = "QUEUE"


class CircuitState(enum.StrEnum):
    """Circuit breaker state of a webhook's endpoint."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class DeliveryStatus(enum.StrEnum):
    """Outcome of one (event, webhook) delivery."""

    PENDING = "PENDING"
    RETRYING = "RETRYING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    DEAD_LETTERED = "DEAD_LETTERED"

    @property
    def final(self) -> bool:
        """Whether no further attempt will be made without a replay."""
        return self in (
            DeliveryStatus.DELIVERED,
            DeliveryStatus.FAILED,
            DeliveryStatus.DEAD_LETTERED,
        )


class Role(enum.IntEnum):
    """What an API key may do; a higher role includes the lower ones."""

    READ = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class Actor:
    """Who performed a change (the original's {id, code, description, name, type})."""

    id: int = 0
    code: str = ""
    description: str = ""
    name: str = ""
    type: str = "API_KEY"


@dataclass(frozen=True)
class SigningSecret:
    """One signing secret; ``expires_at`` is set once a newer secret replaced it."""

    secret: str
    created_at: datetime
    expires_at: datetime | None = None


@dataclass
class Webhook:
    """A webhook: where an org's events go, and how."""

    web_hook_id: str
    org_id: int
    name: str
    event_names: list[str]
    url: str
    type: WebhookType
    method: str
    headers: dict[str, str]
    max_allowed_connections: int
    sla_in_seconds: int
    no_of_retry_attempts: int
    active: bool
    consumer_group_id: str
    ordered_delivery: bool
    created_on: datetime
    last_updated_on: datetime
    created_by: Actor
    last_updated_by: Actor
    secrets: list[SigningSecret] = field(default_factory=list)
    circuit_state: CircuitState = CircuitState.CLOSED
    deactivation_reason: str = ""

    def signing_secrets(self, now: datetime) -> list[str]:
        """Secrets that sign a request made at ``now``: the newest first."""
        return [s.secret for s in self.secrets if s.expires_at is None or s.expires_at > now]


@dataclass
class EventType:
    """An event type as one org sees it."""

    name: str
    active: bool
    standard: bool
    description: str = ""
    category: str = ""
    schema: dict[str, Any] | None = None


@dataclass
class DeliveryAttempt:
    """One HTTP (or queue) attempt of a delivery."""

    time: datetime
    http_status: int
    duration_ms: int
    error: str = ""
    response_body: str = ""
    response_truncated: bool = False


@dataclass
class LogEntry:
    """The log record of one (event, webhook) delivery, keyed by ``event_id``."""

    event_id: str
    source_event_id: str
    org_id: int
    web_hook_id: str
    consumer_group_id: str
    event_name: str
    ref_id: str
    request_id: str
    status: DeliveryStatus
    ingested_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    sla_breach_at: datetime | None = None
    # ingestion + the webhook's slaInSeconds; lets the sweeper find pending breaches.
    sla_deadline: datetime | None = None
    last_http_status: int | None = None
    last_duration_ms: int | None = None
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    failure_reason: str = ""
    next_attempt_at: datetime | None = None
    schema_violation: str = ""
    kafka_position: str = ""
    test: bool = False
    # The event as produced, kept on FAILED entries so they can be replayed.
    source_event: dict[str, Any] | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ApiKey:
    """An API key; only a hash of its secret is stored."""

    key_id: str
    org_id: int
    role: Role
    secret_hash: str
    description: str
    created_on: datetime
    revoked: bool = False


@dataclass(frozen=True)
class Caller:
    """The principal of one gRPC call, resolved from its API key."""

    org_id: int
    role: Role
    key_id: str
    is_root: bool = False

    @property
    def actor(self) -> Actor:
        """The caller as an attribution actor."""
        return Actor(id=0, code=self.key_id, name=self.key_id, type="API_KEY")
