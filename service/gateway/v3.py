"""The original system's v3 REST API, kept as it was documented.

Paths, request bodies, the ``{"data": ..., "errors": ...}`` envelope, key
names, key order and ``2020-04-20T10:35:47.473+0000`` timestamps follow the
seed's samples. Each handler makes the same gRPC call a v1 client would
(through the loopback client), so only the shape differs.

Where the original was lenient its leniency is kept: integer fields given as
fractions are truncated (``maxAllowedConnections: 10.99`` is stored as 10,
as documented) and enum values are matched case-insensitively (``queue``).
Where the seed is silent the v1 API is followed: GET /v3/webHooks takes the
v1 list parameters and adds ``nextPageToken`` to the envelope when more pages
exist; DELETE deactivates (``?purge=true`` removes). Error entries are
``{code, message, reason, field}``: ``code`` is the original's numeric code
where it documents one, else the HTTP status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from google.rpc import error_details_pb2

from eventnotify.errors import InvalidArgument
from eventnotify.v1 import catalog_pb2, log_pb2, webhook_pb2
from service.core.validation import (
    CODE_EVENT_NAMES_REQUIRED,
    CODE_MAX_CONNECTIONS_INVALID,
    CODE_MAX_CONNECTIONS_REQUIRED,
)
from service.gateway.client import LoopbackClient, forwarded_metadata
from service.gateway.respond import json_response, local_request_id
from service.gateway.status import Failure, failure_from_exception
from service.gateway.transcode import invalid, parse_body, parse_into, to_json

_WEBHOOKS = "/eventnotify.v1.WebhookService/"
_CATALOG = "/eventnotify.v1.EventCatalogService/"
_LOGS = "/eventnotify.v1.EventLogService/"
_INT_FIELDS = ("maxAllowedConnections", "slaInSeconds", "noOfRetryAttempts")
_ENUM_FIELDS = ("webHookType", "methodType")
# Numeric codes of the original, by our stable violation reason.
SEED_CODES = {
    "EVENT_NAMES_REQUIRED": CODE_EVENT_NAMES_REQUIRED,
    "MAX_CONNECTIONS_INVALID": CODE_MAX_CONNECTIONS_INVALID,
    "MAX_CONNECTIONS_REQUIRED": CODE_MAX_CONNECTIONS_REQUIRED,
}
# The original answers an unknown webhook id with 400 "webHookId is invalid".
_BAD_REQUEST_REASONS = frozenset({"WEBHOOK_NOT_FOUND"})
# The original's own words where our gRPC message says more (the v3 paths
# answer as the original did; /v1 keeps the longer hint).
_SEED_MESSAGES = {"EVENT_LOG_NOT_FOUND": "eventId is invalid"}
# Key order of the seed's samples; our additional keys follow.
_WEBHOOK_ORDER = (
    "attribution",
    "webHookId",
    "name",
    "eventNames",
    "webHookUrl",
    "webHookType",
    "methodType",
    "webHookHeaders",
    "noOfRetryAttempts",
    "maxAllowedConnections",
    "active",
    "slaInSeconds",
    "consumerGroupId",
)
_ATTRIBUTION_ORDER = ("createdOn", "lastUpdatedOn", "lastUpdatedBy", "createdBy")
_ACTOR_ORDER = ("id", "code", "description", "name", "type")
_LOG_ORDER = (
    "refId",
    "requestId",
    "eventName",
    "eventId",
    "consumerGroupId",
    "eventIngestionTimestamp",
    "eventStartTimestamp",
    "eventEndTimestamp",
    "slaBreachTimestamp",
    "consumerResponse",
)
_LOG_TIMES = (
    "eventIngestionTimestamp",
    "eventStartTimestamp",
    "eventEndTimestamp",
    "slaBreachTimestamp",
    "nextAttemptAt",
)
_EVENT_ORDER = ("active", "eventName", "schema")


def _ordered(value: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: value[k] for k in order if k in value}
    out.update((k, v) for k, v in value.items() if k not in out)
    return out


def webhook_json(msg: Any) -> dict[str, Any]:
    """A Webhook in the seed's shape (ids as numbers, keys in its order)."""
    hook = to_json(msg)
    att = hook.get("attribution", {})
    for who in ("createdBy", "lastUpdatedBy"):
        actor = dict(att.get(who, {}))
        actor["id"] = int(actor.get("id", 0))  # int64 is a string in proto JSON
        att[who] = _ordered(actor, _ACTOR_ORDER)
    hook["attribution"] = _ordered(att, _ATTRIBUTION_ORDER)
    if "orgId" in hook:
        hook["orgId"] = int(hook["orgId"])
    return _ordered(hook, _WEBHOOK_ORDER)


def log_json(msg: Any) -> dict[str, Any]:
    """A DeliveryLogEntry in the seed's shape: unset times and a missing
    consumerResponse are null, its figures are floats (``200.0``)."""
    entry = to_json(msg)
    for key in _LOG_TIMES:
        entry[key] = entry.get(key) or None
    response = entry.get("consumerResponse")
    entry["consumerResponse"] = (
        {
            "webhookHttpStatus": float(response.get("webhookHttpStatus", 0)),
            "time_taken": float(response.get("time_taken", 0)),
        }
        if response is not None
        else None
    )
    if "orgId" in entry:
        entry["orgId"] = int(entry["orgId"])
    return _ordered(entry, _LOG_ORDER)


def event_json(msg: Any) -> dict[str, Any]:
    """An EventType in the seed's shape."""
    return _ordered(to_json(msg), _EVENT_ORDER)


def webhook_from_json(body: Any) -> Any:
    """A v3 webhook body -> ``Webhook``, with the original's leniency."""
    if not isinstance(body, dict):
        raise invalid("body", "expected a JSON object")
    tree = dict(body)
    for key in _INT_FIELDS:
        value = tree.get(key)
        if isinstance(value, float) and value == value and abs(value) < 2**31:
            tree[key] = int(value)  # truncates toward zero, like the original
    for key in _ENUM_FIELDS:
        if isinstance(tree.get(key), str):
            tree[key] = tree[key].upper()
    return parse_into(tree, webhook_pb2.Webhook())


def errors_json(failure: Failure) -> list[dict[str, Any]]:
    """The envelope's ``errors``: one entry per field violation, else one."""
    infos = failure.details(error_details_pb2.ErrorInfo)
    reason = infos[0].reason if infos else ""
    status = _http_status(failure)
    entries: list[dict[str, Any]] = []
    for bad in failure.details(error_details_pb2.BadRequest):
        for v in bad.field_violations:
            entries.append(
                {
                    "code": SEED_CODES.get(v.reason, status),
                    "message": v.description,
                    "reason": v.reason or reason,
                    "field": v.field,
                }
            )
    if not entries:
        number = infos[0].metadata.get("code") if infos else None
        message = _SEED_MESSAGES.get(reason, failure.status.message)
        entries.append(
            {
                "code": int(number) if number else status,
                "message": message,
                "reason": reason,
                "field": None,
            }
        )
    return entries


def _http_status(failure: Failure) -> int:
    infos = failure.details(error_details_pb2.ErrorInfo)
    if infos and infos[0].reason in _BAD_REQUEST_REASONS:
        return 400
    return failure.http_status


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What a v3 route does: the gRPC method, its request, and how to shape the
# response into ``data`` (a list route may return (items, next page token)).
Plan = tuple[str, Any, Callable[[Any], Any]]


class V3Api:
    """The v3 routes over a loopback client."""

    def __init__(self, client: LoopbackClient) -> None:
        self._client = client

    def add_routes(self, app: web.Application) -> None:
        """Register the v3 paths (literal paths before the {webhookId} ones)."""
        r = app.router
        r.add_get("/v3/webHooks/eventMetaData", self._wrap(self._list_events))
        r.add_get("/v3/webHooks/eventMetaData/{eventName}", self._wrap(self._get_event))
        r.add_get("/v3/webHooks/eventLog/requestId/{requestId}", self._wrap(self._by_request))
        r.add_get("/v3/webHooks/eventLog/refId/{refId}", self._wrap(self._by_ref))
        r.add_get("/v3/webHooks/eventLog/{eventId}", self._wrap(self._get_log))
        r.add_post("/v3/webHooks", self._wrap(self._create))
        r.add_get("/v3/webHooks", self._wrap(self._list_hooks))
        r.add_put("/v3/webHooks/{webhookId}", self._wrap(self._update))
        r.add_delete("/v3/webHooks/{webhookId}", self._wrap(self._delete))

    def _wrap(self, build: Callable[[web.Request], Awaitable[Plan]]) -> Handler:
        client = self._client

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                method, msg, shape = await build(request)
            except InvalidArgument as exc:
                rid = local_request_id(request.headers)
                return _error(failure_from_exception(exc, rid), rid)
            outcome = await client.call(method, msg, forwarded_metadata(request.headers))
            if outcome.failure is not None:
                return _error(outcome.failure, outcome.request_id)
            envelope = {"data": None, "errors": None}
            data = shape(outcome.response)
            if isinstance(data, tuple):  # (items, next page token)
                envelope["data"] = data[0]
                if data[1]:
                    envelope["nextPageToken"] = data[1]
            else:
                envelope["data"] = data
            return json_response(envelope, 200, outcome.request_id)

        return handler

    async def _create(self, request: web.Request) -> Plan:
        hook = webhook_from_json(parse_body(await request.read()))
        msg = webhook_pb2.CreateWebhookRequest(webhook=hook)

        def shape(resp: Any) -> Any:
            data = webhook_json(resp.webhook)
            data["signingSecret"] = resp.signing_secret
            return data

        return _WEBHOOKS + "CreateWebhook", msg, shape

    async def _update(self, request: web.Request) -> Plan:
        hook = webhook_from_json(parse_body(await request.read()))
        hook.web_hook_id = request.match_info["webhookId"]
        return (
            _WEBHOOKS + "UpdateWebhook",
            webhook_pb2.UpdateWebhookRequest(webhook=hook),
            webhook_json,
        )

    async def _delete(self, request: web.Request) -> Plan:
        purge = request.query.get("purge", "false").lower() in ("true", "1")
        msg = webhook_pb2.DeleteWebhookRequest(
            web_hook_id=request.match_info["webhookId"], purge=purge
        )
        return _WEBHOOKS + "DeleteWebhook", msg, webhook_json

    async def _list_hooks(self, request: web.Request) -> Plan:
        msg = parse_into(_list_query(request), webhook_pb2.ListWebhooksRequest())

        def shape(resp: Any) -> Any:
            return [webhook_json(h) for h in resp.webhooks], resp.next_page_token

        return _WEBHOOKS + "ListWebhooks", msg, shape

    async def _list_events(self, request: web.Request) -> Plan:
        msg = catalog_pb2.ListEventTypesRequest()
        return (
            _CATALOG + "ListEventTypes",
            msg,
            lambda resp: [event_json(e) for e in resp.event_types],
        )

    async def _get_event(self, request: web.Request) -> Plan:
        msg = catalog_pb2.GetEventTypeRequest(event_name=request.match_info["eventName"])
        return _CATALOG + "GetEventType", msg, event_json

    async def _get_log(self, request: web.Request) -> Plan:
        msg = log_pb2.GetEventLogRequest(event_id=request.match_info["eventId"])
        return _LOGS + "GetEventLog", msg, log_json

    async def _by_request(self, request: web.Request) -> Plan:
        msg = log_pb2.ListEventLogsByRequestIdRequest(request_id=request.match_info["requestId"])
        return _LOGS + "ListEventLogsByRequestId", msg, _entries

    async def _by_ref(self, request: web.Request) -> Plan:
        msg = log_pb2.ListEventLogsByRefIdRequest(ref_id=request.match_info["refId"])
        return _LOGS + "ListEventLogsByRefId", msg, _entries


def _entries(resp: Any) -> list[dict[str, Any]]:
    return [log_json(e) for e in resp.entries]


_LIST_PARAMS = {
    "pageSize": "pageSize",
    "pageToken": "pageToken",
    "includeInactive": "includeInactive",
    "eventName": "eventName",
}


def _list_query(request: web.Request) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in request.query.items():
        if key not in _LIST_PARAMS:
            raise invalid(
                key, "unknown parameter (pageSize, pageToken, includeInactive, eventName)"
            )
        if key == "includeInactive":
            if value.lower() not in ("true", "false"):
                raise invalid(key, "expected true or false")
            tree[key] = value.lower() == "true"
        else:
            tree[key] = value
    return tree


def _error(failure: Failure, request_id: str) -> web.Response:
    body = {"data": None, "errors": errors_json(failure)}
    return json_response(body, _http_status(failure), request_id, failure.headers)
