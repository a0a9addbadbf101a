"""The grpcurl examples of docs/getting-started.md are valid requests: each
``-d`` JSON parses (protobuf JSON mapping, as grpcurl parses it) into the
request type of the method it is sent to. A snake_case field mask
(``"update_mask": "event_names"``) would not."""

from __future__ import annotations

import re
import shlex

import pytest
from google.protobuf import descriptor_pool, json_format, message_factory

from devstack import REPO
from eventnotify.v1 import log_pb2, webhook_pb2

PAGE = REPO / "docs" / "getting-started.md"
assert log_pb2 and webhook_pb2  # imported to register their services


def grpcurl_calls() -> list[tuple[str, str]]:
    """(method, -d JSON) of every grpcurl line of the page."""
    calls = []
    for line in PAGE.read_text().splitlines():
        if not line.startswith("grpcurl "):
            continue
        words = shlex.split(line)
        calls.append((words[-1], words[words.index("-d") + 1]))
    return calls


def request_class(method: str) -> type:
    service, name = method.rsplit("/", 1)
    desc = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
    cls: type = message_factory.GetMessageClass(desc.input_type)
    return cls


def test_the_page_has_grpcurl_examples() -> None:
    methods = [m for m, _ in grpcurl_calls()]
    assert "eventnotify.v1.WebhookService/UpdateWebhook" in methods


@pytest.mark.parametrize(("method", "body"), grpcurl_calls())
def test_grpcurl_example_is_a_valid_request(method: str, body: str) -> None:
    request = json_format.Parse(body, request_class(method)())
    if method.endswith("/UpdateWebhook"):
        assert list(request.update_mask.paths) == ["event_names"]


def test_a_snake_case_field_mask_is_refused_by_the_json_mapping() -> None:
    body = re.sub(
        r'"updateMask":"eventNames"', '"update_mask":"event_names"', grpcurl_calls()[0][1]
    )
    with pytest.raises(json_format.ParseError):
        json_format.Parse(body, request_class("eventnotify.v1.WebhookService/UpdateWebhook")())
