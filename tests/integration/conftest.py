"""Fixtures of the cross-tool tests: a store, a receiver and a running
dispatcher over the session's local stack, and the external tools they drive."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from devstack import Stack
from devstack.kafka_shim import KafkaShim
from eventnotify.settings import Settings


def require_tool(name: str) -> str:
    """The path of ``name``; a missing tool fails the test (CI must prove the
    cross-language paths, so a skip would hide that they were never run)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make system-deps`", pytrace=False)
    return path


@pytest.fixture
async def librdkafka_bootstrap(stack: Stack, settings: Settings) -> AsyncIterator[str]:
    """Bootstrap address for librdkafka clients (kcat): through ``KafkaShim``
    when the broker is the local Tansu, which Debian's librdkafka 2.0 cannot
    parse directly; the broker itself when the suite runs against a real Kafka."""
    if not any(s.name == "kafka" for s in stack.servers):
        yield settings.kafka.bootstrap_servers
        return
    shim = KafkaShim(settings.kafka.bootstrap_servers)
    await shim.start()
    try:
        yield shim.bootstrap
    finally:
        await shim.stop()
