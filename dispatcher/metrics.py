"""The dispatcher's Prometheus metrics.

Counters and histograms are plain numbers in ``WebhookMetrics``, one per
webhook, added to on the delivery path and turned into metric families only
when Prometheus scrapes (``_DeliveryCollector``). Gauges (in flight, cap, circuit state,
consumer lag, parked deliveries) are not updated on that path at all: a
collector reads them from the live webhook runtimes when Prometheus scrapes,
so they cost nothing between scrapes and vanish with their webhook.
"""

from __future__ import annotations

import asyncio
import logging
import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

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


class _Family:
    """How one counter or histogram family is exported."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...]) -> None:
        self.name, self.doc, self.labels = name, doc, list(labels)


_DELIVERIES = _Family(
    "eventnotify_deliveries",
    "Deliveries that reached an outcome: delivered, failed, retrying (parked in "
    "MongoDB for a later attempt) or dead_lettered (undeliverable event).",
    ("web_hook_id", "outcome"),
)
_ATTEMPTS = _Family(
    "eventnotify_delivery_attempts",
    "Delivery attempts, by result: 2xx..5xx, error (no response) or queued.",
    ("web_hook_id", "result"),
)
_ATTEMPT_DURATION = _Family(
    "eventnotify_delivery_attempt_duration_seconds",
    "Duration of one delivery attempt (request to response).",
    ("web_hook_id",),
)
_LATENCY = _Family(
    "eventnotify_delivery_latency_seconds",
    "Time from the event's createdAt to its successful delivery.",
    ("web_hook_id",),
)
_SLA_BREACHES = _Family(
    "eventnotify_sla_breaches",
    "Deliveries that ended (delivered or failed) after their webhook's SLA.",
    ("web_hook_id",),
)


class DispatcherMetrics:
    """Every metric the dispatcher records, exported from one registry.

    The delivery path only adds to plain numbers in ``WebhookMetrics`` (the
    client library's counters take a lock and build objects on every update,
    several times per delivery); the families are built from those numbers
    when Prometheus scrapes, in the event loop's thread like every update."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._hooks: dict[str, WebhookMetrics] = {}
        registry.register(_DeliveryCollector(self._hooks))

    def for_webhook(self, web_hook_id: str) -> WebhookMetrics:
        """The webhook's accumulators (the same object on every call)."""
        found = self._hooks.get(web_hook_id)
        if found is None:
            found = self._hooks[web_hook_id] = WebhookMetrics(web_hook_id)
        return found


class _Histogram:
    """Observations of one histogram child: per-bucket counts and the sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def add_to(self, family: HistogramMetricFamily, labels: list[str]) -> None:
        cumulative, buckets = 0, []
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            cumulative += count
            buckets.append((_le(bound), cumulative))
        family.add_metric(labels, buckets, self.total)


def _le(bound: float) -> str:
    """A bucket's ``le`` label as the client library writes it."""
    return "+Inf" if bound == math.inf else repr(float(bound))


class WebhookMetrics:
    """One webhook's counts: the delivery path's only metric handle."""

    __slots__ = ("_attempt_duration", "_attempts", "_latency", "_outcomes", "_sla", "id")

    def __init__(self, web_hook_id: str) -> None:
        self.id = web_hook_id
        # Every outcome is exported (as 0) from the start.
        self._outcomes: dict[DeliveryStatus, int] = dict.fromkeys(OUTCOMES, 0)
        self._attempts: dict[str, int] = {}
        self._attempt_duration = _Histogram(ATTEMPT_BUCKETS)
        self._latency = _Histogram(LATENCY_BUCKETS)
        self._sla = 0

    def attempted(self, http_status: int, error: str, seconds: float) -> None:
        """Count one attempt and its duration."""
        result = attempt_result(http_status, error)
        self._attempts[result] = self._attempts.get(result, 0) + 1
        self._attempt_duration.observe(seconds)

    def finished(
        self, status: DeliveryStatus, latency_seconds: float | None, breached: bool
    ) -> None:
        """Count a recorded outcome; ``latency_seconds`` only for deliveries."""
        if status in self._outcomes:
            self._outcomes[status] += 1
        if latency_seconds is not None:
            self._latency.observe(max(latency_seconds, 0.0))  # producer clocks may run ahead
        if breached:
            self._sla += 1

    def add_to(
        self,
        deliveries: CounterMetricFamily,
        attempts: CounterMetricFamily,
        duration: HistogramMetricFamily,
        latency: HistogramMetricFamily,
        sla: CounterMetricFamily,
    ) -> None:
        for status, count in self._outcomes.items():
            deliveries.add_metric([self.id, OUTCOMES[status]], count)
        for result, count in sorted(self._attempts.items()):
            attempts.add_metric([self.id, result], count)
        self._attempt_duration.add_to(duration, [self.id])
        self._latency.add_to(latency, [self.id])
        sla.add_metric([self.id], self._sla)


class _DeliveryCollector:
    """Builds the counter and histogram families from every webhook's counts."""

    def __init__(self, hooks: dict[str, WebhookMetrics]) -> None:
        self._hooks = hooks

    def describe(self) -> Iterator[Metric]:
        """The families (without samples), for the registry's name check."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        for hook in list(self._hooks.values()):
            hook.add_to(*families)
        yield from families

    @staticmethod
    def _families() -> tuple[
        CounterMetricFamily,
        CounterMetricFamily,
        HistogramMetricFamily,
        HistogramMetricFamily,
        CounterMetricFamily,
    ]:
        def counter(f: _Family) -> CounterMetricFamily:
            return CounterMetricFamily(f.name, f.doc, labels=f.labels)

        def histogram(f: _Family) -> HistogramMetricFamily:
            return HistogramMetricFamily(f.name, f.doc, labels=f.labels)

        return (
            counter(_DELIVERIES),
            counter(_ATTEMPTS),
            histogram(_ATTEMPT_DURATION),
            histogram(_LATENCY),
            counter(_SLA_BREACHES),
        )


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


class ProcessCollector:
    """Gauges and counters of the process as a whole, read at scrape time:
    how far the delivery log is behind, how many webhooks are being caught
    up, and how many webhook positions were written."""

    def __init__(
        self,
        log_lag: Callable[[], float],
        catchup_readers: Callable[[], int],
        position_writes: Callable[[], int],
    ) -> None:
        self._log_lag = log_lag
        self._catchup_readers = catchup_readers
        self._position_writes = position_writes

    def describe(self) -> Iterator[Metric]:
        """The families (without samples), for the registry's name check."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        """Current values."""
        lag, readers, writes = self._families()
        lag.add_metric([], self._log_lag())
        readers.add_metric([], self._catchup_readers())
        writes.add_metric([], self._position_writes())
        return iter((lag, readers, writes))

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, CounterMetricFamily]:
        return (
            GaugeMetricFamily(
                "eventnotify_dispatcher_log_lag_seconds",
                "How long the oldest outcome not yet written to the delivery log has "
                "waited (0 when the log is up to date).",
            ),
            GaugeMetricFamily(
                "eventnotify_dispatcher_catchup_readers",
                "Catch-up readers running: detached webhooks being read from their own "
                "positions (at most EVENTNOTIFY_CATCHUP_READERS).",
            ),
            CounterMetricFamily(
                "eventnotify_dispatcher_position_writes",
                "Webhook positions written to MongoDB by this process (detaches, "
                "catch-up progress, merges back; flat while every webhook keeps up).",
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
