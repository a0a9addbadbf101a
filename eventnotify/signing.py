"""Standard Webhooks (v1, symmetric) signatures, sender side.

Every HTTP delivery carries three headers:

- ``webhook-id``: the message id, stable across retries so receivers can
  drop duplicates;
- ``webhook-timestamp``: Unix seconds of this attempt;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of
  ``"{id}.{timestamp}.".encode() + body``, one space-separated entry per active
  secret so receivers keep verifying while a secret is being rotated.

A secret is written ``whsec_`` + base64 of the key bytes. Receivers verify with
``eventnotify.receiver`` (a single stdlib-only file they may copy).

Pure functions: no I/O, no clock; the caller passes the timestamp.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import secrets as _secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
"""Prefix of a symmetric signing secret in its written form."""

SECRET_BYTES = 32
"""Key length of new secrets; the spec allows 24 to 64 bytes."""

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


def new_secret() -> str:
    """A fresh random signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


# Decoding base64 on every request would be pure waste on the hot path: a
# webhook's secrets change only on rotation. The cache is bounded so rotated
# or deleted secrets eventually leave memory.
@functools.lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"signing secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("signing secret is not valid base64") from None
    if not key:
        raise ValueError("signing secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one request under one secret.

    Raises ``ValueError`` if ``secret`` is not a ``whsec_`` base64 secret.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.digest(_key(secret), signed, "sha256")
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one entry per secret, in the given order.

    Pass the active secrets newest first (``Webhook.signing_secrets`` does);
    receivers that know only the old secret still find their entry.
    Raises ``ValueError`` when ``secrets`` is empty, since an empty header
    would make every receiver reject the request.
    """
    if isinstance(secrets, str):
        # A bare string is a Sequence[str] too; signing each character would
        # produce nonsense instead of an error.
        raise TypeError("secrets must be a sequence of secrets, not a single string")
    if not secrets:
        raise ValueError("at least one signing secret is required")
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def webhook_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(secrets, msg_id, timestamp, body),
    }
