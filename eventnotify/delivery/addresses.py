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

    def ip_allowed(self, ip: str) -> bool:
        """Whether an address may be called: public, or allow-listed."""
        addr = ipaddress.ip_address(ip.split("%")[0])
        if any(addr in net for net in self.networks):
            return True
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return addr.is_global and not addr.is_multicast

    def check_literal(self, host: str) -> None:
        """Raise AddressNotAllowed when ``host`` is a forbidden IP literal.
        (The HTTP sender caches checked URLs, so this is off the hot path.)"""
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: checked when resolved
        if not self.host_allowed(host) and not self.ip_allowed(host.strip("[]")):
            raise AddressNotAllowed(f"address {host} is not allowed (private or reserved)")


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
