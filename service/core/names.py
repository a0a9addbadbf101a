"""Messages for event names the org does not have, with the nearest known one.

A wrong case (``TransactionAdded``) or a typo is the usual cause, so the
message names the event the caller most likely meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from eventnotify.text import brief

# Longer than any event name: not worth a similarity search (which is
# quadratic in the length), and no event is meant by it.
_GUESS_LIMIT = 128


def closest(name: str, known: Iterable[str]) -> str:
    """The known name ``name`` most likely meant, or "" when none is close.

    A case-insensitive match wins outright; otherwise difflib's ratio decides
    (0.75: one or two wrong letters in a typical event name, not an unrelated
    event that happens to share a suffix like ``...Added``).
    """
    if len(name) > _GUESS_LIMIT:
        return ""
    names = sorted(set(known))
    lowered = name.lower()
    for candidate in names:
        if candidate.lower() == lowered:
            return candidate
    matches = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return matches[0] if matches else ""


def unknown_event(name: str, known: Iterable[str]) -> str:
    """``unknown event 'X'`` plus ``(did you mean 'y'?)`` when one is close."""
    guess = closest(name, known)
    hint = f" (did you mean {guess!r}?)" if guess else ""
    return f"unknown event {brief(name)}{hint}"
