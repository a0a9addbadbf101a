"""The gateway's gRPC client: one loopback channel to the same server, one
multi-callable per routed method, the HTTP caller's credentials passed as
metadata so the server's interceptor authenticates, authorises, rate-limits
and logs the call exactly as it does a gRPC client's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc  # type: ignore[import-untyped]

from service.gateway.rules import Route
from service.gateway.status import Failure, failure_from_grpc
from service.gateway.transcode import message_class

# HTTP request headers forwarded as gRPC metadata (HTTP names, lower case).
FORWARDED = ("authorization", "x-org-id", "x-request-id")
# The original system's request id header; used when x-request-id is absent.
CAP_REQUEST_ID = "x-cap-request-id"


@dataclass
class Outcome:
    """A call's response or failure, with the request id the server used."""

    response: Any | None
    failure: Failure | None
    request_id: str


def forwarded_metadata(headers: Any) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata of an HTTP request's headers."""
    out = [(name, headers[name]) for name in FORWARDED if headers.get(name)]
    if not headers.get("x-request-id") and headers.get(CAP_REQUEST_ID):
        out.append(("x-request-id", headers[CAP_REQUEST_ID]))
    return tuple(out)


class LoopbackClient:
    """Calls the routed methods on ``target`` (host:port of the gRPC server).

    ``timeout`` only guards against a stuck call: it is longer than anything
    the server does for one call (a test send waits up to the 30 s delivery
    timeout), so HTTP clients get the same answers gRPC clients do."""

    def __init__(self, target: str, routes: Iterable[Route], timeout: float = 120.0) -> None:
        self._target = target
        self._routes = list(routes)
        self._timeout = timeout
        self._channel: Any = None
        self._calls: dict[str, Any] = {}

    async def start(self) -> None:
        """Open the channel and prepare a callable per method."""
        self._channel = grpc.aio.insecure_channel(self._target)
        for route in self._routes:
            if route.grpc_method in self._calls:
                continue
            self._calls[route.grpc_method] = self._channel.unary_unary(
                route.grpc_method,
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=message_class(route.output).FromString,
            )

    async def close(self) -> None:
        """Close the channel (in-flight calls are cancelled)."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def call(self, method: str, request: Any, metadata: Any) -> Outcome:
        """Call ``method``; errors come back as a Failure, never raised."""
        call = self._calls[method](request, metadata=metadata, timeout=self._timeout)
        try:
            response = await call
        except grpc.aio.AioRpcError as exc:
            rid = _request_id(exc.initial_metadata()) or _request_id(exc.trailing_metadata())
            return Outcome(
                None,
                failure_from_grpc(
                    exc.code().value[0], exc.details() or "", exc.trailing_metadata()
                ),
                rid,
            )
        return Outcome(response, None, _request_id(await call.initial_metadata()))


def _request_id(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == "x-request-id" and isinstance(value, str):
            return value
    return ""
