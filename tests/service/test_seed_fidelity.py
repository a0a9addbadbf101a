"""The canonical JSON of our messages uses exactly the original API's keys.

Every sample in the seed document is parsed into our messages with
``ignore_unknown_fields=False`` (an unknown key fails), and our own messages,
serialised, carry every key the seed shows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from eventnotify.v1 import catalog_pb2, log_pb2, webhook_pb2
from service.convert import log_entry_to_proto
from tests.service.conftest import Api, Metadata, create_hook
from tests.service.test_logs_api import entry

SEED = Path("/work/shared/seed/event-notifications.md")


def json_blocks() -> list[Any]:
    text = SEED.read_text()
    return [json.loads(b) for b in re.findall(r"```json\s*\n(.*?)```", text, re.S)]


def responses() -> list[Any]:
    return [b["data"] for b in json_blocks() if isinstance(b, dict) and "data" in b]


def _kind(item: dict[str, Any]) -> Any:
    if "webHookId" in item:
        return webhook_pb2.Webhook
    if "refId" in item:
        return log_pb2.DeliveryLogEntry
    assert "eventName" in item, item
    return catalog_pb2.EventType


def items() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for data in responses():
        out += data if isinstance(data, list) else [data]
    return out


def keys(value: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a JSON value (list items merged; free maps and
    schemas not descended into)."""
    if isinstance(value, list):
        return set().union(*(keys(v, prefix) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for k, v in value.items():
        path = f"{prefix}{k}"
        found.add(path)
        if k not in {"webHookHeaders", "schema"}:
            found |= keys(v, path + ".")
    return found


def test_the_seed_has_every_kind_of_sample() -> None:
    kinds = [_kind(i) for i in items()]
    assert kinds.count(webhook_pb2.Webhook) == 2
    assert kinds.count(log_pb2.DeliveryLogEntry) == 3
    assert kinds.count(catalog_pb2.EventType) == 8  # 7 listed + 1 with its schema


def test_every_sample_response_parses_without_unknown_keys() -> None:
    for item in items():
        msg = json_format.ParseDict(item, _kind(item)(), ignore_unknown_fields=False)
        assert msg.ListFields()
        if "maxAllowedConnections" in item:
            assert msg.max_allowed_connections == int(item["maxAllowedConnections"])
        if item.get("consumerResponse"):
            assert msg.consumer_response.time_taken == int(item["consumerResponse"]["time_taken"])
        if "schema" in item:
            assert json_format.MessageToDict(msg)["schema"] == item["schema"]


def test_sample_requests_use_only_webhook_keys() -> None:
    requests = [b for b in json_blocks() if isinstance(b, dict) and "data" not in b]
    assert len(requests) == 2
    known = {f.json_name for f in webhook_pb2.Webhook.DESCRIPTOR.fields}
    for request in requests:
        assert set(request) <= known


def _ours(msg: Any) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(msg, always_print_fields_with_no_presence=True)
    return out


async def test_our_webhooks_serialise_with_the_seed_keys(api: Api, org1: Metadata) -> None:
    hook = (await create_hook(api, org1)).webhook
    ours = keys(_ours(hook))
    for item in items():
        if _kind(item) is webhook_pb2.Webhook:
            assert keys(item) <= ours, keys(item) - ours


def test_our_log_entries_serialise_with_the_seed_keys() -> None:
    done = entry(1, "g", end_after_ms=195)
    ours = keys(_ours(log_entry_to_proto(done)))
    for item in items():
        if _kind(item) is log_pb2.DeliveryLogEntry:
            assert keys(item) <= ours, keys(item) - ours
    assert {"consumerResponse.webhookHttpStatus", "consumerResponse.time_taken"} <= ours


async def test_our_event_types_serialise_with_the_seed_keys(api: Api, org1: Metadata) -> None:
    got = await api.catalog.GetEventType(
        catalog_pb2.GetEventTypeRequest(event_name="transactionAdded"), metadata=org1
    )
    ours = keys(_ours(got))
    for item in items():
        if _kind(item) is catalog_pb2.EventType:
            assert keys(item) <= ours
