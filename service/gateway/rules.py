"""The HTTP rules of the contracts, read from the service descriptors.

Each RPC's ``google.api.http`` option becomes a ``Route``: the HTTP verb, the
path template compiled to a regular expression, and which request fields the
path and the body fill. Only the template forms the contracts use are
accepted (``{field.path}`` and ``{field.path=*}`` variables, an optional
``:verb`` suffix); anything else is refused at start-up, not at request time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf.descriptor import FieldDescriptor

from eventnotify.v1 import admin_pb2, catalog_pb2, ingest_pb2, log_pb2, replay_pb2, webhook_pb2

VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:=\*)?\}")
_VERBS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Route:
    """One RPC reachable over HTTP."""

    grpc_method: str  # "/eventnotify.v1.WebhookService/GetWebhook"
    verb: str  # "GET"
    template: str  # "/v1/webhooks/{web_hook_id}"
    body: str  # "" (no body), "*" (the whole request) or a top-level field name
    path_fields: tuple[str, ...]  # request field paths filled from the path, in order
    regex: re.Pattern[str]
    input: Any  # protobuf Descriptor of the request
    output: Any  # protobuf Descriptor of the response
    doc: str

    def match(self, path: str) -> dict[str, str] | None:
        """Field path -> raw value of each variable when ``path`` matches."""
        m = self.regex.fullmatch(path)
        if m is None:
            return None
        return {field: m.group(f"v{i}") for i, field in enumerate(self.path_fields)}

    @property
    def simple_path(self) -> bool:
        """Whether every path variable is a top-level string field."""
        fields = self.input.fields_by_name
        return all(
            f in fields and fields[f].type == FieldDescriptor.TYPE_STRING for f in self.path_fields
        )

    @property
    def aiohttp_path(self) -> str:
        """The template in aiohttp's router syntax (variables named v0, v1...)."""
        counter = iter(range(len(self.path_fields)))
        return VARIABLE.sub(lambda _: f"{{v{next(counter)}:[^/]+?}}", self.template)


def compile_template(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """``/v1/webhooks/{web_hook_id}:rotateSecret`` -> (regex, ("web_hook_id",)).

    A variable matches one non-empty path segment (lazily, so a ``:verb``
    suffix is left to the literal that follows)."""
    if not template.startswith("/") or "**" in template:
        raise ValueError(f"unsupported path template {template!r}")
    fields: list[str] = []
    parts: list[str] = []
    pos = 0
    for m in VARIABLE.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        parts.append(f"(?P<v{len(fields)}>[^/]+?)")
        fields.append(m.group(1))
        pos = m.end()
    literals = VARIABLE.sub("", template)
    if "{" in literals or "}" in literals:
        raise ValueError(f"unsupported path template {template!r}")
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts)), tuple(fields)


def _route(service: Any, method: Any, rule: Any) -> Route:
    verb = rule.WhichOneof("pattern")
    if verb not in _VERBS:
        raise ValueError(f"{method.full_name}: unsupported HTTP rule {verb!r}")
    template = getattr(rule, verb)
    regex, fields = compile_template(template)
    if rule.body not in ("", "*") and rule.body not in method.input_type.fields_by_name:
        raise ValueError(f"{method.full_name}: body {rule.body!r} is not a request field")
    if rule.response_body:
        raise ValueError(f"{method.full_name}: response_body is not supported")
    return Route(
        grpc_method=f"/{service.full_name}/{method.name}",
        verb=verb.upper(),
        template=template,
        body=rule.body,
        path_fields=fields,
        regex=regex,
        input=method.input_type,
        output=method.output_type,
        doc=_comment(method),
    )


def _comment(method: Any) -> str:
    # Descriptors built from serialized files keep no comments; the method
    # name split into words is the fallback summary.
    return re.sub(r"(?<!^)(?=[A-Z])", " ", method.name)


def routes_of(services: Iterable[Any]) -> list[Route]:
    """Every HTTP binding (primary and additional) of every method of ``services``."""
    out: list[Route] = []
    for service in services:
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
            out.append(_route(service, method, rule))
            out.extend(_route(service, method, extra) for extra in rule.additional_bindings)
    return out


def api_services() -> list[Any]:
    """The service descriptors the gateway serves, in documentation order."""
    return [
        webhook_pb2.DESCRIPTOR.services_by_name["WebhookService"],
        catalog_pb2.DESCRIPTOR.services_by_name["EventCatalogService"],
        log_pb2.DESCRIPTOR.services_by_name["EventLogService"],
        replay_pb2.DESCRIPTOR.services_by_name["ReplayService"],
        ingest_pb2.DESCRIPTOR.services_by_name["EventIngestService"],
        admin_pb2.DESCRIPTOR.services_by_name["ApiKeyService"],
    ]
