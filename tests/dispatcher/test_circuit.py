"""The circuit breaker's state machine."""

from __future__ import annotations

from dispatcher.circuit import Circuit
from eventnotify.domain import CircuitState


def test_opens_after_threshold_probes_after_cooldown_and_closes_on_success() -> None:
    c = Circuit(threshold=3, base_cooldown=5.0, max_cooldown=20.0)
    assert not c.on_failure(0.0) and not c.on_failure(1.0)
    assert c.on_failure(2.0)
    assert c.state is CircuitState.OPEN and not c.allows_traffic
    assert not c.poll(6.9)  # cool-down not over
    assert c.poll(7.0)
    assert c.state is CircuitState.HALF_OPEN  # type: ignore[comparison-overlap]
    assert c.allows_traffic
    assert c.on_success() and c.state is CircuitState.CLOSED and c.failures == 0


def test_failed_probe_reopens_with_doubled_cooldown_up_to_the_max() -> None:
    c = Circuit(threshold=1, base_cooldown=5.0, max_cooldown=12.0)
    c.on_failure(0.0)
    cooldowns = []
    now = 0.0
    for _ in range(3):
        now += c.cooldown
        assert c.poll(now)
        assert c.on_failure(now)
        cooldowns.append(c.cooldown)
    assert cooldowns == [10.0, 12.0, 12.0]


def test_a_success_resets_the_failure_count() -> None:
    c = Circuit(threshold=3)
    c.on_failure(0.0)
    c.on_failure(0.0)
    assert not c.on_success()  # already closed: no state change
    c.on_failure(0.0)
    c.on_failure(0.0)
    assert c.state is CircuitState.CLOSED
