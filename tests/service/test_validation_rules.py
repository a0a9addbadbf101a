"""service.core.validation as a table, without a server: every rule's exact
violation (field, description, reason, original code) and its boundaries.
The API tests (test_validation.py) prove the same rules reach the client."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from eventnotify.domain import WebhookType
from eventnotify.errors import InvalidArgument
from service.core.validation import (
    FORBIDDEN_HEADERS,
    Violation,
    WebhookDraft,
    raise_if_any,
    validate_webhook,
)

CATALOG = {"pointsIssued": True, "customerAdded": True, "retired": False}
VALID = WebhookDraft(
    name="hook",
    event_names=["pointsIssued"],
    url="https://example.com/hook",
    type=WebhookType.HTTP,
    method="POST",
    headers={"X-Api-Key": "k"},
    max_allowed_connections=10,
)
H = "webhook.web_hook_headers"
URL = "webhook.web_hook_url"
URL_INVALID = (URL, "must be an absolute http(s) URL", "URL_INVALID", None)
SLA = ("webhook.sla_in_seconds", "must be between 1 and 604800", "SLA_OUT_OF_RANGE", None)
RETRIES = (
    "webhook.no_of_retry_attempts",
    "must be between 0 and 100",
    "RETRY_ATTEMPTS_OUT_OF_RANGE",
    None,
)
Row = tuple[str, str, str, int | None]


def violations(draft: WebhookDraft, new: list[str] | None = None) -> list[Row]:
    """Every violation of ``draft`` as (field, description, reason, code)."""
    try:
        validate_webhook(draft, CATALOG, draft.event_names if new is None else new)
    except InvalidArgument as err:
        return [(v.field, v.description, v.reason, v.code) for v in err.violations]  # type: ignore[attr-defined]
    return []


CASES: list[tuple[str, dict[str, Any], list[Row]]] = [
    (
        "no event names",
        {"event_names": []},
        [
            (
                "webhook.event_names",
                "at least one event name is required",
                "EVENT_NAMES_REQUIRED",
                51003,
            )
        ],
    ),
    (
        "unknown and inactive events",
        {"event_names": ["pointsIssued", "nope", "retired"]},
        [
            ("webhook.event_names[1]", "unknown event 'nope'", "EVENT_NAME_UNKNOWN", None),
            ("webhook.event_names[2]", "event 'retired' is inactive", "EVENT_NAME_INACTIVE", None),
        ],
    ),
    (
        "no max connections",
        {"max_allowed_connections": None},
        [
            (
                "webhook.max_allowed_connections",
                "maxAllowedConnections is required",
                "MAX_CONNECTIONS_REQUIRED",
                300004,
            )
        ],
    ),
    (
        "zero max connections",
        {"max_allowed_connections": 0},
        [
            (
                "webhook.max_allowed_connections",
                "must be greater than 0",
                "MAX_CONNECTIONS_INVALID",
                51007,
            )
        ],
    ),
    (
        "too many connections",
        {"max_allowed_connections": 1001},
        [
            (
                "webhook.max_allowed_connections",
                "must be at most 1000",
                "MAX_CONNECTIONS_TOO_LARGE",
                None,
            )
        ],
    ),
    ("blank name", {"name": "  "}, [("webhook.name", "a name is required", "NAME_REQUIRED", None)]),
    (
        "long name",
        {"name": "n" * 129},
        [("webhook.name", "at most 128 characters", "NAME_TOO_LONG", None)],
    ),
    (
        "no URL",
        {"url": ""},
        [(URL, "a URL (or, for QUEUE, a topic) is required", "URL_REQUIRED", None)],
    ),
    (
        "long URL",
        {"url": "https://example.com/" + "p" * 2029},
        [(URL, "at most 2048 characters", "URL_TOO_LONG", None)],
    ),
    ("ftp URL", {"url": "ftp://example.com/x"}, [URL_INVALID]),
    ("relative URL", {"url": "/hook"}, [URL_INVALID]),
    ("bad port", {"url": "https://example.com:99999/x"}, [URL_INVALID]),
    ("space in URL", {"url": "https://example.com/a b"}, [URL_INVALID]),
    (
        "bad topic",
        {"type": WebhookType.QUEUE, "url": "a/b"},
        [(URL, "not a valid Kafka topic name [A-Za-z0-9._-]", "TOPIC_INVALID", None)],
    ),
    (
        "dot topic",
        {"type": WebhookType.QUEUE, "url": "."},
        [(URL, "not a valid Kafka topic name [A-Za-z0-9._-]", "TOPIC_INVALID", None)],
    ),
    (
        "dot-dot topic",
        {"type": WebhookType.QUEUE, "url": ".."},
        [(URL, "not a valid Kafka topic name [A-Za-z0-9._-]", "TOPIC_INVALID", None)],
    ),
    (
        "long topic",
        {"type": WebhookType.QUEUE, "url": "t" * 250},
        [(URL, "not a valid Kafka topic name [A-Za-z0-9._-]", "TOPIC_INVALID", None)],
    ),
    (
        "method",
        {"method": "post"},
        [("webhook.method_type", "unsupported method", "METHOD_INVALID", None)],
    ),
    ("SLA zero", {"sla_in_seconds": 0}, [SLA]),
    ("SLA over a week", {"sla_in_seconds": 7 * 24 * 3600 + 1}, [SLA]),
    ("negative retries", {"no_of_retry_attempts": -1}, [RETRIES]),
    ("too many retries", {"no_of_retry_attempts": 101}, [RETRIES]),
    (
        "too many headers",
        {"headers": {f"X-{i}": "v" for i in range(33)}},
        [(H, "at most 32", "TOO_MANY_HEADERS", None)],
    ),
    (
        "headers too large",
        {"headers": {"X-Big": "v" * (8 * 1024 - 4)}},
        [(H, "at most 8192 bytes of names and values", "HEADERS_TOO_LARGE", None)],
    ),
    (
        "bad header name",
        {"headers": {"Bad Name": "v"}},
        [(f"{H}['Bad Name']", "not a valid header name", "HEADER_NAME_INVALID", None)],
    ),
    (
        "proxy header",
        {"headers": {"Proxy-Authorization": "v"}},
        [(f"{H}['Proxy-Authorization']", "this header may not be set", "HEADER_FORBIDDEN", None)],
    ),
    (
        "header value with a line break",
        {"headers": {"X-A": "a\r\nX-Injected: 1"}},
        [(f"{H}['X-A']", "control characters are not allowed", "HEADER_VALUE_INVALID", None)],
    ),
    (
        "bad name and bad value",
        {"headers": {"Bad Name": "\x7f"}},
        [
            (f"{H}['Bad Name']", "not a valid header name", "HEADER_NAME_INVALID", None),
            (
                f"{H}['Bad Name']",
                "control characters are not allowed",
                "HEADER_VALUE_INVALID",
                None,
            ),
        ],
    ),
]


@pytest.mark.parametrize(("case", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_rule(case: str, changes: dict[str, Any], expected: list[Row]) -> None:
    assert violations(replace(VALID, **changes)) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"max_allowed_connections": 1},
        {"max_allowed_connections": 1000},
        {"name": "n" * 128},
        {"url": "https://example.com/" + "p" * 2028},
        {"url": "http://10.0.0.1:8080/x?y=1"},
        {"type": WebhookType.QUEUE, "url": "orders.events-v1_X"},
        {"type": WebhookType.QUEUE, "url": "t" * 249},
        {"method": "GET"},
        {"method": "DELETE"},
        {"sla_in_seconds": 1},
        {"sla_in_seconds": 7 * 24 * 3600},
        {"no_of_retry_attempts": 0},
        {"no_of_retry_attempts": 100},
        {"headers": {f"X-{i}": "v" for i in range(32)}},
        {"headers": {"X-Big": "v" * (8 * 1024 - 5)}},
        {"headers": {"X-Tab": "a\tb", "x-odd!#$%&'*+-.^_`|~": "v"}},
    ],
)
def test_valid_edge_values_pass(changes: dict[str, Any]) -> None:
    assert violations(replace(VALID, **changes)) == []


@pytest.mark.parametrize("name", sorted(FORBIDDEN_HEADERS))
def test_every_forbidden_header_is_refused_in_any_case(name: str) -> None:
    assert violations(replace(VALID, headers={name.upper(): "v"})) == [
        (f"{H}[{name.upper()!r}]", "this header may not be set", "HEADER_FORBIDDEN", None)
    ]


def test_only_newly_added_event_names_are_checked_against_the_catalog() -> None:
    draft = replace(VALID, event_names=["retired", "pointsIssued", "customerAdded"])
    assert violations(draft, new=["customerAdded"]) == []
    assert violations(draft, new=["retired"]) == [
        ("webhook.event_names[0]", "event 'retired' is inactive", "EVENT_NAME_INACTIVE", None)
    ]
    # Names not being added are skipped, and checking goes on past them.
    assert violations(draft, new=["nope", "customerAdded"]) == []
    added_last = replace(VALID, event_names=["pointsIssued", "nope"])
    assert violations(added_last, new=["nope"]) == [
        ("webhook.event_names[1]", "unknown event 'nope'", "EVENT_NAME_UNKNOWN", None)
    ]


def test_every_violation_is_raised_at_once_with_the_first_ones_reason() -> None:
    draft = replace(VALID, event_names=[], max_allowed_connections=0, method="TRACE")
    with pytest.raises(InvalidArgument) as caught:
        validate_webhook(draft, CATALOG, [])
    err = caught.value
    assert (err.reason, err.code) == ("EVENT_NAMES_REQUIRED", 51003)
    assert err.message == (
        "invalid webhook: webhook.event_names: at least one event name is required; "
        "webhook.max_allowed_connections: must be greater than 0; "
        "webhook.method_type: unsupported method"
    )


def test_raise_if_any() -> None:
    raise_if_any([], "nothing wrong")
    with pytest.raises(InvalidArgument) as caught:
        raise_if_any([Violation("f", "bad", "F_BAD", 7), Violation("g", "worse")], "request")
    err = caught.value
    assert (err.message, err.reason, err.code) == ("request: f: bad; g: worse", "F_BAD", 7)
    assert [v.field for v in err.violations] == ["f", "g"]
    assert Violation("g", "worse").reason == "INVALID_ARGUMENT"
