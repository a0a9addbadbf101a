"""Several dispatcher processes share the deployment's consumer group; killing
one loses nothing: the group gives its partitions to the survivor."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from eventnotify.delivery.request import delivered_event_id
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.processes import DispatcherProcess, env_for
from tests.support.receiver import Receiver, Reply
from tests.support.waiting import wait_until

ORG = 51
PARTITIONS = 4  # the local broker's default for new topics
EVENTS = 400


async def test_killing_one_of_two_dispatchers_loses_nothing(
    settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.on("/m", lambda _r, _n: Reply(200, delay=0.02))
    hook = await add_webhook(
        store, ORG, receiver.url("/m"), ["badgeEarned"], max_allowed_connections=4
    )
    env = env_for(settings)
    first = DispatcherProcess(env, tmp_path / "first.log")
    second = DispatcherProcess(env, tmp_path / "second.log")
    first.start()
    second.start()
    try:
        # Both processes own partitions of the topic, and between them all
        # of them, before anything is published or killed.
        topic = settings.kafka.topic_prefix + "badgeEarned"

        async def split() -> tuple[set[str], set[str]] | None:
            a, b = owned(first, topic), owned(second, topic)
            return (a, b) if a and b and not a & b and len(a | b) == PARTITIONS else None

        before_kill = await wait_until(split, within=60)
        events = [make_event(ORG, "badgeEarned", f"m{i}", {"i": i}) for i in range(EVENTS)]
        async with EventProducer(settings) as p:
            for e in events:
                await p.publish(e)
            await p.flush()
        # Both members share the partitions; kill one mid-run.
        await receiver.wait_for(lambda: len(receiver.ok_for("/m")) >= EVENTS // 4, within=60)
        first.kill()
        await receiver.wait_for(
            lambda: (
                {r.json["eventId"] for r in receiver.ok_for("/m")}
                >= {delivered_event_id(e.event_id, hook.web_hook_id) for e in events}
            ),
            within=90,
        )
    except BaseException:
        print(first.tail(), second.tail(), sep="\n----\n")
        raise
    finally:
        first.kill()
        await asyncio.to_thread(second.stop)
    received = [r.json["eventId"] for r in receiver.ok_for("/m")]
    duplicates = len(received) - len(set(received))
    print(f"{EVENTS} events, {len(received)} deliveries, {duplicates} duplicates")
    assert first.kills == 1
    assert all(before_kill)
    # The survivor took over the killed process's partitions.
    assert owned(second, topic) == before_kill[0] | before_kill[1]


def owned(proc: DispatcherProcess, topic: str) -> set[str]:
    """The partitions of ``topic`` in the process's latest assignment (the
    intake logs each one: ``consuming topic/partition,...``)."""
    lines = [ln for ln in proc.tail(10_000).splitlines() if "consuming " in ln]
    if not lines:
        return set()
    return set(re.findall(re.escape(topic) + r"/\d+", lines[-1].rsplit("consuming ", 1)[1]))
