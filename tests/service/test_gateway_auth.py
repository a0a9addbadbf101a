"""Authentication, roles and tenancy through the HTTP gateway: the gRPC
interceptor decides, the gateway only reports (401 / 403 / 404)."""

from __future__ import annotations

from typing import Any

from eventnotify.domain import Role
from tests.service.conftest import Http

HOOK: dict[str, Any] = {
    "name": "tenant-hook",
    "eventNames": ["transactionAdded"],
    "webHookUrl": "https://example.com/hook",
    "maxAllowedConnections": 5,
}


def _reason(body: Any) -> str:
    if "error" in body:
        infos = [d for d in body["error"]["details"] if d["@type"].endswith("ErrorInfo")]
        return str(infos[0]["reason"])
    return str(body["errors"][0]["reason"])


async def test_missing_and_bad_keys_get_401_on_v1_and_v3(http: Http) -> None:
    for path in ("/v1/webhooks", "/v1/eventTypes", "/v3/webHooks", "/v3/webHooks/eventMetaData"):
        for key in (None, (("authorization", "Bearer not-a-key"),), (("authorization", "x"),)):
            r = await http.call("GET", path, key)
            assert r.status == 401, (path, key, r.body)
            assert _reason(r.body) == "UNAUTHENTICATED"
    r = await http.call("POST", "/v3/webHooks", None, body=HOOK)
    assert r.status == 401 and r.body["data"] is None


async def test_read_only_keys_get_403_on_every_write(http: Http) -> None:
    writer = await http.api.key(1, Role.WRITE)
    reader = await http.api.key(1, Role.READ)
    hid = (await http.call("POST", "/v1/webhooks", writer, body=HOOK)).body["webhook"]["webHookId"]
    writes = [
        ("POST", "/v1/webhooks", {**HOOK, "name": "other"}),
        ("PATCH", f"/v1/webhooks/{hid}", {"slaInSeconds": 5}),
        ("DELETE", f"/v1/webhooks/{hid}", None),
        ("POST", f"/v1/webhooks/{hid}:rotateSecret", {}),
        ("POST", f"/v1/webhooks/{hid}:sendTestEvent", {}),
        ("POST", "/v1/eventTypes", {"eventName": "custom1", "schema": {"type": "object"}}),
        ("POST", "/v1/events", {"eventName": "transactionAdded", "refId": "1_1", "data": {}}),
        ("POST", "/v1/eventLogs/some-id:resend", {}),
        ("POST", f"/v1/webhooks/{hid}:recoverFailed", {}),
        ("POST", "/v1/apiKeys", {"role": "READ"}),
        ("POST", "/v3/webHooks", {**HOOK, "name": "v3"}),
        ("PUT", f"/v3/webHooks/{hid}", {"slaInSeconds": 5}),
        ("DELETE", f"/v3/webHooks/{hid}", None),
    ]
    for verb, path, body in writes:
        r = await http.call(verb, path, reader, body=body)
        assert r.status == 403, (verb, path, r.body)
        assert _reason(r.body) == "PERMISSION_DENIED"
    assert (await http.call("GET", f"/v1/webhooks/{hid}", reader)).status == 200
    # Nothing changed.
    got = await http.call("GET", f"/v1/webhooks/{hid}", reader)
    assert got.body["active"] is True and got.body["slaInSeconds"] == 3600


async def test_another_orgs_resources_are_never_visible(http: Http) -> None:
    org1 = await http.api.key(1, Role.WRITE)
    org2 = await http.api.key(2, Role.ADMIN)
    created = await http.call("POST", "/v3/webHooks", org1, body=HOOK)
    hid = created.body["data"]["webHookId"]
    group = created.body["data"]["consumerGroupId"]
    assert (await http.call("GET", f"/v1/webhooks/{hid}", org2)).status == 404
    assert (await http.call("GET", "/v1/webhooks", org2)).body["webhooks"] == []
    assert (await http.call("GET", "/v3/webHooks", org2)).body["data"] == []
    r = await http.call("PUT", f"/v3/webHooks/{hid}", org2, body={"slaInSeconds": 5})
    assert r.status == 400 and r.body["errors"][0]["message"] == "webHookId is invalid"
    assert (await http.call("DELETE", f"/v1/webhooks/{hid}", org2)).status == 404
    r = await http.call("GET", f"/v1/consumerGroups/{group}/metrics", org2)
    assert r.status == 404
    r = await http.call("PATCH", f"/v1/webhooks/{hid}", org2, body={"name": "stolen"})
    assert r.status == 404
    # The owner still sees it unchanged.
    mine = await http.call("GET", f"/v1/webhooks/{hid}", org1)
    assert mine.body["name"] == "tenant-hook" and mine.body["slaInSeconds"] == 3600
    # org 2's key lists only org 2's keys.
    keys = await http.call("GET", "/v1/apiKeys", org2)
    assert keys.status == 200 and {k["orgId"] for k in keys.body["apiKeys"]} == {"2"}
