"""Refuse deliveries to private, loopback, link-local and other non-global
addresses unless the operator allow-listed them.

Checked twice: on the URL's host when it is an IP literal, and on every address
a host name resolves to (a resolver wrapper), so a DNS answer cannot smuggle a
private address past the check.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPV4_MAX = 2**32 - 1


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host denotes when it is an IP literal in ANY spelling
    the C resolver accepts, or None for a name.

    Besides dotted quads and ``[IPv6]``, ``inet_aton`` (which getaddrinfo uses)
    reads 1 to 4 dot-separated parts, each decimal, hex (``0x``) or octal
    (leading ``0``), the last filling the remaining bytes: ``2130706433``,
    ``0x7f000001``, ``017700000001``, ``127.1`` and ``0`` are all addresses.
    Checking only canonical forms would let these past the policy."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%")[0].rstrip(".") if ":" not in text else text.split("%")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        try:
            if part.startswith("0x"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            else:
                numbers.append(int(part, 10) if part.isdigit() else -1)
        except ValueError:
            return None
    if any(n < 0 for n in numbers):
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value << 8 | n
    value = value << 8 * (4 - len(head)) | last
    return ipaddress.IPv4Address(value) if value <= _IPV4_MAX else None


def _canonical(host: str) -> bool:
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return True


class AddressNotAllowed(OSError):
    """The destination address is not public and not allow-listed."""


class AddressPolicy:
    """Which destinations may be called."""

    def __init__(self, allowed: str) -> None:
        self.hosts: set[str] = set()
        self.networks: list[IPNetwork] = []
        for item in (s.strip() for s in allowed.split(",")):
            if not item:
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.hosts.add(item.lower())

    def host_allowed(self, host: str) -> bool:
        """Whether a host name is allow-listed as such."""
        return host.lower() in self.hosts

    def ip_allowed(self, ip: str | IPAddress) -> bool:
        """Whether an address may be called: public, or allow-listed."""
        addr = ip if not isinstance(ip, str) else ipaddress.ip_address(ip.split("%")[0])
        if any(addr in net for net in self.networks):
            return True
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return addr.is_global and not addr.is_multicast

    def literal_problem(self, host: str) -> str:
        """Why ``host`` may not be called when it is an IP literal (in any
        spelling) outside the allow-list; "" when it may, or when it is a name
        (names are checked when resolved, at connect time)."""
        addr = parse_ip_literal(host)
        if addr is None:
            return ""
        if not _canonical(host):
            # Resolvers and HTTP clients disagree about these spellings; one
            # way of writing an address keeps policy and connection in step.
            return f"write the IP address {addr} as a dotted quad or [IPv6] literal"
        if self.host_allowed(host) or self.ip_allowed(addr):
            return ""
        return f"address {addr} is not allowed (private or reserved)"

    def check_literal(self, host: str) -> None:
        """Raise AddressNotAllowed when ``host`` is a forbidden IP literal.
        (The HTTP sender caches checked URLs, so this is off the hot path.)"""
        problem = self.literal_problem(host)
        if problem:
            raise AddressNotAllowed(problem)


class GuardedResolver(AbstractResolver):
    """A resolver that drops forbidden addresses and fails if none is left."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._policy.host_allowed(host):
            return results
        allowed = [r for r in results if self._policy.ip_allowed(r["host"])]
        if not allowed:
            raise AddressNotAllowed(f"{host} resolves only to private or reserved addresses")
        return allowed

    async def close(self, *args: Any) -> None:
        await self._inner.close()
