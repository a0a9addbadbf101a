"""The dispatcher's Prometheus endpoint, scraped over HTTP after real deliveries
on the local stack, and its structured delivery logs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest

from devstack import Stack, free_port
from dispatcher.app import Dispatcher
from dispatcher.metrics import attempt_result
from eventnotify.delivery.request import delivered_event_id
from eventnotify.domain import DeliveryStatus
from eventnotify.settings import Settings
from eventnotify.store import Store
from eventnotify.timefmt import to_epoch_ms, utcnow
from tests.support.hooks import add_webhook
from tests.support.kafka import EventProducer, make_event
from tests.support.metrics import JsonLines, Scrape, json_lines, scrape
from tests.support.receiver import Receiver, Reply
from tests.support.stack import make_settings
from tests.support.waiting import wait_until

ORG = 31
TWO_HOURS_MS = 2 * 3600 * 1000
JSON = [("content-type", b"application/json")]


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return make_settings(
        stack,
        EVENTNOTIFY_DISPATCHER_METRICS_PORT=str(free_port()),
        EVENTNOTIFY_IN_PLACE_ATTEMPTS="1",
        # One retriable failure opens a circuit, and it stays open for the test.
        EVENTNOTIFY_CIRCUIT_FAILURE_THRESHOLD="1",
        EVENTNOTIFY_CIRCUIT_COOLDOWN_SECONDS="600",
        EVENTNOTIFY_REFRESH_SECONDS="0.3",
    )


def _port(d: Dispatcher) -> int:
    assert d.metrics_server is not None
    return d.metrics_server.port


def _assigned(d: Dispatcher, *hook_ids: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        consumers = [d.supervisor.consumer(i) for i in hook_ids]
        return all(c is not None and c.assigned() for c in consumers)

    return probe


def _deliveries(s: Scrape, hook_id: str, outcome: str) -> float:
    return s.value("eventnotify_deliveries_total", web_hook_id=hook_id, outcome=outcome)


async def test_counters_and_gauges_move_with_deliveries(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/bad", lambda _r, _n: Reply(400))
    receiver.on("/down", lambda _r, _n: Reply(503))
    ok = await add_webhook(
        store,
        ORG,
        receiver.url("/ok"),
        ["badgeEarned"],
        max_allowed_connections=4,
        sla_in_seconds=60,
    )
    bad = await add_webhook(
        store, ORG, receiver.url("/bad"), ["cardUpdated"], max_allowed_connections=3
    )
    down = await add_webhook(
        store,
        ORG,
        receiver.url("/down"),
        ["streakStart"],
        max_allowed_connections=2,
        no_of_retry_attempts=5,
    )
    ids = (ok.web_hook_id, bad.web_hook_id, down.web_hook_id)
    await dispatcher.supervisor.sync()
    await wait_until(_assigned(dispatcher, *ids))

    before = await scrape(_port(dispatcher))
    # The process-wide figures: nothing being caught up, the log up to date.
    assert before.get("eventnotify_dispatcher_catchup_readers") == 0
    assert before.get("eventnotify_dispatcher_log_lag_seconds") == 0
    assert before.get("eventnotify_dispatcher_position_writes_total") is not None
    for hook_id, cap in zip(ids, (4, 3, 2), strict=True):
        assert before.get("eventnotify_webhook_max_connections", web_hook_id=hook_id) == cap
        assert before.get("eventnotify_webhook_in_flight", web_hook_id=hook_id) == 0
        assert before.get("eventnotify_webhook_circuit_state", web_hook_id=hook_id) == 0
        for outcome in ("delivered", "failed", "retrying", "dead_lettered"):
            # Exported as 0 from the start, so rate() sees the first increment.
            assert (
                before.get("eventnotify_deliveries_total", web_hook_id=hook_id, outcome=outcome)
                == 0
            )

    late = make_event(
        ORG, "badgeEarned", "late", {}, created_at_ms=to_epoch_ms(utcnow()) - TWO_HOURS_MS
    )
    async with EventProducer(settings) as p:
        for i in range(3):
            await p.publish(make_event(ORG, "badgeEarned", f"r{i}", {"i": i}))
        await p.publish(late)
        await p.publish(make_event(ORG, "cardUpdated", "c", {}))
        await p.publish(make_event(ORG, "streakStart", "s", {}))
        await p.publish_raw(p.topic("badgeEarned"), b"{not json", headers=JSON)
        await p.flush()

    async def settled() -> Scrape | None:
        s = await scrape(_port(dispatcher))
        done = (
            _deliveries(s, ok.web_hook_id, "delivered") == 4
            and _deliveries(s, ok.web_hook_id, "dead_lettered") == 1
            and _deliveries(s, bad.web_hook_id, "failed") == 1
            and _deliveries(s, down.web_hook_id, "retrying") == 1
            and s.get("eventnotify_parked_deliveries", web_hook_id=down.web_hook_id) == 1
            and all(
                s.get(
                    "eventnotify_consumer_lag",
                    consumer_group_id=h.consumer_group_id,
                    web_hook_id=h.web_hook_id,
                )
                == 0
                for h in (ok, bad, down)
            )
        )
        return s if done else None

    after = await wait_until(settled)
    # Nothing moved that should not have.
    assert _deliveries(after, ok.web_hook_id, "failed") == 0
    assert _deliveries(after, ok.web_hook_id, "retrying") == 0
    assert _deliveries(after, bad.web_hook_id, "delivered") == 0
    assert _deliveries(after, down.web_hook_id, "failed") == 0
    attempts = "eventnotify_delivery_attempts_total"
    assert after.value(attempts, web_hook_id=ok.web_hook_id, result="2xx") == 4
    assert after.value(attempts, web_hook_id=bad.web_hook_id, result="4xx") == 1
    assert after.value(attempts, web_hook_id=down.web_hook_id, result="5xx") == 1
    duration = "eventnotify_delivery_attempt_duration_seconds_count"
    assert [after.value(duration, web_hook_id=i) for i in ids] == [4, 1, 1]
    # Latency runs from createdAt to delivery: only deliveries, the late one shows.
    latency = "eventnotify_delivery_latency_seconds"
    assert after.value(f"{latency}_count", web_hook_id=ok.web_hook_id) == 4
    assert after.value(f"{latency}_count", web_hook_id=bad.web_hook_id) == 0
    assert after.value(f"{latency}_sum", web_hook_id=ok.web_hook_id) >= TWO_HOURS_MS / 1000
    assert after.value(f"{latency}_bucket", web_hook_id=ok.web_hook_id, le="3600.0") == 3
    # Only the late event missed its webhook's 60 s SLA.
    assert after.value("eventnotify_sla_breaches_total", web_hook_id=ok.web_hook_id) == 1
    assert after.value("eventnotify_sla_breaches_total", web_hook_id=bad.web_hook_id) == 0
    # The 503 opened /down's circuit (threshold 1); the others stay closed.
    circuit = [after.get("eventnotify_webhook_circuit_state", web_hook_id=i) for i in ids]
    assert circuit == [0, 0, 2]
    assert [after.get("eventnotify_webhook_in_flight", web_hook_id=i) for i in ids] == [0, 0, 0]
    assert after.get("eventnotify_parked_deliveries", web_hook_id=ok.web_hook_id) == 0


async def test_in_flight_gauge_tracks_requests_against_the_cap(
    settings: Settings, store: Store, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.on("/slow", lambda _r, _n: Reply(200, delay=1.0))
    hook = await add_webhook(
        store, ORG, receiver.url("/slow"), ["badgeEarned"], max_allowed_connections=2
    )
    await dispatcher.supervisor.sync()
    await wait_until(_assigned(dispatcher, hook.web_hook_id))
    async with EventProducer(settings) as p:
        for i in range(5):
            await p.publish(make_event(ORG, "badgeEarned", f"k{i}", {}))
        await p.flush()
    labels = {"web_hook_id": hook.web_hook_id}
    lag_labels = {**labels, "consumer_group_id": hook.consumer_group_id}

    async def at_cap() -> Scrape | None:
        s = await scrape(_port(dispatcher))
        in_flight = s.get("eventnotify_webhook_in_flight", **labels) or 0
        assert in_flight <= 2, in_flight
        return s if in_flight == 2 else None

    busy = await wait_until(at_cap, interval=0.05)
    assert busy.get("eventnotify_webhook_max_connections", **labels) == 2
    # Two in flight are two not yet handled: the group's lag counts at least those.
    assert (busy.get("eventnotify_consumer_lag", **lag_labels) or 0) >= 2

    async def drained() -> Scrape | None:
        s = await scrape(_port(dispatcher))
        done = s.value("eventnotify_deliveries_total", outcome="delivered", **labels) == 5
        return s if done and s.get("eventnotify_consumer_lag", **lag_labels) == 0 else None

    idle = await wait_until(drained)
    assert idle.get("eventnotify_webhook_in_flight", **labels) == 0


@pytest.fixture
def delivery_logs() -> Iterator[JsonLines]:
    with json_lines("dispatcher") as handler:
        yield handler


async def test_delivery_logs_carry_event_group_and_request_ids(
    settings: Settings,
    store: Store,
    receiver: Receiver,
    dispatcher: Dispatcher,
    delivery_logs: JsonLines,
) -> None:
    receiver.on("/reject", lambda _r, _n: Reply(400))
    hook = await add_webhook(store, ORG, receiver.url("/reject"), ["badgeEarned"])
    await dispatcher.supervisor.sync()
    event = make_event(ORG, "badgeEarned", "logged", {})
    async with EventProducer(settings) as p:
        await p.publish(event)
        await p.publish_raw(p.topic("badgeEarned"), b"{not json", headers=JSON)
        await p.flush()
    want_id = delivered_event_id(event.event_id, hook.web_hook_id)

    def lines(prefix: str) -> list[dict[str, object]]:
        return [x for x in delivery_logs.lines if str(x["msg"]).startswith(prefix)]

    async def logged() -> bool:
        return bool(lines("delivery failed")) and bool(lines("dead-lettered"))

    await wait_until(logged)
    [failed] = lines("delivery failed")
    assert failed["event_id"] == want_id
    assert failed["consumer_group_id"] == hook.consumer_group_id
    assert failed["request_id"] == event.request_id
    assert failed["level"] == "INFO" and failed["attempts"] == 1
    [dead] = lines("dead-lettered")
    assert dead["event_id"] and dead["event_id"] != want_id
    assert dead["consumer_group_id"] == hook.consumer_group_id


async def test_two_dispatchers_in_one_process_keep_separate_registries(
    settings: Settings,
) -> None:
    first, second = Dispatcher(settings), Dispatcher(settings)
    try:
        assert first.registry is not second.registry
        hook_metrics = first.metrics.for_webhook("h")
        assert first.metrics.for_webhook("h") is hook_metrics  # cached children
        hook_metrics.finished(DeliveryStatus.DELIVERED, 0.1, False)
        sample = ("eventnotify_deliveries_total", {"web_hook_id": "h", "outcome": "delivered"})
        assert first.registry.get_sample_value(*sample) == 1
        assert second.registry.get_sample_value(*sample) is None
        assert first.metrics_server is not None  # the settings ask for a port
    finally:
        for d in (first, second):
            await d.producer.stop()
            await d.store.close()


async def test_no_metrics_server_when_port_is_zero(stack: Stack) -> None:
    d = Dispatcher(make_settings(stack))
    try:
        assert d.metrics_server is None
    finally:
        await d.producer.stop()
        await d.store.close()


@pytest.mark.parametrize(
    ("status", "error", "label"),
    [
        (200, "", "2xx"),
        (302, "", "3xx"),
        (429, "", "4xx"),
        (503, "", "5xx"),
        (0, "connection refused", "error"),
        (0, "", "queued"),
    ],
)
def test_attempt_result_label(status: int, error: str, label: str) -> None:
    assert attempt_result(status, error) == label
