"""The v1 HTTP mapping end to end: real gateway, real gRPC server, real stack."""

from __future__ import annotations

from typing import Any

import aiohttp

from eventnotify.domain import Role
from service.gateway.app import HttpGateway
from tests.service.conftest import ApiFactory, Http

HOOK: dict[str, Any] = {
    "name": "http-hook",
    "eventNames": ["transactionAdded"],
    "webHookUrl": "https://example.com/hook",
    "maxAllowedConnections": 5,
}


def _info(body: Any) -> dict[str, Any]:
    return next(d for d in body["error"]["details"] if d["@type"].endswith("ErrorInfo"))


def _violations(body: Any) -> list[dict[str, Any]]:
    bad = [d for d in body["error"]["details"] if d["@type"].endswith("BadRequest")]
    return list(bad[0]["fieldViolations"]) if bad else []


async def test_webhook_lifecycle_over_http(http: Http) -> None:
    key = await http.api.key(1, Role.WRITE)
    created = await http.call("POST", "/v1/webhooks", key, body=HOOK)
    assert created.status == 200, created.body
    hook = created.body["webhook"]
    assert created.body["signingSecret"].startswith("whsec_")
    assert hook["maxAllowedConnections"] == 5 and hook["orgId"] == "1"
    assert created.headers["X-Request-Id"]
    hid = hook["webHookId"]

    got = await http.call("GET", f"/v1/webhooks/{hid}", key)
    assert got.status == 200 and got.body["name"] == "http-hook"

    patched = await http.call(
        "PATCH",
        f"/v1/webhooks/{hid}?updateMask=slaInSeconds",
        key,
        body={"slaInSeconds": 60, "name": "ignored: not in the mask"},
    )
    assert patched.status == 200, patched.body
    assert patched.body["slaInSeconds"] == 60 and patched.body["name"] == "http-hook"

    listed = await http.call("GET", "/v1/webhooks?pageSize=10", key)
    assert [h["webHookId"] for h in listed.body["webhooks"]] == [hid]

    rotated = await http.call("POST", f"/v1/webhooks/{hid}:rotateSecret", key, body={})
    assert rotated.status == 200 and rotated.body["signingSecret"].startswith("whsec_")

    deleted = await http.call("DELETE", f"/v1/webhooks/{hid}", key)
    assert deleted.status == 200 and deleted.body["active"] is False
    listed = await http.call("GET", "/v1/webhooks", key)
    assert listed.body["webhooks"] == []
    listed = await http.call("GET", "/v1/webhooks?includeInactive=true", key)
    assert len(listed.body["webhooks"]) == 1


async def test_validation_errors_carry_reason_code_and_every_field(http: Http) -> None:
    key = await http.api.key(1, Role.WRITE)
    bad = {**HOOK, "eventNames": [], "maxAllowedConnections": 0}
    r = await http.call("POST", "/v1/webhooks", key, body=bad)
    assert r.status == 400
    assert r.body["error"]["status"] == "INVALID_ARGUMENT" and r.body["error"]["code"] == 400
    info = _info(r.body)
    assert info["reason"] == "EVENT_NAMES_REQUIRED" and info["metadata"]["code"] == "51003"
    fields = {v["field"]: v["reason"] for v in _violations(r.body)}
    assert fields == {
        "webhook.event_names": "EVENT_NAMES_REQUIRED",
        "webhook.max_allowed_connections": "MAX_CONNECTIONS_INVALID",
    }
    missing = {k: v for k, v in HOOK.items() if k != "maxAllowedConnections"}
    r = await http.call("POST", "/v1/webhooks", key, body=missing)
    assert _info(r.body)["metadata"]["code"] == "300004"


async def test_requests_the_gateway_cannot_map_are_field_level_400s(http: Http) -> None:
    key = await http.api.key(1, Role.WRITE)
    r = await http.call("POST", "/v1/webhooks", key, raw=b"{not json")
    assert r.status == 400 and _violations(r.body)[0]["field"] == "body"
    r = await http.call("GET", "/v1/webhooks?pageSize=many", key)
    assert r.status == 400 and _violations(r.body)[0]["field"] == "pageSize"
    r = await http.call("GET", "/v1/webhooks?colour=blue", key)
    assert r.status == 400 and _violations(r.body)[0]["field"] == "colour"
    r = await http.call("POST", "/v1/webhooks", key, body={**HOOK, "maxAllowedConnections": "x"})
    assert r.status == 400
    assert _violations(r.body)[0]["field"] == "webhook.maxAllowedConnections"
    r = await http.call("POST", "/v1/webhooks", key, body={**HOOK, "colour": "blue"})
    assert r.status == 400 and "colour" in _violations(r.body)[0]["description"]


async def test_unknown_resources_are_404_with_the_reason(http: Http) -> None:
    key = await http.api.key(1, Role.READ)
    r = await http.call("GET", "/v1/webhooks/5e9d7b03c64f3d00085d7f00", key)
    assert r.status == 404 and _info(r.body)["reason"] == "WEBHOOK_NOT_FOUND"
    r = await http.call("GET", "/v1/eventLogs/nope", key)
    assert r.status == 404 and _info(r.body)["reason"] == "EVENT_LOG_NOT_FOUND"


async def test_the_request_id_is_the_callers_and_reaches_the_server(http: Http) -> None:
    key = await http.api.key(1, Role.READ)
    r = await http.call("GET", "/v1/eventTypes", key, headers={"X-Request-Id": "abc-123"})
    assert r.status == 200 and r.headers["X-Request-Id"] == "abc-123"
    names = [e["eventName"] for e in r.body["eventTypes"]]
    assert "transactionAdded" in names
    r = await http.call("GET", "/v1/eventLogs/x", key, headers={"X-CAP-REQUEST-ID": "cap-9"})
    assert r.headers["X-Request-Id"] == "cap-9"


async def test_rate_limited_calls_get_429_and_retry_after(make_api: ApiFactory) -> None:
    api = await make_api(EVENTNOTIFY_RATE_LIMIT_RPS="0.5", EVENTNOTIFY_RATE_LIMIT_BURST="2")
    gateway = HttpGateway("127.0.0.1:0", f"127.0.0.1:{api.port}")
    port = await gateway.start()

    try:
        async with aiohttp.ClientSession() as session:
            h = Http(api, gateway, session, f"http://127.0.0.1:{port}")
            key = await api.key(1, Role.READ)
            statuses = [(await h.call("GET", "/v1/webhooks", key)) for _ in range(3)]
            assert [s.status for s in statuses] == [200, 200, 429]
            limited = statuses[-1]
            assert _info(limited.body)["reason"] == "RATE_LIMITED"
            assert 1 <= int(limited.headers["Retry-After"]) <= 2
            assert any(d["@type"].endswith("RetryInfo") for d in limited.body["error"]["details"])
    finally:
        await gateway.stop()


async def test_openapi_document_is_served(http: Http) -> None:
    r = await http.call("GET", "/openapi.json")
    assert r.status == 200 and r.body["openapi"].startswith("3.")
    assert "/v1/webhooks/{web_hook_id}:rotateSecret" in r.body["paths"]
    assert "/v3/webHooks" in r.body["paths"]


async def test_router_refusals_are_json_too(http: Http) -> None:
    r = await http.call("GET", "/v1/nothing-here")
    assert r.status == 404 and r.body["error"]["status"] == "NOT_FOUND"
    r = await http.call("PUT", "/v1/webhooks")
    assert r.status == 405 and "POST" in r.headers["Allow"]
