"""Parsing of option values shared by several commands: times, windows,
``KEY=VALUE`` headers and JSON given inline, from a file or from stdin."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from eventnotify.timefmt import format_ts, parse_ts, utcnow
from service.cli.config import UsageError

_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``1h``, ``7d``, ``2w`` -> seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise UsageError(f"{text!r} is not a duration (e.g. 3600, 90s, 15m, 1h, 7d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def time_arg(text: str) -> str:
    """A time option: a duration means that long ago (``2h`` -> two hours
    before now, in the API's ``...+0000`` format); anything else is passed on
    as written for the server to parse ("...+0000" or RFC 3339)."""
    if _DURATION.match(text.strip().lower()) and not text.strip().isdigit():
        return format_ts(utcnow() - timedelta(seconds=duration_seconds(text)))
    return text


def parse_time(text: str) -> datetime | None:
    """The instant a (converted) time option names, or None if we cannot tell."""
    try:
        return parse_ts(text)
    except ValueError:
        return None


def header_pair(text: str) -> tuple[str, str]:
    """``Name=value`` (or ``Name: value``) -> (name, value)."""
    for sep in ("=", ":"):
        name, found, value = text.partition(sep)
        if found and name.strip():
            return name.strip(), value.strip()
    raise UsageError(f"--header {text!r}: expected NAME=VALUE")


def read_text(source: str) -> str:
    """The contents of a file, or of stdin for ``-``."""
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None


def json_object(text: str, what: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object, naming ``what`` in the error."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object")
    return value


def json_arg(value: str, what: str) -> dict[str, Any]:
    """A JSON object given inline, as ``@path``, or as ``@-`` (stdin)."""
    if value.startswith("@"):
        return json_object(read_text(value[1:]), f"{what} ({value[1:]})")
    return json_object(value, what)
