"""The dispatcher's Prometheus metrics.

Counters and histograms are updated on the delivery path through
``WebhookMetrics``, one per webhook, which holds its labelled children so a
delivery never pays for a label lookup. Gauges (in flight, cap, circuit state,
consumer lag, parked deliveries) are not updated on that path at all: a
collector reads them from the live webhook runtimes when Prometheus scrapes,
so they cost nothing between scrapes and vanish with their webhook.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from eventnotify.domain import CircuitState, DeliveryStatus

if TYPE_CHECKING:
    from dispatcher.runtime import WebhookRuntime

log = logging.getLogger(__name__)

# One HTTP attempt: receivers answer in milliseconds; the default total timeout is 30 s.
ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Event creation to delivery: sub-second normally, up to hours through retries.
LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    21600.0,
    86400.0,
)
OUTCOMES: dict[DeliveryStatus, str] = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.RETRYING: "retrying",
    DeliveryStatus.DEAD_LETTERED: "dead_lettered",
}
CIRCUIT_VALUES: dict[CircuitState, int] = {
    CircuitState.CLOSED: 0,
    CircuitState.HALF_OPEN: 1,
    CircuitState.OPEN: 2,
}


def attempt_result(http_status: int, error: str) -> str:
    """The ``result`` label of an attempt: ``2xx``..``5xx``, ``error`` (no
    response: refused, timed out, blocked) or ``queued`` (a QUEUE webhook)."""
    if http_status == 0:
        return "error" if error else "queued"
    return f"{http_status // 100}xx"


class DispatcherMetrics:
    """Every metric the dispatcher records, registered on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.deliveries = Counter(
            "eventnotify_deliveries",
            "Deliveries that reached an outcome: delivered, failed, retrying (parked in "
            "MongoDB for a later attempt) or dead_lettered (undeliverable event).",
            ("web_hook_id", "outcome"),
            registry=registry,
        )
        self.attempts = Counter(
            "eventnotify_delivery_attempts",
            "Delivery attempts, by result: 2xx..5xx, error (no response) or queued.",
            ("web_hook_id", "result"),
            registry=registry,
        )
        self.attempt_duration = Histogram(
            "eventnotify_delivery_attempt_duration_seconds",
            "Duration of one delivery attempt (request to response).",
            ("web_hook_id",),
            buckets=ATTEMPT_BUCKETS,
            registry=registry,
        )
        self.latency = Histogram(
            "eventnotify_delivery_latency_seconds",
            "Time from the event's createdAt to its successful delivery.",
            ("web_hook_id",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.sla_breaches = Counter(
            "eventnotify_sla_breaches",
            "Deliveries that ended (delivered or failed) after their webhook's SLA.",
            ("web_hook_id",),
            registry=registry,
        )
        self._hooks: dict[str, WebhookMetrics] = {}

    def for_webhook(self, web_hook_id: str) -> WebhookMetrics:
        """The webhook's metric children (the same object on every call)."""
        found = self._hooks.get(web_hook_id)
        if found is None:
            found = self._hooks[web_hook_id] = WebhookMetrics(self, web_hook_id)
        return found


class WebhookMetrics:
    """One webhook's labelled children: the delivery path's only metric handle."""

    __slots__ = (
        "_attempt_duration",
        "_attempts",
        "_latency",
        "_metrics",
        "_outcomes",
        "_sla",
        "id",
    )

    def __init__(self, metrics: DispatcherMetrics, web_hook_id: str) -> None:
        self.id = web_hook_id
        self._metrics = metrics
        # Created up front so every outcome is exported (as 0) from the start.
        self._outcomes: dict[DeliveryStatus, Counter] = {
            status: metrics.deliveries.labels(web_hook_id, name)
            for status, name in OUTCOMES.items()
        }
        self._attempts: dict[str, Counter] = {}
        self._attempt_duration: Histogram = metrics.attempt_duration.labels(web_hook_id)
        self._latency: Histogram = metrics.latency.labels(web_hook_id)
        self._sla: Counter = metrics.sla_breaches.labels(web_hook_id)

    def attempted(self, http_status: int, error: str, seconds: float) -> None:
        """Count one attempt and its duration."""
        result = attempt_result(http_status, error)
        child = self._attempts.get(result)
        if child is None:
            child = self._attempts[result] = self._metrics.attempts.labels(self.id, result)
        child.inc()
        self._attempt_duration.observe(seconds)

    def finished(
        self, status: DeliveryStatus, latency_seconds: float | None, breached: bool
    ) -> None:
        """Count a recorded outcome; ``latency_seconds`` only for deliveries."""
        child = self._outcomes.get(status)
        if child is not None:
            child.inc()
        if latency_seconds is not None:
            self._latency.observe(max(latency_seconds, 0.0))  # producer clocks may run ahead
        if breached:
            self._sla.inc()


class _Consumer(Protocol):
    def kafka_lag(self) -> int | None: ...


RuntimeSource = Callable[[], Iterable[tuple["WebhookRuntime", _Consumer | None]]]


class RuntimeCollector:
    """Gauges read from the live webhook runtimes at scrape time."""

    def __init__(self, runtimes: RuntimeSource, parked: ParkedCounts) -> None:
        self._runtimes = runtimes
        self._parked = parked

    def describe(self) -> Iterator[Metric]:
        """The gauge families (without samples), for the registry's name check."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        """Current values of every gauge."""
        in_flight, cap, circuit, lag, parked = self._families()
        parked_by_hook = dict(self._parked.by_webhook)
        for rt, consumer in self._runtimes():
            hook = rt.hook
            in_flight.add_metric([hook.web_hook_id], rt.in_flight)
            cap.add_metric([hook.web_hook_id], rt.cap)
            circuit.add_metric([hook.web_hook_id], CIRCUIT_VALUES[rt.circuit.state])
            behind = consumer.kafka_lag() if consumer is not None else None
            if behind is not None:
                lag.add_metric([hook.consumer_group_id, hook.web_hook_id], behind)
            parked_by_hook.setdefault(hook.web_hook_id, 0)
        if self._parked.refreshed:
            for web_hook_id, count in sorted(parked_by_hook.items()):
                parked.add_metric([web_hook_id], count)
        return iter((in_flight, cap, circuit, lag, parked))

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "eventnotify_webhook_in_flight",
                "Requests in flight to the webhook from this process.",
                labels=["web_hook_id"],
            ),
            GaugeMetricFamily(
                "eventnotify_webhook_max_connections",
                "The webhook's cap on requests in flight (maxAllowedConnections).",
                labels=["web_hook_id"],
            ),
            GaugeMetricFamily(
                "eventnotify_webhook_circuit_state",
                "Circuit breaker state of the webhook: 0 closed, 1 half-open, 2 open.",
                labels=["web_hook_id"],
            ),
            GaugeMetricFamily(
                "eventnotify_consumer_lag",
                "Messages of the webhook's consumer group not yet handled on the partitions "
                "this process holds (high watermark minus the committable offset).",
                labels=["consumer_group_id", "web_hook_id"],
            ),
            GaugeMetricFamily(
                "eventnotify_parked_deliveries",
                "Deliveries parked in MongoDB waiting for a retry (all processes; "
                "refreshed periodically).",
                labels=["web_hook_id"],
            ),
        )


class ParkedCounter(Protocol):
    """What ``ParkedCounts`` needs of the parked-deliveries repository."""

    async def count_by_webhook(self) -> dict[str, int]: ...


class ParkedCounts:
    """Parked deliveries per webhook, re-counted in MongoDB every ``interval``.

    The count is global (every dispatcher sees the same collection), so each
    process exports the same numbers; aggregate with ``max``, not ``sum``.
    """

    def __init__(self, repo: ParkedCounter, interval: float) -> None:
        self._repo = repo
        self._interval = interval
        self._stopping = asyncio.Event()
        self.by_webhook: dict[str, int] = {}
        self.refreshed = False

    async def refresh(self) -> None:
        """Count now."""
        self.by_webhook = await self._repo.count_by_webhook()
        self.refreshed = True

    async def run(self) -> None:
        """Refresh until ``shutdown``; a failed count keeps the last one."""
        while not self._stopping.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # storage down: keep the last numbers
                log.info("parked count skipped: %s", exc)
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            except TimeoutError:
                pass

    def shutdown(self) -> None:
        self._stopping.set()
