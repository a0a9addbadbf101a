"""RepeatFilter: one line per new aiokafka error, repeats counted, a summary per window."""

from __future__ import annotations

import logging

from eventnotify.logging import RepeatFilter


def _record(name: str, msg: str, at: float, level: int = logging.ERROR) -> logging.LogRecord:
    rec = logging.LogRecord(name, level, __file__, 1, msg, None, None)
    rec.created = at
    return rec


def test_floods_collapse_to_first_line_and_periodic_summary() -> None:
    f = RepeatFilter(window=60)
    kafka = "aiokafka.conn"
    assert f.filter(_record(kafka, "Unable connect to %s", 0.0))
    assert not any(f.filter(_record(kafka, "Unable connect to %s", t)) for t in (1.0, 2.0, 59.0))
    summary = _record(kafka, "Unable connect to %s", 61.0)
    assert f.filter(summary)
    assert "repeated 3 more times" in str(summary.msg)
    # A different error is a new state: it passes at once.
    assert f.filter(_record(kafka, "Coordinator dead", 62.0))


def test_other_loggers_and_info_pass_untouched() -> None:
    f = RepeatFilter(window=60)
    assert all(f.filter(_record("dispatcher.intake", "fetch failed", t)) for t in (0.0, 1.0))
    assert all(f.filter(_record("aiokafka", "joined", t, logging.INFO)) for t in (0.0, 1.0))
