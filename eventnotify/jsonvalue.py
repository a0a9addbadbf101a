"""JSON values in and out of protobuf ``Struct``, with one set of rules.

Every JSON value eventnotify accepts (event ``data``, event type schemas) goes
through here, whether it arrived as a ``google.protobuf.Struct`` or as JSON
text, so the same rules hold everywhere:

- Numbers are finite. RFC 8259 has no NaN or Infinity; a value holding one
  could not be delivered, stored as a schema, or compared, so it is refused.
- One integer rule: Struct stores every number as a double, so an integral
  value within 2**53 (where doubles are exact) comes back as ``int``; schemas
  saying ``"type": "integer"`` and ``"minLength": 1`` read as written.
- Depth is bounded (``MAX_DEPTH``): deeper values are refused rather than
  left to blow the interpreter's or BSON's nesting limits later.

Problems are reported as ``JsonValueError`` with the path of the bad value
(``data.score``, ``schema.properties.x.maximum``).
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
# Integers JSON text may carry: what BSON (and most receivers) can hold.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_EXACT = 2**53
_KEY_IN_PATH = 40


class JsonValueError(ValueError):
    """A value that is not acceptable JSON; ``path`` names it."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def struct_to_dict(struct: Any, path: str = "data") -> dict[str, Any]:
    """``google.protobuf.Struct`` -> plain dict, by the rules above."""
    try:
        return _struct(struct.fields, 0)
    except _Bad as bad:
        where = path
        for key in reversed(bad.keys):
            where = _join(where, key)
        raise JsonValueError(where, bad.problem) from None


class _Bad(Exception):
    """A bad value deep inside a Struct; ``keys`` is its path, innermost
    first, filled in on the way out. Paths are only built for errors: this
    runs for every consumed event."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.keys: list[str | int] = []


def _struct(fields: Any, depth: int) -> dict[str, Any]:
    # Key iteration: the protobuf map's items() goes through the slow
    # collections.abc mixin.
    out: dict[str, Any] = {}
    for k in fields:
        try:
            out[k] = _value(fields[k], depth + 1)
        except _Bad as bad:
            bad.keys.append(k)
            raise
    return out


def _value(v: Any, depth: int) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "number_value":
        n = v.number_value
        if n.is_integer():
            return int(n) if -_EXACT < n < _EXACT else n
        if math.isfinite(n):
            return n
        raise _Bad("numbers must be finite (no NaN or Infinity)")
    if kind == "bool_value":
        return v.bool_value
    if kind == "struct_value":
        if depth >= MAX_DEPTH:
            raise _Bad(f"nested deeper than {MAX_DEPTH} levels")
        return _struct(v.struct_value.fields, depth)
    if kind == "list_value":
        if depth >= MAX_DEPTH:
            raise _Bad(f"nested deeper than {MAX_DEPTH} levels")
        out = []
        for i, x in enumerate(v.list_value.values):
            try:
                out.append(_value(x, depth + 1))
            except _Bad as bad:
                bad.keys.append(i)
                raise
        return out
    return None


def _join(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    # Paths end up in error messages: a hostile key is cut, not echoed.
    return f"{parent}.{key if len(key) <= _KEY_IN_PATH else key[:_KEY_IN_PATH] + '...'}"


def check_value(value: Any, path: str = "data") -> None:
    """Raise ``JsonValueError`` when a decoded JSON value breaks the rules
    (non-finite or out-of-range number, too deep). Iterative, so a hostile
    nesting depth cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                raise JsonValueError(where, "integer out of the 64-bit range")
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise JsonValueError(where, "numbers must be finite (no NaN or Infinity)")
            continue
        if depth >= MAX_DEPTH:
            raise JsonValueError(where, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, _join(where, str(k)), depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, _join(where, i), depth + 1) for i, v in enumerate(item))
        else:
            raise JsonValueError(where, f"not a JSON value ({type(item).__name__})")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def loads(text: bytes | str) -> Any:
    """Parse RFC 8259 JSON: ``NaN``/``Infinity`` literals are refused (Python's
    json accepts them). Raises ``ValueError`` (JSONDecodeError among others)
    or ``RecursionError`` on hostile input; callers translate."""
    return json.loads(text, parse_constant=_no_constant)


def dumps(value: Any) -> str:
    """Compact RFC 8259 JSON text; ``ValueError`` on a non-finite number."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
