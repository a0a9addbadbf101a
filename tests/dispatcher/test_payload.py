"""Pure parts of what a webhook receives."""

from __future__ import annotations

import json
import uuid

from eventnotify.delivery.request import EVENT_ID_NAMESPACE, body, delivered_event_id
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
