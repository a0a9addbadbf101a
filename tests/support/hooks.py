"""Webhooks for tests, stored through the same repository the service uses."""

from __future__ import annotations

import uuid
from typing import Any

from bson import ObjectId

from eventnotify.domain import Actor, SigningSecret, Webhook, WebhookType
from eventnotify.signing import new_secret
from eventnotify.store import Store
from eventnotify.timefmt import utcnow


def make_webhook(org_id: int, url: str, event_names: list[str], **overrides: Any) -> Webhook:
    now = utcnow()
    actor = Actor(id=1, code="test", name="test", type="API_KEY")
    fields: dict[str, Any] = {
        "web_hook_id": str(ObjectId()),
        "org_id": org_id,
        "name": f"hook-{uuid.uuid4().hex[:8]}",
        "event_names": event_names,
        "url": url,
        "type": WebhookType.HTTP,
        "method": "POST",
        "headers": {"x-test": "1"},
        "max_allowed_connections": 8,
        "sla_in_seconds": 3600,
        "no_of_retry_attempts": 0,
        "active": True,
        "consumer_group_id": str(uuid.uuid4()),
        "ordered_delivery": False,
        "created_on": now,
        "last_updated_on": now,
        "created_by": actor,
        "last_updated_by": actor,
        "secrets": [SigningSecret(new_secret(), now)],
    }
    fields.update(overrides)
    return Webhook(**fields)


async def add_webhook(
    store: Store, org_id: int, url: str, event_names: list[str], **kw: Any
) -> Webhook:
    hook = make_webhook(org_id, url, event_names, **kw)
    await store.webhooks.insert(hook)
    return hook
