"""The CLI's only gRPC module: one channel, one stub per service, the
authorization metadata, and the translation of a failed call into lines a
person can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.rpc import error_details_pb2, status_pb2

from eventnotify.v1 import (
    admin_pb2_grpc,
    catalog_pb2_grpc,
    ingest_pb2_grpc,
    log_pb2_grpc,
    replay_pb2_grpc,
    webhook_pb2_grpc,
)
from service.cli.config import Config

STATUS_DETAILS_KEY = "grpc-status-details-bin"
RpcError = grpc.RpcError


class Client:
    """Stubs of every eventnotify service over one lazily opened channel.

    ``call(stub.Method, request)`` adds the API key, the org header (root key
    only) and the deadline; a failed call raises ``grpc.RpcError``.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._channel: Any = None
        # Called with each request before it is sent (``--curl``).
        self.show_curl: Callable[[Any], None] | None = None

    @property
    def channel(self) -> Any:
        """The channel, opened on first use."""
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.config.address)
        return self._channel

    @property
    def webhooks(self) -> Any:
        """WebhookService stub."""
        return webhook_pb2_grpc.WebhookServiceStub(self.channel)

    @property
    def catalog(self) -> Any:
        """EventCatalogService stub."""
        return catalog_pb2_grpc.EventCatalogServiceStub(self.channel)

    @property
    def logs(self) -> Any:
        """EventLogService stub."""
        return log_pb2_grpc.EventLogServiceStub(self.channel)

    @property
    def replay(self) -> Any:
        """ReplayService stub."""
        return replay_pb2_grpc.ReplayServiceStub(self.channel)

    @property
    def ingest(self) -> Any:
        """EventIngestService stub."""
        return ingest_pb2_grpc.EventIngestServiceStub(self.channel)

    @property
    def keys(self) -> Any:
        """ApiKeyService stub."""
        return admin_pb2_grpc.ApiKeyServiceStub(self.channel)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata: the bearer key and, when given, the org for the root key."""
        md: list[tuple[str, str]] = []
        if self.config.api_key:
            md.append(("authorization", f"Bearer {self.config.api_key}"))
        if self.config.org_id:
            md.append(("x-org-id", self.config.org_id))
        return tuple(md)

    def call(self, method: Any, request: Any) -> Any:
        """Invoke one unary method with our metadata and deadline (first
        printing the equivalent curl command to stderr when asked to)."""
        if self.show_curl is not None:
            self.show_curl(request)
        return method(request, metadata=self.metadata(), timeout=self.config.timeout)

    def close(self) -> None:
        """Close the channel if it was opened."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None


def is_not_found(err: Any) -> bool:
    """Whether a failed call was answered NOT_FOUND."""
    return callable(getattr(err, "code", None)) and err.code() == grpc.StatusCode.NOT_FOUND


def _status_details(err: Any) -> Any:
    """The ``google.rpc.Status`` carried in the trailing metadata, or None."""
    try:
        trailing = err.trailing_metadata() or ()
    except Exception:  # a locally raised RpcError may carry no call state
        return None
    for key, value in trailing:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return None


def _trailing(err: Any, name: str) -> str:
    try:
        pairs = err.trailing_metadata() or ()
    except Exception:
        return ""
    return next((str(v) for k, v in pairs if k == name), "")


def _detail_lines(status: Any) -> list[str]:
    lines: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            lines += [f"  - {v.field}: {v.description}" for v in bad.field_violations]
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            extra = "".join(f", {k}={v}" for k, v in sorted(info.metadata.items()))
            lines.append(f"  reason: {info.reason}{extra}")
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            seconds = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
            lines.append(f"  retry after: {seconds:g}s")
    return lines


def describe_error(err: Any, config: Config) -> list[str]:
    """Lines describing a failed call: ``error: CODE: message``, each field
    violation, the ErrorInfo reason, the request id, and a hint when the
    server could not be reached or no key was sent."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    name = getattr(code, "name", "UNKNOWN")
    message = (err.details() if callable(getattr(err, "details", None)) else "") or ""
    lines = [f"error: {name}: {message}"]
    status = _status_details(err)
    if status is not None:
        lines += _detail_lines(status)
    request_id = _trailing(err, "x-request-id")
    if request_id:
        lines.append(f"  request id: {request_id}")
    if code == grpc.StatusCode.UNAVAILABLE and status is None:
        lines.append(
            f"hint: no eventnotify server answered at {config.address}: is `make run` running? "
            "(or pass --address / set EVENTNOTIFY_ADDRESS)"
        )
    elif code == grpc.StatusCode.UNAUTHENTICATED and not config.api_key:
        lines.append(
            "hint: no API key was sent: pass --api-key, set EVENTNOTIFY_API_KEY, or run "
            "`make run` (it writes .eventnotify/credentials.json)"
        )
    elif code == grpc.StatusCode.UNAUTHENTICATED:
        lines.append(f"hint: {_key_hint(config)}")
    elif code == grpc.StatusCode.UNIMPLEMENTED:
        lines.append(f"hint: the server at {config.address} does not offer this call yet")
    return lines


def _key_hint(config: Config) -> str:
    """Where the refused key came from and what to do about it."""
    source = config.api_key_source or "an unknown place"
    hint = f"the API key came from {source}"
    if source.startswith("credentials file"):
        return (
            hint + f"; the server at {config.address} does not know it (a `make run` with "
            "another database?): restart `make run` to write a fresh key, or pass --api-key"
        )
    return hint + f"; check it is a live key of the server at {config.address}"
