"""The gateway's response JSON equals json_format's, message by message."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from eventnotify.v1 import admin_pb2, catalog_pb2, common_pb2, log_pb2, webhook_pb2
from service.convert import dict_to_struct, log_entry_to_proto
from service.gateway.jsonmap import message_to_json
from service.gateway.rules import api_services, routes_of
from service.gateway.transcode import message_class
from tests.service.conftest import webhook
from tests.service.test_logs_api import entry


def _hook() -> Any:
    hook = webhook(org_id=-7, active=False, no_of_retry_attempts=0)
    hook.attribution.CopyFrom(
        common_pb2.Attribution(
            created_on="2020-04-20T10:35:47.473+0000",
            created_by=common_pb2.Actor(id=2**40, code="k", type=common_pb2.API_KEY),
        )
    )
    return hook


def samples() -> list[Any]:
    empties = [message_class(r.output)() for r in routes_of(api_services())]
    odd_enum = webhook_pb2.Webhook()
    odd_enum.web_hook_type = 7  # type: ignore[assignment]  # an enum number we do not know
    return [
        *empties,
        _hook(),
        odd_enum,
        webhook_pb2.Webhook(web_hook_type=webhook_pb2.QUEUE_INT),  # an aliased number
        webhook_pb2.CreateWebhookResponse(webhook=_hook(), signing_secret="whsec_x"),
        webhook_pb2.ListWebhooksResponse(webhooks=[_hook(), webhook()], next_page_token="t"),
        log_entry_to_proto(entry(1, "g", end_after_ms=195)),
        log_pb2.ListEventLogsResponse(
            entries=[log_entry_to_proto(entry(i, "g", end_after_ms=i)) for i in range(3)]
        ),
        catalog_pb2.EventType(
            event_name="x",
            schema=dict_to_struct({"type": "object", "n": 1.5, "l": [1, None, {"a": True}]}),
        ),
        log_pb2.ConsumerGroupMetrics(average_delivery_time=float("nan"), total_events=3),
        log_pb2.ConsumerGroupMetrics(average_delivery_time=float("inf")),
        log_pb2.ConsumerGroupMetrics(average_delivery_time=12.25),
        admin_pb2.ListApiKeysResponse(api_keys=[admin_pb2.ApiKey(key_id="k", org_id=2**62)]),
    ]


@pytest.mark.parametrize("msg", samples(), ids=lambda m: m.DESCRIPTOR.name)
def test_same_json_as_json_format(msg: Any) -> None:
    expected = json_format.MessageToDict(msg, always_print_fields_with_no_presence=True)
    assert message_to_json(msg) == expected
