"""dispatcher.circuit: what a success leaves behind (found by mutation testing)."""

from __future__ import annotations

from dispatcher.circuit import Circuit
from eventnotify.domain import CircuitState


def test_a_success_clears_the_cooldown_too() -> None:
    c = Circuit(threshold=1, base_cooldown=5.0)
    c.on_failure(now=0.0)
    assert (c.state, c.cooldown) == (CircuitState.OPEN, 5.0)
    assert c.poll(now=5.0)
    assert c.on_success()
    assert (c.state, c.failures, c.cooldown) == (CircuitState.CLOSED, 0, 0.0)
    assert not c.on_success()  # already closed: no change to report


def test_whether_traffic_flows_after_one_more_failure() -> None:
    c = Circuit(threshold=3, base_cooldown=1.0)
    assert c.would_allow_after_failure()  # 0 + 1 < 3
    c.on_failure(now=0.0)
    assert c.would_allow_after_failure()  # 1 + 1 < 3
    c.on_failure(now=0.0)
    assert not c.would_allow_after_failure()  # 2 + 1 opens it
    c.on_failure(now=0.0)
    assert c.state is CircuitState.OPEN and not c.would_allow_after_failure()
    assert c.poll(now=1.0)  # now half-open
    assert not c.would_allow_after_failure()  # a failed probe reopens it
