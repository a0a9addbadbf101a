"""The service's Prometheus endpoint, scraped over HTTP after real gRPC calls,
its access log's request id, and the shared metrics HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2
from prometheus_client import Counter

from devstack import free_port
from eventnotify.domain import Role
from eventnotify.metrics import MetricsServer, new_registry, start_metrics_server
from eventnotify.v1 import webhook_pb2
from tests.service.conftest import ApiFactory, expect_error
from tests.support.metrics import JsonLines, json_lines, scrape

WEBHOOKS = "/eventnotify.v1.WebhookService/"
REQUESTS = "eventnotify_grpc_requests_total"
DURATION = "eventnotify_grpc_request_duration_seconds_count"


@pytest.fixture
def access_logs() -> Iterator[JsonLines]:
    with json_lines("eventnotify.access") as handler:
        yield handler


async def test_grpc_calls_counted_by_method_and_code(
    make_api: ApiFactory, access_logs: JsonLines
) -> None:
    api = await make_api(EVENTNOTIFY_SERVICE_METRICS_PORT=str(free_port()))
    assert api.server.metrics_server is not None
    port = api.server.metrics_server.port
    md = await api.key(7, Role.READ)
    before = await scrape(port)

    for _ in range(2):
        await api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest(), metadata=md)
    await expect_error(
        api.webhooks.GetWebhook(
            webhook_pb2.GetWebhookRequest(web_hook_id="5e9d7b03c64f3d00085d7f00"),
            metadata=(*md, ("x-request-id", "metrics-req-1")),
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_error(
        api.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(web_hook_id="x")),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    await api.health.Check(health_pb2.HealthCheckRequest())  # exempt: not an API call

    after = await scrape(port)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    list_m, get_m = WEBHOOKS + "ListWebhooks", WEBHOOKS + "GetWebhook"
    assert moved(REQUESTS, method=list_m, code="OK") == 2
    assert moved(REQUESTS, method=get_m, code="NOT_FOUND") == 1
    assert moved(REQUESTS, method=get_m, code="UNAUTHENTICATED") == 1
    assert moved(REQUESTS, method=get_m, code="OK") == 0
    assert moved(DURATION, method=list_m, code="OK") == 2
    assert moved(DURATION, method=get_m, code="NOT_FOUND") == 1
    assert moved(DURATION, method=get_m, code="UNAUTHENTICATED") == 1
    assert not any("Health" in str(labels) for name, labels in after.samples if name == REQUESTS)
    assert "process_cpu_seconds_total" in after.names()

    # Every call's access-log line carries its request id (given or generated).
    [not_found] = [x for x in access_logs.lines if x.get("code") == "NOT_FOUND"]
    assert not_found["request_id"] == "metrics-req-1" and not_found["method"] == get_m
    assert all(x.get("request_id") for x in access_logs.lines)
    assert not_found["org_id"] == 7


async def test_no_metrics_server_when_port_is_zero(make_api: ApiFactory) -> None:
    api = await make_api()  # the test settings use port 0
    assert api.server.metrics_server is None


async def test_metrics_server_serves_text_and_openmetrics_and_stops() -> None:
    registry = new_registry()
    hits = Counter("eventnotify_test_hits", "Test counter.", registry=registry)
    hits.inc(3)
    server = await start_metrics_server(0, registry, "127.0.0.1")
    assert isinstance(server, MetricsServer) and server.port > 0
    try:
        assert (await scrape(server.port)).get("eventnotify_test_hits_total") == 3
        url = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as session:
            headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
            async with session.get(url + "/metrics", headers=headers) as resp:
                assert resp.content_type == "application/openmetrics-text"
                assert (await resp.text()).rstrip().endswith("# EOF")
            async with session.get(url + "/other") as resp:
                assert resp.status == 404
    finally:
        await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await scrape(server.port)
