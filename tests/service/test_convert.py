"""Proto <-> domain conversion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf import json_format

from eventnotify.domain import (
    Actor,
    ApiKey,
    CircuitState,
    DeliveryStatus,
    Role,
    SigningSecret,
    Webhook,
    WebhookType,
)
from eventnotify.errors import InvalidArgument
from eventnotify.store.logs import GroupMetrics
from eventnotify.v1 import catalog_pb2, log_pb2, webhook_pb2
from service import convert
from tests.support.entries import log_entry

T = datetime(2020, 4, 20, 10, 35, 47, 473000, tzinfo=UTC)


def _hook() -> Webhook:
    return Webhook(
        web_hook_id="5e9d7b03c64f3d00085d7f00",
        org_id=50074,
        name="DemoWebhook1",
        event_names=["transactionAdded"],
        url="https://example.com",
        type=WebhookType.QUEUE,
        method="PUT",
        headers={"A": "b"},
        max_allowed_connections=10,
        sla_in_seconds=30,
        no_of_retry_attempts=2,
        active=True,
        consumer_group_id="8371bfe1-4e27-427c-8d03-a30c85066a1b",
        ordered_delivery=True,
        created_on=T,
        last_updated_on=T,
        created_by=Actor(75040399, "bukl.till", "", "bukl.till", "TILL"),
        last_updated_by=Actor(type="SOMETHING_ELSE"),
        secrets=[SigningSecret("whsec_c2VjcmV0", T)],
        circuit_state=CircuitState.HALF_OPEN,
    )


def test_webhook_to_proto() -> None:
    msg = convert.webhook_to_proto(_hook())
    assert msg.web_hook_type == webhook_pb2.QUEUE and msg.method_type == webhook_pb2.PUT
    assert msg.attribution.created_on == "2020-04-20T10:35:47.473+0000"
    assert msg.attribution.created_by.type == 1  # TILL
    assert msg.attribution.last_updated_by.type == 0  # unknown kinds: unspecified
    assert msg.circuit_state == webhook_pb2.CIRCUIT_HALF_OPEN and msg.ordered_delivery
    assert "whsec" not in str(msg)


def test_webhook_changes_presence_and_mask() -> None:
    empty = convert.webhook_changes(webhook_pb2.Webhook())
    assert all(v is None for v in vars(empty).values())
    full = convert.webhook_changes(
        webhook_pb2.Webhook(
            web_hook_type=webhook_pb2.QUEUE_INT,
            method_type=webhook_pb2.DELETE,
            max_allowed_connections=0,
            active=False,
        )
    )
    assert full.type is WebhookType.QUEUE and full.method == "DELETE"
    assert full.max_allowed_connections == 0 and full.active is False
    masked = convert.webhook_changes(webhook_pb2.Webhook(), ["sla_in_seconds", "active", "name"])
    assert (masked.sla_in_seconds, masked.active, masked.name) == (3600, True, "")
    with pytest.raises(InvalidArgument) as caught:
        convert.webhook_changes(webhook_pb2.Webhook(), ["max_allowed_connections"])
    assert caught.value.code == 300004


def test_log_entry_without_attempt_has_no_consumer_response() -> None:
    pending = log_entry(event_name="n", ref_id="1_2", request_id="r", ingested_at=T)
    msg = convert.log_entry_to_proto(pending)
    assert not msg.HasField("consumer_response")
    as_json = json_format.MessageToDict(msg)
    assert "consumerResponse" not in as_json and "eventEndTimestamp" not in as_json
    assert as_json["eventIngestionTimestamp"] == "2020-04-20T10:35:47.473+0000"
    pending.last_http_status, pending.last_duration_ms = 0, 10_000  # a timeout
    assert convert.log_entry_to_proto(pending).consumer_response.time_taken == 10_000


def test_every_status_maps_by_name() -> None:
    for status in DeliveryStatus:
        assert (
            log_pb2.DeliveryStatus.Name(
                convert.log_entry_to_proto(
                    log_entry(event_name="n", status=status, ingested_at=T)
                ).status
            )
            == status.value
        )
        assert convert.status_name(log_pb2.DeliveryStatus.Value(status.value)) == status.value
    assert convert.status_name(0) == "" and convert.sort_name(0) == "TIME_DESC"
    with pytest.raises(InvalidArgument):
        convert.sort_name(77)


def test_struct_round_trip_keeps_integers() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}}}
    back = convert.struct_to_dict(convert.dict_to_struct(schema))
    assert back == schema and isinstance(back["properties"]["a"]["maxLength"], int)
    req = catalog_pb2.EventType(event_name="x")
    assert convert.event_type_from_proto(req).schema is None


def test_metrics_and_keys() -> None:
    m = convert.metrics_to_proto("g", GroupMetrics(5, 2, 1, 1, 1, 0, 3, 12.5), T, T)
    assert (m.total_events, m.sla_breaches, m.average_delivery_time) == (5, 3, 12.5)
    key = convert.api_key_to_proto(ApiKey("k1", 3, Role.WRITE, "hash", "ci", T))
    assert key.role == 2 and key.created_on.endswith("+0000") and "hash" not in str(key)
