"""Verify eventnotify webhook requests (Standard Webhooks v1, HMAC-SHA256).

This file depends on the Python standard library only: copy it into your
receiver as it is. It works with any web framework; give it the raw request
body (the exact bytes received, before any JSON parsing) and the headers.

Usage::

    from receiver import Verifier, WebhookVerificationError

    verifier = Verifier(os.environ["WEBHOOK_SECRET"])  # or a list during rotation

    def handle(headers, raw_body: bytes) -> int:
        try:
            verifier.verify(headers, raw_body)
        except WebhookVerificationError as exc:
            log.warning("rejected webhook: %s", exc)
            return 400
        event = json.loads(raw_body)
        # webhook-id is stable across retries: use it (or event["eventId"])
        # to drop duplicates, since delivery is at least once.
        ...
        return 204

With aiohttp pass ``request.headers`` and ``await request.read()``; with Flask
``request.headers`` and ``request.get_data()``.

During secret rotation the sender signs with every active secret, so a
receiver holding either the old or the new secret verifies the request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "Verifier", "WebhookVerificationError", "verify"]

DEFAULT_TOLERANCE_SECONDS = 300
"""How far ``webhook-timestamp`` may be from the receiver's clock (5 minutes)."""

_SECRET_PREFIX = "whsec_"


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook request; answer it with 4xx."""


class Verifier:
    """Verifies requests against one or more secrets (several during rotation).

    Secrets are ``whsec_``-prefixed base64 strings as shown by eventnotify; a bare
    base64 string is accepted too. Raises ``ValueError`` for a malformed secret,
    which is a configuration mistake rather than a bad request.
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    ) -> None:
        names = [secrets] if isinstance(secrets, str) else list(secrets)
        if not names:
            raise ValueError("at least one secret is required")
        if tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must not be negative")
        self._keys = [_decode_secret(s) for s in names]
        self._tolerance = tolerance_seconds

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        """Return if the request is genuine; raise ``WebhookVerificationError`` otherwise.

        ``headers`` is looked up case-insensitively; ``now`` (Unix seconds)
        defaults to the current time.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id = _required(lowered, "webhook-id")
        timestamp_text = _required(lowered, "webhook-timestamp")
        signatures = _required(lowered, "webhook-signature")

        timestamp = _parse_timestamp(timestamp_text)
        current = time.time() if now is None else now
        # Both directions matter: an old timestamp is a replay, one in the
        # future would let a captured request be replayed later.
        if current - timestamp > self._tolerance:
            raise WebhookVerificationError("webhook-timestamp is too old")
        if timestamp - current > self._tolerance:
            raise WebhookVerificationError("webhook-timestamp is too far in the future")

        candidates = _v1_signatures(signatures)
        if not candidates:
            raise WebhookVerificationError("webhook-signature has no v1 signature")
        signed = f"{msg_id}.{timestamp_text}.".encode() + bytes(body)
        for key in self._keys:
            expected = hmac.digest(key, signed, hashlib.sha256)
            # compare_digest takes as long wherever the bytes differ, so an
            # attacker cannot learn the expected signature byte by byte.
            if any(hmac.compare_digest(expected, c) for c in candidates):
                return
        raise WebhookVerificationError("no matching signature")


def verify(
    secret: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """One-shot form of ``Verifier(secret).verify(headers, body)``.

    Raises ``WebhookVerificationError`` with the reason when verification fails.
    """
    Verifier(secret, tolerance_seconds=tolerance_seconds).verify(headers, body, now=now)


def _decode_secret(secret: str) -> bytes:
    text = secret[len(_SECRET_PREFIX) :] if secret.startswith(_SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("webhook secret is not valid base64") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise WebhookVerificationError(f"missing header {name}")
    return value


def _parse_timestamp(text: str) -> int:
    # Digits only: int() would also take "+5", " 5" or "1_000", forms no
    # sender produces and which would make the signed text ambiguous.
    if not text.isascii() or not text.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not a Unix timestamp")
    return int(text)


def _v1_signatures(header: str) -> list[bytes]:
    found = []
    for entry in header.split():
        version, sep, encoded = entry.partition(",")
        # Other versions (such as "v1a," for ed25519) are skipped, not errors:
        # a sender may add schemes before every receiver understands them.
        if not sep or version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return found
