"""Hostile but well-formed requests: non-finite numbers, oversized strings,
private IP literals, reflection v1. Each answer is a specific, short error."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from grpc_reflection.v1alpha import reflection_pb2

from eventnotify.v1 import catalog_pb2, ingest_pb2, log_pb2, webhook_pb2
from service.api.limits import DEFAULT_LIMIT, LIMITS
from tests.service.conftest import Api, Metadata, create_hook, expect_error
from tests.service.test_ingest_api import Ingest, envelope, ingest  # noqa: F401

MB = "x" * 1_000_000
SCHEMA = {"type": "object", "properties": {"score": {"type": "number", "maximum": 10}}}


def _schema_with(value: float) -> Any:
    et = catalog_pb2.EventType(event_name="scored", active=True)
    et.schema.update(SCHEMA)
    et.schema.fields["properties"].struct_value.fields["score"].struct_value.fields[
        "maximum"
    ].number_value = value
    return et


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
async def test_schema_with_a_non_finite_number_is_a_field_violation(
    api: Api, org1: Metadata, value: float
) -> None:
    d = await expect_error(
        api.catalog.CreateEventType(
            catalog_pb2.CreateEventTypeRequest(event_type=_schema_with(value)), metadata=org1
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.fields == ["event_type.schema.properties.score.maximum"]
    # The same on update.
    good = catalog_pb2.EventType(event_name="scored", active=True)
    good.schema.update(SCHEMA)
    await api.catalog.CreateEventType(
        catalog_pb2.CreateEventTypeRequest(event_type=good), metadata=org1
    )
    d = await expect_error(
        api.catalog.UpdateEventType(
            catalog_pb2.UpdateEventTypeRequest(
                event_type=_schema_with(value),
                update_mask=field_mask_pb2.FieldMask(paths=["schema"]),
            ),
            metadata=org1,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.fields == ["event_type.schema.properties.score.maximum"]


@pytest.mark.parametrize("value", [math.inf, math.nan])
async def test_publish_with_non_finite_data_is_refused_and_not_written(
    ingest: Ingest,  # noqa: F811
    value: float,
) -> None:
    event = envelope()
    event.data.fields["amount"].number_value = value
    d = await expect_error(
        ingest.stub.PublishEvent(ingest_pb2.PublishEventRequest(event=event), metadata=ingest.md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.fields == ["event.data.amount"]
    batch = ingest_pb2.PublishEventsRequest(events=[envelope(), event])
    d = await expect_error(
        ingest.stub.PublishEvents(batch, metadata=ingest.md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert d.fields == ["events[1].data.amount"]
    assert await ingest.records("transactionAdded") == []


@pytest.mark.parametrize(
    "field", ["request_id", "loyalty_event_id", "ref_id", "event_id", "event_name"]
)
async def test_oversized_event_fields_are_permanent_field_violations(
    ingest: Ingest,  # noqa: F811
    field: str,
) -> None:
    event = envelope(**{field: MB})
    d = await expect_error(
        ingest.stub.PublishEvent(ingest_pb2.PublishEventRequest(event=event), metadata=ingest.md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.fields == [f"event.{field}"]
    assert len(d.message) < 500  # the value is not echoed
    assert await ingest.records("transactionAdded") == []


async def test_oversized_event_is_refused_before_kafka(ingest: Ingest) -> None:  # noqa: F811
    event = envelope(data={"transactionId": 1, "blob": "y" * 600_000})
    d = await expect_error(
        ingest.stub.PublishEvent(ingest_pb2.PublishEventRequest(event=event), metadata=ingest.md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "EVENT_TOO_LARGE" in d.reasons


async def test_errors_quote_only_a_prefix_of_a_bad_value(api: Api, org1: Metadata) -> None:
    long_name = "y" * (DEFAULT_LIMIT - 1)  # within the length limit, unknown
    d = await expect_error(
        api.catalog.GetEventType(
            catalog_pb2.GetEventTypeRequest(event_name=long_name[:30]), metadata=org1
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "characters)" not in d.message  # short values are quoted whole
    d = await expect_error(
        api.webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(
                webhook=webhook_pb2.Webhook(
                    name="h",
                    event_names=[long_name[:60]],
                    web_hook_url="https://example.com/h",
                    max_allowed_connections=1,
                )
            ),
            metadata=org1,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert long_name[:60] not in d.message and "(60 characters)" in d.message
    # A 1 MB value anywhere gets a length violation, never RESOURCE_EXHAUSTED.
    for call in (
        api.catalog.GetEventType(catalog_pb2.GetEventTypeRequest(event_name=MB), metadata=org1),
        api.catalog.UpdateEventType(
            catalog_pb2.UpdateEventTypeRequest(event_type=catalog_pb2.EventType(event_name=MB)),
            metadata=org1,
        ),
        api.logs.GetEventLog(log_pb2.GetEventLogRequest(event_id=MB), metadata=org1),
    ):
        d = await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert d.reasons == ["TOO_LONG"] and len(d.message) < 500


def test_every_string_limit_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text()
    for name, limit in LIMITS.items():
        assert f"`{name.removeprefix('eventnotify.v1.')}` | {limit} |" in doc, name


PRIVATE = [
    "http://127.0.0.2/h",
    "http://[::ffff:127.0.0.1]/h",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/h",
    "http://[fd00::1]/h",
    "http://0.0.0.0/h",
    "http://2130706433/h",
    "http://0x7f000001/h",
    "http://017700000001/h",
    "http://127.1/h",
    "http://0/h",
]


@pytest.mark.parametrize("url", PRIVATE)
async def test_private_ip_literals_are_refused_at_create_and_update(
    api: Api, org1: Metadata, url: str
) -> None:
    d = await expect_error(
        create_hook(api, org1, web_hook_url=url), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert d.fields == ["webhook.web_hook_url"] and d.reasons == ["URL_ADDRESS_NOT_ALLOWED"]
    hook = (await create_hook(api, org1, name="ok", web_hook_url="http://127.0.0.1:9/h")).webhook
    d = await expect_error(
        api.webhooks.UpdateWebhook(
            webhook_pb2.UpdateWebhookRequest(
                webhook=webhook_pb2.Webhook(web_hook_id=hook.web_hook_id, web_hook_url=url),
                update_mask=field_mask_pb2.FieldMask(paths=["web_hook_url"]),
            ),
            metadata=org1,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.reasons == ["URL_ADDRESS_NOT_ALLOWED"]


async def test_names_and_public_addresses_are_still_accepted(api: Api, org1: Metadata) -> None:
    await create_hook(api, org1, name="n", web_hook_url="https://hooks.example.com/h")
    await create_hook(api, org1, name="p", web_hook_url="http://93.184.216.34/h")
    await create_hook(api, org1, name="l", web_hook_url="http://localhost:9/h")  # allow-listed


@pytest.mark.parametrize("service", ["grpc.reflection.v1", "grpc.reflection.v1alpha"])
async def test_reflection_is_served_as_v1_and_v1alpha(api: Api, service: str) -> None:
    call = api.channel.stream_stream(
        f"/{service}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )

    async def requests() -> Any:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        yield reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="eventnotify.v1.EventIngestService"
        )

    responses = [r async for r in call(requests())]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"eventnotify.v1.WebhookService", "grpc.reflection.v1.ServerReflection"} <= names
    assert responses[1].file_descriptor_response.file_descriptor_proto
