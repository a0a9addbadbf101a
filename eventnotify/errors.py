"""Domain errors. Each carries what the API needs to answer well; the gRPC
layer translates them to status codes in exactly one place
(``service.api.errors``), and storage translates pymongo errors to these
in ``eventnotify.store``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every error the API reports on purpose."""

    reason: str = "ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


@dataclass
class InvalidArgument(DomainError):
    """Bad input: one stable ``reason``, the original system's ``code`` where one
    exists, and every field violation found."""

    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    reason: str = "INVALID_ARGUMENT"
    code: int | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)


class NotFound(DomainError):
    """The resource does not exist for the caller's org (or at all)."""

    reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    """A unique property (such as a webhook's name) is taken."""

    reason = "ALREADY_EXISTS"


class Unauthenticated(DomainError):
    """No valid API key."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    """The API key's role does not allow the call."""

    reason = "PERMISSION_DENIED"


class FailedPrecondition(DomainError):
    """The call is valid but the resource's state forbids it."""

    reason = "FAILED_PRECONDITION"


class Unavailable(DomainError):
    """A dependency (MongoDB, Kafka) cannot be reached right now; retriable,
    after ``retry_after`` seconds when that is known (sent as RetryInfo)."""

    reason = "DEPENDENCY_UNAVAILABLE"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class ResourceExhausted(DomainError):
    """The org exceeded its rate limit; retry after ``retry_after`` seconds."""

    reason = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
