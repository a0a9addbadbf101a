"""HTTP request -> request message, response message -> JSON, per a ``Route``.

Pure functions over protobuf descriptors and ``json_format``: the body fills
the whole request (``body: "*"``) or one field; query parameters fill the
other fields (by JSON or proto name, dotted for nested messages, repeated by
repetition); path variables fill theirs last. Anything that cannot be mapped
is an ``InvalidArgument`` naming the field, answered like the service's own
validation errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor

from eventnotify.errors import FieldViolation, InvalidArgument
from service.gateway.jsonmap import message_to_json
from service.gateway.rules import Route

_AT = re.compile(r" at ([A-Za-z0-9_.]+?)\.?$")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def message_class(descriptor: Any) -> Any:
    """The generated class of a message descriptor."""
    return message_factory.GetMessageClass(descriptor)


def invalid(field: str, description: str) -> InvalidArgument:
    """The error of one unusable request field."""
    return InvalidArgument(
        f"invalid request: {field}: {description}",
        violations=[FieldViolation(field, description)],
        reason="INVALID_REQUEST",
    )


def _field(descriptor: Any, name: str) -> Any:
    found = descriptor.fields_by_name.get(name)
    if found is None:
        found = next((f for f in descriptor.fields if f.json_name == name), None)
    return found


def _resolve(descriptor: Any, path: str) -> list[Any]:
    """Field descriptors along a dotted path (JSON or proto names)."""
    chain: list[Any] = []
    current = descriptor
    for part in path.split("."):
        if current is None:
            raise invalid(path, "not a field of the request")
        field = _field(current, part)
        if field is None:
            raise invalid(path, "not a field of the request")
        chain.append(field)
        current = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
    return chain


def _scalar(field: Any, raw: str, path: str) -> Any:
    """A query/path string as the JSON value json_format expects for ``field``."""
    if field.type == FieldDescriptor.TYPE_BOOL:
        if raw.lower() not in _BOOLS:
            raise invalid(path, "expected true or false")
        return _BOOLS[raw.lower()]
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        try:
            return float(raw)
        except ValueError:
            raise invalid(path, "expected a number") from None
    return raw  # ints, enums, strings, bytes and FieldMask parse from strings


def _put(target: dict[str, Any], chain: list[Any], value: Any, path: str) -> None:
    for field in chain[:-1]:
        if field.is_repeated:
            raise invalid(path, "cannot address an element of a repeated field")
        target = target.setdefault(field.json_name, {})
        if not isinstance(target, dict):
            raise invalid(path, "given twice")
    last = chain[-1]
    if last.is_repeated:
        target.setdefault(last.json_name, []).append(value)
    elif last.json_name in target:
        raise invalid(path, "given twice")
    else:
        target[last.json_name] = value


def _leaf_ok(field: Any, path: str) -> None:
    if field.message_type is not None and field.message_type.full_name not in (
        "google.protobuf.FieldMask",
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
    ):
        raise invalid(path, "a message field cannot be given as a parameter")


def parse_body(raw: bytes) -> Any:
    """The JSON value of a request body ({} when empty)."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid("body", f"not valid JSON ({exc})") from None


def build_request(
    route: Route,
    path_values: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    body: Any,
) -> Any:
    """The request message of ``route`` from the parts of an HTTP request."""
    desc = route.input
    if not route.body and not query and route.simple_path:
        # The common lookup (GET /v1/eventLogs/{event_id}): string fields
        # straight from the path, without the JSON parser's detour.
        return message_class(desc)(**path_values)
    tree: dict[str, Any] = {}
    if route.body == "*":
        if not isinstance(body, dict):
            raise invalid("body", "expected a JSON object")
        tree = dict(body)
    elif route.body:
        field = desc.fields_by_name[route.body]
        tree[field.json_name] = body
    bound = {route.body} if route.body and route.body != "*" else set()
    for name, raw in query:
        if route.body == "*":
            raise invalid(name, "this call takes its fields in the body, not the query")
        chain = _resolve(desc, name)
        if chain[0].name in bound:
            raise invalid(name, "given in the body")
        _leaf_ok(chain[-1], name)
        _put(tree, chain, _scalar(chain[-1], raw, name), name)
    for path, raw in path_values.items():
        chain = _resolve(desc, path)
        _overwrite(tree, chain, _scalar(chain[-1], raw, path))
    return parse_into(tree, message_class(desc)())


def _overwrite(tree: dict[str, Any], chain: list[Any], value: Any) -> None:
    # Path variables win over the body, as the HTTP rule's semantics require.
    for field in chain[:-1]:
        nested = tree.get(field.json_name)
        if not isinstance(nested, dict):
            nested = {} if nested is None else nested
            if not isinstance(nested, dict):
                raise invalid(field.json_name, "expected a JSON object")
            tree[field.json_name] = nested
        tree = nested
    # Both spellings could be in a body; the path's value is the one kept.
    tree.pop(chain[-1].name, None)
    tree[chain[-1].json_name] = value


def parse_into(tree: Any, msg: Any) -> Any:
    """``json_format.ParseDict`` with its errors made field-level InvalidArguments."""
    try:
        return json_format.ParseDict(tree, msg, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise invalid(_failed_field(str(exc)), str(exc)) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise invalid("body", f"cannot be read as {msg.DESCRIPTOR.name}: {exc}") from None


def _failed_field(text: str) -> str:
    # json_format ends with "at <Message>.<field>.<field>" where it knows the
    # spot, and otherwise names fields as "Failed to parse <name> field".
    at = _AT.search(text)
    if at:
        return at.group(1).split(".", 1)[1] if "." in at.group(1) else at.group(1)
    names = [
        part.split(" field", 1)[0]
        for part in text.split("Failed to parse ")[1:]
        if " field" in part
    ]
    return ".".join(names) or "body"


def to_json(msg: Any) -> dict[str, Any]:
    """The canonical JSON of a response, fields without presence included."""
    return message_to_json(msg)
