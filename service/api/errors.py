"""DomainError -> gRPC status with ``google.rpc.Status`` details, in one place.

Every error carries an ``ErrorInfo`` (stable reason, domain
``eventnotify.io``, and the original system's numeric code as metadata
``code`` where one exists); invalid arguments add a ``BadRequest`` with every
field violation; rate limiting adds a ``RetryInfo``. Anything that is not a
DomainError becomes INTERNAL with a generic message: internals never leak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from eventnotify import errors

DOMAIN = "eventnotify.io"
MAX_MESSAGE = 2000  # characters of a status message (it travels in metadata)

_CODES: tuple[tuple[type[Exception], Any], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    # Generated servicer bases raise this for methods a later issue implements.
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),
)


@dataclass(frozen=True)
class RpcStatus(grpc.Status):  # type: ignore[misc]
    """A ``grpc.Status`` for ``context.abort_with_status``."""

    code: Any
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def status_code(exc: BaseException) -> Any:
    """The gRPC status code an exception maps to (INTERNAL when unknown)."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def _pack(message: Any) -> Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


# Details travel in trailing metadata, which clients cap (8-16 KiB by
# default): past this budget, violations are summarised in one more entry.
DETAILS_BUDGET = 6000


def _bad_request(violations: list[errors.FieldViolation]) -> Any:
    out = error_details_pb2.BadRequest()
    size = 0
    for i, v in enumerate(violations):
        entry = error_details_pb2.BadRequest.FieldViolation(
            field=v.field[:200],
            description=v.description[:300],
            reason=getattr(v, "reason", "") or "",
        )
        size += entry.ByteSize()
        if size > DETAILS_BUDGET:
            out.field_violations.add(
                field="", description=f"{len(violations) - i} more violations not shown"
            )
            break
        out.field_violations.append(entry)
    return out


def to_rpc_status(exc: BaseException, request_id: str) -> RpcStatus:
    """The status (with details and the request id in trailing metadata) of ``exc``."""
    code = status_code(exc)
    details: list[Any] = []
    if isinstance(exc, errors.DomainError):
        message = exc.message[:MAX_MESSAGE]
        metadata: dict[str, str] = {}
        number = getattr(exc, "code", None)
        if number is not None:
            metadata["code"] = str(number)
        details.append(
            _pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN, metadata=metadata))
        )
        if isinstance(exc, errors.InvalidArgument) and exc.violations:
            details.append(_pack(_bad_request(exc.violations)))
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(exc, errors.ResourceExhausted | errors.Unavailable) and retry_after:
            delay = duration_pb2.Duration()
            delay.FromMilliseconds(max(1, math.ceil(retry_after * 1000)))
            details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    elif isinstance(exc, NotImplementedError):
        message = "method not implemented"
        details.append(
            _pack(error_details_pb2.ErrorInfo(reason="UNIMPLEMENTED", domain=DOMAIN, metadata={}))
        )
    else:
        message = f"internal error (request id {request_id})"
        details.append(
            _pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=DOMAIN, metadata={}))
        )
    status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=message, details=details)
    )
    return RpcStatus(
        code=status.code,
        details=status.details,
        trailing_metadata=(*status.trailing_metadata, ("x-request-id", request_id)),
    )
