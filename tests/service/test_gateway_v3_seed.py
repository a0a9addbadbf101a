"""The seed's v3 REST API replayed verbatim against the HTTP gateway.

Each sample request of ``../shared/seed/event-notifications.md`` is sent as
its exact bytes; each answer is compared key by key, in the seed's key order,
with the sample response: ids and times aside (their format is checked
instead), every value must be the sample's.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

from eventnotify.domain import DeliveryStatus, LogEntry, Role
from eventnotify.timefmt import utcnow
from tests.service.conftest import Http, Metadata
from tests.service.test_seed_fidelity import SEED

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")
SEED_ORG = 50074  # the org of the seed's log samples (refId "50074_...")


def raw_blocks() -> list[str]:
    """The seed's JSON samples, as written, in document order."""
    return re.findall(r"```json\s*\n(.*?)```", SEED.read_text(), re.S)


def samples() -> dict[str, Any]:
    blocks = raw_blocks()
    names = [
        "create_request",
        "create_response",
        "event_list_response",
        "update_request",
        "update_response",
        "event_response",
        "log_response",
        "by_request_response",
        "by_ref_response",
    ]
    assert len(blocks) == len(names)
    out: dict[str, Any] = dict(zip(names, blocks, strict=True))
    return out


def assert_same_keys_in_order(ours: dict[str, Any], seed: dict[str, Any]) -> None:
    """Every key of the seed's object, in its order, at the start of ours."""
    assert list(ours)[: len(seed)] == list(seed), (list(ours), list(seed))


def assert_webhook_like(ours: dict[str, Any], seed: dict[str, Any], skip: set[str]) -> None:
    assert_same_keys_in_order(ours, seed)
    att = ours["attribution"]
    assert_same_keys_in_order(att, seed["attribution"])
    for when in ("createdOn", "lastUpdatedOn"):
        assert TIME.match(att[when]), att[when]
    for who in ("createdBy", "lastUpdatedBy"):
        assert_same_keys_in_order(att[who], seed["attribution"][who])
        assert isinstance(att[who]["id"], int)
    assert HEX24.match(ours["webHookId"])
    assert uuid.UUID(ours["consumerGroupId"])
    for key, value in seed.items():
        if key in {"attribution", "webHookId", "consumerGroupId", *skip}:
            continue
        assert ours[key] == value and type(ours[key]) is type(value), key


async def _custom_events(http: Http, key: Metadata, s: dict[str, Any]) -> None:
    """The seed's org events (custom ones here), "transaction" with its schema."""
    schema = json.loads(s["event_response"])["data"]["schema"]
    for item in json.loads(s["event_list_response"])["data"]:
        name = item["eventName"]
        body = {
            "eventName": name,
            "active": True,
            "schema": schema if name == "transaction" else {"type": "object"},
        }
        r = await http.call("POST", "/v1/eventTypes", key, body=body)
        assert r.status == 200, r.body


async def test_webhook_samples_replayed_verbatim(http: Http) -> None:
    s = samples()
    key = await http.api.key(SEED_ORG, Role.WRITE)
    await _custom_events(http, key, s)

    created = await http.call("POST", "/v3/webHooks", key, raw=s["create_request"].encode())
    assert created.status == 200, created.body
    seed = json.loads(s["create_response"])
    assert list(created.body)[:2] == ["data", "errors"] and created.body["errors"] is None
    # maxAllowedConnections 10.99 is accepted and stored as 10, as the seed shows.
    assert_webhook_like(created.body["data"], seed["data"], skip=set())
    hid = created.body["data"]["webHookId"]

    updated = await http.call("PUT", f"/v3/webHooks/{hid}", key, raw=s["update_request"].encode())
    assert updated.status == 200, updated.body
    seed = json.loads(s["update_response"])
    request = json.loads(s["update_request"])
    # The seed's update sample answers with another webhook's name and retry
    # count than its own request sets; ours answers with the request's.
    assert_webhook_like(updated.body["data"], seed["data"], skip={"name", "noOfRetryAttempts"})
    assert updated.body["data"]["name"] == request["name"]
    assert updated.body["data"]["noOfRetryAttempts"] == request["noOfRetryAttempts"]
    assert updated.body["data"]["webHookId"] == hid
    assert updated.body["data"]["consumerGroupId"] == created.body["data"]["consumerGroupId"]

    listed = await http.call("GET", "/v3/webHooks", key)
    assert listed.status == 200 and [h["webHookId"] for h in listed.body["data"]] == [hid]


async def test_event_metadata_samples(http: Http) -> None:
    s = samples()
    key = await http.api.key(SEED_ORG, Role.WRITE)
    await _custom_events(http, key, s)

    listed = await http.call("GET", "/v3/webHooks/eventMetaData", key)
    assert listed.status == 200 and listed.body["errors"] is None
    ours = {e["eventName"]: e for e in listed.body["data"]}
    for item in json.loads(s["event_list_response"])["data"]:
        assert_same_keys_in_order(ours[item["eventName"]], item)
        assert {k: ours[item["eventName"]][k] for k in item} == item

    got = await http.call("GET", "/v3/webHooks/eventMetaData/transaction", key)
    assert got.status == 200
    seed = json.loads(s["event_response"])["data"]
    assert_same_keys_in_order(got.body["data"], seed)
    assert {k: got.body["data"][k] for k in seed} == seed  # the schema too, exactly


def _entry(item: dict[str, Any], group: str) -> LogEntry:
    ingested = utcnow() - timedelta(seconds=5)
    took = int(item["consumerResponse"]["time_taken"])
    return LogEntry(
        event_id=item["eventId"],
        source_event_id="src-" + item["eventId"],
        org_id=SEED_ORG,
        web_hook_id="0" * 24,
        consumer_group_id=group,
        event_name=item["eventName"],
        ref_id=item["refId"],
        request_id=item["requestId"],
        status=DeliveryStatus.DELIVERED,
        ingested_at=ingested,
        started_at=ingested + timedelta(milliseconds=3),
        ended_at=ingested + timedelta(milliseconds=3 + took),
        last_http_status=int(item["consumerResponse"]["webhookHttpStatus"]),
        last_duration_ms=took,
    )


def assert_log_like(ours: dict[str, Any], seed: dict[str, Any]) -> None:
    assert_same_keys_in_order(ours, seed)
    for key, value in seed.items():
        if key.endswith("Timestamp") and value is not None:
            assert TIME.match(ours[key]), (key, ours[key])
        elif key != "consumerGroupId":
            assert ours[key] == value and type(ours[key]) is type(value), key
    assert list(ours["consumerResponse"]) == list(seed["consumerResponse"])


async def test_event_log_samples(http: Http) -> None:
    s = samples()
    key = await http.api.key(SEED_ORG, Role.READ)
    by_id = json.loads(s["log_response"])["data"]
    by_request = json.loads(s["by_request_response"])["data"][0]
    await http.api.store.logs.upsert_many(
        [_entry(by_id, by_id["consumerGroupId"]), _entry(by_request, by_request["consumerGroupId"])]
    )

    r = await http.call("GET", f"/v3/webHooks/eventLog/{by_id['eventId']}", key)
    assert r.status == 200 and r.body["errors"] is None
    assert_log_like(r.body["data"], by_id)
    assert r.body["data"]["consumerGroupId"] == by_id["consumerGroupId"]

    r = await http.call("GET", f"/v3/webHooks/eventLog/requestId/{by_request['requestId']}", key)
    assert r.status == 200 and len(r.body["data"]) == 1
    assert_log_like(r.body["data"][0], by_request)

    by_ref = json.loads(s["by_ref_response"])["data"][0]
    r = await http.call("GET", f"/v3/webHooks/eventLog/refId/{by_ref['refId']}", key)
    assert r.status == 200 and len(r.body["data"]) == 1
    assert_log_like(r.body["data"][0], by_ref)


async def test_floats_are_written_as_the_seed_writes_them(http: Http) -> None:
    s = samples()
    key = await http.api.key(SEED_ORG, Role.READ)
    item = json.loads(s["log_response"])["data"]
    await http.api.store.logs.upsert_many([_entry(item, item["consumerGroupId"])])
    async with http.session.get(
        f"{http.base}/v3/webHooks/eventLog/{item['eventId']}", headers=dict(key)
    ) as r:
        text = await r.text()
    assert '"consumerResponse":{"webhookHttpStatus":200.0,"time_taken":195.0}' in text
    assert '"slaBreachTimestamp":null' in text and text.endswith(',"errors":null}')


async def test_documented_errors(http: Http) -> None:
    key = await http.api.key(SEED_ORG, Role.WRITE)
    base = json.loads(samples()["create_request"])

    r = await http.call("POST", "/v3/webHooks", key, body={**base, "eventNames": []})
    assert r.status == 400 and r.body["data"] is None
    assert r.body["errors"][0]["code"] == 51003

    r = await http.call("POST", "/v3/webHooks", key, body={**base, "maxAllowedConnections": 0})
    assert r.status == 400 and [e["code"] for e in r.body["errors"]] == [51007]

    no_max = {k: v for k, v in base.items() if k != "maxAllowedConnections"}
    r = await http.call("POST", "/v3/webHooks", key, body=no_max)
    assert r.status == 400 and [e["code"] for e in r.body["errors"]] == [300004]

    r = await http.call("PUT", "/v3/webHooks/5e12e3ec57871a0008c15d9e", key, body=base)
    assert r.status == 400
    assert r.body == {
        "data": None,
        "errors": [
            {
                "code": 400,
                "message": "webHookId is invalid",
                "reason": "WEBHOOK_NOT_FOUND",
                "field": None,
            }
        ],
    }

    r = await http.call("GET", "/v3/webHooks/eventLog/unknown-event", key)
    assert r.status == 404 and r.body["errors"][0]["message"] == "eventId is invalid"


async def test_queue_webhooks_and_delete(http: Http) -> None:
    key = await http.api.key(SEED_ORG, Role.WRITE)
    body = {
        "name": "q",
        "eventNames": ["transactionAdded"],
        "webHookType": "queue",
        "webHookUrl": "brand.events",
        "maxAllowedConnections": 2.5,
    }
    r = await http.call("POST", "/v3/webHooks", key, body=body)
    assert r.status == 200, r.body
    assert r.body["data"]["webHookType"] == "QUEUE"
    assert r.body["data"]["maxAllowedConnections"] == 2
    hid = r.body["data"]["webHookId"]
    r = await http.call("DELETE", f"/v3/webHooks/{hid}", key)
    assert r.status == 200 and r.body["data"]["active"] is False
    assert (await http.call("GET", "/v3/webHooks", key)).body["data"] == []
