"""Webhook management: create, get, list, update, delete, rotate the secret."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from bson import ObjectId

from eventnotify import signing
from eventnotify.delivery.addresses import AddressPolicy
from eventnotify.delivery.entries import WEBHOOK_DELETED
from eventnotify.domain import Caller, SigningSecret, Webhook, WebhookType
from eventnotify.errors import InvalidArgument, NotFound
from eventnotify.store.event_types import EventTypeRepository
from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.store.parked import ParkedDeliveryRepository
from eventnotify.store.webhooks import WebhookRepository, parse_id
from eventnotify.timefmt import utcnow
from service.core.catalog import event_catalog
from service.core.validation import (
    SLA_DEFAULT,
    Violation,
    WebhookDraft,
    raise_if_any,
    validate_webhook,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
DEFAULT_GRACE_SECONDS = 86400
MAX_GRACE_SECONDS = 7 * 86400


@dataclass
class WebhookChanges:
    """User-settable webhook fields; ``None`` means "not given"."""

    name: str | None = None
    event_names: list[str] | None = None
    url: str | None = None
    type: WebhookType | None = None
    method: str | None = None
    headers: dict[str, str] | None = None
    max_allowed_connections: int | None = None
    sla_in_seconds: int | None = None
    no_of_retry_attempts: int | None = None
    active: bool | None = None
    ordered_delivery: bool | None = None
    # Output-only fields a client may echo back; a different value is refused.
    consumer_group_id: str | None = None


@dataclass
class WebhookPage:
    """One page of ListWebhooks."""

    webhooks: list[Webhook] = field(default_factory=list)
    next_page_token: str = ""


def _dedupe(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _draft(hook: Webhook, max_connections: int | None) -> WebhookDraft:
    return WebhookDraft(
        name=hook.name,
        event_names=hook.event_names,
        url=hook.url,
        type=hook.type,
        method=hook.method,
        headers=hook.headers,
        max_allowed_connections=max_connections,
        sla_in_seconds=hook.sla_in_seconds,
        no_of_retry_attempts=hook.no_of_retry_attempts,
    )


async def create_webhook(
    webhooks: WebhookRepository,
    event_types: EventTypeRepository,
    caller: Caller,
    c: WebhookChanges,
    policy: AddressPolicy | None = None,
) -> tuple[Webhook, str]:
    """Validate and store a new webhook; returns it and its signing secret.
    ``policy`` refuses URLs naming a private IP literal."""
    now = utcnow()
    secret = signing.new_secret()
    hook = Webhook(
        web_hook_id=str(ObjectId()),
        org_id=caller.org_id,
        name=c.name or "",
        event_names=_dedupe(c.event_names or []),
        url=c.url or "",
        type=c.type or WebhookType.HTTP,
        method=c.method or "POST",
        headers=dict(c.headers or {}),
        max_allowed_connections=c.max_allowed_connections or 0,
        sla_in_seconds=SLA_DEFAULT if c.sla_in_seconds is None else c.sla_in_seconds,
        no_of_retry_attempts=c.no_of_retry_attempts or 0,
        active=True if c.active is None else c.active,
        consumer_group_id=str(uuid.uuid4()),
        ordered_delivery=bool(c.ordered_delivery),
        created_on=now,
        last_updated_on=now,
        created_by=caller.actor,
        last_updated_by=caller.actor,
        secrets=[SigningSecret(secret, now)],
    )
    catalog = await event_catalog(event_types, caller.org_id)
    validate_webhook(_draft(hook, c.max_allowed_connections), catalog, hook.event_names, policy)
    await webhooks.insert(hook)
    return hook, secret


async def get_webhook(webhooks: WebhookRepository, caller: Caller, web_hook_id: str) -> Webhook:
    """One webhook of the caller's org; NOT_FOUND otherwise (also for other orgs')."""
    hook = await webhooks.get(caller.org_id, web_hook_id)
    if hook is None:
        raise NotFound("webHookId is invalid", reason="WEBHOOK_NOT_FOUND")
    return hook


def encode_page_token(last_id: str) -> str:
    """Opaque token: the last id seen (keyset pagination on the id, so webhooks
    created while a client pages appear at the end, never twice)."""
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    """The id inside a token; INVALID_ARGUMENT when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if parse_id(raw) is None:
        raise_if_any(
            [Violation("page_token", "not a token from this API", "PAGE_TOKEN_INVALID")],
            "invalid page token",
        )
    return raw


def page_size(value: int) -> int:
    """Requested page size -> effective one (0 = default; capped at the max)."""
    if value < 0:
        raise_if_any(
            [Violation("page_size", "must not be negative", "PAGE_SIZE_INVALID")],
            "invalid page size",
        )
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


async def list_webhooks(
    webhooks: WebhookRepository,
    caller: Caller,
    *,
    size: int,
    token: str,
    include_inactive: bool,
    event_name: str,
) -> WebhookPage:
    """A page of the org's webhooks in creation order."""
    limit = page_size(size)
    after = decode_page_token(token) if token else None
    # One extra row tells whether another page exists without a count query.
    rows = await webhooks.list_page(
        caller.org_id,
        after_id=after,
        limit=limit + 1,
        include_inactive=include_inactive,
        event_name=event_name,
    )
    page = WebhookPage(webhooks=rows[:limit])
    if len(rows) > limit:
        page.next_page_token = encode_page_token(rows[limit - 1].web_hook_id)
    return page


async def update_webhook(
    webhooks: WebhookRepository,
    event_types: EventTypeRepository,
    caller: Caller,
    web_hook_id: str,
    c: WebhookChanges,
    policy: AddressPolicy | None = None,
) -> Webhook:
    """Apply the given changes and re-validate the result (``policy`` as on create)."""
    hook = await get_webhook(webhooks, caller, web_hook_id)
    if c.consumer_group_id is not None and c.consumer_group_id != hook.consumer_group_id:
        raise InvalidArgument(
            "consumerGroupId cannot be changed",
            violations=[
                Violation("webhook.consumer_group_id", "immutable", "FIELD_IMMUTABLE"),
            ],
            reason="FIELD_IMMUTABLE",
        )
    old_names = set(hook.event_names)
    changed = dataclasses.replace(hook)
    for name in (
        "name",
        "url",
        "type",
        "method",
        "headers",
        "sla_in_seconds",
        "no_of_retry_attempts",
        "active",
        "ordered_delivery",
    ):
        value = getattr(c, name)
        if value is not None:
            setattr(changed, name, value)
    if c.event_names is not None:
        changed.event_names = _dedupe(c.event_names)
    if c.max_allowed_connections is not None:
        changed.max_allowed_connections = c.max_allowed_connections
    if c.active:
        # Re-enabling clears the system's reason for disabling it.
        changed.deactivation_reason = ""
    catalog = await event_catalog(event_types, caller.org_id)
    added = [n for n in changed.event_names if n not in old_names]
    validate_webhook(_draft(changed, changed.max_allowed_connections), catalog, added, policy)
    changed.last_updated_on = utcnow()
    changed.last_updated_by = caller.actor
    await webhooks.replace(changed)
    return changed


async def delete_webhook(
    webhooks: WebhookRepository,
    parked: ParkedDeliveryRepository,
    logs: DeliveryLogRepository,
    caller: Caller,
    web_hook_id: str,
    *,
    purge: bool,
) -> Webhook:
    """Deactivate (kept for its logs) or, with ``purge``, remove the webhook,
    and end the deliveries still waiting for a retry: FAILED, failureReason
    "webhook deleted", out of the parked collection. Returns the webhook as it
    now is (inactive).

    The webhook is changed first, so no dispatcher picks a new delivery for
    it while its parked ones are ended. A FAILED delivery can still be sent
    again (reactivate, then RecoverFailed / ResendEvent) if it was a mistake.
    """
    hook = await get_webhook(webhooks, caller, web_hook_id)
    hook.active = False
    # Tells the dispatchers this is a deletion, not a pause: a delivery they
    # park after this point is ended too, not kept for a reactivation.
    hook.deactivation_reason = WEBHOOK_DELETED
    hook.last_updated_on = utcnow()
    hook.last_updated_by = caller.actor
    if purge:
        if not await webhooks.delete(caller.org_id, web_hook_id):
            raise NotFound("webHookId is invalid", reason="WEBHOOK_NOT_FOUND")
    else:
        await webhooks.replace(hook)
    waiting = await parked.ids_for(hook.web_hook_id)
    await logs.end_pending(waiting, WEBHOOK_DELETED, utcnow())
    await parked.remove_many(waiting)
    return hook


async def rotate_secret(
    webhooks: WebhookRepository, caller: Caller, web_hook_id: str, grace_seconds: int
) -> tuple[str, Webhook]:
    """Issue a new signing secret; the current one keeps signing for the grace
    period (so receivers can switch without dropping deliveries)."""
    if grace_seconds < 0 or grace_seconds > MAX_GRACE_SECONDS:
        raise_if_any(
            [
                Violation(
                    "grace_period_seconds",
                    f"must be between 0 and {MAX_GRACE_SECONDS}",
                    "GRACE_PERIOD_INVALID",
                )
            ],
            "invalid grace period",
        )
    hook = await get_webhook(webhooks, caller, web_hook_id)
    now = utcnow()
    expires = now + timedelta(seconds=grace_seconds or DEFAULT_GRACE_SECONDS)
    secret = signing.new_secret()
    kept = [
        SigningSecret(s.secret, s.created_at, min(s.expires_at or expires, expires))
        for s in hook.secrets
        if s.expires_at is None or s.expires_at > now
    ]
    hook.secrets = [SigningSecret(secret, now), *kept]
    hook.last_updated_on = now
    hook.last_updated_by = caller.actor
    await webhooks.replace(hook)
    return secret, hook
