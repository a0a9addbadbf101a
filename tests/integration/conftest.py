"""Fixtures of the cross-tool tests: a store, a receiver and a running
dispatcher over the session's local stack, and the external tools they drive."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from support.receiver import Receiver

from dispatcher.app import Dispatcher
from service.devstack import Stack
from service.devstack.kafka_shim import KafkaShim
from service.settings import Settings
from service.store import Store, open_store


def require_tool(name: str) -> str:
    """The path of ``name``; a missing tool fails the test (CI must prove the
    cross-language paths, so a skip would hide that they were never run)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make system-deps`", pytrace=False)
    return path


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    st = open_store(settings.mongo)
    await st.ensure_indexes()
    try:
        yield st
    finally:
        await st.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


@pytest.fixture
async def dispatcher(settings: Settings) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(settings)
    await d.start()
    try:
        yield d
    finally:
        await d.shutdown()


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
