"""Authentication, roles, API keys, request ids and the access log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from bson import ObjectId

from eventnotify.domain import ApiKey, Role
from eventnotify.errors import Unauthenticated
from eventnotify.logging import JsonFormatter, request_id_var
from eventnotify.store.api_keys import hash_secret
from eventnotify.timefmt import utcnow
from eventnotify.v1 import admin_pb2, catalog_pb2, webhook_pb2
from service.api.auth import Authenticator
from service.core.keys import mint_key, new_key_secret
from tests.service.conftest import ROOT_KEY, Api, create_hook, expect_error
from tests.support.waiting import wait_until

LIST = webhook_pb2.ListWebhooksRequest()


async def test_missing_malformed_unknown_and_revoked_keys_are_unauthenticated(api: Api) -> None:
    admin = await api.key(1, Role.ADMIN)
    victim = await api.key(1, Role.READ)
    await api.webhooks.ListWebhooks(LIST, metadata=victim)  # works, and is now cached
    listed = await api.keys.ListApiKeys(admin_pb2.ListApiKeysRequest(), metadata=admin)
    victim_id = next(
        k.key_id
        for k in (await api.store.api_keys.list_for_org(1))
        if k.secret_hash == hash_secret(victim[0][1].removeprefix("Bearer "))
    )
    assert victim_id in {k.key_id for k in listed.api_keys}
    revoked = await api.keys.RevokeApiKey(
        admin_pb2.RevokeApiKeyRequest(key_id=victim_id), metadata=admin
    )
    assert revoked.revoked
    for md in (
        (),
        (("authorization", "Basic abc"),),
        (("authorization", "Bearer"),),
        (("authorization", "Bearer en_nope_nope"),),
        victim,  # revoked through the API: refused at once despite the cache
    ):
        d = await expect_error(
            api.webhooks.ListWebhooks(LIST, metadata=md), grpc.StatusCode.UNAUTHENTICATED
        )
        assert d.info is not None and d.info.reason == "UNAUTHENTICATED"


async def test_roles(api: Api) -> None:
    read = await api.key(1, Role.READ)
    write = await api.key(1, Role.WRITE)
    await api.webhooks.ListWebhooks(LIST, metadata=read)
    await api.catalog.ListEventTypes(catalog_pb2.ListEventTypesRequest(), metadata=read)
    d = await expect_error(create_hook(api, read), grpc.StatusCode.PERMISSION_DENIED)
    assert d.info is not None and d.info.reason == "PERMISSION_DENIED"
    await expect_error(
        api.catalog.UpdateEventType(
            catalog_pb2.UpdateEventTypeRequest(
                event_type=catalog_pb2.EventType(event_name="pointsIssued")
            ),
            metadata=read,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await create_hook(api, write)
    await expect_error(
        api.keys.ListApiKeys(admin_pb2.ListApiKeysRequest(), metadata=write),
        grpc.StatusCode.PERMISSION_DENIED,
    )


async def test_admin_mints_for_its_own_org_only(api: Api) -> None:
    admin = await api.key(1, Role.ADMIN)
    made = await api.keys.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(role=admin_pb2.READ, description="ci"), metadata=admin
    )
    assert made.api_key.org_id == 1 and made.api_key.role == admin_pb2.READ
    assert made.secret.startswith(f"en_{made.api_key.key_id}_")
    minted = (("authorization", f"Bearer {made.secret}"),)
    await api.webhooks.ListWebhooks(LIST, metadata=minted)
    d = await expect_error(
        api.keys.CreateApiKey(
            admin_pb2.CreateApiKeyRequest(org_id=2, role=admin_pb2.READ), metadata=admin
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert d.info is not None
    d = await expect_error(
        api.keys.CreateApiKey(admin_pb2.CreateApiKeyRequest(), metadata=admin),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.reasons == ["ROLE_REQUIRED"]
    stored = await api.store.api_keys.list_for_org(1)
    assert all(made.secret not in repr(k) for k in stored)  # only the hash is kept
    await expect_error(
        api.keys.RevokeApiKey(admin_pb2.RevokeApiKeyRequest(key_id="nope"), metadata=admin),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_root_key_acts_for_any_org(api: Api) -> None:
    root = (("authorization", f"Bearer {ROOT_KEY}"),)
    made = await api.keys.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(org_id=7, role=admin_pb2.ADMIN), metadata=root
    )
    assert made.api_key.org_id == 7
    as_org9 = (*root, ("x-org-id", "9"))
    hook = (await create_hook(api, as_org9)).webhook
    assert hook.org_id == 9
    listed = await api.keys.ListApiKeys(
        admin_pb2.ListApiKeysRequest(), metadata=(*root, ("x-org-id", "7"))
    )
    assert [k.key_id for k in listed.api_keys] == [made.api_key.key_id]
    d = await expect_error(
        api.webhooks.ListWebhooks(LIST, metadata=root), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert d.info is not None and d.info.reason == "ORG_ID_REQUIRED"
    await expect_error(
        api.keys.CreateApiKey(admin_pb2.CreateApiKeyRequest(role=admin_pb2.READ), metadata=root),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await expect_error(
        api.webhooks.ListWebhooks(LIST, metadata=(("authorization", "Bearer wrong-root"),)),
        grpc.StatusCode.UNAUTHENTICATED,
    )


async def test_key_lookups_are_cached_for_a_few_seconds(api: Api) -> None:
    now = [1000.0]
    auth = Authenticator(api.store.api_keys, ttl=5.0, clock=lambda: now[0])
    key, secret = await mint_key(api.store.api_keys, 3, Role.READ)
    caller = await auth.authenticate(f"Bearer {secret}", "")
    assert (caller.org_id, caller.role, caller.key_id) == (3, Role.READ, key.key_id)
    await api.store.api_keys.revoke(3, key.key_id)  # e.g. by another replica
    now[0] += 4.0
    assert (await auth.authenticate(f"Bearer {secret}", "")).key_id == key.key_id
    now[0] += 1.5
    with pytest.raises(Unauthenticated):
        await auth.authenticate(f"Bearer {secret}", "")


async def test_request_id_is_echoed_or_generated(api: Api) -> None:
    md = await api.key(1, Role.READ)
    call = api.webhooks.ListWebhooks(LIST, metadata=(*md, ("x-request-id", "abc-123")))
    await call
    assert dict(await call.initial_metadata())["x-request-id"] == "abc-123"
    assert dict(await call.trailing_metadata())["x-request-id"] == "abc-123"
    call = api.webhooks.ListWebhooks(LIST, metadata=md)
    await call
    generated = dict(await call.initial_metadata())["x-request-id"]
    assert len(generated) == 36
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.webhooks.GetWebhook(
            webhook_pb2.GetWebhookRequest(web_hook_id="x"),
            metadata=(*md, ("x-request-id", "err-1")),
        )
    assert dict(caught.value.trailing_metadata())["x-request-id"] == "err-1"


class _Lines(logging.Handler):
    """Formats each record as it is emitted, in the emitter's context: what a
    log shipper would read, with the context variables the server had set."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextmanager
def _captured(name: str) -> Iterator[_Lines]:
    logger = logging.getLogger(name)
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_access_log_line_carries_the_callers_request_id(api: Api) -> None:
    md = await api.key(4, Role.READ)
    assert request_id_var.get() is None  # only the server can put it in the line
    with _captured("eventnotify.access") as access:
        await expect_error(
            api.webhooks.GetWebhook(
                webhook_pb2.GetWebhookRequest(web_hook_id="x"),
                metadata=(*md, ("x-request-id", "log-me")),
            ),
            grpc.StatusCode.NOT_FOUND,
        )

        async def logged() -> list[dict[str, Any]]:
            return [x for x in access.lines if x["method"].endswith("/GetWebhook")]

        # The server writes the line after the status has gone to the client.
        [line] = await wait_until(logged, within=10.0, interval=0.01)
    assert line["method"] == "/eventnotify.v1.WebhookService/GetWebhook"
    assert line["code"] == "NOT_FOUND" and line["duration_ms"] >= 0
    assert line["request_id"] == "log-me" and line["org_id"] == 4


async def test_internal_errors_carry_only_the_request_id(api: Api) -> None:
    md = await api.key(1, Role.READ)
    # A stored webhook missing a required field: reading it fails inside the
    # server with a KeyError, an error no handler maps to a domain error.
    broken = ObjectId()
    await api.store.db["webhooks"].insert_one(
        {"_id": broken, "org_id": 1, "name": "broken", "consumer_group_id": "cg-broken"}
    )
    with _captured("eventnotify.api") as server_log:
        d = await expect_error(
            api.webhooks.GetWebhook(
                webhook_pb2.GetWebhookRequest(web_hook_id=str(broken)),
                metadata=(*md, ("x-request-id", "boom-1")),
            ),
            grpc.StatusCode.INTERNAL,
        )
    # The client learns the request id and nothing of the internals.
    assert d.message == "internal error (request id boom-1)"
    assert d.info is not None and d.info.reason == "INTERNAL" and dict(d.info.metadata) == {}
    assert d.bad_request is None and d.retry is None
    # The operator finds the cause under that request id.
    [logged] = [x for x in server_log.lines if x["level"] == "ERROR"]
    assert logged["request_id"] == "boom-1"
    assert "KeyError" in logged["exc"] and "max_allowed_connections" in logged["exc"]


async def test_internal_error_returns_the_request_id_in_trailing_metadata(api: Api) -> None:
    md = await api.key(1, Role.READ)
    broken = ObjectId()
    await api.store.db["webhooks"].insert_one(
        {"_id": broken, "org_id": 1, "name": "broken", "consumer_group_id": "cg-broken"}
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.webhooks.GetWebhook(
            webhook_pb2.GetWebhookRequest(web_hook_id=str(broken)), metadata=md
        )
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    generated = dict(caught.value.trailing_metadata())["x-request-id"]
    assert caught.value.details() == f"internal error (request id {generated})"


async def test_unknown_keys_are_not_cached(api: Api) -> None:
    key_id, secret = new_key_secret()
    md = (("authorization", f"Bearer {secret}"),)
    await expect_error(
        api.webhooks.ListWebhooks(LIST, metadata=md), grpc.StatusCode.UNAUTHENTICATED
    )
    # The same secret becomes a key (as if minted by another replica): it
    # must work on the very next call, not after a negative-cache expiry.
    key = ApiKey(
        key_id=key_id,
        org_id=5,
        role=Role.READ,
        secret_hash=hash_secret(secret),
        description="late",
        created_on=utcnow(),
    )
    await api.store.api_keys.insert(key)
    await api.webhooks.ListWebhooks(LIST, metadata=md)


async def test_a_key_revoked_elsewhere_stops_working(api: Api) -> None:
    key, secret = await mint_key(api.store.api_keys, 6, Role.READ, "to revoke")
    md = (("authorization", f"Bearer {secret}"),)
    await api.webhooks.ListWebhooks(LIST, metadata=md)  # valid, and now cached
    await api.store.api_keys.revoke(6, key.key_id)  # by another replica

    async def refused() -> bool:
        try:
            await api.webhooks.ListWebhooks(LIST, metadata=md)
        except grpc.aio.AioRpcError as err:
            return bool(err.code() == grpc.StatusCode.UNAUTHENTICATED)
        return False

    # Seen once the cache entry expires (5 s); generous deadline for a busy machine.
    await wait_until(refused, within=30.0)


def test_json_formatter_adds_context_and_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.method = "/a/B"
    token = request_id_var.set("rid-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hello you" and line["request_id"] == "rid-1"
    assert line["method"] == "/a/B" and line["level"] == "INFO" and "org_id" not in line
