"""gRPC status -> HTTP answer, in one place.

The HTTP status of each gRPC code is the one ``google.rpc.Code`` documents.
An error body is the JSON mapping of the call's ``google.rpc.Status`` in
Google's API error shape, ``{"error": {code, status, message, details}}``,
so the ErrorInfo (reason, the original system's numeric ``code``), the
BadRequest field violations and the RetryInfo arrive as the gRPC client sees
them; a RetryInfo also becomes a ``Retry-After`` header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

from service.api.errors import to_rpc_status

# google/rpc/code.proto: the HTTP mapping of each canonical code.
HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}


def http_status(code: int) -> int:
    """HTTP status of a gRPC status code (500 for codes outside the table)."""
    return HTTP_STATUS.get(code, 500)


@dataclass
class Failure:
    """A failed call as the gateway answers it."""

    status: Any  # google.rpc.Status
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def http_status(self) -> int:
        return http_status(self.status.code)

    def details(self, kind: Any) -> list[Any]:
        """The details of one type (ErrorInfo, BadRequest...)."""
        out = []
        for detail in self.status.details:
            if detail.Is(kind.DESCRIPTOR):
                msg = kind()
                detail.Unpack(msg)
                out.append(msg)
        return out

    def body(self) -> dict[str, Any]:
        """``{"error": {...}}``: the Status in its JSON mapping."""
        status = json_format.MessageToDict(self.status)
        return {
            "error": {
                "code": self.http_status,
                "status": code_pb2.Code.Name(self.status.code)
                if self.status.code in code_pb2.Code.values()
                else "UNKNOWN",
                "message": self.status.message,
                "details": status.get("details", []),
            }
        }


def failure_from_grpc(code: int, message: str, trailing: Any) -> Failure:
    """A Failure from a gRPC error: its rich status when the server sent one."""
    status = status_pb2.Status(code=code, message=message)
    for key, value in trailing or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
    return with_retry_after(Failure(status))


def failure_from_exception(exc: BaseException, request_id: str) -> Failure:
    """A Failure for an error the gateway finds itself (bad JSON, unknown
    parameter): mapped by the service's own error module, so it reads like
    the service's errors."""
    rpc = to_rpc_status(exc, request_id)
    raw = dict(rpc.trailing_metadata).get("grpc-status-details-bin")
    status = (
        status_pb2.Status.FromString(raw)
        if isinstance(raw, bytes)
        else status_pb2.Status(code=rpc.code.value[0], message=rpc.details)
    )
    return Failure(status)


def with_retry_after(failure: Failure) -> Failure:
    """Add ``Retry-After`` (whole seconds, rounded up) when a RetryInfo says when."""
    for info in failure.details(error_details_pb2.RetryInfo):
        seconds = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        failure.headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    return failure
