"""The OpenAPI 3 document of the gateway, generated from the contracts.

Paths and operations come from the ``google.api.http`` rules (``Route``),
schemas from the message descriptors in their canonical JSON mapping (int64
as decimal strings, enums by name, ``Struct`` as a free object,
``FieldMask`` as a comma-separated string), descriptions from the .proto
comments when the descriptor set with source info is installed beside the
generated code. The seed's v3 paths are described by hand below, with their
envelope; their payloads are the v1 messages reshaped (see ``v3``).
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor

from service.gateway.rules import VARIABLE, Route

_PACKAGE = "eventnotify.v1."
_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]{1,18}$"}
_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: {**_INT64, "pattern": "^[0-9]{1,19}$"},
    FieldDescriptor.TYPE_FIXED64: {**_INT64, "pattern": "^[0-9]{1,19}$"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated field paths in camelCase, e.g. eventNames,webHookUrl.",
    },
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string"},
}
_ERROR = {
    "type": "object",
    "description": "A google.rpc.Status in Google's JSON error shape.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "status", "message"],
            "properties": {
                "code": {"type": "integer", "description": "HTTP status."},
                "status": {"type": "string", "description": "gRPC status code name."},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "description": "ErrorInfo (reason; metadata.code = the original "
                    "system's numeric code), BadRequest (fieldViolations), RetryInfo.",
                    "items": {"type": "object", "additionalProperties": True},
                },
            },
        }
    },
}


def _comments() -> dict[str, str]:
    """Full name -> leading comment, from the descriptor set protogen writes."""
    try:
        raw = resources.files("eventnotify.v1").joinpath("descriptors.binpb").read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    fds = descriptor_pb2.FileDescriptorSet.FromString(raw)
    out: dict[str, str] = {}
    for f in fds.file:
        names = _paths_to_names(f)
        for loc in f.source_code_info.location:
            name = names.get(tuple(loc.path))
            if name and loc.leading_comments.strip():
                out[name] = " ".join(loc.leading_comments.split())
    return out


def _paths_to_names(f: Any) -> dict[tuple[int, ...], str]:
    # Source-location paths: 4 = message_type, 2 = field, 5 = enum_type,
    # 6 = service, 2 = method (inside a service).
    pkg = f.package + "."
    names: dict[tuple[int, ...], str] = {}
    for i, m in enumerate(f.message_type):
        names[(4, i)] = pkg + m.name
        for j, fld in enumerate(m.field):
            names[(4, i, 2, j)] = f"{pkg}{m.name}.{fld.name}"
    for i, e in enumerate(f.enum_type):
        names[(5, i)] = pkg + e.name
    for i, s in enumerate(f.service):
        names[(6, i)] = pkg + s.name
        for j, meth in enumerate(s.method):
            names[(6, i, 2, j)] = f"{pkg}{s.name}.{meth.name}"
    return names


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.comments = _comments()

    def _doc(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        text = self.comments.get(name)
        return {**schema, "description": text} if text else schema

    def message(self, desc: Any) -> dict[str, Any]:
        if desc.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[desc.full_name])
        name = desc.full_name.removeprefix(_PACKAGE)
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: recursive messages terminate
            props = {f.json_name: self.field(f) for f in desc.fields}
            self.schemas[name] = self._doc(desc.full_name, {"type": "object", "properties": props})
        return {"$ref": f"#/components/schemas/{name}"}

    def enum(self, desc: Any) -> dict[str, Any]:
        name = desc.full_name.removeprefix(_PACKAGE)
        if name not in self.schemas:
            self.schemas[name] = self._doc(
                desc.full_name, {"type": "string", "enum": [v.name for v in desc.values]}
            )
        return {"$ref": f"#/components/schemas/{name}"}

    def value(self, f: Any) -> dict[str, Any]:
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            return self.message(f.message_type)
        if f.type == FieldDescriptor.TYPE_ENUM:
            return self.enum(f.enum_type)
        return dict(_SCALARS[f.type])

    def field(self, f: Any) -> dict[str, Any]:
        if f.type == FieldDescriptor.TYPE_MESSAGE and f.message_type.GetOptions().map_entry:
            schema: dict[str, Any] = {
                "type": "object",
                "additionalProperties": self.value(f.message_type.fields_by_name["value"]),
            }
        elif f.is_repeated:
            schema = {"type": "array", "items": self.value(f)}
        else:
            schema = self.value(f)
        text = self.comments.get(f"{f.containing_type.full_name}.{f.name}")
        if not text:
            return schema
        if "$ref" in schema:  # siblings of $ref are ignored in OpenAPI 3.0
            return {"allOf": [schema], "description": text}
        return {**schema, "description": text}


def _param_schema(b: _Builder, f: Any) -> dict[str, Any] | None:
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        if f.message_type.full_name == "google.protobuf.FieldMask":
            return {"type": "string"}
        return None
    item = b.value(f)
    return {"type": "array", "items": item} if f.is_repeated else item


def _field_at(desc: Any, path: str) -> Any:
    f = None
    for part in path.split("."):
        f = desc.fields_by_name[part]
        desc = f.message_type
    return f


def _operation(b: _Builder, route: Route) -> dict[str, Any]:
    service, method = route.grpc_method.strip("/").split("/")
    params: list[dict[str, Any]] = []
    for path in route.path_fields:
        schema = dict(b.value(_field_at(route.input, path)))
        if schema.get("type") == "string":
            schema["minLength"] = 1
            schema["pattern"] = "^[^/]+$"
        params.append(
            {
                "name": path_parameter(path),
                "in": "path",
                "required": True,
                "description": f"Request field `{path}`.",
                "schema": schema,
            }
        )
    bound = {p.split(".")[0] for p in route.path_fields}
    if route.body != "*":
        for f in route.input.fields:
            if f.name in bound or f.name == route.body:
                continue
            query = _param_schema(b, f)
            if query is None:
                continue
            param: dict[str, Any] = {"name": f.json_name, "in": "query", "schema": query}
            text = b.comments.get(f"{route.input.full_name}.{f.name}")
            if text:
                param["description"] = text
            if f.is_repeated:
                param["explode"] = True
            params.append(param)
    op: dict[str, Any] = {
        "operationId": f"{service.removeprefix(_PACKAGE)}_{method}",
        "summary": route.doc,
        "tags": [service.removeprefix(_PACKAGE)],
        "x-grpc-method": route.grpc_method,
        "parameters": params,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": b.message(route.output)}},
            },
            "default": {
                "description": "Error (HTTP status per google.rpc.Code)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    text = b.comments.get(f"{service}.{method}")
    if text:
        op["description"] = text
    if route.body:
        body_schema = (
            b.message(route.input)
            if route.body == "*"
            else b.field(route.input.fields_by_name[route.body])
        )
        op["requestBody"] = {
            "required": route.body != "*",
            "content": {"application/json": {"schema": body_schema}},
        }
    return op


def path_parameter(field_path: str) -> str:
    """OpenAPI name of a path variable: its last field name (``webhook.web_hook_id``
    -> ``web_hook_id``), so templates that differ only in the request field
    they fill (GET and PATCH of one resource) are one OpenAPI path."""
    return field_path.rsplit(".", 1)[-1]


def openapi_path(template: str) -> str:
    """A rule's template as an OpenAPI path key."""
    return VARIABLE.sub(lambda m: "{" + path_parameter(m.group(1)) + "}", template)


def _v3_paths() -> dict[str, Any]:
    def envelope(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["data", "errors"],
            "properties": {
                "data": {**data, "nullable": True},
                "errors": {
                    "type": "array",
                    "nullable": True,
                    "items": {"$ref": "#/components/schemas/V3Error"},
                },
                "nextPageToken": {"type": "string"},
            },
        }

    obj = {"type": "object", "additionalProperties": True}
    arr = {"type": "array", "items": obj}

    def op(
        op_id: str, summary: str, data: dict[str, Any], params: list[str], body: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operationId": op_id,
            "summary": summary,
            "tags": ["v3 (original API)"],
            "parameters": [
                {
                    "name": p,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
                }
                for p in params
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": envelope(data)}},
                },
                "default": {
                    "description": "Error envelope: data null, one errors entry per problem",
                    "content": {"application/json": {"schema": envelope(obj)}},
                },
            },
        }
        if body:
            out["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Webhook"}}
                },
            }
        return out

    return {
        "/v3/webHooks": {
            "post": op("V3_CreateWebhook", "Add a webhook account", obj, [], body=True),
            "get": op("V3_ListWebhooks", "The org's webhook accounts", arr, []),
        },
        "/v3/webHooks/{webhookId}": {
            "put": op("V3_UpdateWebhook", "Update a webhook account", obj, ["webhookId"], True),
            "delete": op("V3_DeleteWebhook", "Deactivate a webhook account", obj, ["webhookId"]),
        },
        "/v3/webHooks/eventMetaData": {
            "get": op("V3_ListEvents", "The org's events with their status", arr, [])
        },
        "/v3/webHooks/eventMetaData/{eventName}": {
            "get": op("V3_GetEvent", "One event with its JSON Schema", obj, ["eventName"])
        },
        "/v3/webHooks/eventLog/{eventId}": {
            "get": op("V3_GetEventLog", "Delivery log of one eventId", obj, ["eventId"])
        },
        "/v3/webHooks/eventLog/requestId/{requestId}": {
            "get": op("V3_EventLogsByRequest", "Deliveries of a request id", arr, ["requestId"])
        },
        "/v3/webHooks/eventLog/refId/{refId}": {
            "get": op("V3_EventLogsByRef", "Deliveries of a reference id", arr, ["refId"])
        },
    }


def openapi_document(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``routes`` plus the v3 paths."""
    b = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(openapi_path(route.template), {})[route.verb.lower()] = _operation(
            b, route
        )
    paths.update(_v3_paths())
    b.schemas["Error"] = _ERROR
    b.schemas["V3Error"] = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {
                "type": "integer",
                "description": "The original's numeric code (51003, 51007, 300004) "
                "where it documents one, else the HTTP status.",
            },
            "message": {"type": "string"},
            "reason": {"type": "string"},
            "field": {"type": "string", "nullable": True},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "eventnotify HTTP/JSON API",
            "version": "v1",
            "description": "Every gRPC method of eventnotify.v1 over HTTP/JSON (the "
            "google.api.http rules of the .proto files), and the original system's v3 "
            "REST paths. Authenticate with `Authorization: Bearer <API key>`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(b.schemas.items())),
        },
    }


def render(document: dict[str, Any]) -> str:
    """The document as served and as kept in docs/openapi.json."""
    return json.dumps(document, indent=2) + "\n"


if __name__ == "__main__":  # python -m service.gateway.openapi > docs/openapi.json
    from service.gateway.rules import api_services, routes_of

    sys.stdout.write(render(openapi_document(routes_of(api_services()))))
