"""eventnotify.signing: the errors a caller sees (found by mutation testing)."""

from __future__ import annotations

import pytest

from eventnotify.signing import new_secret, signature_header


def test_signature_header_errors_say_what_is_wrong() -> None:
    with pytest.raises(TypeError, match=r"^secrets must be a sequence of secrets, not a single"):
        signature_header(new_secret(), "m", 1, b"")
    with pytest.raises(ValueError, match=r"^at least one signing secret is required$"):
        signature_header([], "m", 1, b"")
