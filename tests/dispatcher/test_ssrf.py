"""Destination policy: only public addresses unless allow-listed."""

from __future__ import annotations

import ipaddress

import pytest

from eventnotify.delivery.addresses import AddressNotAllowed, AddressPolicy, parse_ip_literal


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


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
        ("hooks.example.com", None),
        ("1.2.3.4.5", None),
        ("08", None),
        ("4294967296", None),
    ],
)
def test_every_spelling_of_an_ip_literal_is_recognised(host: str, address: str | None) -> None:
    got = parse_ip_literal(host)
    assert (str(got) if got else None) == (str(ipaddress.ip_address(address)) if address else None)


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "017700000001", "127.1", "0"])
def test_non_canonical_spellings_are_refused_even_when_the_address_is_allowed(host: str) -> None:
    policy = AddressPolicy("127.0.0.1,localhost")
    assert "dotted quad" in policy.literal_problem(host)
    with pytest.raises(AddressNotAllowed):
        policy.check_literal(host)
