"""WebhookService over a real socket: every RPC, tenancy, pagination."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from eventnotify.domain import DeliveryStatus, LogEntry, Role
from eventnotify.store.parked import ParkedDelivery
from eventnotify.timefmt import parse_ts, utcnow
from eventnotify.v1 import webhook_pb2
from tests.service.conftest import Api, Metadata, create_hook, expect_error

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


def _update(hook: webhook_pb2.Webhook, *paths: str) -> webhook_pb2.UpdateWebhookRequest:
    return webhook_pb2.UpdateWebhookRequest(
        webhook=hook, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
    )


async def test_create_assigns_ids_defaults_attribution_and_secret(api: Api, org1: Metadata) -> None:
    created = await create_hook(api, org1, sla_in_seconds=None, method_type=None)
    hook = created.webhook
    assert OBJECT_ID.match(hook.web_hook_id)
    assert uuid.UUID(hook.consumer_group_id).version == 4
    assert created.signing_secret.startswith("whsec_")
    assert hook.org_id == 1 and hook.active and hook.sla_in_seconds == 3600
    assert hook.method_type == webhook_pb2.POST and hook.web_hook_type == webhook_pb2.HTTP
    assert list(hook.event_names) == ["transactionAdded", "pointsRedeemed"]
    assert hook.attribution.created_by.code == hook.attribution.last_updated_by.code != ""
    assert abs(parse_ts(hook.attribution.created_on) - utcnow()) < timedelta(seconds=30)
    stored = await api.store.webhooks.get(1, hook.web_hook_id)
    assert stored is not None and stored.secrets[0].secret == created.signing_secret


async def test_get_returns_the_webhook_without_secret(api: Api, org1: Metadata) -> None:
    created = await create_hook(api, org1)
    got = await api.webhooks.GetWebhook(
        webhook_pb2.GetWebhookRequest(web_hook_id=created.webhook.web_hook_id), metadata=org1
    )
    assert got == created.webhook
    assert "whsec_" not in str(got)


async def test_get_unknown_or_malformed_id_is_not_found(api: Api, org1: Metadata) -> None:
    for web_hook_id in ("5e9d7b03c64f3d00085d7f00", "not-an-id", ""):
        d = await expect_error(
            api.webhooks.GetWebhook(
                webhook_pb2.GetWebhookRequest(web_hook_id=web_hook_id), metadata=org1
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert d.info is not None and d.info.reason == "WEBHOOK_NOT_FOUND"
        assert d.info.domain == "eventnotify.io"


async def test_name_is_unique_within_an_org_only(api: Api, org1: Metadata) -> None:
    await create_hook(api, org1, name="dup")
    d = await expect_error(create_hook(api, org1, name="dup"), grpc.StatusCode.ALREADY_EXISTS)
    assert d.info is not None and d.info.reason == "ALREADY_EXISTS"
    org2 = await api.key(2, Role.WRITE)
    assert (await create_hook(api, org2, name="dup")).webhook.org_id == 2


async def test_list_pages_filters_and_excludes_inactive(api: Api, org1: Metadata) -> None:
    ids = [
        (await create_hook(api, org1, name=f"h{i}", event_names=[ev])).webhook.web_hook_id
        for i, ev in enumerate(["customerAdded", "pointsIssued"] * 3)
    ]
    await api.webhooks.DeleteWebhook(
        webhook_pb2.DeleteWebhookRequest(web_hook_id=ids[0]), metadata=org1
    )
    seen: list[str] = []
    token = ""
    # 5 active webhooks in pages of 2: the third page must be the last. A
    # fourth request means the API kept handing out tokens past the end.
    for _ in range(3):
        page = await api.webhooks.ListWebhooks(
            webhook_pb2.ListWebhooksRequest(page_size=2, page_token=token), metadata=org1
        )
        assert page.webhooks, "an empty page behind a token"
        seen += [h.web_hook_id for h in page.webhooks]
        token = page.next_page_token
        if not token:
            break
    assert token == "", "pagination did not end after the last webhook"
    assert seen == ids[1:]
    everything = await api.webhooks.ListWebhooks(
        webhook_pb2.ListWebhooksRequest(include_inactive=True), metadata=org1
    )
    assert [h.web_hook_id for h in everything.webhooks] == ids
    assert everything.next_page_token == ""
    by_event = await api.webhooks.ListWebhooks(
        webhook_pb2.ListWebhooksRequest(event_name="pointsIssued"), metadata=org1
    )
    assert [h.web_hook_id for h in by_event.webhooks] == [ids[1], ids[3], ids[5]]


async def test_list_rejects_foreign_tokens_and_negative_sizes(api: Api, org1: Metadata) -> None:
    for request, reason in (
        (webhook_pb2.ListWebhooksRequest(page_token="garbage!"), "PAGE_TOKEN_INVALID"),
        (webhook_pb2.ListWebhooksRequest(page_size=-1), "PAGE_SIZE_INVALID"),
    ):
        d = await expect_error(
            api.webhooks.ListWebhooks(request, metadata=org1), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert d.info is not None and d.info.reason == reason


async def test_pagination_is_stable_under_concurrent_inserts(api: Api, org1: Metadata) -> None:
    before = {(await create_hook(api, org1, name=f"pre{i}")).webhook.web_hook_id for i in range(9)}
    created: set[str] = set()
    seen: list[str] = []
    token = ""
    # The first 4 pages are each fetched while two new webhooks are created;
    # then writing stops. At most 9 + 8 webhooks in pages of 2 is 9 pages: a
    # tenth means the pagination does not end.
    for n in range(9):
        writers = [create_hook(api, org1, name=f"new{n}{x}") for x in "ab"] if n < 4 else []
        page, *made = await asyncio.gather(
            api.webhooks.ListWebhooks(
                webhook_pb2.ListWebhooksRequest(page_size=2, page_token=token), metadata=org1
            ),
            *writers,
        )
        created |= {m.webhook.web_hook_id for m in made}
        seen += [h.web_hook_id for h in page.webhooks]
        token = page.next_page_token
        if not token:
            break
    assert token == "", "pagination did not end once writing stopped"
    assert len(seen) == len(set(seen)), "duplicates across pages"
    assert before <= set(seen), "a webhook that existed before paging was skipped"
    assert set(seen) <= before | created, "a page listed a webhook nobody created"
    assert seen == sorted(seen), "pages are not in creation (id) order"


async def test_update_without_mask_changes_set_fields_and_replaces_event_names(
    api: Api, org1: Metadata
) -> None:
    hook = (await create_hook(api, org1)).webhook
    change = webhook_pb2.Webhook(
        web_hook_id=hook.web_hook_id,
        event_names=["customerAdded"],
        sla_in_seconds=120,
        consumer_group_id=hook.consumer_group_id,  # echoing it back is fine
    )
    updated = await api.webhooks.UpdateWebhook(_update(change), metadata=org1)
    assert list(updated.event_names) == ["customerAdded"]
    assert updated.sla_in_seconds == 120
    assert updated.web_hook_url == hook.web_hook_url and updated.name == hook.name
    assert dict(updated.web_hook_headers) == dict(hook.web_hook_headers)
    assert updated.max_allowed_connections == 10
    assert updated.consumer_group_id == hook.consumer_group_id
    assert updated.attribution.created_on == hook.attribution.created_on
    assert parse_ts(updated.attribution.last_updated_on) >= parse_ts(hook.attribution.created_on)
    again = await api.webhooks.GetWebhook(
        webhook_pb2.GetWebhookRequest(web_hook_id=hook.web_hook_id), metadata=org1
    )
    assert again == updated


async def test_update_with_mask_sets_exactly_the_named_fields(api: Api, org1: Metadata) -> None:
    hook = (await create_hook(api, org1)).webhook
    change = webhook_pb2.Webhook(web_hook_id=hook.web_hook_id, name="ignored", active=False)
    updated = await api.webhooks.UpdateWebhook(
        _update(change, "web_hook_headers", "active"), metadata=org1
    )
    assert dict(updated.web_hook_headers) == {}  # masked and empty: cleared
    assert updated.active is False and updated.name == hook.name


async def test_update_refuses_output_only_and_unknown_mask_paths(api: Api, org1: Metadata) -> None:
    hook = (await create_hook(api, org1)).webhook
    cases = [
        (
            _update(webhook_pb2.Webhook(web_hook_id=hook.web_hook_id), "consumer_group_id"),
            "FIELD_IMMUTABLE",
            "update_mask",
        ),
        (
            _update(webhook_pb2.Webhook(web_hook_id=hook.web_hook_id), "nonsense"),
            "UPDATE_MASK_INVALID",
            "update_mask",
        ),
        (
            _update(
                webhook_pb2.Webhook(
                    web_hook_id=hook.web_hook_id, consumer_group_id=str(uuid.uuid4())
                )
            ),
            "FIELD_IMMUTABLE",
            "webhook.consumer_group_id",
        ),
    ]
    for request, reason, field in cases:
        d = await expect_error(
            api.webhooks.UpdateWebhook(request, metadata=org1), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert d.info is not None and d.info.reason == reason
        assert d.fields == [field]


async def test_update_revalidates_and_keeps_names_unique(api: Api, org1: Metadata) -> None:
    hook = (await create_hook(api, org1, name="a")).webhook
    await create_hook(api, org1, name="b")
    d = await expect_error(
        api.webhooks.UpdateWebhook(
            _update(webhook_pb2.Webhook(web_hook_id=hook.web_hook_id, name="b")), metadata=org1
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert d.info is not None
    d = await expect_error(
        api.webhooks.UpdateWebhook(
            _update(webhook_pb2.Webhook(web_hook_id=hook.web_hook_id), "event_names"),
            metadata=org1,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.info is not None and d.info.reason == "EVENT_NAMES_REQUIRED"
    assert d.info.metadata["code"] == "51003"
    d = await expect_error(
        api.webhooks.UpdateWebhook(
            _update(webhook_pb2.Webhook(web_hook_id=hook.web_hook_id, max_allowed_connections=0)),
            metadata=org1,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.info is not None and d.info.metadata["code"] == "51007"
    d = await expect_error(
        api.webhooks.UpdateWebhook(
            _update(webhook_pb2.Webhook(web_hook_id=hook.web_hook_id), "max_allowed_connections"),
            metadata=org1,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.info is not None and d.info.metadata["code"] == "300004"
    d = await expect_error(
        api.webhooks.UpdateWebhook(
            _update(webhook_pb2.Webhook(web_hook_id="5e9d7b03c64f3d00085d7f00", name="x")),
            metadata=org1,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert d.info is not None and d.info.reason == "WEBHOOK_NOT_FOUND"


async def test_delete_is_soft_by_default_and_purge_removes(api: Api, org1: Metadata) -> None:
    hook = (await create_hook(api, org1)).webhook
    deleted = await api.webhooks.DeleteWebhook(
        webhook_pb2.DeleteWebhookRequest(web_hook_id=hook.web_hook_id), metadata=org1
    )
    assert deleted.active is False
    kept = await api.webhooks.GetWebhook(
        webhook_pb2.GetWebhookRequest(web_hook_id=hook.web_hook_id), metadata=org1
    )
    assert kept.active is False and kept.consumer_group_id == hook.consumer_group_id
    purged = await api.webhooks.DeleteWebhook(
        webhook_pb2.DeleteWebhookRequest(web_hook_id=hook.web_hook_id, purge=True), metadata=org1
    )
    assert purged.web_hook_id == hook.web_hook_id and purged.active is False
    await expect_error(
        api.webhooks.GetWebhook(
            webhook_pb2.GetWebhookRequest(web_hook_id=hook.web_hook_id), metadata=org1
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        api.webhooks.DeleteWebhook(
            webhook_pb2.DeleteWebhookRequest(web_hook_id=hook.web_hook_id), metadata=org1
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_rotate_secret_keeps_the_previous_one_for_the_grace_period(
    api: Api, org1: Metadata
) -> None:
    created = await create_hook(api, org1)
    hook_id = created.webhook.web_hook_id
    rotated = await api.webhooks.RotateSecret(
        webhook_pb2.RotateSecretRequest(web_hook_id=hook_id, grace_period_seconds=600),
        metadata=org1,
    )
    assert rotated.signing_secret.startswith("whsec_")
    assert rotated.signing_secret != created.signing_secret
    expires = parse_ts(rotated.previous_secret_expires_at)
    assert abs(expires - (utcnow() + timedelta(seconds=600))) < timedelta(seconds=30)
    stored = await api.store.webhooks.get(1, hook_id)
    assert stored is not None
    now = utcnow()
    assert stored.signing_secrets(now) == [rotated.signing_secret, created.signing_secret]
    assert stored.signing_secrets(now + timedelta(seconds=601)) == [rotated.signing_secret]
    default = await api.webhooks.RotateSecret(
        webhook_pb2.RotateSecretRequest(web_hook_id=hook_id), metadata=org1
    )
    # The default grace is a day, but never extends an expiry already set.
    stored = await api.store.webhooks.get(1, hook_id)
    assert stored is not None and len(stored.secrets) == 3
    assert parse_ts(default.previous_secret_expires_at) > expires
    assert stored.secrets[2].expires_at == expires
    for grace in (-1, 7 * 86400 + 1):
        d = await expect_error(
            api.webhooks.RotateSecret(
                webhook_pb2.RotateSecretRequest(web_hook_id=hook_id, grace_period_seconds=grace),
                metadata=org1,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert d.info is not None and d.info.reason == "GRACE_PERIOD_INVALID"


async def test_another_org_never_sees_or_changes_a_webhook(api: Api, org1: Metadata) -> None:
    hook = (await create_hook(api, org1)).webhook
    org2 = await api.key(2, Role.WRITE)
    calls = [
        api.webhooks.GetWebhook(
            webhook_pb2.GetWebhookRequest(web_hook_id=hook.web_hook_id), metadata=org2
        ),
        api.webhooks.UpdateWebhook(
            _update(webhook_pb2.Webhook(web_hook_id=hook.web_hook_id, name="mine")), metadata=org2
        ),
        api.webhooks.DeleteWebhook(
            webhook_pb2.DeleteWebhookRequest(web_hook_id=hook.web_hook_id, purge=True),
            metadata=org2,
        ),
        api.webhooks.RotateSecret(
            webhook_pb2.RotateSecretRequest(web_hook_id=hook.web_hook_id), metadata=org2
        ),
    ]
    for call in calls:
        await expect_error(call, grpc.StatusCode.NOT_FOUND)
    listed = await api.webhooks.ListWebhooks(
        webhook_pb2.ListWebhooksRequest(include_inactive=True), metadata=org2
    )
    assert list(listed.webhooks) == []
    mine = await api.webhooks.GetWebhook(
        webhook_pb2.GetWebhookRequest(web_hook_id=hook.web_hook_id), metadata=org1
    )
    assert mine == hook


async def test_queue_webhooks_take_a_topic_name(api: Api, org1: Metadata) -> None:
    created = await create_hook(
        api, org1, web_hook_type=webhook_pb2.QUEUE_INT, web_hook_url="orders.events-v1"
    )
    assert created.webhook.web_hook_type == webhook_pb2.QUEUE
    assert created.webhook.web_hook_url == "orders.events-v1"


async def test_event_names_are_deduplicated(api: Api, org1: Metadata) -> None:
    created = await create_hook(
        api, org1, event_names=["pointsIssued", "pointsIssued", "customerAdded"]
    )
    assert list(created.webhook.event_names) == ["pointsIssued", "customerAdded"]


@pytest.mark.parametrize("purge", [False, True])
async def test_deleting_a_webhook_ends_its_parked_deliveries(
    api: Api, org1: Metadata, purge: bool
) -> None:
    hook = (await create_hook(api, org1)).webhook
    other = (await create_hook(api, org1, name="other")).webhook
    now = utcnow()
    past = now - timedelta(seconds=30)

    def log(event_id: str, web_hook: Any, status: DeliveryStatus) -> LogEntry:
        return LogEntry(
            event_id=event_id,
            source_event_id="src-" + event_id,
            org_id=1,
            web_hook_id=web_hook.web_hook_id,
            consumer_group_id=web_hook.consumer_group_id,
            event_name="transactionAdded",
            ref_id="1_9",
            request_id="",
            status=status,
            ingested_at=past,
            next_attempt_at=past if status is DeliveryStatus.RETRYING else None,
        )

    def parked(event_id: str, web_hook: Any) -> ParkedDelivery:
        return ParkedDelivery(event_id, web_hook.web_hook_id, 1, "1_9", due_at=past)

    suffix = uuid.uuid4().hex[:6]
    retrying, pending, others = f"r-{suffix}", f"p-{suffix}", f"o-{suffix}"
    await api.store.logs.upsert_many(
        [
            log(retrying, hook, DeliveryStatus.RETRYING),
            log(pending, hook, DeliveryStatus.PENDING),
            log(others, other, DeliveryStatus.RETRYING),
        ]
    )
    await api.store.parked.park_many(
        [parked(retrying, hook), parked(pending, hook), parked(others, other)]
    )
    await api.webhooks.DeleteWebhook(
        webhook_pb2.DeleteWebhookRequest(web_hook_id=hook.web_hook_id, purge=purge), metadata=org1
    )
    for event_id in (retrying, pending):
        ended = await api.store.logs.get(1, event_id)
        assert ended is not None and ended.status is DeliveryStatus.FAILED
        assert ended.failure_reason == "webhook deleted"
        assert ended.ended_at is not None and ended.next_attempt_at is None
    assert await api.store.parked.ids_for(hook.web_hook_id) == []
    # Another webhook's waiting delivery is untouched.
    kept = await api.store.logs.get(1, others)
    assert kept is not None and kept.status is DeliveryStatus.RETRYING
    assert await api.store.parked.ids_for(other.web_hook_id) == [others]


async def test_unknown_event_names_suggest_the_nearest(api: Api, org1: Metadata) -> None:
    d = await expect_error(
        create_hook(api, org1, event_names=["TransactionAdded", "pointsRedeemd", "zzzz"]),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.bad_request is not None
    descriptions = [v.description for v in d.bad_request.field_violations]
    assert descriptions == [
        "unknown event 'TransactionAdded' (did you mean 'transactionAdded'?)",
        "unknown event 'pointsRedeemd' (did you mean 'pointsRedeemed'?)",
        "unknown event 'zzzz'",
    ]
    assert "did you mean 'transactionAdded'" in d.message
