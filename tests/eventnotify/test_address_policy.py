"""eventnotify.delivery.addresses: parsing the allow-list and what a refusal
says (found by mutation testing)."""

from __future__ import annotations

import pytest

from eventnotify.delivery.addresses import AddressNotAllowed, AddressPolicy


def test_empty_items_in_the_allow_list_are_skipped_not_the_end() -> None:
    policy = AddressPolicy(" , 10.0.0.0/8,, hooks.internal ,")
    assert policy.ip_allowed("10.1.2.3")
    assert policy.host_allowed("hooks.internal")


def test_a_network_written_with_host_bits_is_accepted() -> None:
    # "10.1.2.3/8" means 10.0.0.0/8, as operators write it.
    policy = AddressPolicy("10.1.2.3/8")
    assert policy.ip_allowed("10.200.0.1")
    assert not policy.ip_allowed("192.168.0.1")


def test_a_refused_literal_names_the_address() -> None:
    with pytest.raises(AddressNotAllowed, match=r"^address ::1 is not allowed"):
        AddressPolicy("").check_literal("[::1]")
    with pytest.raises(AddressNotAllowed, match=r"^address 10\.0\.0\.1 is not allowed"):
        AddressPolicy("").check_literal("10.0.0.1")
