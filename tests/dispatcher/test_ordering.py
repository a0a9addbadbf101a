"""Per-key ordering: FIFO within a key, no waiting across keys."""

from __future__ import annotations

import asyncio

from dispatcher.ordering import KeyedSequencer


async def test_same_key_runs_in_arrival_order_other_keys_in_parallel() -> None:
    seq = KeyedSequencer()
    order: list[str] = []
    a_gate = asyncio.Event()

    async def work(key: str, name: str, gate: asyncio.Event | None, place: object) -> None:
        async with seq.turn(key, place):  # type: ignore[arg-type]
            if gate is not None:
                await gate.wait()
            order.append(name)

    places = [seq.reserve(k) for k in ("A", "A", "B")]
    tasks = [
        asyncio.create_task(work("A", "a1", a_gate, places[0])),
        asyncio.create_task(work("A", "a2", None, places[1])),
        asyncio.create_task(work("B", "b1", None, places[2])),
    ]
    await asyncio.wait_for(tasks[2], 5)
    assert order == ["b1"]  # B did not wait for A's blocked head
    assert seq.busy("A")
    a_gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["b1", "a1", "a2"]
    assert not seq.busy("A") and len(seq) == 0


async def test_a_failing_holder_still_hands_over() -> None:
    seq = KeyedSequencer()
    first, second = seq.reserve("k"), seq.reserve("k")

    async def boom() -> None:
        async with seq.turn("k", first):
            raise RuntimeError("delivery crashed")

    async def after() -> str:
        async with seq.turn("k", second):
            return "ran"

    results = await asyncio.wait_for(asyncio.gather(boom(), after(), return_exceptions=True), 5)
    assert isinstance(results[0], RuntimeError) and results[1] == "ran"
