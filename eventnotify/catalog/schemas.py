"""Pure JSON Schema helpers for the event catalogue.

- ``check_schema``: is a custom event schema itself a usable JSON Schema?
- ``validate_data``: every way an event's ``data`` breaks its schema, as field paths.
- ``sample_data``: a deterministic object that satisfies a schema (SendTestEvent).

Schemas are plain JSON values (as decoded from JSON or a protobuf ``Struct``) and
are treated as immutable once handed to these functions: compiled validators are
cached by the schema's identity and its JSON text.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

import fastjsonschema
import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for

from eventnotify.text import brief

Schema = Mapping[str, Any]

DEFAULT_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

# Dialects a custom schema may declare. jsonschema silently falls back to the
# default for an unknown "$schema", which would validate under rules the author
# did not ask for, so anything else is rejected. Draft 3 is left out on purpose:
# its "required" and "type" semantics differ too much to be worth supporting.
_DIALECTS: Final[dict[str, type[Validator]]] = {
    str(cls.META_SCHEMA.get("$id", cls.META_SCHEMA.get("id", ""))).rstrip("#"): cls
    for cls in (
        jsonschema.Draft4Validator,
        jsonschema.Draft6Validator,
        jsonschema.Draft7Validator,
        jsonschema.Draft201909Validator,
        jsonschema.Draft202012Validator,
    )
}

# Keywords whose values are instance data, not subschemas: a "$ref" key inside
# an example or an enum value is not a reference.
_DATA_KEYWORDS: Final = frozenset({"const", "enum", "examples", "default"})

_MAX_DESCRIPTION: Final = 200
_MAX_CACHED: Final = 1024


@dataclass(frozen=True)
class FieldViolation:
    """One way an event's data breaks its schema.

    ``field`` is a path rooted at ``data``, e.g. ``data.amount`` or
    ``data.promotionalPointsIssued[0].points``.
    """

    field: str
    description: str


# --------------------------------------------------------------------------- check


def check_schema(schema: Any) -> list[str]:
    """Problems that make ``schema`` unusable as a custom event schema; empty if none.

    The schema must be a JSON object in a supported dialect (draft-04 to 2020-12;
    2020-12 when ``$schema`` is absent), valid against its metaschema, describe an
    object at the root, and use only ``$ref``s that resolve inside the schema
    (remote references are never fetched).
    """
    if not isinstance(schema, Mapping):
        return ["schema must be a JSON object"]
    dialect = schema.get("$schema")
    if dialect is not None and (
        not isinstance(dialect, str) or dialect.rstrip("#") not in _DIALECTS
    ):
        supported = ", ".join(sorted(_DIALECTS))
        return [f"$schema: unsupported dialect {brief(dialect)}; use one of {supported}"]
    cls = validator_for(schema, default=Draft202012Validator)
    # The metaschema validator with the dialect's format checker, as the
    # validator's own check_schema uses, but collecting every error, not one.
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(meta.iter_errors(schema), key=lambda e: (e.json_path, e.message))
    problems = [f"{e.json_path}: {_truncate(e.message)}" for e in errors]
    if problems:
        return problems
    root_type = schema.get("type")
    if root_type is not None and root_type not in ("object", ["object"]):
        problems.append('$.type: the root of an event schema must be of type "object"')
    problems.extend(_unresolvable_refs(schema))
    return problems


def _unresolvable_refs(root: Schema) -> list[str]:
    """Messages for each ``$ref`` that cannot be resolved inside ``root``."""
    problems: list[str] = []

    def walk(node: Any, resource: Any, path: str) -> None:
        if isinstance(node, Mapping):
            # A nested "$id" (or draft-04 "id") starts a new resource that
            # "#..." fragments resolve against.
            if node is not root and isinstance(node.get("$id", node.get("id")), str):
                resource = node
            ref = node.get("$ref")
            if isinstance(ref, str) and not _resolves(ref, resource):
                problems.append(
                    f"{path}.$ref: cannot resolve {brief(ref)}; only references inside "
                    "the schema (such as '#/$defs/name') are supported"
                )
            for key, value in node.items():
                if key not in _DATA_KEYWORDS:
                    walk(value, resource, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, resource, f"{path}[{i}]")

    walk(root, root, "$")
    return problems


def _resolves(ref: str, resource: Any) -> bool:
    if not ref.startswith("#"):
        return False
    fragment = unquote(ref[1:])
    if fragment == "":
        return True
    if not fragment.startswith("/"):
        return fragment in _anchors(resource)
    return follow_pointer(resource, fragment) is not MISSING


MISSING = object()


def follow_pointer(root: Any, pointer: str) -> Any:
    """The node a JSON Pointer ("/a/0/b", already URL-decoded) names in
    ``root``, or ``MISSING``."""
    node = root
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return MISSING
    return node


def _anchors(node: Any) -> set[str]:
    """Plain-name anchors defined anywhere under ``node`` ($anchor or draft-04 "id": "#x")."""
    found: set[str] = set()
    if isinstance(node, Mapping):
        anchor = node.get("$anchor")
        if isinstance(anchor, str):
            found.add(anchor)
        old_id = node.get("id")
        if isinstance(old_id, str) and old_id.startswith("#"):
            found.add(old_id[1:])
        for key, value in node.items():
            if key not in _DATA_KEYWORDS:
                found |= _anchors(value)
    elif isinstance(node, list):
        for item in node:
            found |= _anchors(item)
    return found


# ------------------------------------------------------------------------ validate


def validate_data(schema: Schema, data: Any) -> list[FieldViolation]:
    """Every violation of ``schema`` by ``data``, sorted by field path.

    Formats (``date-time``, ``email``...) are annotations only, as the 2020-12
    default: producers' timestamp strings vary and rejecting them would drop
    events over cosmetics. Integral floats count as integers in every dialect
    because data that went through a protobuf ``Struct`` has only floats.
    Never raises for a schema that passed ``check_schema``; a schema that cannot
    be applied is reported as a violation of ``data``.
    """
    validator = _cached_validator(schema)
    found: dict[tuple[str, str], FieldViolation] = {}
    try:
        # Valid data is the hot path (the dispatcher checks every event): a
        # compiled check is ~30x cheaper than jsonschema's; jsonschema stays
        # the authority whenever there is anything to report.
        fast = _fast_check(schema)
        if fast is not None and fast(data):
            return []
        for error in validator.iter_errors(data):
            for violation in _violations(error):
                found.setdefault((violation.field, violation.description), violation)
    except jsonschema.exceptions._RefResolutionError as exc:
        # Only reachable for a schema that skipped check_schema.
        return [FieldViolation("data", _truncate(f"schema cannot be applied: {exc}"))]
    return sorted(found.values(), key=lambda v: (v.field, v.description))


def _violations(error: jsonschema.ValidationError) -> Iterable[FieldViolation]:
    path = _field_path(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        # jsonschema reports a missing property at its parent; point at the
        # property itself. One error per missing name, so duplicates are merged
        # by the caller.
        for name in error.validator_value:
            if name not in error.instance:
                yield FieldViolation(_join(path, name), "is required")
        return
    yield FieldViolation(path, _describe(error))


def _describe(error: jsonschema.ValidationError) -> str:
    # Our own wording for the common keywords: jsonschema's messages quote the
    # whole offending value, which can be large and ends up in delivery logs.
    if error.validator == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"must be of type {' or '.join(names)}, got {_json_type(error.instance)}"
    if error.validator == "enum":
        return _truncate(f"must be one of {json.dumps(error.validator_value)}")
    if error.validator == "const":
        return _truncate(f"must equal {json.dumps(error.validator_value)}")
    return _truncate(error.message)


def _field_path(parts: Iterable[str | int]) -> str:
    path = "data"
    for part in parts:
        path = _join(path, part)
    return path


_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    if _IDENTIFIER.match(part):
        return f"{path}.{part}"
    return f"{path}[{json.dumps(part)}]"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _truncate(text: str) -> str:
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


# ---------------------------------------------------------------- validator cache

# Two levels because this is on the dispatcher's hot path: the identity cache
# answers without serialising when the caller reuses its schema object (the
# standard catalogue, or a custom schema held in memory); the text cache shares
# one validator among equal schemas decoded afresh. The identity cache holds a
# reference to the schema so its id() cannot be reused by another object while
# cached. Both are bounded so a stream of distinct schemas cannot grow memory.
_lock = threading.Lock()
_by_identity: OrderedDict[int, tuple[Schema, Validator]] = OrderedDict()
_by_text: OrderedDict[str, Validator] = OrderedDict()
_classes: dict[type[Validator], type[Validator]] = {}


# Keywords newer than draft-07 that fastjsonschema does not implement; a schema
# using any of them is only ever checked by jsonschema.
_NEWER_KEYWORDS = frozenset(
    {
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "dependentRequired",
        "dependentSchemas",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
        "minContains",
        "maxContains",
        "$anchor",
    }
)
_fast_by_identity: dict[int, tuple[Schema, Callable[[Any], bool] | None]] = {}


def _uses_newer_keywords(node: Any) -> bool:
    if isinstance(node, Mapping):
        return any(k in _NEWER_KEYWORDS for k in node) or any(
            _uses_newer_keywords(v) for v in node.values()
        )
    if isinstance(node, list):
        return any(_uses_newer_keywords(v) for v in node)
    return False


def _fast_check(schema: Schema) -> Callable[[Any], bool] | None:
    """A compiled yes/no check of ``schema``, or None where it cannot be trusted."""
    entry = _fast_by_identity.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    check: Callable[[Any], bool] | None = None
    if not _uses_newer_keywords(schema):
        try:
            compiled = fastjsonschema.compile(dict(schema))
        except Exception:  # any schema it cannot compile falls back to jsonschema
            compiled = None
        if compiled is not None:

            def check(data: Any, _compiled: Callable[[Any], Any] = compiled) -> bool:
                try:
                    _compiled(data)
                except fastjsonschema.JsonSchemaException:
                    return False
                return True

    with _lock:
        _fast_by_identity[id(schema)] = (schema, check)
        if len(_fast_by_identity) > _MAX_CACHED:
            _fast_by_identity.pop(next(iter(_fast_by_identity)))
    return check


def _cached_validator(schema: Schema) -> Validator:
    """The compiled validator of ``schema``, built once per distinct schema."""
    entry = _by_identity.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    with _lock:
        validator = _by_text.get(text)
        if validator is None:
            validator = _lenient_class(validator_for(schema, default=Draft202012Validator))(schema)
            _by_text[text] = validator
            if len(_by_text) > _MAX_CACHED:
                _by_text.popitem(last=False)
        else:
            _by_text.move_to_end(text)
        _by_identity[id(schema)] = (schema, validator)
        if len(_by_identity) > _MAX_CACHED:
            _by_identity.popitem(last=False)
    return validator


def _lenient_class(cls: type[Validator]) -> type[Validator]:
    """``cls`` with integral floats accepted as integers (draft-04 rejects 5.0)."""
    lenient = _classes.get(cls)
    if lenient is None:
        checker = cls.TYPE_CHECKER.redefine("integer", _is_integer)
        lenient = extend(cls, type_checker=checker)
        _classes[cls] = lenient
    return lenient


def _is_integer(_checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
