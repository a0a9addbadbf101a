"""Every webhook validation rule, over the API: status, reason, code, fields."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from eventnotify.v1 import catalog_pb2, webhook_pb2
from service.core.validation import FORBIDDEN_HEADERS
from tests.service.conftest import Api, Metadata, create_hook, expect_error

H = "webhook.web_hook_headers"
URL = "webhook.web_hook_url"

# (overrides of a valid webhook, reason, original code or None, violating fields)
CASES: list[tuple[str, dict[str, Any], str, str | None, list[str]]] = [
    (
        "no event names",
        {"event_names": []},
        "EVENT_NAMES_REQUIRED",
        "51003",
        ["webhook.event_names"],
    ),
    (
        "no max connections",
        {"max_allowed_connections": None},
        "MAX_CONNECTIONS_REQUIRED",
        "300004",
        ["webhook.max_allowed_connections"],
    ),
    (
        "zero max connections",
        {"max_allowed_connections": 0},
        "MAX_CONNECTIONS_INVALID",
        "51007",
        ["webhook.max_allowed_connections"],
    ),
    (
        "negative max connections",
        {"max_allowed_connections": -3},
        "MAX_CONNECTIONS_INVALID",
        "51007",
        ["webhook.max_allowed_connections"],
    ),
    (
        "too many connections",
        {"max_allowed_connections": 1001},
        "MAX_CONNECTIONS_TOO_LARGE",
        None,
        ["webhook.max_allowed_connections"],
    ),
    (
        "unknown event",
        {"event_names": ["pointsIssued", "noSuchEvent"]},
        "EVENT_NAME_UNKNOWN",
        None,
        ["webhook.event_names[1]"],
    ),
    ("no name", {"name": ""}, "NAME_REQUIRED", None, ["webhook.name"]),
    ("long name", {"name": "n" * 129}, "NAME_TOO_LONG", None, ["webhook.name"]),
    ("no url", {"web_hook_url": ""}, "URL_REQUIRED", None, [URL]),
    ("relative url", {"web_hook_url": "/hook"}, "URL_INVALID", None, [URL]),
    ("ftp url", {"web_hook_url": "ftp://example.com/x"}, "URL_INVALID", None, [URL]),
    ("no host", {"web_hook_url": "https:///path"}, "URL_INVALID", None, [URL]),
    ("bad port", {"web_hook_url": "https://example.com:99999/"}, "URL_INVALID", None, [URL]),
    ("space in url", {"web_hook_url": "https://exa mple.com/"}, "URL_INVALID", None, [URL]),
    (
        "long url",
        {"web_hook_url": "https://example.com/" + "a" * 2030},
        "URL_TOO_LONG",
        None,
        [URL],
    ),
    (
        "bad topic",
        {"web_hook_type": webhook_pb2.QUEUE, "web_hook_url": "orders/events"},
        "TOPIC_INVALID",
        None,
        [URL],
    ),
    (
        "long topic",
        {"web_hook_type": webhook_pb2.QUEUE, "web_hook_url": "t" * 250},
        "TOPIC_INVALID",
        None,
        [URL],
    ),
    (
        "bad header name",
        {"web_hook_headers": {"Bad Name": "x"}},
        "HEADER_NAME_INVALID",
        None,
        [f"{H}['Bad Name']"],
    ),
    (
        "CRLF in value",
        {"web_hook_headers": {"X-A": "a\r\nX-Evil: 1"}},
        "HEADER_VALUE_INVALID",
        None,
        [f"{H}['X-A']"],
    ),
    (
        "NUL in value",
        {"web_hook_headers": {"X-A": "a\x00"}},
        "HEADER_VALUE_INVALID",
        None,
        [f"{H}['X-A']"],
    ),
    (
        "proxy header",
        {"web_hook_headers": {"Proxy-Authorization": "x"}},
        "HEADER_FORBIDDEN",
        None,
        [f"{H}['Proxy-Authorization']"],
    ),
    (
        "too many headers",
        {"web_hook_headers": {f"X-{i}": "v" for i in range(33)}},
        "TOO_MANY_HEADERS",
        None,
        [H],
    ),
    ("header bytes", {"web_hook_headers": {"X-Big": "v" * 8200}}, "HEADERS_TOO_LARGE", None, [H]),
    ("sla zero", {"sla_in_seconds": 0}, "SLA_OUT_OF_RANGE", None, ["webhook.sla_in_seconds"]),
    (
        "sla too long",
        {"sla_in_seconds": 604801},
        "SLA_OUT_OF_RANGE",
        None,
        ["webhook.sla_in_seconds"],
    ),
    (
        "negative retries",
        {"no_of_retry_attempts": -1},
        "RETRY_ATTEMPTS_OUT_OF_RANGE",
        None,
        ["webhook.no_of_retry_attempts"],
    ),
    (
        "too many retries",
        {"no_of_retry_attempts": 101},
        "RETRY_ATTEMPTS_OUT_OF_RANGE",
        None,
        ["webhook.no_of_retry_attempts"],
    ),
    ("unknown method", {"method_type": 42}, "METHOD_INVALID", None, ["webhook.method_type"]),
    ("unknown type", {"web_hook_type": 9}, "WEBHOOK_TYPE_INVALID", None, ["webhook.web_hook_type"]),
]


@pytest.mark.parametrize(
    ("overrides", "reason", "code", "fields"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
async def test_each_rule(
    api: Api,
    org1: Metadata,
    overrides: dict[str, Any],
    reason: str,
    code: str | None,
    fields: list[str],
) -> None:
    d = await expect_error(create_hook(api, org1, **overrides), grpc.StatusCode.INVALID_ARGUMENT)
    assert d.info is not None and d.info.reason == reason
    assert d.info.domain == "eventnotify.io"
    assert d.info.metadata.get("code") == code
    assert d.fields == fields
    assert d.reasons == [reason]
    listed = await api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest(), metadata=org1)
    assert list(listed.webhooks) == []  # nothing stored


async def test_every_forbidden_header_is_refused(api: Api, org1: Metadata) -> None:
    headers = {name.title(): "x" for name in FORBIDDEN_HEADERS} | {"proxy-connection": "x"}
    d = await expect_error(
        create_hook(api, org1, web_hook_headers=headers), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert d.reasons == ["HEADER_FORBIDDEN"] * len(headers)
    assert len(FORBIDDEN_HEADERS) == 11


async def test_every_violation_is_reported_at_once(api: Api, org1: Metadata) -> None:
    d = await expect_error(
        create_hook(
            api,
            org1,
            event_names=[],
            max_allowed_connections=0,
            web_hook_url="nope",
            web_hook_headers={"Host": "x"},
            sla_in_seconds=0,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    # The error's reason and code are the first violation's.
    assert d.info is not None and d.info.reason == "EVENT_NAMES_REQUIRED"
    assert d.info.metadata["code"] == "51003"
    assert d.reasons == [
        "EVENT_NAMES_REQUIRED",
        "MAX_CONNECTIONS_INVALID",
        "URL_INVALID",
        "HEADER_FORBIDDEN",
        "SLA_OUT_OF_RANGE",
    ]


async def test_inactive_events_are_refused_but_do_not_block_other_edits(
    api: Api, org1: Metadata
) -> None:
    hook = (await create_hook(api, org1, event_names=["pointsIssued"])).webhook
    await api.catalog.UpdateEventType(
        catalog_pb2.UpdateEventTypeRequest(
            event_type=catalog_pb2.EventType(event_name="pointsIssued", active=False)
        ),
        metadata=org1,
    )
    d = await expect_error(
        create_hook(api, org1, name="other", event_names=["pointsIssued"]),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.info is not None and d.info.reason == "EVENT_NAME_INACTIVE"
    assert d.fields == ["webhook.event_names[0]"]
    updated = await api.webhooks.UpdateWebhook(
        webhook_pb2.UpdateWebhookRequest(
            webhook=webhook_pb2.Webhook(web_hook_id=hook.web_hook_id, sla_in_seconds=99)
        ),
        metadata=org1,
    )
    assert updated.sla_in_seconds == 99
    # Keeping an already-subscribed inactive event while adding an active one is fine.
    kept = await api.webhooks.UpdateWebhook(
        webhook_pb2.UpdateWebhookRequest(
            webhook=webhook_pb2.Webhook(
                web_hook_id=hook.web_hook_id, event_names=["pointsIssued", "tierUpgraded"]
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["event_names"]),
        ),
        metadata=org1,
    )
    assert list(kept.event_names) == ["pointsIssued", "tierUpgraded"]


async def test_valid_edge_values_are_accepted(api: Api, org1: Metadata) -> None:
    created = await create_hook(
        api,
        org1,
        name="n" * 128,
        max_allowed_connections=1000,
        sla_in_seconds=604800,
        no_of_retry_attempts=100,
        web_hook_url="http://127.0.0.1:8080/x?y=1",
        web_hook_headers={"Authorization": "Bearer t\tx", "X-Custom_Header.1": "ok"},
    )
    assert created.webhook.max_allowed_connections == 1000
