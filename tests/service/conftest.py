"""Fixtures of the gRPC API tests: a real server on port 0 over the session's
local stack, a channel with every stub, and keys minted through the repository."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2_grpc

from devstack import Stack
from eventnotify.domain import Role
from eventnotify.settings import Settings
from eventnotify.store import Store, open_store
from eventnotify.v1 import (
    admin_pb2_grpc,
    catalog_pb2_grpc,
    log_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
)
from service.core.keys import mint_key
from service.gateway.app import HttpGateway
from service.server import ApiServer, create_server
from tests.support.stack import make_settings

ROOT_KEY = "root-secret-for-tests"
Metadata = tuple[tuple[str, str], ...]


@dataclass
class Api:
    """A running server and a client of it."""

    settings: Settings
    store: Store
    server: ApiServer
    port: int
    channel: grpc.aio.Channel
    webhooks: Any
    catalog: Any
    logs: Any
    keys: Any
    health: Any

    async def key(self, org: int, role: Role = Role.ADMIN) -> Metadata:
        """Metadata authenticating as a fresh key of ``org`` with ``role``."""
        _, secret = await mint_key(self.store.api_keys, org, role, "test")
        return (("authorization", f"Bearer {secret}"),)


async def start_api(settings: Settings, *, health_interval: float = 2.0) -> Api:
    store = open_store(settings.mongo)
    await store.ensure_indexes()
    server, port = await create_server(settings, store, health_interval=health_interval)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return Api(
        settings=settings,
        store=store,
        server=server,
        port=port,
        channel=channel,
        webhooks=webhook_pb2_grpc.WebhookServiceStub(channel),
        catalog=catalog_pb2_grpc.EventCatalogServiceStub(channel),
        logs=log_pb2_grpc.EventLogServiceStub(channel),
        keys=admin_pb2_grpc.ApiKeyServiceStub(channel),
        health=health_pb2_grpc.HealthStub(channel),
    )


async def stop_api(api: Api) -> None:
    await api.channel.close()
    await api.server.stop(0)
    await api.store.close()


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def make_api(stack: Stack) -> AsyncIterator[ApiFactory]:
    """Start servers with extra environment settings; all stopped at teardown."""
    started: list[Api] = []

    async def factory(
        settings: Settings | None = None, health_interval: float = 2.0, **env: str
    ) -> Api:
        env.setdefault("EVENTNOTIFY_ROOT_API_KEY", ROOT_KEY)
        api = await start_api(
            settings or make_settings(stack, **env), health_interval=health_interval
        )
        started.append(api)
        return api

    yield factory
    for api in started:
        await stop_api(api)


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    return await make_api()


@pytest.fixture
async def org1(api: Api) -> Metadata:
    """A WRITE key of org 1."""
    return await api.key(1, Role.WRITE)


@dataclass
class Details:
    """The google.rpc.Status details of a failed call."""

    code: grpc.StatusCode
    message: str
    info: error_details_pb2.ErrorInfo | None
    bad_request: error_details_pb2.BadRequest | None
    retry: error_details_pb2.RetryInfo | None

    @property
    def fields(self) -> list[str]:
        return [v.field for v in self.bad_request.field_violations] if self.bad_request else []

    @property
    def reasons(self) -> list[str]:
        return [v.reason for v in self.bad_request.field_violations] if self.bad_request else []


def details_of(err: grpc.aio.AioRpcError) -> Details:
    """Decode the rich error details from the trailing metadata."""
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    info = bad = retry = None
    if raw:
        status = status_pb2.Status.FromString(raw)
        assert status.code == err.code().value[0]
        for detail in status.details:
            for kind in (
                error_details_pb2.ErrorInfo,
                error_details_pb2.BadRequest,
                error_details_pb2.RetryInfo,
            ):
                if detail.Is(kind.DESCRIPTOR):
                    msg = kind()
                    detail.Unpack(msg)
                    if kind is error_details_pb2.ErrorInfo:
                        info = msg
                    elif kind is error_details_pb2.BadRequest:
                        bad = msg
                    else:
                        retry = msg
    return Details(err.code(), err.details() or "", info, bad, retry)


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode) -> Details:
    """Await a call that must fail with ``code``; returns its details."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return details_of(caught.value)


def webhook(**overrides: Any) -> Any:
    """A valid Webhook message, with overrides."""
    fields: dict[str, Any] = {
        "name": "hook",
        "event_names": ["transactionAdded", "pointsRedeemed"],
        "web_hook_url": "https://example.com/hook",
        "web_hook_type": webhook_pb2.HTTP,
        "method_type": webhook_pb2.POST,
        "web_hook_headers": {"Content-Type": "application/json"},
        "max_allowed_connections": 10,
        "sla_in_seconds": 30,
    }
    fields.update(overrides)
    return webhook_pb2.Webhook(**{k: v for k, v in fields.items() if v is not None})


async def create_hook(api: Api, md: Metadata, **overrides: Any) -> Any:
    """Create a webhook; returns the CreateWebhookResponse."""
    return await api.webhooks.CreateWebhook(
        webhook_pb2.CreateWebhookRequest(webhook=webhook(**overrides)), metadata=md
    )


@dataclass
class HttpReply:
    """A gateway answer: status, decoded JSON body and headers."""

    status: int
    body: Any
    headers: Any


@dataclass
class Http:
    """An HTTP gateway in front of ``api``'s gRPC server, and a client of it."""

    api: Api
    gateway: HttpGateway
    session: aiohttp.ClientSession
    base: str

    async def call(
        self,
        method: str,
        path: str,
        key: Metadata | None = None,
        *,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpReply:
        """One request; ``key`` is gRPC-style metadata (its authorization is sent)."""
        sent = dict(headers or {})
        if key is not None:
            sent.update({k: v for k, v in key})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent.setdefault("content-type", "application/json")
        async with self.session.request(method, self.base + path, data=data, headers=sent) as r:
            text = await r.read()
            decoded = json.loads(text) if text else None
            return HttpReply(r.status, decoded, r.headers)


@pytest.fixture
async def http(api: Api) -> AsyncIterator[Http]:
    """The gateway on a free port, calling ``api`` over loopback gRPC."""
    gateway = HttpGateway("127.0.0.1:0", f"127.0.0.1:{api.port}")
    port = await gateway.start()
    session = aiohttp.ClientSession()
    try:
        yield Http(api, gateway, session, f"http://127.0.0.1:{port}")
    finally:
        await session.close()
        await gateway.stop()
