"""The one server interceptor every API call passes through.

In order: request id (from ``x-request-id`` or new; echoed in initial and
trailing metadata and set in the logging context), a fast UNAVAILABLE when
MongoDB is known to be down, authentication (API key -> Caller), the method's
required role, the org's rate limit, decoding the request (INVALID_ARGUMENT
when it cannot be), the length limit of every string (``service.api.limits``),
the handler under a MongoDB timeout of the caller's remaining deadline, then
error mapping (``service.api.errors``), one JSON access-log line and the
request metrics (count and latency by method and code).
Health checks and reflection need no key; their requests are decoded here too.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Protocol

import grpc  # type: ignore[import-untyped]
import pymongo

from eventnotify.domain import Caller, Role
from eventnotify.errors import DomainError, InvalidArgument, PermissionDenied, Unavailable
from eventnotify.logging import org_id_var, request_id_var
from service.api.auth import Authenticator, RateLimiter
from service.api.errors import status_code, to_rpc_status
from service.api.limits import length_violations
from service.core.validation import Violation, raise_if_any
from service.grpc_metrics import GrpcMetrics

log = logging.getLogger("eventnotify.api")
access_log = logging.getLogger("eventnotify.access")

EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
KEYS_SERVICE = "/eventnotify.v1.ApiKeyService/"
_R, _W, _A = Role.READ, Role.WRITE, Role.ADMIN
# Role each method needs. A method missing here needs ADMIN: new methods are
# closed until someone decides who may call them.
METHOD_ROLES: dict[str, Role] = {
    "/eventnotify.v1.WebhookService/CreateWebhook": _W,
    "/eventnotify.v1.WebhookService/GetWebhook": _R,
    "/eventnotify.v1.WebhookService/ListWebhooks": _R,
    "/eventnotify.v1.WebhookService/UpdateWebhook": _W,
    "/eventnotify.v1.WebhookService/DeleteWebhook": _W,
    "/eventnotify.v1.WebhookService/RotateSecret": _W,
    "/eventnotify.v1.WebhookService/SendTestEvent": _W,
    "/eventnotify.v1.EventCatalogService/ListEventTypes": _R,
    "/eventnotify.v1.EventCatalogService/GetEventType": _R,
    "/eventnotify.v1.EventCatalogService/CreateEventType": _W,
    "/eventnotify.v1.EventCatalogService/UpdateEventType": _W,
    "/eventnotify.v1.EventLogService/GetEventLog": _R,
    "/eventnotify.v1.EventLogService/ListEventLogsBySourceEventId": _R,
    "/eventnotify.v1.EventLogService/ListEventLogsByRequestId": _R,
    "/eventnotify.v1.EventLogService/ListEventLogsByRefId": _R,
    "/eventnotify.v1.EventLogService/ListConsumerGroupLogs": _R,
    "/eventnotify.v1.EventLogService/GetConsumerGroupMetrics": _R,
    "/eventnotify.v1.EventIngestService/PublishEvent": _W,
    "/eventnotify.v1.EventIngestService/PublishEvents": _W,
    "/eventnotify.v1.ReplayService/ResendEvent": _W,
    "/eventnotify.v1.ReplayService/RecoverFailed": _W,
    "/eventnotify.v1.ReplayService/RewindConsumerGroup": _W,
    "/eventnotify.v1.ApiKeyService/CreateApiKey": _A,
    "/eventnotify.v1.ApiKeyService/ListApiKeys": _A,
    "/eventnotify.v1.ApiKeyService/RevokeApiKey": _A,
}

DEADLINE_MARGIN = 0.1  # seconds
_caller: ContextVar[Caller] = ContextVar("caller")
# A client's request id is echoed into logs and metadata: keep it short and plain.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_caller() -> Caller:
    """The authenticated caller of the call being handled."""
    return _caller.get()


Handler = Callable[[Any, Any], Awaitable[Any]]


# Said instead of the protobuf library's own message, which names internal
# classes and can quote the request.
UNDECODABLE = (
    "the request is not a valid protobuf message for this method "
    "(truncated, invalid UTF-8 in a string field, or nested too deeply)"
)


class DependencyState(Protocol):
    """What the interceptor asks the health monitor before a call."""

    def mongo_known_down(self) -> bool:
        """True only when the last probe found MongoDB down."""
        ...

    @property
    def retry_after(self) -> float:
        """Seconds until the next probe could report a recovery."""
        ...


class ApiInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Request decoding, id, auth, roles, rate limit, length limits, dependency
    fast-fail, deadline propagation, error mapping, access log and metrics.

    Requests arrive as raw bytes and are decoded here: grpc.aio reports a
    deserializer's exception as UNKNOWN with the exception's class and text,
    while a request that cannot be decoded is the client's error."""

    def __init__(
        self,
        authenticator: Authenticator,
        limiter: RateLimiter,
        metrics: GrpcMetrics | None = None,
        dependencies: DependencyState | None = None,
        max_store_wait: float | None = None,
    ) -> None:
        self._auth = authenticator
        self._limiter = limiter
        self._metrics = metrics
        self._deps = dependencies
        self._max_wait = max_store_wait

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        decode = handler.request_deserializer
        serialize = handler.response_serializer
        if handler.unary_unary is not None:
            inner: Handler = handler.unary_unary
            if method.startswith(EXEMPT_PREFIXES):

                async def exempt(raw: bytes, context: Any) -> Any:
                    request = await _decode_or_abort(decode, raw, context)
                    return await inner(request, context)

                return grpc.unary_unary_rpc_method_handler(exempt, response_serializer=serialize)

            async def wrapped(raw: bytes, context: Any) -> Any:
                return await self._handle(method, inner, decode, raw, context)

            return grpc.unary_unary_rpc_method_handler(wrapped, response_serializer=serialize)
        if handler.unary_stream is not None and decode is not None:
            # Health Watch: a coroutine that writes to the context, or a generator.
            produce = handler.unary_stream
            if inspect.iscoroutinefunction(produce):

                async def watch(raw: bytes, context: Any) -> Any:
                    return await produce(await _decode_or_abort(decode, raw, context), context)

                return grpc.unary_stream_rpc_method_handler(watch, response_serializer=serialize)

            async def stream(raw: bytes, context: Any) -> AsyncIterator[Any]:
                request = await _decode_or_abort(decode, raw, context)
                async for response in produce(request, context):
                    yield response

            return grpc.unary_stream_rpc_method_handler(stream, response_serializer=serialize)
        if handler.stream_stream is not None and decode is not None:
            # Reflection: decode each message of the stream the same way.
            streaming = handler.stream_stream

            async def each(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[Any]:
                async def decoded() -> AsyncIterator[Any]:
                    async for raw in requests:
                        yield await _decode_or_abort(decode, raw, context)

                async for response in streaming(decoded(), context):
                    yield response

            return grpc.stream_stream_rpc_method_handler(each, response_serializer=serialize)
        return handler

    async def _authorize(self, method: str, metadata: dict[str, str]) -> Caller:
        caller = await self._auth.authenticate(
            metadata.get("authorization", ""), metadata.get("x-org-id", "")
        )
        org_id_var.set(caller.org_id)
        required = METHOD_ROLES.get(method, Role.ADMIN)
        if caller.role < required:
            raise PermissionDenied(
                f"this API key's role ({caller.role.name}) cannot call {method}; "
                f"{required.name} is needed"
            )
        if caller.is_root and caller.org_id == 0 and not method.startswith(KEYS_SERVICE):
            raise_if_any(
                [Violation("x-org-id", "required with the root key", "ORG_ID_REQUIRED")],
                "the root key must name an org in x-org-id metadata",
            )
        self._limiter.check(caller.org_id)
        return caller

    async def _handle(
        self, method: str, inner: Handler, decode: Any, raw: bytes, context: Any
    ) -> Any:
        started = time.perf_counter()
        metadata = {
            k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)
        }
        given = metadata.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        rid_token = request_id_var.set(request_id)
        org_token = org_id_var.set(None)
        code = "CANCELLED"  # unless we get to a result: the client went away
        try:
            await context.send_initial_metadata((("x-request-id", request_id),))
            try:
                self._fail_fast()
                # Every store call of this request gives up before the caller's
                # deadline instead of waiting out server selection (the driver's
                # own timeout), and the whole call is bounded as well, since
                # the driver does not always stop in time once a server is gone.
                soft, hard = self._budget(context)
                try:
                    async with asyncio.timeout(hard):
                        with pymongo.timeout(soft):
                            caller_token = _caller.set(await self._authorize(method, metadata))
                            try:
                                request = _decode(decode, raw)
                                raise_if_any(length_violations(request), "invalid request")
                                response = await inner(request, context)
                            finally:
                                _caller.reset(caller_token)
                except TimeoutError:
                    raise Unavailable(
                        "a dependency did not answer before the call's deadline; retry later"
                    ) from None
            except grpc.aio.AbortError:
                code = _name(context.code())
                raise
            except Exception as exc:
                code = _name(status_code(exc))
                if not isinstance(exc, DomainError | NotImplementedError):
                    log.exception("unhandled error in %s", method)
                await context.abort_with_status(to_rpc_status(exc, request_id))
                raise  # unreachable: abort_with_status raises
            context.set_trailing_metadata((("x-request-id", request_id),))
            code = "OK"
            return response
        finally:
            elapsed = time.perf_counter() - started
            if self._metrics is not None:
                self._metrics.observe(method, code, elapsed)
            access_log.info(
                "%s %s",
                method,
                code,
                extra={
                    "method": method,
                    "code": code,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
            org_id_var.reset(org_token)
            request_id_var.reset(rid_token)

    def _fail_fast(self) -> None:
        """UNAVAILABLE at once when the health monitor already knows MongoDB is
        down (every API call needs it), rather than after server selection
        times out."""
        if self._deps is not None and self._deps.mongo_known_down():
            raise Unavailable(
                "MongoDB is unavailable; retry later",
                retry_after=self._deps.retry_after,
            )

    def _budget(self, context: Any) -> tuple[float | None, float | None]:
        """(driver timeout, whole-call timeout) in seconds, both short of the
        caller's deadline, so the caller hears the real reason (UNAVAILABLE)
        rather than its own DEADLINE_EXCEEDED; (None, None) without a deadline
        (or one beyond the driver's own timeout)."""
        remaining = context.time_remaining()
        if remaining is None or (self._max_wait is not None and remaining > self._max_wait):
            return None, None
        left = float(remaining)
        return max(left * 0.9 - DEADLINE_MARGIN, 0.001), max(
            left * 0.95 - DEADLINE_MARGIN / 2, 0.001
        )


def _decode(decode: Any, raw: bytes) -> Any:
    if decode is None:
        return raw
    try:
        return decode(raw)
    except Exception:  # DecodeError, RecursionError...: the bytes are at fault
        raise InvalidArgument(UNDECODABLE, reason="REQUEST_UNDECODABLE") from None


async def _decode_or_abort(decode: Any, raw: bytes, context: Any) -> Any:
    try:
        return _decode(decode, raw)
    except InvalidArgument as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        raise  # unreachable: abort raises


def _name(code: Any) -> str:
    return str(getattr(code, "name", code or "UNKNOWN"))
