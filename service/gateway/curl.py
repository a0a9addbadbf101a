"""The curl command equivalent to a gRPC call, from the same HTTP rules the
gateway serves (``eventnotify --curl`` prints it; docs/http.md shows them)."""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import quote, urlencode

from google.protobuf import json_format

from service.gateway.rules import VARIABLE, Route, api_services, routes_of

_BY_INPUT: dict[str, Route] = {}


def route_for(request: Any) -> Route | None:
    """The route whose request message is ``request``'s type (each RPC of the
    API has its own request message)."""
    if not _BY_INPUT:
        for r in routes_of(api_services()):
            _BY_INPUT.setdefault(r.input.full_name, r)
    return _BY_INPUT.get(request.DESCRIPTOR.full_name)


def _field_value(request: Any, path: str) -> str:
    value: Any = request
    for part in path.split("."):
        value = getattr(value, part)
    return str(value)


def _query(route: Route, request: Any) -> list[tuple[str, str]]:
    bound = {p.split(".")[0] for p in route.path_fields} | {route.body}
    tree = json_format.MessageToDict(request)
    out: list[tuple[str, str]] = []
    for field, _ in request.ListFields():
        if field.name in bound or field.json_name not in tree:
            continue
        value = tree[field.json_name]
        for item in value if isinstance(value, list) else [value]:
            out.append(
                (field.json_name, str(item).lower() if isinstance(item, bool) else str(item))
            )
    return out


def curl_command(route: Route, request: Any, base_url: str, headers: list[str]) -> str:
    """One shell line: ``curl -sS -X VERB URL -H ... [-d JSON]``."""
    counter = iter(route.path_fields)
    path = VARIABLE.sub(
        lambda _: quote(_field_value(request, next(counter)), safe=""), route.template
    )
    url = base_url.rstrip("/") + path
    if route.body != "*":
        query = _query(route, request)
        if query:
            url += "?" + urlencode(query)
    parts = ["curl", "-sS", "-X", route.verb, shlex.quote(url)]
    for header in headers:
        parts += ["-H", header]
    if route.body:
        body = (
            json_format.MessageToDict(request)
            if route.body == "*"
            else json_format.MessageToDict(getattr(request, route.body))
        )
        if route.body == "*":
            for path_field in route.path_fields:
                name = request.DESCRIPTOR.fields_by_name[path_field.split(".")[0]].json_name
                body.pop(name, None)
        parts += ["-H", "'content-type: application/json'", "-d", shlex.quote(json.dumps(body))]
    return " ".join(parts)
