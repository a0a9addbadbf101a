"""Validation rules of webhooks, with the original system's error codes.

Every rule is checked and every violation collected, so one round trip tells
a client everything wrong with its request. The error's own reason and code
are those of the first violation; each violation keeps its own reason too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from eventnotify.delivery.addresses import AddressPolicy
from eventnotify.domain import WebhookType
from eventnotify.errors import FieldViolation, InvalidArgument
from eventnotify.text import brief
from service.core.names import unknown_event

# The original system's numeric codes, where it documents one.
CODE_EVENT_NAMES_REQUIRED = 51003
CODE_MAX_CONNECTIONS_INVALID = 51007
CODE_MAX_CONNECTIONS_REQUIRED = 300004

MAX_NAME_LENGTH = 128
MAX_URL_LENGTH = 2048
MAX_HEADERS = 32
MAX_HEADER_BYTES = 8 * 1024
MAX_CONNECTIONS = 1000
SLA_DEFAULT = 3600
SLA_MIN, SLA_MAX = 1, 7 * 24 * 3600
RETRIES_MIN, RETRIES_MAX = 0, 100
# The status message travels in gRPC metadata (size-limited): it names the
# first few violations; the BadRequest details carry the rest.
MESSAGE_VIOLATIONS = 5
METHODS = frozenset({"POST", "PUT", "PATCH", "GET", "DELETE"})

# RFC 7230 "token": the characters a header field name may use.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Control characters other than horizontal tab (CR, LF and NUL among them)
# would let a header value smuggle extra headers or break the request.
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
# Headers the transport owns (hop-by-hop or framing) or our signature owns.
FORBIDDEN_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


@dataclass(frozen=True)
class Violation(FieldViolation):
    """A field violation with its stable reason and the original's code."""

    reason: str = "INVALID_ARGUMENT"
    code: int | None = None


def raise_if_any(violations: list[Violation], message: str) -> None:
    """Raise one InvalidArgument carrying every violation (the first one's
    reason and code), or return when there is none."""
    if not violations:
        return
    first = violations[0]
    shown = "; ".join(f"{v.field}: {v.description}" for v in violations[:MESSAGE_VIOLATIONS])
    if len(violations) > MESSAGE_VIOLATIONS:
        shown += f"; and {len(violations) - MESSAGE_VIOLATIONS} more (see the details)"
    raise InvalidArgument(
        message + ": " + shown,
        violations=list(violations),
        reason=first.reason,
        code=first.code,
    )


@dataclass
class WebhookDraft:
    """A webhook's user-settable fields as they would be stored."""

    name: str
    event_names: list[str]
    url: str
    type: WebhookType
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    max_allowed_connections: int | None = None
    sla_in_seconds: int = SLA_DEFAULT
    no_of_retry_attempts: int = 0


def validate_webhook(
    draft: WebhookDraft,
    catalog: Mapping[str, bool],
    new_event_names: Iterable[str],
    policy: AddressPolicy | None = None,
) -> None:
    """Check every rule; ``catalog`` maps the org's event names to their
    active flag and ``new_event_names`` are the names to check against it
    (on update, only names being added: a webhook subscribed to an event that
    was later deactivated can still be edited). With ``policy``, a URL whose
    host is an IP literal outside its allow-list is refused here, not at the
    first delivery (names are checked when resolved, at connect time)."""
    v: list[Violation] = []
    v += _event_names(draft.event_names, catalog, set(new_event_names))
    v += _max_connections(draft.max_allowed_connections)
    v += _name(draft.name)
    v += _url(draft.url, draft.type, policy)
    if draft.method not in METHODS:
        v.append(Violation("webhook.method_type", "unsupported method", "METHOD_INVALID"))
    v += _headers(draft.headers)
    if not SLA_MIN <= draft.sla_in_seconds <= SLA_MAX:
        v.append(
            Violation(
                "webhook.sla_in_seconds",
                f"must be between {SLA_MIN} and {SLA_MAX}",
                "SLA_OUT_OF_RANGE",
            )
        )
    if not RETRIES_MIN <= draft.no_of_retry_attempts <= RETRIES_MAX:
        v.append(
            Violation(
                "webhook.no_of_retry_attempts",
                f"must be between {RETRIES_MIN} and {RETRIES_MAX}",
                "RETRY_ATTEMPTS_OUT_OF_RANGE",
            )
        )
    raise_if_any(v, "invalid webhook")


def _event_names(names: list[str], catalog: Mapping[str, bool], new: set[str]) -> list[Violation]:
    if not names:
        return [
            Violation(
                "webhook.event_names",
                "at least one event name is required",
                "EVENT_NAMES_REQUIRED",
                CODE_EVENT_NAMES_REQUIRED,
            )
        ]
    out: list[Violation] = []
    for i, name in enumerate(names):
        if name not in new:
            continue
        path = f"webhook.event_names[{i}]"
        if name not in catalog:
            out.append(Violation(path, unknown_event(name, catalog), "EVENT_NAME_UNKNOWN"))
        elif not catalog[name]:
            out.append(Violation(path, f"event {brief(name)} is inactive", "EVENT_NAME_INACTIVE"))
    return out


def _max_connections(value: int | None) -> list[Violation]:
    path = "webhook.max_allowed_connections"
    if value is None:
        return [
            Violation(
                path,
                "maxAllowedConnections is required",
                "MAX_CONNECTIONS_REQUIRED",
                CODE_MAX_CONNECTIONS_REQUIRED,
            )
        ]
    if value <= 0:
        return [
            Violation(
                path,
                "must be greater than 0",
                "MAX_CONNECTIONS_INVALID",
                CODE_MAX_CONNECTIONS_INVALID,
            )
        ]
    if value > MAX_CONNECTIONS:
        return [Violation(path, f"must be at most {MAX_CONNECTIONS}", "MAX_CONNECTIONS_TOO_LARGE")]
    return []


def _name(name: str) -> list[Violation]:
    if not name.strip():
        return [Violation("webhook.name", "a name is required", "NAME_REQUIRED")]
    if len(name) > MAX_NAME_LENGTH:
        return [Violation("webhook.name", f"at most {MAX_NAME_LENGTH} characters", "NAME_TOO_LONG")]
    return []


def _url(url: str, kind: WebhookType, policy: AddressPolicy | None = None) -> list[Violation]:
    path = "webhook.web_hook_url"
    if not url:
        return [Violation(path, "a URL (or, for QUEUE, a topic) is required", "URL_REQUIRED")]
    if len(url) > MAX_URL_LENGTH:
        return [Violation(path, f"at most {MAX_URL_LENGTH} characters", "URL_TOO_LONG")]
    if kind is WebhookType.QUEUE:
        if not _TOPIC.match(url) or url in {".", ".."}:
            return [Violation(path, "not a valid Kafka topic name [A-Za-z0-9._-]", "TOPIC_INVALID")]
        return []
    invalid = [Violation(path, "must be an absolute http(s) URL", "URL_INVALID")]
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return invalid
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return invalid
    if any(c.isspace() for c in url):
        return invalid
    problem = policy.literal_problem(parts.hostname) if policy else ""
    if problem:
        return [Violation(path, problem, "URL_ADDRESS_NOT_ALLOWED")]
    return []


def _headers(headers: Mapping[str, str]) -> list[Violation]:
    out: list[Violation] = []
    if len(headers) > MAX_HEADERS:
        out.append(
            Violation("webhook.web_hook_headers", f"at most {MAX_HEADERS}", "TOO_MANY_HEADERS")
        )
    size = sum(len(k.encode()) + len(v.encode()) for k, v in headers.items())
    if size > MAX_HEADER_BYTES:
        out.append(
            Violation(
                "webhook.web_hook_headers",
                f"at most {MAX_HEADER_BYTES} bytes of names and values",
                "HEADERS_TOO_LARGE",
            )
        )
    for name, value in headers.items():
        path = f"webhook.web_hook_headers[{brief(name)}]"
        lowered = name.lower()
        if not _TOKEN.match(name):
            out.append(Violation(path, "not a valid header name", "HEADER_NAME_INVALID"))
        elif lowered in FORBIDDEN_HEADERS or lowered.startswith("proxy-"):
            out.append(Violation(path, "this header may not be set", "HEADER_FORBIDDEN"))
        if _CTL.search(value):
            out.append(
                Violation(path, "control characters are not allowed", "HEADER_VALUE_INVALID")
            )
    return out
