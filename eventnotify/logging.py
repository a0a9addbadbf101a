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
        return json.dumps(out, default=str, separators=(",", ":"))


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka and pymongo are chatty at INFO about routine reconnects.
    for noisy in ("aiokafka", "pymongo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class RepeatFilter(logging.Filter):
    """Collapses the client libraries' error floods while a server is down.

    aiokafka logs the same connection error many times a second per client
    while Kafka is unreachable. A warning or error from ``aiokafka`` passes
    the first time its message template is seen (a state change); repeats
    within ``window`` seconds are counted instead, and one repeat per
    ``window`` passes carrying the count (the periodic summary). Other
    loggers are untouched.
    """

    def __init__(self, window: float = 60.0, prefixes: tuple[str, ...] = ("aiokafka",)) -> None:
        super().__init__()
        self._window = window
        self._prefixes = prefixes
        self._last: dict[tuple[str, str], float] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self._prefixes):
            return True
        key = (record.name, str(record.msg))
        now = record.created
        last = self._last.get(key)
        if last is not None and now - last < self._window:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        repeats = self._suppressed.pop(key, 0)
        if repeats:
            record.msg = (
                f"{record.msg} [repeated {repeats} more times in the last {self._window:.0f} s]"
            )
        return True
