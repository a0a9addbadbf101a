"""The HTTP sender every delivery and test send goes through, against a real
aiohttp receiver on 127.0.0.1: redirects are answers, not hops; a response
body is kept only up to the cap; a host name is called only when what it
resolves to passes the address policy."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from eventnotify.delivery.addresses import AddressNotAllowed, AddressPolicy, GuardedResolver
from eventnotify.delivery.http_sender import AttemptResult, HttpSender
from eventnotify.delivery.request import OutboundRequest
from tests.support.receiver import Receiver, Reply

CAP = 64


class StaticResolver(AbstractResolver):
    """Answers from a fixed table, like a DNS server the attacker controls."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []
        self.families: list[socket.AddressFamily] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        self.families.append(family)
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in self.table[host]
        ]

    async def close(self, *args: Any) -> None:
        return None


async def _sender(
    allowed: str = "127.0.0.1", resolver: AbstractResolver | None = None
) -> HttpSender:
    sender = HttpSender(AddressPolicy(allowed), 5.0, 10.0, CAP, resolver=resolver)
    await sender.start()
    return sender


@pytest.fixture
async def sender() -> AsyncIterator[HttpSender]:
    s = await _sender()
    try:
        yield s
    finally:
        await s.close()


def _post(url: str) -> OutboundRequest:
    return OutboundRequest("POST", url, {"content-type": "application/json"}, b'{"a":1}')


def _nothing_arrived(receiver: Receiver) -> bool:
    return not receiver.requests and not receiver.failed


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_the_answer_and_is_not_followed(
    sender: HttpSender, receiver: Receiver, status: int
) -> None:
    receiver.on("/moved", lambda _r, _n: Reply(status, headers={"Location": "/elsewhere"}))
    result = await sender.send(_post(receiver.url("/moved")))
    assert (result.http_status, result.error) == (status, "")
    assert [r.path for r, _ in receiver.failed] == ["/moved"]
    assert receiver.requests == []  # /elsewhere (which would answer 200) was never called


async def test_the_response_body_is_kept_up_to_the_cap(
    sender: HttpSender, receiver: Receiver
) -> None:
    receiver.on("/big", lambda _r, _n: Reply(200, body="x" * 5000))
    receiver.on("/exact", lambda _r, _n: Reply(200, body="y" * CAP))
    big = await sender.send(_post(receiver.url("/big")))
    exact = await sender.send(_post(receiver.url("/exact")))
    assert (big.http_status, big.body, big.truncated) == (200, "x" * CAP, True)
    assert (exact.http_status, exact.body, exact.truncated) == (200, "y" * CAP, False)


async def _send_via(allowed: str, resolver: AbstractResolver | None, url: str) -> AttemptResult:
    s = await _sender(allowed, resolver)
    try:
        return await s.send(_post(url))
    finally:
        await s.close()


async def test_a_name_resolving_to_a_private_address_is_refused(receiver: Receiver) -> None:
    dns = StaticResolver({"hooks.example.com": ["127.0.0.1"]})
    url = f"http://hooks.example.com:{receiver.port}/ssrf"
    # 127.0.0.1 is allowed as a literal here, but the name is not: only an
    # allow-listed name (or address) may resolve to a private address.
    refused = await _send_via("", dns, url)
    assert dns.asked == ["hooks.example.com"]
    assert refused.http_status == 0 and not refused.retriable_error
    assert "resolves only to private or reserved addresses" in refused.error
    assert _nothing_arrived(receiver)

    by_name = await _send_via("hooks.example.com", dns, url)
    by_address = await _send_via("127.0.0.0/8", dns, url)
    assert (by_name.http_status, by_address.http_status) == (200, 200)
    assert len(receiver.ok_for("/ssrf")) == 2


async def test_localhost_is_refused_through_the_system_resolver(receiver: Receiver) -> None:
    refused = await _send_via("", None, f"http://localhost:{receiver.port}/local")
    literal = await _send_via("", None, receiver.url("/literal"))
    assert refused.http_status == 0 and not refused.retriable_error
    assert "private or reserved" in refused.error
    assert literal.http_status == 0 and not literal.retriable_error
    assert "127.0.0.1 is not allowed" in literal.error
    assert _nothing_arrived(receiver)


async def test_the_resolver_keeps_only_the_public_answers() -> None:
    dns = StaticResolver(
        {
            "mixed.example.com": ["10.0.0.7", "93.184.216.34", "::1", "169.254.169.254"],
            "inside.example.com": ["10.0.0.7", "fd00::1"],
        }
    )
    guarded = GuardedResolver(AddressPolicy(""), dns)
    kept = await guarded.resolve("mixed.example.com", 443)
    assert [r["host"] for r in kept] == ["93.184.216.34"]
    with pytest.raises(AddressNotAllowed):
        await guarded.resolve("inside.example.com", 443)
    allowed = GuardedResolver(AddressPolicy("inside.example.com"), dns)
    answers = await allowed.resolve("inside.example.com")
    assert [(r["host"], r["port"]) for r in answers] == [("10.0.0.7", 0), ("fd00::1", 0)]
    # The caller's address family reaches the real resolver.
    await guarded.resolve("mixed.example.com", 443, socket.AF_INET6)
    assert dns.families[-1] == socket.AF_INET6
