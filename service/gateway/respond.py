"""Writing the gateway's JSON answers (shared by the v1 and v3 routes)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web

# The service's own rule for a client-given request id.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def json_response(
    body: Any, status: int, request_id: str, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer carrying the call's request id."""
    out = dict(headers or {})
    if request_id:
        out["X-Request-Id"] = request_id
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=out,
    )


def local_request_id(headers: Any) -> str:
    """The request id of a request the gateway answers without calling the
    server: the client's when it is acceptable, else a new one."""
    given = headers.get("x-request-id") or headers.get("x-cap-request-id") or ""
    return given if _REQUEST_ID.match(given) else str(uuid.uuid4())
