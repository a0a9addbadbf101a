"""eventnotify.delivery.addresses.parse_ip_literal: the edges of inet_aton's
spellings (found unguarded by mutation testing)."""

from __future__ import annotations

import pytest

from eventnotify.delivery.addresses import parse_ip_literal

# host -> the address it denotes (None: a name, or no valid address)
SPELLINGS = [
    ("127.0.0.1.", "127.0.0.1"),  # a trailing dot is the root, not a part
    ("127.1.", "127.0.0.1"),
    ("1.2.3.4.", "1.2.3.4"),
    ("[::1%eth0]", "::1"),
    ("fe80::1%eth0", "fe80::1"),
    ("[fe80::1]", "fe80::1"),
    ("127.0.0.1%eth0", "127.0.0.1"),
    ("[127.0.0.1]", "127.0.0.1"),
    ("  0X7F000001 ", "127.0.0.1"),
    ("0x", "0.0.0.0"),
    ("00", "0.0.0.0"),
    ("0377.0.0.1", "255.0.0.1"),
    ("1.16777215", "1.255.255.255"),
    ("1.2.65535", "1.2.255.255"),
    ("255.255.255.255", "255.255.255.255"),
    ("0xffffffff", "255.255.255.255"),
    ("256.1", None),
    ("1.16777216", None),
    ("1.2.65536", None),
    ("1.2.3.256", None),
    ("0x100.1", None),
    ("0x100000000", None),
    ("-1", None),
    ("1..2", None),
    ("09", None),
    ("0xg", None),
    ("", None),
    (".", None),
    ("a.b", None),
]


@pytest.mark.parametrize(("host", "address"), SPELLINGS)
def test_inet_aton_spellings(host: str, address: str | None) -> None:
    got = parse_ip_literal(host)
    assert (str(got) if got is not None else None) == address
