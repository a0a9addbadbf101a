"""Per-webhook runtime state shared by its Kafka consumer and the retry
scheduler in one process: the current configuration, the connection cap, the
circuit breaker and the ordering lines."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dispatcher.circuit import Circuit
from dispatcher.ordering import KeyedSequencer
from dispatcher.retry_policy import RetryPolicy
from dispatcher.slots import Slots
from eventnotify.domain import Webhook

if TYPE_CHECKING:
    from dispatcher.metrics import WebhookMetrics
    from dispatcher.pipeline import Job


@dataclass
class WebhookRuntime:
    """Everything one process knows and holds about one webhook."""

    hook: Webhook
    circuit: Circuit
    # At most maxAllowedConnections requests in flight from this process.
    slots: Slots = field(init=False)
    sequencer: KeyedSequencer = field(default_factory=KeyedSequencer)
    # refIds with a parked delivery: in ordered mode later events of those
    # refIds queue behind it instead of overtaking.
    parked_keys: set[str] = field(default_factory=set)
    in_flight: int = 0
    # The circuit changed since its state was last stored.
    circuit_dirty: bool = False
    # Told when the circuit changes state: the supervisor watches only those
    # webhooks, so its idle work does not grow with the number of webhooks.
    on_circuit_change: Callable[[WebhookRuntime], None] | None = None
    # The webhook's metric children (None: not measured, e.g. in unit tests).
    metrics: WebhookMetrics | None = None
    # Records older than this (Kafka timestamp, ms) are not for this webhook:
    # it gets the events published after it was created or reactivated.
    since_ms: int = 0
    # Seen created or reactivated while this process ran: on a partition it
    # starts from ``since_ms``, not from the shared group's position.
    dynamic: bool = False
    # Records handed to this webhook whose outcome is not recorded yet.
    backlog: int = 0
    # Unordered deliveries handed over by the fan-out, not started yet, with
    # the callback to run once each outcome is durable; ``workers`` tasks (at
    # most the cap) take them in order.
    queued: deque[tuple[Job, Callable[[], None]]] = field(default_factory=deque)
    workers: int = 0
    # Non-empty once deleted or deactivated: nothing more is sent, and
    # deliveries still queued finish FAILED with this reason.
    retired: str = ""

    def __post_init__(self) -> None:
        self.slots = Slots(self.hook.max_allowed_connections)

    def circuit_changed(self, changed: bool) -> None:
        """Note the result of a circuit transition (True: the state changed)."""
        if changed:
            self.circuit_dirty = True
            if self.on_circuit_change is not None:
                self.on_circuit_change(self)

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.hook.no_of_retry_attempts)

    @property
    def cap(self) -> int:
        return self.hook.max_allowed_connections
