"""Delivery behaviours on the local stack: ordering, SLA, signatures during
rotation, QUEUE webhooks, the circuit breaker, live webhook changes, SSRF."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer

from devstack import Stack
from dispatcher.app import Dispatcher
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import CircuitState, DeliveryStatus, LogEntry, WebhookType
from eventnotify.envelope import SourceEvent
from eventnotify.receiver import WebhookVerificationError, verify
from eventnotify.settings import Settings
from eventnotify.signing import new_secret
from eventnotify.store import Store
from eventnotify.timefmt import to_epoch_ms, utcnow
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.receiver import Received, Receiver, Reply
from tests.support.stack import make_settings
from tests.support.waiting import logged_as, wait_until

ORG = 11
OPENED_AT = 3  # EVENTNOTIFY_CIRCUIT_FAILURE_THRESHOLD below
PROBE_GAP = 0.9  # the 1 s base cool-down, less the receiver's clock granularity


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return make_settings(
        stack,
        EVENTNOTIFY_IN_PLACE_ATTEMPTS="1",
        EVENTNOTIFY_CIRCUIT_FAILURE_THRESHOLD="3",
        EVENTNOTIFY_CIRCUIT_COOLDOWN_SECONDS="1",
        EVENTNOTIFY_REFRESH_SECONDS="0.5",
    )


async def logged(store: Store, event_id: str, *statuses: DeliveryStatus) -> LogEntry:
    return await logged_as(store, ORG, event_id, *statuses)


async def test_ordered_mode_keeps_ref_order_through_failures(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    # The first event of ref A fails twice (parked), later A events must wait;
    # ref B events flow meanwhile.
    fails = 0

    def behaviour(req: Received, n: int) -> Reply:
        nonlocal fails
        body = req.json
        if body["refId"] == "A" and body["data"]["seq"] == 0 and fails < 2:
            fails += 1
            return Reply(503)
        return Reply(200, delay=0.01)

    receiver.on("/ordered", behaviour)
    hook = await add_webhook(
        store,
        ORG,
        receiver.url("/ordered"),
        ["badgeEarned"],
        ordered_delivery=True,
        max_allowed_connections=4,
    )
    await dispatcher.supervisor.sync()
    async with EventProducer(settings) as p:
        for seq in range(6):
            for ref in ("A", "B", "C"):
                await p.publish(make_event(ORG, "badgeEarned", ref, {"seq": seq}))
        await p.flush()
    await receiver.wait_for(lambda: len(receiver.ok_for("/ordered")) == 18, within=60)
    for ref in ("A", "B", "C"):
        seqs = [
            r.json["data"]["seq"] for r in receiver.ok_for("/ordered") if r.json["refId"] == ref
        ]
        assert seqs == list(range(6)), (ref, seqs)
    # B and C did not wait for A's retries.
    first_a = next(r for r in receiver.ok_for("/ordered") if r.json["refId"] == "A")
    last_b = [r for r in receiver.ok_for("/ordered") if r.json["refId"] == "B"][-1]
    assert last_b.at < first_a.at

    async def unparked() -> bool:
        return await store.parked.count_for(hook.web_hook_id) == 0

    await wait_until(unparked)


async def test_sla_breach_stamped_for_slow_and_not_for_fast(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/slow", lambda _r, _n: Reply(200, delay=1.5))
    slow = await add_webhook(store, ORG, receiver.url("/slow"), ["badgeEarned"], sla_in_seconds=1)
    fast = await add_webhook(store, ORG, receiver.url("/fast"), ["badgeEarned"], sla_in_seconds=1)
    await dispatcher.supervisor.sync()
    # Publish only once both groups consume, so the SLA clock measures delivery.
    await wait_until(_assigned(dispatcher, slow.web_hook_id))
    await wait_until(_assigned(dispatcher, fast.web_hook_id))
    event = make_event(ORG, "badgeEarned", "sla", {})
    async with EventProducer(settings) as p:
        await p.publish(event)
    slow_entry = await logged(
        store, delivered_event_id(event.event_id, slow.web_hook_id), DeliveryStatus.DELIVERED
    )
    fast_entry = await logged(
        store, delivered_event_id(event.event_id, fast.web_hook_id), DeliveryStatus.DELIVERED
    )
    assert slow_entry.sla_breach_at == slow_entry.ingested_at + timedelta(seconds=1)
    assert fast_entry.sla_breach_at is None


async def test_sweeper_marks_pending_breach(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/down", lambda _r, _n: Reply(503))
    hook = await add_webhook(store, ORG, receiver.url("/down"), ["badgeEarned"], sla_in_seconds=1)
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", "sweep", {})
    async with EventProducer(settings) as p:
        await p.publish(event)
    event_id = delivered_event_id(event.event_id, hook.web_hook_id)
    await logged(store, event_id, DeliveryStatus.RETRYING)

    async def breached() -> LogEntry | None:
        await dispatcher.sweeper.sweep_once(utcnow())
        e = await store.logs.get(ORG, event_id)
        return e if e is not None and e.sla_breach_at is not None else None

    entry = await wait_until(breached)
    assert entry.status is DeliveryStatus.RETRYING
    assert entry.sla_breach_at == entry.ingested_at + timedelta(seconds=1)


async def test_rotation_signs_with_old_and_new_secret_during_grace(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/sig"), ["badgeEarned"])
    old = hook.secrets[0].secret
    await dispatcher.supervisor.sync()
    async with EventProducer(settings) as p:
        await p.publish(make_event(ORG, "badgeEarned", "s1", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/sig")) == 1)
        # Rotate with a grace period, as RotateSecret does.
        new = new_secret()
        now = utcnow()
        await store.webhooks.set_fields(
            hook.web_hook_id,
            {
                "secrets": [
                    {"secret": new, "created_at": now, "expires_at": None},
                    {
                        "secret": old,
                        "created_at": hook.secrets[0].created_at,
                        "expires_at": now + timedelta(hours=1),
                    },
                ]
            },
        )
        await dispatcher.supervisor.sync()
        await p.publish(make_event(ORG, "badgeEarned", "s2", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/sig")) == 2)
        # Grace period over: only the new secret signs.
        await store.webhooks.set_fields(
            hook.web_hook_id,
            {"secrets": [{"secret": new, "created_at": now, "expires_at": None}]},
        )
        await dispatcher.supervisor.sync()
        await p.publish(make_event(ORG, "badgeEarned", "s3", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/sig")) == 3)
    first, during, after = receiver.ok_for("/sig")
    verify(old, first.headers, first.body)
    assert len(during.headers["webhook-signature"].split()) == 2
    verify(old, during.headers, during.body)
    verify(new, during.headers, during.body)
    verify(new, after.headers, after.body)
    with pytest.raises(WebhookVerificationError):
        verify(old, after.headers, after.body)
    # Once the grace period is over the old secret is not offered at all.
    assert len(after.headers["webhook-signature"].split()) == 1


async def test_queue_webhook_produces_to_its_topic(
    settings: Settings, store: Store, dispatcher: Dispatcher
) -> None:
    out_topic = settings.kafka.topic_prefix + "out"
    hook = await add_webhook(store, ORG, out_topic, ["badgeEarned"], type=WebhookType.QUEUE)
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", "q1", {"x": 1})
    async with EventProducer(settings) as p:
        await p.publish(event)
    entry = await logged(
        store, delivered_event_id(event.event_id, hook.web_hook_id), DeliveryStatus.DELIVERED
    )
    consumer = AIOKafkaConsumer(
        out_topic,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        msg = await consumer.getone()
    finally:
        await consumer.stop()
    assert msg.key == b"q1"
    headers = {k: v.decode() for k, v in msg.headers}
    verify(hook.secrets[0].secret, headers, msg.value)
    assert entry.event_id in msg.value.decode()


async def test_circuit_opens_detaches_probes_and_recovers(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    # Threshold 3, cool-down 1 s doubling on each failed probe (settings above).
    state = {"up": False}
    receiver.on("/cb", lambda _r, _n: Reply(200) if state["up"] else Reply(503))
    hook = await add_webhook(
        store, ORG, receiver.url("/cb"), ["badgeEarned"], max_allowed_connections=1
    )
    await dispatcher.supervisor.sync()
    events = [make_event(ORG, "badgeEarned", f"cb{i}", {}) for i in range(10)]
    expected = {delivered_event_id(e.event_id, hook.web_hook_id) for e in events}
    async with EventProducer(settings) as p:
        for e in events:
            await p.publish(e)

    async def circuit(want: CircuitState) -> bool:
        await dispatcher.supervisor.sync()
        h = await store.webhooks.get(ORG, hook.web_hook_id)
        return h is not None and h.circuit_state is want

    await wait_until(lambda: circuit(CircuitState.OPEN))
    # The open window: the third failure opened the circuit; watch three more
    # requests (the probes of cool-downs of 1, 2 and 4 s).
    await receiver.wait_for(lambda: len(receiver.failed) >= OPENED_AT + 3, within=60)
    state["up"] = True
    down = [r.at for r, status in receiver.failed if status == 503]
    window = down[OPENED_AT - 1 :]
    gaps = [later - earlier for earlier, later in itertools.pairwise(window)]
    # While the circuit is open nothing is sent but one probe per cool-down:
    # without the pause the 7 other events (and their retries) would follow
    # each other within milliseconds. (A lower bound the design guarantees;
    # load only lengthens it.)
    assert gaps and all(g >= PROBE_GAP for g in gaps), gaps
    await receiver.wait_for(
        lambda: {r.json["eventId"] for r in receiver.ok_for("/cb")} >= expected, within=90
    )
    await wait_until(lambda: circuit(CircuitState.CLOSED))
    got = [r.json["eventId"] for r in receiver.ok_for("/cb")]
    assert set(got) == expected


async def test_webhook_changes_apply_without_restart(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await add_webhook(store, ORG, receiver.url("/v1"), ["badgeEarned"])
    # Subscribed to both names throughout: once it has an event, the fan-out
    # has handled that record for every webhook.
    witness = await add_webhook(
        store, ORG, receiver.url("/witness"), ["badgeEarned", "cardUpdated"]
    )
    await wait_until(_running(dispatcher, hook.web_hook_id))
    await wait_until(_running(dispatcher, witness.web_hook_id))

    def mine(event: SourceEvent) -> str:
        return delivered_event_id(event.event_id, hook.web_hook_id)

    async def witnessed(p: EventProducer, *events: SourceEvent) -> None:
        """Publish, and wait until the witness has every one of them."""
        for e in events:
            await p.publish_acked(e)
        ids = {delivered_event_id(e.event_id, witness.web_hook_id) for e in events}
        await receiver.wait_for(
            lambda: ids <= {r.json["eventId"] for r in receiver.ok_for("/witness")}
        )

    async with EventProducer(settings) as p:
        await p.publish(make_event(ORG, "badgeEarned", "c1", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/v1")) == 1)
        # URL change: picked up in place.
        await store.webhooks.set_fields(hook.web_hook_id, {"url": receiver.url("/v2")})
        await wait_until(_url_is(dispatcher, hook.web_hook_id, receiver.url("/v2")))
        await p.publish(make_event(ORG, "badgeEarned", "c2", {}))
        await receiver.wait_for(lambda: len(receiver.ok_for("/v2")) == 1)
        # Subscription change: badgeEarned removed. Once the change is in
        # effect, the removed name is not delivered and the new one is.
        await store.webhooks.set_fields(hook.web_hook_id, {"event_names": ["cardUpdated"]})
        await wait_until(_topics_are(dispatcher, hook.web_hook_id, "cardUpdated"))
        removed = make_event(ORG, "badgeEarned", "c3-removed", {})
        kept = make_event(ORG, "cardUpdated", "c3", {})
        await witnessed(p, removed, kept)
        await receiver.wait_for(
            lambda: mine(kept) in {r.json["eventId"] for r in receiver.ok_for("/v2")}
        )
        # Deactivation: once retired, nothing more is delivered to it.
        await store.webhooks.set_fields(hook.web_hook_id, {"active": False})
        await wait_until(_stopped(dispatcher, hook.web_hook_id))
        inactive = make_event(ORG, "cardUpdated", "c4", {})
        await witnessed(p, inactive)
        # A second round trip through the fan-out, so a delivery of c4 to the
        # deactivated webhook (had it been handed one) would have landed.
        await witnessed(p, make_event(ORG, "cardUpdated", "c5", {}))
    v2 = receiver.ok_for("/v2")
    assert mine(removed) not in {r.json["eventId"] for r in v2}
    assert mine(inactive) not in {r.json["eventId"] for r in v2}
    assert [r.json["refId"] for r in v2] == ["c2", "c3"]
    assert await store.logs.get(ORG, mine(removed)) is None
    assert await store.logs.get(ORG, mine(inactive)) is None


def _running(d: Dispatcher, hook_id: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return d.supervisor.consumer(hook_id) is not None

    return probe


def _assigned(d: Dispatcher, hook_id: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        c = d.supervisor.consumer(hook_id)
        return c is not None and c.assigned()

    return probe


def _stopped(d: Dispatcher, hook_id: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return d.supervisor.consumer(hook_id) is None

    return probe


def _url_is(d: Dispatcher, hook_id: str, url: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        rt = d.supervisor.runtimes.get(hook_id)
        return rt is not None and rt.hook.url == url

    return probe


def _topics_are(d: Dispatcher, hook_id: str, name: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        c = d.supervisor.consumer(hook_id)
        return c is not None and c.topics[0].endswith(name)

    return probe


async def test_private_addresses_refused_unless_allow_listed(
    stack: Stack, receiver: Receiver
) -> None:
    settings = make_settings(stack, EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS="")
    from eventnotify.store import open_store

    store = open_store(settings.mongo)
    await store.ensure_indexes()
    hook = await add_webhook(store, ORG, receiver.url("/ssrf"), ["badgeEarned"])
    d = Dispatcher(settings)
    await d.start()
    try:
        await d.supervisor.sync()
        event = make_event(ORG, "badgeEarned", "ssrf", {}, created_at_ms=to_epoch_ms(utcnow()))
        async with EventProducer(settings) as p:
            await p.publish(event)
        entry = await logged(
            store, delivered_event_id(event.event_id, hook.web_hook_id), DeliveryStatus.FAILED
        )
        assert "not allowed" in entry.attempts[0].error
        assert receiver.requests == [] and receiver.failed == []
    finally:
        await d.shutdown()
        await store.close()
