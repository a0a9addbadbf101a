"""The per-webhook concurrency gate."""

from __future__ import annotations

import asyncio

import pytest

from dispatcher.slots import Slots


async def test_never_more_than_capacity_and_fifo() -> None:
    slots = Slots(2)
    inside = 0
    peak = 0
    order: list[int] = []
    release = asyncio.Event()

    async def holder(i: int) -> None:
        nonlocal inside, peak
        async with slots:
            order.append(i)
            inside += 1
            peak = max(peak, inside)
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(holder(i)) for i in range(6)]
    await asyncio.sleep(0)
    assert slots.in_use == 2 and order == [0, 1]
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert peak == 2
    assert order == list(range(6))
    assert slots.in_use == 0


async def test_cancelled_waiters_do_not_leak_slots() -> None:
    slots = Slots(1)
    gate = asyncio.Event()

    async def hold() -> None:
        async with slots:
            await gate.wait()

    first = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(hold()) for _ in range(3)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # cancelled while queued
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting[0]
    await asyncio.wait_for(asyncio.gather(first, *waiting[1:]), 5)
    assert slots.in_use == 0
    async with slots:  # still usable, exactly once
        assert slots.in_use == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Slots(0)
