"""EventCatalogService over a real socket."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import field_mask_pb2, struct_pb2

from eventnotify.catalog.standard import STANDARD_EVENTS
from eventnotify.domain import Role
from eventnotify.v1 import catalog_pb2
from service.convert import struct_to_dict
from tests.service.conftest import Api, Metadata, create_hook, expect_error

CUSTOM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["orderId"],
    "properties": {"orderId": {"type": "string", "minLength": 1}, "total": {"type": "number"}},
}


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def _custom(name: str = "orderShipped", schema: dict[str, Any] | None = None) -> Any:
    et = catalog_pb2.EventType(event_name=name, active=True, description="an order shipped")
    if schema is not None:
        et.schema.CopyFrom(_struct(schema))
    return catalog_pb2.CreateEventTypeRequest(event_type=et)


async def _update(api: Api, md: Metadata, name: str, paths: list[str], **fields: Any) -> Any:
    return await api.catalog.UpdateEventType(
        catalog_pb2.UpdateEventTypeRequest(
            event_type=catalog_pb2.EventType(event_name=name, **fields),
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        ),
        metadata=md,
    )


async def test_list_has_every_standard_event_active_without_schemas(
    api: Api, org1: Metadata
) -> None:
    listed = await api.catalog.ListEventTypes(catalog_pb2.ListEventTypesRequest(), metadata=org1)
    names = [e.event_name for e in listed.event_types]
    assert names == sorted(STANDARD_EVENTS)
    assert all(e.active and e.standard and not e.HasField("schema") for e in listed.event_types)
    assert {"customerAdded", "transactionAdded", "tierRenewed", "requestWorkflowEvent"} <= set(
        names
    )


async def test_get_returns_the_schema(api: Api, org1: Metadata) -> None:
    got = await api.catalog.GetEventType(
        catalog_pb2.GetEventTypeRequest(event_name="transactionAdded"), metadata=org1
    )
    assert got.standard and got.active and got.category
    assert struct_to_dict(got.schema) == STANDARD_EVENTS["transactionAdded"].schema
    d = await expect_error(
        api.catalog.GetEventType(catalog_pb2.GetEventTypeRequest(event_name="nope"), metadata=org1),
        grpc.StatusCode.NOT_FOUND,
    )
    assert d.info is not None and d.info.reason == "EVENT_TYPE_NOT_FOUND"


async def test_custom_event_lifecycle_and_tenancy(api: Api, org1: Metadata) -> None:
    created = await api.catalog.CreateEventType(_custom(schema=CUSTOM_SCHEMA), metadata=org1)
    assert not created.standard and created.category == "custom"
    assert struct_to_dict(created.schema) == CUSTOM_SCHEMA
    listed = await api.catalog.ListEventTypes(catalog_pb2.ListEventTypesRequest(), metadata=org1)
    assert listed.event_types[-1].event_name == "orderShipped"
    got = await api.catalog.GetEventType(
        catalog_pb2.GetEventTypeRequest(event_name="orderShipped"), metadata=org1
    )
    assert struct_to_dict(got.schema) == CUSTOM_SCHEMA
    # A webhook of the org may subscribe to it...
    hook = await create_hook(api, org1, event_names=["orderShipped"])
    assert list(hook.webhook.event_names) == ["orderShipped"]
    # ...another org neither sees it nor may subscribe to it.
    org2 = await api.key(2, Role.WRITE)
    other = await api.catalog.ListEventTypes(catalog_pb2.ListEventTypesRequest(), metadata=org2)
    assert "orderShipped" not in {e.event_name for e in other.event_types}
    await expect_error(
        api.catalog.GetEventType(
            catalog_pb2.GetEventTypeRequest(event_name="orderShipped"), metadata=org2
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    d = await expect_error(
        create_hook(api, org2, event_names=["orderShipped"]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert d.reasons == ["EVENT_NAME_UNKNOWN"]
    d = await expect_error(
        api.catalog.CreateEventType(_custom(schema=CUSTOM_SCHEMA), metadata=org1),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert d.info is not None


async def test_create_validation(api: Api, org1: Metadata) -> None:
    too_big = {"type": "object", "description": "x" * (64 * 1024)}
    cases = [
        (_custom("9bad", CUSTOM_SCHEMA), "EVENT_NAME_INVALID", "event_type.event_name"),
        (_custom("has space", CUSTOM_SCHEMA), "EVENT_NAME_INVALID", "event_type.event_name"),
        (_custom("x" * 65, CUSTOM_SCHEMA), "EVENT_NAME_INVALID", "event_type.event_name"),
        (_custom("pointsIssued", CUSTOM_SCHEMA), "EVENT_NAME_RESERVED", "event_type.event_name"),
        (_custom("noSchema"), "SCHEMA_REQUIRED", "event_type.schema"),
        (_custom("badSchema", {"type": "wrong"}), "SCHEMA_INVALID", "event_type.schema"),
        (_custom("arraySchema", {"type": "array"}), "SCHEMA_INVALID", "event_type.schema"),
        (_custom("hugeSchema", too_big), "SCHEMA_TOO_LARGE", "event_type.schema"),
    ]
    for request, reason, field in cases:
        d = await expect_error(
            api.catalog.CreateEventType(request, metadata=org1), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert d.info is not None and d.info.reason == reason, request
        assert set(d.fields) == {field}


async def test_deactivate_and_reactivate_a_standard_event_for_one_org(
    api: Api, org1: Metadata
) -> None:
    off = await _update(api, org1, "pointsIssued", ["active"], active=False)
    assert off.active is False and off.standard
    active = await api.catalog.ListEventTypes(
        catalog_pb2.ListEventTypesRequest(active_only=True), metadata=org1
    )
    assert "pointsIssued" not in {e.event_name for e in active.event_types}
    assert len(active.event_types) == len(STANDARD_EVENTS) - 1
    org2 = await api.key(2, Role.READ)
    theirs = await api.catalog.GetEventType(
        catalog_pb2.GetEventTypeRequest(event_name="pointsIssued"), metadata=org2
    )
    assert theirs.active
    # An empty mask changes `active` (to the message's value).
    on = await api.catalog.UpdateEventType(
        catalog_pb2.UpdateEventTypeRequest(
            event_type=catalog_pb2.EventType(event_name="pointsIssued", active=True)
        ),
        metadata=org1,
    )
    assert on.active and on.HasField("schema")


async def test_update_custom_event_and_read_only_standard_fields(api: Api, org1: Metadata) -> None:
    await api.catalog.CreateEventType(_custom(schema=CUSTOM_SCHEMA), metadata=org1)
    new_schema = {"type": "object", "properties": {"sku": {"type": "string"}}}
    changed = await _update(
        api,
        org1,
        "orderShipped",
        ["schema", "description"],
        description="now with sku",
        schema=_struct(new_schema),
    )
    assert changed.description == "now with sku" and changed.active
    got = await api.catalog.GetEventType(
        catalog_pb2.GetEventTypeRequest(event_name="orderShipped"), metadata=org1
    )
    assert struct_to_dict(got.schema) == new_schema
    d = await expect_error(
        _update(api, org1, "orderShipped", ["schema"], schema=_struct({"type": 5})),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.reasons and set(d.reasons) == {"SCHEMA_INVALID"}
    d = await expect_error(
        _update(api, org1, "tierUpgraded", ["description"], description="mine"),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.info is not None and d.info.reason == "STANDARD_EVENT_READ_ONLY"
    d = await expect_error(
        _update(api, org1, "tierUpgraded", ["bogus"]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert d.info is not None and d.info.reason == "UPDATE_MASK_INVALID"
    await expect_error(
        _update(api, org1, "noSuchEvent", ["active"], active=True), grpc.StatusCode.NOT_FOUND
    )


async def test_unknown_event_type_suggests_the_nearest(api: Api, org1: Metadata) -> None:
    schema = {"type": "object"}
    await api.catalog.CreateEventType(_custom("orderShipped", schema), metadata=org1)
    for given, meant in (
        ("TransactionAdded", "transactionAdded"),
        ("ordershipped", "orderShipped"),
    ):
        d = await expect_error(
            api.catalog.GetEventType(
                catalog_pb2.GetEventTypeRequest(event_name=given), metadata=org1
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert d.message == f"event {given!r} does not exist (did you mean {meant!r}?)"
    d = await expect_error(
        api.catalog.GetEventType(catalog_pb2.GetEventTypeRequest(event_name="zzz"), metadata=org1),
        grpc.StatusCode.NOT_FOUND,
    )
    assert d.message == "event 'zzz' does not exist"
