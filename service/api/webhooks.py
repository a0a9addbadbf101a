"""WebhookService servicer."""

from __future__ import annotations

from typing import Any

from eventnotify.delivery.addresses import AddressPolicy
from eventnotify.errors import Unavailable
from eventnotify.store import Store
from eventnotify.timefmt import format_ts
from eventnotify.v1 import webhook_pb2, webhook_pb2_grpc
from service import convert
from service.api.interceptors import current_caller
from service.core import webhooks as core
from service.core.test_send import TestSenders, send_test_event


class WebhookServicer(webhook_pb2_grpc.WebhookServiceServicer):  # type: ignore[misc]
    """Manage an org's webhooks. SendTestEvent needs ``test_senders``; without
    them it is answered UNAVAILABLE."""

    def __init__(
        self,
        store: Store,
        test_senders: TestSenders | None = None,
        address_policy: AddressPolicy | None = None,
    ) -> None:
        self._store = store
        self._test_senders = test_senders
        self._policy = address_policy

    async def CreateWebhook(self, request: Any, context: Any) -> Any:
        changes = convert.webhook_changes(request.webhook)
        hook, secret = await core.create_webhook(
            self._store.webhooks, self._store.event_types, current_caller(), changes, self._policy
        )
        return webhook_pb2.CreateWebhookResponse(
            webhook=convert.webhook_to_proto(hook), signing_secret=secret
        )

    async def GetWebhook(self, request: Any, context: Any) -> Any:
        hook = await core.get_webhook(self._store.webhooks, current_caller(), request.web_hook_id)
        return convert.webhook_to_proto(hook)

    async def ListWebhooks(self, request: Any, context: Any) -> Any:
        page = await core.list_webhooks(
            self._store.webhooks,
            current_caller(),
            size=request.page_size,
            token=request.page_token,
            include_inactive=request.include_inactive,
            event_name=request.event_name,
        )
        return webhook_pb2.ListWebhooksResponse(
            webhooks=[convert.webhook_to_proto(h) for h in page.webhooks],
            next_page_token=page.next_page_token,
        )

    async def UpdateWebhook(self, request: Any, context: Any) -> Any:
        changes = convert.webhook_changes(request.webhook, request.update_mask.paths)
        hook = await core.update_webhook(
            self._store.webhooks,
            self._store.event_types,
            current_caller(),
            request.webhook.web_hook_id,
            changes,
            self._policy,
        )
        return convert.webhook_to_proto(hook)

    async def DeleteWebhook(self, request: Any, context: Any) -> Any:
        hook = await core.delete_webhook(
            self._store.webhooks,
            self._store.parked,
            self._store.logs,
            current_caller(),
            request.web_hook_id,
            purge=request.purge,
        )
        return convert.webhook_to_proto(hook)

    async def RotateSecret(self, request: Any, context: Any) -> Any:
        secret, hook = await core.rotate_secret(
            self._store.webhooks,
            current_caller(),
            request.web_hook_id,
            request.grace_period_seconds,
        )
        previous = hook.secrets[1].expires_at if len(hook.secrets) > 1 else None
        return webhook_pb2.RotateSecretResponse(
            signing_secret=secret, previous_secret_expires_at=format_ts(previous)
        )

    async def SendTestEvent(self, request: Any, context: Any) -> Any:
        if self._test_senders is None:
            raise Unavailable("test sends are not configured on this server")
        r = await send_test_event(
            self._store,
            self._test_senders,
            current_caller(),
            request.web_hook_id,
            request.event_name,
        )
        return webhook_pb2.SendTestEventResponse(
            event_id=r.event_id,
            http_status=r.http_status,
            latency_ms=r.latency_ms,
            response_excerpt=r.response_excerpt,
            signature_sent=r.signature_sent,
            error=r.error,
            success=r.success,
        )
