"""Fixtures for dispatcher tests: a store, a receiver, a running dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.receiver import Receiver

from dispatcher.app import Dispatcher
from service.settings import Settings
from service.store import Store, open_store


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
