"""One HTTP attempt, with every aiohttp failure translated here, once.

Redirects are never followed, the response body is kept only up to a cap (and
marked truncated when cut there, or when the receiver closed or stalled
mid-body after its status line), and
destinations are checked against the address policy (see ``eventnotify.delivery.addresses``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from eventnotify.delivery.addresses import AddressNotAllowed, AddressPolicy, GuardedResolver
from eventnotify.delivery.request import OutboundRequest


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt produced; ``http_status`` is 0 when no response arrived."""

    http_status: int
    duration_ms: int
    error: str = ""
    body: str = ""
    truncated: bool = False
    retry_after: str | None = None
    # A transport failure that may succeed later (timeout, refused connection).
    # False for refusals by policy, which retrying cannot fix.
    retriable_error: bool = True


class HttpSender:
    """Sends outbound requests through one shared connection pool.

    The pool itself is unbounded: each webhook's own ``maxAllowedConnections``
    gate (the dispatcher's FIFO slots) is the limit, so a slow endpoint cannot starve the others of
    pooled connections.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        connect_timeout: float,
        total_timeout: float,
        body_cap: int,
        resolver: AbstractResolver | None = None,
    ) -> None:
        """``resolver`` answers name lookups (the system's by default); every
        answer still goes through the address policy."""
        self._policy = policy
        self._resolver = resolver
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self._body_cap = body_cap
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=0,
            resolver=GuardedResolver(self._policy, self._resolver),
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=True, trust_env=False
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, raw: str) -> URL:
        """Parsed and policy-checked URL; cached since a webhook's URL rarely
        changes and parsing it per request is measurable on the hot path."""
        url = self._urls.get(raw)
        if url is None:
            url = URL(raw)
            self._policy.check_literal(url.host or "")
            if len(self._urls) >= 4096:
                self._urls.clear()
            self._urls[raw] = url
        return url

    async def send(self, req: OutboundRequest) -> AttemptResult:
        """Make one attempt; never raises for network or HTTP trouble.

        A status line counts as the receiver's answer: once it has arrived, a
        body cut short (the connection closed mid-body, or the body trickled
        past the timeout) is kept as far as it came and marked truncated, and
        the attempt is judged by its status (a 2xx is delivered)."""
        assert self._session is not None, "HttpSender.start() was not called"
        started = time.perf_counter()
        received = bytearray()
        status = 0
        retry_after: str | None = None
        try:
            url = self._url(req.url)
            async with self._session.request(
                req.method, url, data=req.body, headers=req.headers, allow_redirects=False
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                complete = await self._read_body(resp, received)
        except AddressNotAllowed as exc:
            return self._failed(started, str(exc), retriable=False)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressNotAllowed):
                return self._failed(started, str(exc.os_error), retriable=False)
            return self._failed(started, f"connection failed: {exc.os_error}")
        except TimeoutError:
            if status:
                return self._cut(started, status, received, retry_after)
            return self._failed(started, f"timeout after {self._timeout.total}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            if status:
                return self._cut(started, status, received, retry_after)
            return self._failed(started, f"{type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            raise
        return AttemptResult(
            http_status=status,
            duration_ms=_ms_since(started),
            body=bytes(received[: self._body_cap]).decode("utf-8", "replace"),
            truncated=not complete,
            retry_after=retry_after,
        )

    async def _read_body(self, resp: aiohttp.ClientResponse, into: bytearray) -> bool:
        """Read the body into ``into`` up to the cap; True when it ended
        within the cap. ``content.read(n)`` returns what has arrived so far,
        not n bytes, so one read of a trickled body would see only its start."""
        while len(into) <= self._body_cap:
            chunk = await resp.content.read(self._body_cap + 1 - len(into))
            if not chunk:
                return True
            into += chunk
        return False

    def _cut(
        self, started: float, status: int, received: bytearray, retry_after: str | None
    ) -> AttemptResult:
        # Not an error: the receiver answered; only its body is incomplete.
        return AttemptResult(
            http_status=status,
            duration_ms=_ms_since(started),
            body=bytes(received[: self._body_cap]).decode("utf-8", "replace"),
            truncated=True,
            retry_after=retry_after,
        )

    @staticmethod
    def _failed(started: float, error: str, retriable: bool = True) -> AttemptResult:
        return AttemptResult(0, _ms_since(started), error=error, retriable_error=retriable)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
