"""Isolation: dead webhooks on the same topics, in the same dispatcher process,
do not stop a healthy webhook's deliveries, and a dead one that comes back
gets its events again.

One dispatcher child process under a fixed-rate load, first with the healthy
webhook alone, then with two dead webhooks consuming the same topic: one whose
endpoint accepts connections and never answers (every attempt holds a
connection for the full 30 s timeout), one whose port refuses connections
(fast failures, retries, parking and an open circuit). Every event reaches the
healthy webhook in both runs; then the refusing port starts answering and
events published after that reach it.

The latency figures are printed, not asserted: the p99 comparison is a
benchmark (``make bench-scale``, isolation phase), not a test.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from devstack import Stack
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import CircuitState
from eventnotify.envelope import SourceEvent
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.endpoints import BlackHole
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.pacing import latencies, percentile, publish_paced
from tests.support.processes import DispatcherProcess, dispatcher_env
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ORG = 404
NAME = "cardUpdated"
RATE = 200  # events per second
SECONDS = 5


async def test_dead_webhooks_do_not_stop_healthy_deliveries_and_recover(
    stack: Stack, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    healthy = await add_webhook(store, ORG, receiver.url("/healthy"), [NAME])
    proc = DispatcherProcess(
        dispatcher_env(
            stack.mongodb_uri,
            settings.mongo.database,
            stack.kafka_bootstrap,
            settings.kafka.topic_prefix,
            # so the revived endpoint is probed within seconds
            EVENTNOTIFY_CIRCUIT_COOLDOWN_SECONDS="1",
        ),
        tmp_path / "dispatcher.log",
    )
    hole = BlackHole()
    await hole.start()
    revived = Receiver()
    counter = iter(range(10**9))

    def make(_i: int) -> SourceEvent:
        n = next(counter)
        return make_event(ORG, NAME, f"ref-{n % 64}", {"n": n})

    async def run_load(producer: EventProducer) -> list[float]:
        """Fixed-rate load; the healthy webhook's sorted latencies."""
        sent = await publish_paced(producer, make, RATE * SECONDS, RATE)
        want = {delivered_event_id(e.event_id, healthy.web_hook_id) for e in sent}

        async def all_in() -> bool:
            got = {r.json["eventId"] for r in receiver.ok_for("/healthy")}
            return want <= got

        await wait_until(all_in, within=60, interval=0.1)
        return latencies(receiver.ok_for("/healthy"), want)

    try:
        proc.start()
        async with EventProducer(settings) as producer:
            # Warm-up: the group has joined and the connection pool is open.
            await publish_paced(producer, make, 50, RATE)
            await receiver.wait_for(lambda: len(receiver.ok_for("/healthy")) >= 50, within=60)
            baseline = await run_load(producer)

            hanging = await add_webhook(
                store, ORG, hole.url("/hang"), [NAME], max_allowed_connections=32
            )
            # Bound but not listening: connections are refused, and no other
            # process on this machine can take the port meanwhile.
            closed = socket.socket()
            closed.bind(("127.0.0.1", 0))
            refused_port = closed.getsockname()[1]
            refused = await add_webhook(
                store, ORG, f"http://127.0.0.1:{refused_port}/refused", [NAME]
            )

            # A new webhook gets only events published after it was created:
            # give both dead webhooks work. Then wait until every connection
            # slot of the hanging one is held and the refusing one's circuit
            # has opened after its failures.
            await publish_paced(producer, make, 100, RATE)

            async def dead_at_work() -> bool:
                hook = await store.webhooks.get(ORG, refused.web_hook_id)
                return (
                    hole.open_connections >= hanging.max_allowed_connections
                    and hook is not None
                    and hook.circuit_state is not CircuitState.CLOSED
                )

            await wait_until(dead_at_work, within=60, interval=0.1)
            with_dead = await run_load(producer)
            still_hanging = hole.open_connections

            # The refusing endpoint comes back: once its circuit lets a probe
            # through, it gets what is published from then on.
            closed.close()
            await revived.start(refused_port)
            marker = make_event(ORG, NAME, "marker", {"n": -1})
            await producer.publish(marker)
            marker_id = delivered_event_id(marker.event_id, refused.web_hook_id)
            await revived.wait_for(
                lambda: marker_id in {r.json["eventId"] for r in revived.ok_for("/refused")},
                within=120,
            )
        # In a thread: the receivers in this loop must keep answering while
        # the dispatcher drains (the hanging webhook's calls run into the
        # 30 s timeout or are cancelled at the 15 s drain bound).
        code = await asyncio.to_thread(proc.stop, 60)
        assert code == 0, "graceful shutdown failed"
    except BaseException:
        print(f"--- dispatcher log tail ({proc.log_path}) ---\n{proc.tail()}")
        proc.kill()
        raise
    finally:
        await revived.stop()
        await hole.stop()

    base_p50, base_p99 = percentile(baseline, 50), percentile(baseline, 99)
    dead_p50, dead_p99 = percentile(with_dead, 50), percentile(with_dead, 99)
    print(
        f"healthy webhook, {RATE}/s for {SECONDS}s: "
        f"baseline p50 {base_p50 * 1000:.1f} ms p99 {base_p99 * 1000:.1f} ms; "
        f"with dead webhooks p50 {dead_p50 * 1000:.1f} ms p99 {dead_p99 * 1000:.1f} ms; "
        f"black hole held {still_hanging} connections, accepted {hole.connections}"
    )
    # Every event reached the healthy webhook in both runs (run_load waited
    # for each one), and the hanging webhook was kept at its cap throughout.
    assert len(baseline) == len(with_dead) == RATE * SECONDS
    assert still_hanging <= hanging.max_allowed_connections
