"""The gateway's aiohttp application and its lifecycle.

``create_gateway(address, grpc_target)`` builds it (routes read from the
service descriptors at start-up); ``HttpGateway.start()`` binds and returns
the port, ``stop()`` closes the listener and the loopback channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from eventnotify.errors import InvalidArgument
from service.gateway.client import LoopbackClient, forwarded_metadata
from service.gateway.openapi import openapi_document, render
from service.gateway.respond import json_response, local_request_id
from service.gateway.rules import Route, api_services, routes_of
from service.gateway.status import Failure, failure_from_exception
from service.gateway.transcode import build_request, parse_body, to_json
from service.gateway.v3 import V3Api


def _error(failure: Failure, request_id: str) -> web.Response:
    return json_response(failure.body(), failure.http_status, request_id, failure.headers)


def _v1_handler(route: Route, client: LoopbackClient) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            values = {f: request.match_info[f"v{i}"] for i, f in enumerate(route.path_fields)}
            body = parse_body(await request.read()) if route.body else {}
            msg = build_request(route, values, request.query.items(), body)
        except InvalidArgument as exc:
            rid = local_request_id(request.headers)
            return _error(failure_from_exception(exc, rid), rid)
        outcome = await client.call(route.grpc_method, msg, forwarded_metadata(request.headers))
        if outcome.failure is not None:
            return _error(outcome.failure, outcome.request_id)
        return json_response(to_json(outcome.response), 200, outcome.request_id)

    return handler


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ROUTER_STATUS = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The router's own refusals (no such path, method not allowed, body too
    large) in the same JSON error shape as every other answer."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        rid = local_request_id(request.headers)
        body = {
            "error": {
                "code": exc.status,
                "status": _ROUTER_STATUS.get(exc.status, "INVALID_ARGUMENT"),
                "message": f"{request.method} {request.path}: {exc.reason}",
                "details": [],
            }
        }
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return json_response(body, exc.status, rid, headers)


def build_app(client: LoopbackClient, routes: list[Route]) -> web.Application:
    """The application: the v1 routes, the v3 routes and ``/openapi.json``."""
    app = web.Application(client_max_size=4 * 1024 * 1024, middlewares=[json_errors])
    document = render(openapi_document(routes)).encode()

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    app.router.add_get("/openapi.json", openapi)
    # Literal paths first: aiohttp tries resources in registration order.
    ordered = sorted(routes, key=lambda r: (bool(r.path_fields), -len(r.template)))
    for route in ordered:
        app.router.add_route(route.verb, route.aiohttp_path, _v1_handler(route, client))
    V3Api(client).add_routes(app)
    return app


class HttpGateway:
    """The HTTP/JSON gateway in front of the gRPC server at ``grpc_target``."""

    def __init__(self, address: str, grpc_target: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"HTTP address must be host:port (got {address!r})")
        self._host, self._port = host.strip("[]"), int(port)
        self.routes = routes_of(api_services())
        self._client = LoopbackClient(grpc_target, self.routes)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> int:
        """Open the loopback channel, bind and serve; returns the bound port."""
        await self._client.start()
        self._runner = web.AppRunner(build_app(self._client, self.routes), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        # The bound address: port 0 in the setting means "any free port".
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        """Stop listening (in-flight requests finish), then close the channel."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._client.close()
