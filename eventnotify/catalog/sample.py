"""Schema-valid sample data, for test events (``SendTestEvent``).

Deterministic: the same schema always gives the same sample, so a test event
is reproducible and its shape is easy to read in the receiver's logs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import unquote

from eventnotify.catalog.schemas import MISSING, Schema, follow_pointer

_SAMPLE_EPOCH_MS: Final = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_FORMAT_SAMPLES: Final[dict[str, str]] = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "customer@example.com",
    "idn-email": "customer@example.com",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "PT1H",
}
_MAX_DEPTH: Final = 12


def sample_data(schema: Schema) -> dict[str, Any]:
    """A deterministic object that satisfies ``schema``, for test events.

    Every declared property is filled in (not only the required ones) so a test
    event shows the full shape. Uses ``const``, then the first ``enum`` value,
    ``examples`` entry or ``default``, else a value built from ``type``,
    ``format`` and bounds. ``pattern`` cannot be honoured in general, so schemas
    relying on it should carry ``examples``.
    """
    value = _Sampler(schema).sample(schema, "data", 0)
    # const/enum/default values come straight from the schema; copy so a caller
    # adding to its sample can never change the (shared, cached) schema.
    return copy.deepcopy(value) if isinstance(value, dict) else {}


class _Sampler:
    def __init__(self, root: Schema) -> None:
        self._root = root

    def sample(self, schema: Any, name: str, depth: int) -> Any:
        if schema is True or not isinstance(schema, Mapping):
            return f"sample-{name}"
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._resolve(ref)
            if target is not None and depth < _MAX_DEPTH:
                return self.sample(target, name, depth + 1)
        if "const" in schema:
            return schema["const"]
        for keyword in ("enum", "examples"):
            values = schema.get(keyword)
            if isinstance(values, list) and values:
                return values[0]
        if "default" in schema:
            return schema["default"]
        for keyword in ("oneOf", "anyOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                return self.sample(branches[0], name, depth + 1)
        value = self._typed(schema, name, depth)
        for part in schema.get("allOf", ()):
            extra = self.sample(part, name, depth + 1)
            if isinstance(value, dict) and isinstance(extra, dict):
                value = {**extra, **value}
        return value

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            return None
        node = follow_pointer(self._root, unquote(ref[1:]))
        return None if node is MISSING else node

    def _typed(self, schema: Schema, name: str, depth: int) -> Any:
        kind = _sample_type(schema, is_root=depth == 0)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "string":
            return _string(schema, name)
        if kind in ("integer", "number"):
            return _number(schema, name, integer=kind == "integer")
        if kind == "boolean":
            return True
        return None

    def _object(self, schema: Schema, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if depth >= _MAX_DEPTH:
            return result
        properties = schema.get("properties", {})
        for prop, subschema in properties.items():
            if subschema is not False:
                result[prop] = self.sample(subschema, prop, depth + 1)
        extra = schema.get("additionalProperties", True)
        for prop in schema.get("required", ()):
            if prop not in result:
                result[prop] = self.sample(extra, prop, depth + 1)
        return result

    def _array(self, schema: Schema, name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft-04..7 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        result = [self.sample(s, name, depth + 1) for s in prefix or ()]
        minimum = int(schema.get("minItems", 0))
        maximum = schema.get("maxItems")
        count = max(minimum, 1 if items is not None and items is not False else 0)
        if isinstance(maximum, int | float):
            count = min(count, int(maximum))
        while len(result) < count:
            result.append(self.sample(items if items is not None else True, name, depth + 1))
        return result


def _sample_type(schema: Schema, *, is_root: bool) -> str:
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, Sequence) and declared:
        # Prefer a real value over null so the sample shows the field's shape.
        non_null = [t for t in declared if t != "null"]
        return str(non_null[0] if non_null else "null")
    if is_root or any(k in schema for k in ("properties", "required", "additionalProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    # An untyped "allOf" wrapper takes its shape from its first typed part.
    for part in schema.get("allOf", ()):
        if isinstance(part, Mapping) and (kind := _sample_type(part, is_root=False)) != "string":
            return kind
    return "string"


def _string(schema: Schema, name: str) -> str:
    value = _FORMAT_SAMPLES.get(str(schema.get("format", "")), f"sample-{name}")
    max_length = schema.get("maxLength")
    if isinstance(max_length, int | float):
        value = value[: int(max_length)]
    min_length = schema.get("minLength")
    if isinstance(min_length, int | float) and len(value) < min_length:
        value = value.ljust(int(min_length), "x")
    return value


def _number(schema: Schema, name: str, *, integer: bool) -> int | float:
    # Epoch-millisecond fields get a plausible timestamp rather than 1.
    looks_like_time = name.endswith(("At", "Timestamp", "Time"))
    value: float = _SAMPLE_EPOCH_MS if looks_like_time else (1 if integer else 10.5)
    low, low_exclusive = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_exclusive = _bound(schema, "maximum", "exclusiveMaximum")
    step = 1.0 if integer else 0.5
    if low is not None and (value < low or (low_exclusive and value == low)):
        value = low + step if low_exclusive else low
    if high is not None and (value > high or (high_exclusive and value == high)):
        value = high - step if high_exclusive else high
        if low is not None and value < low:  # a narrow range: take its middle
            value = (low + high) / 2
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        value = math.ceil(value / multiple) * multiple
    if not integer:
        return value
    rounded = math.ceil(value)
    if high is not None and (rounded > high or (high_exclusive and rounded == high)):
        rounded = math.floor(value)
    return rounded


def _bound(schema: Schema, inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    limit = schema.get(inclusive)
    flag = schema.get(exclusive)
    if isinstance(flag, bool):  # draft-04: a flag on the inclusive keyword
        return (float(limit), flag) if isinstance(limit, int | float) else (None, False)
    if isinstance(flag, int | float):
        if isinstance(limit, int | float) and limit > flag:
            return float(limit), False
        return float(flag), True
    return (float(limit), False) if isinstance(limit, int | float) else (None, False)
