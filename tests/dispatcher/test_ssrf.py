"""Destination policy: only public addresses unless allow-listed."""

from __future__ import annotations

import pytest

from eventnotify.delivery.addresses import AddressNotAllowed, AddressPolicy


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_non_global_addresses_are_refused_by_default(ip: str) -> None:
    policy = AddressPolicy("")
    assert not policy.ip_allowed(ip)
    with pytest.raises(AddressNotAllowed):
        policy.check_literal(ip if ":" not in ip else f"[{ip}]")


def test_public_addresses_and_names_pass_the_literal_check() -> None:
    policy = AddressPolicy("")
    assert policy.ip_allowed("8.8.8.8")
    policy.check_literal("8.8.8.8")
    policy.check_literal("hooks.example.com")  # names are checked when resolved


def test_allow_list_by_ip_cidr_and_name() -> None:
    policy = AddressPolicy("127.0.0.1, 10.0.0.0/8, Internal.Local")
    assert policy.ip_allowed("127.0.0.1")
    assert policy.ip_allowed("10.9.8.7")
    assert not policy.ip_allowed("192.168.0.1")
    assert policy.host_allowed("internal.local")
    policy.check_literal("127.0.0.1")
