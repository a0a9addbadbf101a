"""Structured logging: one JSON object per line.

Context that identifies the work in hand (request id, org, event, consumer
group) lives in context variables set by whoever starts that work (the gRPC
interceptor, the dispatcher's handler); every record logged while it runs
carries them, so a request id can be followed through the logs without
passing it down by hand.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
org_id_var: ContextVar[int | None] = ContextVar("org_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)
consumer_group_id_var: ContextVar[str | None] = ContextVar("consumer_group_id", default=None)

_CONTEXT: tuple[tuple[str, ContextVar[Any]], ...] = (
    ("request_id", request_id_var),
    ("org_id", org_id_var),
    ("event_id", event_id_var),
    ("consumer_group_id", consumer_group_id_var),
)

# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line with context variables and extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, var in _CONTEXT:
            value = var.get()
            if value is not None:
                out[name] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        try:
            return json.dumps(out, default=str, separators=(",", ":"), allow_nan=False)
        except ValueError:  # a NaN in an extra: still one line of RFC 8259 JSON
            out = {k: v if isinstance(v, str) else str(v) for k, v in out.items()}
            return json.dumps(out, default=str, separators=(",", ":"))


class DependencyLog:
    """The state of one dependency (Kafka, MongoDB) in the log: one line when
    it goes down, one when it comes back, and while it stays down one summary
    line per ``summary_every`` seconds counting the failures not logged.

    An outage produces a failure per connection attempt per client (aiokafka
    logged 1,505 ERROR lines in a 20 s broker outage); the state is what an
    operator needs. ``failed`` and ``recovered`` are called by code that sees
    the dependency work or fail (and by ``CollapsingFilter``). Failures more
    than ``summary_every`` apart count as separate outages, since nothing may
    report the recovery in between."""

    def __init__(
        self,
        name: str,
        logger: logging.Logger | None = None,
        *,
        summary_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._log = logger or logging.getLogger("eventnotify.dependency")
        self._every = summary_every
        self._clock = clock
        self.down_since: float | None = None
        self._last_failure = 0.0
        self._last_summary = 0.0
        self.suppressed = 0
        self._total = 0

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def failed(self, detail: str) -> None:
        """Record one failure; logs only on a state change or a due summary."""
        now = self._clock()
        if self.down_since is not None and now - self._last_failure > self._every:
            self.recovered()  # silence longer than a summary period: a new outage
        self._last_failure = now
        self._total += 1
        if self.down_since is None:
            self.down_since = self._last_summary = now
            self._log.warning("%s is down: %s", self.name, detail, extra={"dependency": self.name})
            return
        self.suppressed += 1
        if now - self._last_summary >= self._every:
            self._log.warning(
                "%s still down after %.0f s: %d more failures (last: %s)",
                self.name,
                now - self.down_since,
                self.suppressed,
                detail,
                extra={"dependency": self.name, "suppressed": self.suppressed},
            )
            self._last_summary = now
            self.suppressed = 0

    def recovered(self) -> None:
        """Record that the dependency works; logs once when it was down."""
        if self.down_since is None:
            return
        self._log.warning(
            "%s is back after %.0f s (%d failures)",
            self.name,
            self._clock() - self.down_since,
            self._total,
            extra={"dependency": self.name},
        )
        self.down_since = None
        self.suppressed = self._total = 0


class CollapsingFilter(logging.Filter):
    """A handler filter that turns a library's WARNING-and-above records into
    ``DependencyLog.failed`` calls: the first shows as the dependency's state
    change, the rest are counted into its summaries."""

    def __init__(self, prefix: str, dependency: DependencyLog) -> None:
        super().__init__()
        self._prefix = prefix
        self.dependency = dependency

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if record.levelno < logging.WARNING or not (
            name == self._prefix or name.startswith(self._prefix + ".")
        ):
            return True
        self.dependency.failed(record.getMessage()[:300])
        return False


_dependencies: dict[str, DependencyLog] = {}


def dependency(name: str) -> DependencyLog:
    """The process's ``DependencyLog`` of ``name`` ("kafka", "mongodb"): the
    one ``configure_logging`` feeds from the library's own records."""
    if name not in _dependencies:
        _dependencies[name] = DependencyLog(name)
    return _dependencies[name]


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines at ``level``;
    aiokafka's errors are collapsed into Kafka's state (``dependency("kafka")``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CollapsingFilter("aiokafka", dependency("kafka")))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka and pymongo are chatty at INFO about routine reconnects.
    for noisy in ("aiokafka", "pymongo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
