"""Response message -> canonical JSON value, fast.

The gateway answers every call with the proto3 JSON mapping of the response,
fields without presence included (as ``json_format.MessageToDict`` with
``always_print_fields_with_no_presence``). ``json_format`` rediscovers each
field's kind on every call; here each message type gets a plan, built once
from its descriptor, of (field, JSON name, converter). Well-known types and
field kinds our contracts do not use (bytes, float, non-string map keys)
fall back to ``json_format`` for the message that holds them, so the output is
the same either way (a test compares them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

Convert = Callable[[Any], Any]
# (proto name, JSON name, has presence, converter)
Plan = tuple[tuple[str, str, bool, Convert], ...]

_INT64 = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_PLAIN = frozenset(
    {
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BOOL,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_SFIXED32,
    }
)
_plans: dict[str, Plan | None] = {}


def message_to_json(msg: Any) -> dict[str, Any]:
    """The canonical JSON object of ``msg`` (fields without presence included)."""
    plan = _plan(msg.DESCRIPTOR)
    if plan is None:
        return _fallback(msg)
    out: dict[str, Any] = {}
    for name, json_name, presence, convert in plan:
        if presence and not msg.HasField(name):
            continue
        out[json_name] = convert(getattr(msg, name))
    return out


def _fallback(msg: Any) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(msg, always_print_fields_with_no_presence=True)
    return out


def _double(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _enum(descriptor: Any) -> Convert:
    # An aliased number is written with its first name (QUEUE, not QUEUE_INT),
    # as json_format writes it.
    names: dict[int, str] = {}
    for v in descriptor.values:
        names.setdefault(v.number, v.name)
    return lambda value: names.get(value, value)


def _identity(value: Any) -> Any:
    return value


def _converter(field: Any) -> Convert | None:
    """How one value of ``field`` becomes JSON; None when unsupported here."""
    kind = field.type
    if kind in _PLAIN:
        return _identity
    if kind in _INT64:
        return str
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return _double
    if kind == FieldDescriptor.TYPE_ENUM:
        return _enum(field.enum_type)
    if kind == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name.startswith("google.protobuf."):
            return lambda value: json_format.MessageToDict(value)
        return message_to_json
    return None  # bytes, float, groups


def _field_plan(field: Any) -> Convert | None:
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        key = field.message_type.fields_by_name["key"]
        value = _converter(field.message_type.fields_by_name["value"])
        if key.type != FieldDescriptor.TYPE_STRING or value is None:
            return None
        convert_value = value
        return lambda mapping: {k: convert_value(v) for k, v in mapping.items()}
    one = _converter(field)
    if one is None:
        return None
    if field.is_repeated:
        return lambda values: [one(v) for v in values]
    return one


def _plan(descriptor: Any) -> Plan | None:
    name = descriptor.full_name
    if name in _plans:
        return _plans[name]
    _plans[name] = None  # a recursive type falls back until its plan is done
    steps: list[tuple[str, str, bool, Convert]] = []
    for field in descriptor.fields:
        convert = _field_plan(field)
        if convert is None:
            return None
        steps.append((field.name, field.json_name, field.has_presence, convert))
    plan = tuple(steps)
    _plans[name] = plan
    return plan
