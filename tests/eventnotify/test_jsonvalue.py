"""Struct -> dict: values by the JSON rules, errors naming the bad value's path."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf import struct_pb2

from eventnotify.jsonvalue import MAX_DEPTH, JsonValueError, struct_to_dict


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def _nested_dicts(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for i in reversed(range(levels)):
        value = {f"k{i}": value}
    return value


def test_values_come_back_by_the_json_rules() -> None:
    data = {"s": "é", "i": 3, "f": 2.5, "b": True, "n": None, "l": [1, [2, {"x": "y"}]]}
    assert struct_to_dict(_struct(data)) == data
    assert isinstance(struct_to_dict(_struct({"i": 3}))["i"], int)
    assert struct_to_dict(_struct({})) == {}


DEEP_PATH = "data." + ".".join(f"k{i}" for i in range(MAX_DEPTH))


@pytest.mark.parametrize(
    ("data", "path", "problem"),
    [
        ({"a": math.nan}, "data.a", "finite"),
        ({"a": {"b": [0, 1, math.inf]}}, "data.a.b[2]", "finite"),
        ({"l": [[{"c": -math.inf}]]}, "data.l[0][0].c", "finite"),
        ({"x" * 60: math.nan}, "data." + "x" * 40 + "...", "finite"),
        (_nested_dicts(MAX_DEPTH + 5), DEEP_PATH, "nested deeper"),
    ],
)
def test_errors_name_the_path_of_the_bad_value(
    data: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(JsonValueError) as err:
        struct_to_dict(_struct(data), "data")
    assert err.value.path == path
    assert problem in err.value.problem
    assert str(err.value) == f"{path}: {err.value.problem}"


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert struct_to_dict(_struct(_nested_dicts(MAX_DEPTH - 1)))
