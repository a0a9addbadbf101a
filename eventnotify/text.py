"""Quoting user input in messages without echoing all of it."""

from __future__ import annotations

BRIEF = 40


def brief(value: object, limit: int = BRIEF) -> str:
    """``repr`` of at most ``limit`` characters of ``value`` (strings), with
    the full length when cut: an error about a 1 MB name must not carry the
    name (gRPC metadata has a hard size limit, and logs should not either)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
