"""grpc.health.v1 per dependency, reflection, both without an API key."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from devstack import free_port
from tests.service.conftest import Api, ApiFactory

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def wait_status(api: Api, service: str, want: Any, within: float = 15.0) -> None:
    """Poll the health service until ``service`` reports ``want``."""
    deadline = time.monotonic() + within
    while True:
        got = await api.health.Check(health_pb2.HealthCheckRequest(service=service))
        if got.status == want:
            return
        assert time.monotonic() < deadline, f"{service!r} still {got.status}"
        await asyncio.sleep(0.05)


async def test_every_dependency_serving_without_credentials(api: Api) -> None:
    for name in ("", "eventnotify.mongo", "eventnotify.kafka"):
        await wait_status(api, name, SERVING)


async def test_kafka_down_is_reported_and_does_not_take_the_service_down(
    make_api: ApiFactory,
) -> None:
    api = await make_api(health_interval=0.2)
    dead = await make_api(
        settings=api.settings.replace(
            kafka=api.settings.kafka.__class__(bootstrap_servers=f"127.0.0.1:{free_port()}")
        ),
        health_interval=0.2,
    )
    await wait_status(dead, "eventnotify.kafka", NOT_SERVING)
    await wait_status(dead, "eventnotify.mongo", SERVING)
    await wait_status(dead, "", SERVING)


async def test_stop_reports_not_serving(make_api: ApiFactory) -> None:
    api = await make_api(health_interval=0.2)
    await wait_status(api, "", SERVING)
    await api.server.health_monitor.shutdown()
    got = await api.health.Check(health_pb2.HealthCheckRequest(service=""))
    assert got.status == NOT_SERVING


async def test_reflection_lists_the_services_without_credentials(api: Api) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(api.channel)

    async def requests() -> Any:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names: set[str] = set()
    async for response in stub.ServerReflectionInfo(requests()):
        names |= {s.name for s in response.list_services_response.service}
    assert {
        "eventnotify.v1.WebhookService",
        "eventnotify.v1.EventCatalogService",
        "eventnotify.v1.EventLogService",
        "eventnotify.v1.ApiKeyService",
        "grpc.health.v1.Health",
    } <= names
