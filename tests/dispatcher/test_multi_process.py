"""Several dispatcher processes share each webhook's consumer group; killing
one loses nothing: the group gives its partitions to the survivor."""

from __future__ import annotations

from pathlib import Path

from eventnotify.delivery.request import delivered_event_id
from eventnotify.settings import Settings
from eventnotify.store import Store
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.processes import DispatcherProcess, dispatcher_env
from tests.support.receiver import Receiver, Reply

ORG = 51
EVENTS = 400


async def test_killing_one_of_two_dispatchers_loses_nothing(
    settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.on("/m", lambda _r, _n: Reply(200, delay=0.02))
    hook = await add_webhook(
        store, ORG, receiver.url("/m"), ["badgeEarned"], max_allowed_connections=4
    )
    env = dispatcher_env(
        settings.mongo.uri,
        settings.mongo.database,
        settings.kafka.bootstrap_servers,
        settings.kafka.topic_prefix,
    )
    first = DispatcherProcess(env, tmp_path / "first.log")
    second = DispatcherProcess(env, tmp_path / "second.log")
    first.start()
    second.start()
    try:
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
        second.stop()
    received = [r.json["eventId"] for r in receiver.ok_for("/m")]
    duplicates = len(received) - len(set(received))
    print(f"{EVENTS} events, {len(received)} deliveries, {duplicates} duplicates")
    assert first.kills == 1
    # Both processes had joined the webhook's group before the kill.
    assert "consuming" in first.tail(400) and "consuming" in second.tail(400)
