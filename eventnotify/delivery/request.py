"""What a webhook receives: the original system's envelope, signed.

Pure functions: no I/O. The delivered ``eventId`` is derived from the source
event and the webhook, so every redelivery of the pair carries the same id and
receivers can deduplicate on it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from eventnotify.domain import Webhook
from eventnotify.envelope import SourceEvent
from eventnotify.signing import webhook_headers

# Fixed forever: changing it would change every delivered eventId.
EVENT_ID_NAMESPACE = uuid.UUID("5f0b6a59-8a1f-4d8e-9a53-0c1b7e6c2d41")
USER_AGENT = "eventnotify/0.1"
# One encoder for every body: json.dumps builds a new one per call when given options.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def delivered_event_id(source_event_id: str, web_hook_id: str) -> str:
    """The eventId a webhook sees for a source event (UUIDv5, stable).

    Same value as ``uuid.uuid5(EVENT_ID_NAMESPACE, ...)`` (a test pins it),
    computed without building UUID objects: this runs for every delivery."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + f"{source_event_id}/{web_hook_id}".encode()).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def dead_letter_event_id(position: str, web_hook_id: str) -> str:
    """Log id of a record that could not be decoded (it has no eventId)."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"dead-letter:{position}/{web_hook_id}"))


@dataclass(frozen=True, slots=True)
class BodyTemplate:
    """An event's JSON body with a gap where the per-webhook ``eventId`` goes.

    Encoding ``data`` is the costly part of a body and is the same for every
    webhook of a record; only the eventId differs, so the dispatcher encodes
    each record once and fills the gap per webhook."""

    head: bytes  # ... up to and including '"eventId":'
    tail: bytes  # ',"orgId":...' to the end

    def render(self, event_id: str) -> bytes:
        return self.head + _encode_json(event_id).encode() + self.tail


_GAP = '"eventId":""'


def body_template(event: SourceEvent) -> BodyTemplate:
    """The body of ``event`` (see ``body``) with its eventId left out.

    Encoded once with an empty eventId, cut there: the first ``"eventId":""``
    is that key, since inside an encoded string every quote is escaped."""
    text = _encode_json(
        {
            "eventName": event.event_name,
            "eventId": "",
            "orgId": event.org_id,
            "refId": event.ref_id,
            "apiRequestId": event.request_id,
            "createdAt": event.created_at_ms,
            "data": event.data,
            "loyaltyEventId": event.loyalty_event_id or None,
        }
    ).encode()
    cut = text.index(_GAP.encode()) + len(_GAP) - 2
    return BodyTemplate(text[:cut], text[cut + 2 :])


def body(event: SourceEvent, event_id: str) -> bytes:
    """The JSON body: eventName, eventId, orgId, refId, apiRequestId, createdAt,
    data, loyaltyEventId (null when absent)."""
    return body_template(event).render(event_id)


@dataclass(frozen=True)
class OutboundRequest:
    """One HTTP request ready to send."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def build_request(
    hook: Webhook,
    event: SourceEvent,
    event_id: str,
    secrets: list[str],
    now_s: int,
    template: BodyTemplate | None = None,
) -> OutboundRequest:
    """The webhook's method, URL and headers, plus content type and the
    Standard Webhooks signature headers (one signature per active secret).
    ``template``: the event's body already encoded (``body_template``)."""
    payload = (template or body_template(event)).render(event_id)
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    headers.update({k.lower(): v for k, v in hook.headers.items()})
    headers.update(webhook_headers(secrets, event_id, now_s, payload))
    return OutboundRequest(hook.method, hook.url, headers, payload)
