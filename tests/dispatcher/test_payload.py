"""Pure parts of what a webhook receives."""

from __future__ import annotations

import json
import uuid

from eventnotify.delivery.request import (
    EVENT_ID_NAMESPACE,
    body,
    body_template,
    delivered_event_id,
)
from eventnotify.envelope import SourceEvent


def test_delivered_event_id_is_uuid5_and_stable() -> None:
    for source, hook in [("e-1", "h-1"), ("ünïcode", "65a0f0c0c0c0c0c0c0c0c0c0"), ("", "")]:
        want = str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source}/{hook}"))
        assert delivered_event_id(source, hook) == want
        assert delivered_event_id(source, hook) == delivered_event_id(source, hook)
    assert delivered_event_id("e-1", "h-1") != delivered_event_id("e-1", "h-2")
    assert uuid.UUID(delivered_event_id("e-1", "h-1")).version == 5


def test_body_is_the_original_envelope() -> None:
    event = SourceEvent("src", "pointsIssued", 50074, "50074_1", "req-1", 1700000000000, {"a": 1})
    doc = json.loads(body(event, "evt"))
    assert doc == {
        "eventName": "pointsIssued",
        "eventId": "evt",
        "orgId": 50074,
        "refId": "50074_1",
        "apiRequestId": "req-1",
        "createdAt": 1700000000000,
        "data": {"a": 1},
        "loyaltyEventId": None,
    }


def _whole_body(event: SourceEvent, event_id: str) -> bytes:
    # The body encoded in one piece, as it was before bodies were shared.
    doc = {
        "eventName": event.event_name,
        "eventId": event_id,
        "orgId": event.org_id,
        "refId": event.ref_id,
        "apiRequestId": event.request_id,
        "createdAt": event.created_at_ms,
        "data": event.data,
        "loyaltyEventId": event.loyalty_event_id or None,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def test_one_template_gives_each_webhook_the_whole_body_byte_for_byte() -> None:
    events = [
        SourceEvent("s", "pointsIssued", 1, "r", "q", 5, {}),
        SourceEvent("s", 'na"me', 7, "ref\n", "", 0, {"é": ["ü", None, 2.5, {"x": True}]}, "L-1"),
        SourceEvent("s", "n", 2**40, "", "req", 1, {"nested": {"a": [1, [2, [3]]]}}),
        # The template is cut at the first '"eventId":""' of the encoded body.
        SourceEvent("s", '"eventId":""', 3, '"eventId":""', "", 0, {'"eventId":""': ""}),
        SourceEvent("s", '\\"eventId":""\\', 3, "r", "", 0, {}),
    ]
    ids = ["evt", "5f0b6a59-8a1f-4d8e-9a53-0c1b7e6c2d41", 'quote"and\\slash', ""]
    for event in events:
        template = body_template(event)
        for event_id in ids:
            assert template.render(event_id) == _whole_body(event, event_id)
            assert body(event, event_id) == _whole_body(event, event_id)
    # Only the eventId differs between two webhooks' bodies of one record.
    a, b = (json.loads(body_template(events[1]).render(i)) for i in ("id-a", "id-b"))
    assert a.pop("eventId") == "id-a" and b.pop("eventId") == "id-b"
    assert a == b
