"""The gateway's pure parts: HTTP rules read from the contracts, request
transcoding, the status mapping, and the OpenAPI document kept in docs/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from eventnotify.errors import InvalidArgument
from service.api.interceptors import METHOD_ROLES
from service.gateway.openapi import openapi_document, openapi_path, render
from service.gateway.rules import Route, api_services, compile_template, routes_of
from service.gateway.status import Failure, failure_from_grpc, http_status
from service.gateway.transcode import build_request

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
ROUTES = routes_of(api_services())


def route(method: str) -> Route:
    return next(r for r in ROUTES if r.grpc_method.endswith("/" + method))


def test_every_rpc_has_exactly_one_http_rule() -> None:
    methods = [r.grpc_method for r in ROUTES]
    assert sorted(methods) == sorted(METHOD_ROLES)
    assert len(set(methods)) == len(methods)


def test_no_two_rules_claim_the_same_verb_and_path() -> None:
    seen = {(r.verb, openapi_path(r.template)) for r in ROUTES}
    assert len(seen) == len(ROUTES)
    for r in ROUTES:
        assert r.template.startswith("/v1/")


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/v1/webhooks/{web_hook_id}", "/v1/webhooks/abc", {"web_hook_id": "abc"}),
        ("/v1/webhooks/{web_hook_id}", "/v1/webhooks/a/b", None),
        ("/v1/webhooks/{web_hook_id}", "/v1/webhooks/", None),
        ("/v1/webhooks/{id}:rotateSecret", "/v1/webhooks/x:y:rotateSecret", {"id": "x:y"}),
        ("/v1/webhooks/{id}:rotateSecret", "/v1/webhooks/x", None),
        ("/v1/refs/{ref_id}/eventLogs", "/v1/refs/1_2/eventLogs", {"ref_id": "1_2"}),
        ("/v1/a/{x.y=*}", "/v1/a/q", {"x.y": "q"}),
    ],
)
def test_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    regex, fields = compile_template(template)
    m = regex.fullmatch(path)
    got = None if m is None else {f: m.group(f"v{i}") for i, f in enumerate(fields)}
    assert got == expected


@pytest.mark.parametrize("template", ["v1/x", "/v1/{a=**}", "/v1/{a}/}", "/v1/{a=b/*}"])
def test_unsupported_templates_are_refused_at_start_up(template: str) -> None:
    with pytest.raises(ValueError):
        compile_template(template)


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected"),
    [
        ("ListWebhooks", {}, [("pageSize", "3"), ("include_inactive", "true")], None,
         {"pageSize": 3, "includeInactive": True}),
        ("UpdateWebhook", {"webhook.web_hook_id": "h1"}, [("updateMask", "name,slaInSeconds")],
         {"webHookId": "other", "name": "n"},
         {"webhook": {"webHookId": "h1", "name": "n"}, "updateMask": "name,slaInSeconds"}),
        ("RotateSecret", {"web_hook_id": "h1"}, [], {"gracePeriodSeconds": 60},
         {"webHookId": "h1", "gracePeriodSeconds": 60}),
        ("GetConsumerGroupMetrics", {"consumer_group_id": "g"}, [("windowSeconds", "60")], None,
         {"consumerGroupId": "g", "windowSeconds": "60"}),
        ("ListConsumerGroupLogs", {"consumer_group_id": "g"}, [("status", "FAILED")], None,
         {"consumerGroupId": "g", "status": "FAILED"}),
    ],
)  # fmt: skip
def test_requests_are_built_from_path_query_and_body(
    method: str, path: dict[str, str], query: list[tuple[str, str]], body: Any, expected: Any
) -> None:
    from google.protobuf import json_format

    msg = build_request(route(method), path, query, body if body is not None else {})
    assert json_format.MessageToDict(msg) == expected


@pytest.mark.parametrize(
    ("method", "query", "body", "field"),
    [
        ("ListWebhooks", [("pageSize", "x")], {}, "pageSize"),
        ("ListWebhooks", [("includeInactive", "maybe")], {}, "includeInactive"),
        ("ListWebhooks", [("nope", "1")], {}, "nope"),
        ("ListWebhooks", [("pageSize", "1"), ("pageSize", "2")], {}, "pageSize"),
        ("CreateWebhook", [], {"maxAllowedConnections": 1.5}, "webhook.maxAllowedConnections"),
        ("CreateWebhook", [("webhook.name", "x")], {}, "webhook.name"),
        ("RotateSecret", [("gracePeriodSeconds", "1")], {}, "gracePeriodSeconds"),
        ("RotateSecret", [], [1, 2], "body"),
    ],
)
def test_unmappable_requests_name_the_field(
    method: str, query: list[tuple[str, str]], body: Any, field: str
) -> None:
    r = route(method)
    path = dict.fromkeys(r.path_fields, "id")
    with pytest.raises(InvalidArgument) as caught:
        build_request(r, path, query, body)
    assert caught.value.violations[0].field == field


def test_status_mapping_follows_google_rpc_code() -> None:
    table = {
        code_pb2.OK: 200,
        code_pb2.INVALID_ARGUMENT: 400,
        code_pb2.FAILED_PRECONDITION: 400,
        code_pb2.OUT_OF_RANGE: 400,
        code_pb2.UNAUTHENTICATED: 401,
        code_pb2.PERMISSION_DENIED: 403,
        code_pb2.NOT_FOUND: 404,
        code_pb2.ALREADY_EXISTS: 409,
        code_pb2.ABORTED: 409,
        code_pb2.RESOURCE_EXHAUSTED: 429,
        code_pb2.CANCELLED: 499,
        code_pb2.UNKNOWN: 500,
        code_pb2.INTERNAL: 500,
        code_pb2.DATA_LOSS: 500,
        code_pb2.UNIMPLEMENTED: 501,
        code_pb2.UNAVAILABLE: 503,
        code_pb2.DEADLINE_EXCEEDED: 504,
    }
    assert {c: http_status(c) for c in table} == table
    assert http_status(99) == 500


def test_retry_info_becomes_retry_after_rounded_up() -> None:
    info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=1, nanos=2))
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="slow down")
    status.details.add().Pack(info)
    failure = failure_from_grpc(
        code_pb2.RESOURCE_EXHAUSTED, "x", [("grpc-status-details-bin", status.SerializeToString())]
    )
    assert failure.http_status == 429 and failure.headers == {"Retry-After": "2"}
    assert failure.body()["error"]["status"] == "RESOURCE_EXHAUSTED"
    plain = Failure(status_pb2.Status(code=code_pb2.NOT_FOUND, message="m"))
    assert plain.body() == {
        "error": {"code": 404, "status": "NOT_FOUND", "message": "m", "details": []}
    }


def test_docs_openapi_json_is_in_step_with_the_contracts() -> None:
    """Regenerate with `make openapi` when this fails."""
    assert DOCS.read_text() == render(openapi_document(ROUTES))


def test_openapi_document_covers_every_route_with_its_schemas() -> None:
    doc = json.loads(DOCS.read_text())
    for r in ROUTES:
        op = doc["paths"][openapi_path(r.template)][r.verb.lower()]
        assert op["x-grpc-method"] == r.grpc_method
        assert {"200", "default"} <= set(op["responses"])
    webhook = doc["components"]["schemas"]["Webhook"]["properties"]
    assert webhook["maxAllowedConnections"]["format"] == "int32"
    assert webhook["orgId"]["type"] == "string"  # int64 is a decimal string in proto JSON
    assert webhook["webHookHeaders"]["additionalProperties"] == {"type": "string"}
    assert doc["components"]["schemas"]["Webhook"]["description"].startswith("A webhook")
    assert "/v3/webHooks/eventLog/refId/{refId}" in doc["paths"]


def test_docs_http_md_lists_every_route() -> None:
    text = (DOCS.parent / "http.md").read_text()
    for r in ROUTES:
        assert f"`{r.verb} {r.template}`" in text, r.template
        assert r.grpc_method.split(".")[-1] in text
