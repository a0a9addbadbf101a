"""Sender signatures (eventnotify.signing) against the Standard Webhooks test vector,
and the receiver module (eventnotify.receiver) verifying them."""

from __future__ import annotations

import base64

import pytest

from eventnotify import receiver, signing
from eventnotify.receiver import Verifier, WebhookVerificationError

# The symmetric test vector published with the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = b'{"eventName":"customerAdded","eventId":"3f1c"}'
MSG_ID = "evt_123"
NOW = 1_700_000_000


def spec_headers() -> dict[str, str]:
    return {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TS),
        "webhook-signature": SPEC_SIGNATURE,
    }


# --- sender -----------------------------------------------------------------


def test_sign_matches_spec_vector() -> None:
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_new_secret_is_prefixed_32_random_bytes() -> None:
    a, b = signing.new_secret(), signing.new_secret()
    assert a.startswith("whsec_")
    assert len(base64.b64decode(a.removeprefix("whsec_"), validate=True)) == 32
    assert a != b


def test_signature_header_has_one_entry_per_secret_in_order() -> None:
    new, old = signing.new_secret(), SPEC_SECRET
    header = signing.signature_header([new, old], SPEC_ID, SPEC_TS, SPEC_BODY)
    entries = header.split(" ")
    assert entries == [signing.sign(new, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIGNATURE]


def test_webhook_headers() -> None:
    headers = signing.webhook_headers([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert headers == spec_headers()


def test_signature_header_rejects_no_secrets_and_a_bare_string() -> None:
    with pytest.raises(ValueError):
        signing.signature_header([], MSG_ID, NOW, BODY)
    with pytest.raises(TypeError):
        signing.signature_header(SPEC_SECRET, MSG_ID, NOW, BODY)


@pytest.mark.parametrize("bad", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64", "whsec_"])
def test_sign_rejects_malformed_secret(bad: str) -> None:
    with pytest.raises(ValueError):
        signing.sign(bad, MSG_ID, NOW, BODY)


# --- receiver ---------------------------------------------------------------


def signed(secrets: list[str], *, ts: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return signing.webhook_headers(secrets, MSG_ID, ts, body)


def test_receiver_accepts_spec_vector() -> None:
    receiver.verify(SPEC_SECRET, spec_headers(), SPEC_BODY, now=SPEC_TS)


def test_round_trip() -> None:
    secret = signing.new_secret()
    receiver.verify(secret, signed([secret]), BODY, now=NOW)


def test_header_lookup_is_case_insensitive() -> None:
    secret = signing.new_secret()
    headers = {k.title(): v for k, v in signed([secret]).items()}
    assert "Webhook-Signature" in headers
    receiver.verify(secret, headers, BODY, now=NOW)


def test_wrong_secret_is_rejected() -> None:
    headers = signed([signing.new_secret()])
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        receiver.verify(signing.new_secret(), headers, BODY, now=NOW)


def test_tampered_body_is_rejected() -> None:
    secret = signing.new_secret()
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        receiver.verify(secret, signed([secret]), BODY + b" ", now=NOW)


def test_tampered_id_is_rejected() -> None:
    secret = signing.new_secret()
    headers = signed([secret]) | {"webhook-id": "evt_other"}
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        receiver.verify(secret, headers, BODY, now=NOW)


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-301, "too old"), (-3600, "too old"), (301, "future"), (86400, "future")],
)
def test_timestamp_outside_tolerance_is_rejected(offset: int, reason: str) -> None:
    secret = signing.new_secret()
    headers = signed([secret], ts=NOW + offset)
    with pytest.raises(WebhookVerificationError, match=reason):
        receiver.verify(secret, headers, BODY, now=NOW)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamp_within_tolerance_is_accepted(offset: int) -> None:
    secret = signing.new_secret()
    receiver.verify(secret, signed([secret], ts=NOW + offset), BODY, now=NOW)


def test_tolerance_is_configurable() -> None:
    secret = signing.new_secret()
    headers = signed([secret], ts=NOW - 20)
    receiver.verify(secret, headers, BODY, now=NOW, tolerance_seconds=30)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(secret, headers, BODY, now=NOW, tolerance_seconds=10)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    secret = signing.new_secret()
    headers = signed([secret])
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=f"missing header {missing}"):
        receiver.verify(secret, headers, BODY, now=NOW)


# The last entry is Arabic-Indic digits: str.isdigit() says yes, int() would parse them.
@pytest.mark.parametrize("ts", ["abc", "+1700000000", "1700000000.5", " ", "\u0661\u0667"])
def test_malformed_timestamp_is_rejected(ts: str) -> None:
    secret = signing.new_secret()
    headers = signed([secret]) | {"webhook-timestamp": ts}
    with pytest.raises(WebhookVerificationError):
        receiver.verify(secret, headers, BODY, now=NOW)


def test_rotation_header_verifies_with_either_secret_alone() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = signed([new, old])
    receiver.verify(old, headers, BODY, now=NOW)
    receiver.verify(new, headers, BODY, now=NOW)


def test_receiver_holding_several_secrets_accepts_any() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    verifier = Verifier([new, old])
    verifier.verify(signed([old]), BODY, now=NOW)
    verifier.verify(signed([new]), BODY, now=NOW)


def test_unknown_versions_and_garbage_entries_are_ignored() -> None:
    secret = signing.new_secret()
    good = signing.sign(secret, MSG_ID, NOW, BODY)
    header = f"v1a,c29tZXRoaW5n v2,abc v1,!!notbase64!! nocomma {good}"
    headers = signed([secret]) | {"webhook-signature": header}
    receiver.verify(secret, headers, BODY, now=NOW)


def test_only_unknown_versions_is_rejected() -> None:
    secret = signing.new_secret()
    headers = signed([secret]) | {"webhook-signature": "v1a,c29tZXRoaW5n"}
    with pytest.raises(WebhookVerificationError, match="no v1 signature"):
        receiver.verify(secret, headers, BODY, now=NOW)


def test_receiver_accepts_secret_without_prefix() -> None:
    bare = SPEC_SECRET.removeprefix("whsec_")
    receiver.verify(bare, spec_headers(), SPEC_BODY, now=SPEC_TS)


@pytest.mark.parametrize("bad", [[], ["whsec_not*base64"], ["whsec_"]])
def test_verifier_rejects_bad_configuration(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        Verifier(bad)
