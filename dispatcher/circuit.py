"""Circuit breaker of one webhook endpoint (pure state machine).

CLOSED: deliveries flow. After ``threshold`` consecutive failed attempts the
circuit OPENs: the webhook detaches from the shared stream (its events wait
in Kafka) and deliveries already handed to it are parked, for a cool-down
that doubles on every failed probe, up to ``max_cooldown``. Then it is
HALF_OPEN: one delivery probes the endpoint; success closes the circuit,
failure reopens it. Any success resets the failure count.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventnotify.domain import CircuitState


@dataclass
class Circuit:
    threshold: int = 10
    base_cooldown: float = 5.0
    max_cooldown: float = 300.0
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    cooldown: float = 0.0

    def on_success(self) -> bool:
        """Record a success; True when the state changed."""
        changed = self.state is not CircuitState.CLOSED
        self.state = CircuitState.CLOSED
        self.failures = 0
        self.cooldown = 0.0
        return changed

    def on_failure(self, now: float) -> bool:
        """Record a failed attempt; True when the state changed."""
        self.failures += 1
        if self.state is CircuitState.HALF_OPEN:
            self._open(now, min(self.max_cooldown, max(self.base_cooldown, self.cooldown * 2)))
            return True
        if self.state is CircuitState.CLOSED and self.failures >= self.threshold:
            self._open(now, self.base_cooldown)
            return True
        return False

    def would_allow_after_failure(self) -> bool:
        """Whether traffic still flows once one more failure is counted."""
        if self.state is CircuitState.HALF_OPEN:
            return False
        if self.state is CircuitState.CLOSED:
            return self.failures + 1 < self.threshold
        return False

    def poll(self, now: float) -> bool:
        """Move OPEN -> HALF_OPEN once the cool-down has passed; True if it did."""
        if self.state is CircuitState.OPEN and now >= self.opened_at + self.cooldown:
            self.state = CircuitState.HALF_OPEN
            return True
        return False

    @property
    def allows_traffic(self) -> bool:
        return self.state is not CircuitState.OPEN

    def _open(self, now: float, cooldown: float) -> None:
        self.state = CircuitState.OPEN
        self.opened_at = now
        self.cooldown = cooldown
