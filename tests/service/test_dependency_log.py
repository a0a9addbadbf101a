"""A dependency outage is a few log lines, not one per failed connection."""

from __future__ import annotations

import io
import logging

from eventnotify.logging import CollapsingFilter, DependencyLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _capture() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"test.dependency.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_one_line_per_state_change_and_a_summary_per_period() -> None:
    logger, out = _capture()
    clock = Clock()
    dep = DependencyLog("kafka", logger, summary_every=10.0, clock=clock)
    for _ in range(1500):  # 20 s of failures, 75 a second
        dep.failed("connection refused")
        clock.now += 20 / 1500
    dep.recovered()
    lines = out.getvalue().splitlines()
    assert lines[0] == "kafka is down: connection refused"
    # One summary, 10 s in, counting what was not logged.
    assert lines[1].startswith("kafka still down after 10 s: 7")
    assert lines[2] == "kafka is back after 20 s (1500 failures)"
    assert len(lines) == 3
    dep.recovered()  # already up: nothing more
    assert len(out.getvalue().splitlines()) == 3


def test_failures_after_a_long_silence_are_a_new_outage() -> None:
    logger, out = _capture()
    clock = Clock()
    dep = DependencyLog("mongodb", logger, summary_every=5.0, clock=clock)
    dep.failed("a")
    clock.now += 60
    dep.failed("b")
    assert [line.split(":")[0] for line in out.getvalue().splitlines()] == [
        "mongodb is down",
        "mongodb is back after 60 s (1 failures)",
        "mongodb is down",
    ]


def test_filter_collapses_library_errors_and_passes_everything_else() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    dep_logger, dep_out = _capture()
    dep = DependencyLog("kafka", dep_logger, summary_every=3600.0)
    handler.addFilter(CollapsingFilter("aiokafka", dep))
    library = logging.getLogger("aiokafka.conn")
    ours = logging.getLogger("eventnotify.test_collapse")
    for lg in (library, ours):
        lg.handlers[:] = [handler]
        lg.propagate = False
        lg.setLevel(logging.INFO)
    for i in range(1505):
        library.error("Unable connect to node with id %d", i)
    library.info("routine")  # below WARNING: passes
    ours.error("our own error")
    assert out.getvalue().splitlines() == [
        "aiokafka.conn routine",
        "eventnotify.test_collapse our own error",
    ]
    assert dep_out.getvalue().splitlines() == ["kafka is down: Unable connect to node with id 0"]
    assert dep.suppressed == 1504
