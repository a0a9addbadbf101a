"""Shared fixtures: one real local stack per test session, a fresh database
and topic prefix per test.

The stack is SecantusDB (MongoDB wire) and Tansu (Kafka protocol) on 127.0.0.1,
started here and stopped at the end of the session; set ``MONGODB_URI`` /
``KAFKA_BOOTSTRAP_SERVERS`` to run the suite against real servers instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from devstack import Stack, start_stack
from dispatcher.app import Dispatcher
from eventnotify.settings import Settings
from eventnotify.store import Store, open_store
from tests.support.receiver import Receiver
from tests.support.stack import make_settings


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = Path(os.environ.get("EVENTNOTIFY_TEST_LOG_DIR", tmp_path_factory.mktemp("stack")))
    running = start_stack(log_dir)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return make_settings(stack)


@pytest.fixture
async def mongo_client(settings: Settings) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongo.uri, tz_aware=True
    )
    try:
        yield client
    finally:
        await client.close()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs no local stack as ``unit`` (``make unit``), except
    slow ones and those that start servers of their own (``own_stack``)."""
    for item in items:
        if item.get_closest_marker("own_stack") or item.get_closest_marker("slow"):
            continue
        if "stack" not in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.unit)
