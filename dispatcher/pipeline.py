"""Delivering one event to one webhook, top to bottom.

    attempt (cap slot -> build and sign -> send) -> classify -> decide
        -> retry in place | park for later | finish (delivered / failed)
        -> record durably

``Deliverer.deliver`` returns once the outcome is decided. Without
``on_recorded`` it also waits until the outcome is durable; with it, the
outcome is queued for recording and the callback (which marks the Kafka offset
done) runs once it is durable.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.recorder import Recorder
from dispatcher.retry_policy import (
    Outcome,
    classify_status,
    next_delay,
    parse_retry_after,
    should_retry,
)
from dispatcher.runtime import WebhookRuntime
from eventnotify.delivery import outcome
from eventnotify.delivery.http_sender import AttemptResult, HttpSender
from eventnotify.delivery.queue_sender import QueueSender
from eventnotify.delivery.request import BodyTemplate, body_template, build_request
from eventnotify.domain import (
    CircuitState,
    DeliveryAttempt,
    DeliveryStatus,
    LogEntry,
    WebhookType,
)
from eventnotify.envelope import SourceEvent
from eventnotify.settings import DispatcherSettings
from eventnotify.store.parked import ParkedDelivery
from eventnotify.store.webhooks import WebhookRepository
from eventnotify.timefmt import utcnow

log = logging.getLogger(__name__)

_ATTEMPT = {
    Outcome.SUCCESS: outcome.Attempt.SUCCESS,
    Outcome.RETRIABLE: outcome.Attempt.RETRIABLE,
    Outcome.PERMANENT: outcome.Attempt.PERMANENT,
    Outcome.GONE: outcome.Attempt.GONE,
}


class _Held(enum.Enum):
    """An attempt not made: the circuit opened (or its one probe is out)
    while the job waited for a connection slot."""

    CIRCUIT = "circuit open"


# A held job is parked at least this long: the probe in flight decides first.
_HELD_MIN_SECONDS = 0.5


@dataclass
class Job:
    """One (event, webhook) delivery in progress."""

    event: SourceEvent
    entry: LogEntry
    attempts_made: int = 0
    first_attempt_at: datetime | None = None
    seq: int = 0
    from_parked: bool = False
    # The event's body, encoded once per record and shared by its webhooks'
    # jobs (None: encoded at the first attempt).
    body: BodyTemplate | None = None


@dataclass(frozen=True)
class Decision:
    """What to do after an attempt."""

    status: DeliveryStatus
    wait: float = 0.0  # > 0: retry in place after this many seconds
    due_at: datetime | None = None  # set: park until then
    reason: str = ""
    deactivate: bool = False
    # "deleted" / "inactive": the webhook went away before the attempt.
    retired: str = ""


class Deliverer:
    """Runs the delivery pipeline for any webhook runtime."""

    def __init__(
        self,
        http: HttpSender,
        queue: QueueSender | None,
        recorder: Recorder,
        webhooks: WebhookRepository,
        settings: DispatcherSettings,
        rng: random.Random | None = None,
    ) -> None:
        self._http = http
        self._queue = queue
        self._recorder = recorder
        self._webhooks = webhooks
        self._settings = settings
        self._rng = rng or random.Random()

    async def deliver(
        self,
        rt: WebhookRuntime,
        job: Job,
        *,
        in_place: bool = True,
        on_recorded: Callable[[], None] | None = None,
        on_wait: Callable[[], None] | None = None,
    ) -> DeliveryStatus:
        """Attempt until an outcome and record it; return the outcome.

        With ``on_recorded`` it returns as soon as the outcome is queued for
        recording and the callback runs once it is durable (the consume loop's
        fast path); without, it returns only once the outcome is durable.
        ``on_wait`` runs before each in-place retry wait (no slot is held
        while waiting, so the caller may start other work meanwhile)."""
        in_place_left = self._settings.in_place_attempts if in_place else 1
        while True:
            if rt.retired:
                decision = Decision(DeliveryStatus.FAILED, reason=rt.retired, retired=rt.retired)
                break
            result = await self._attempt(rt, job)
            if result is None:  # retired while waiting for a connection slot
                decision = Decision(DeliveryStatus.FAILED, reason=rt.retired, retired=rt.retired)
                break
            if result is _Held.CIRCUIT:
                # Not sent: parked until the circuit lets a probe through.
                decision = Decision(
                    DeliveryStatus.RETRYING, due_at=_circuit_due(rt), reason="circuit open"
                )
                break
            in_place_left -= 1
            decision = self._decide(rt, job, result, in_place_left)
            if decision.wait > 0:
                if on_wait is not None:
                    on_wait()
                await asyncio.sleep(decision.wait)
                continue
            break
        if decision.deactivate:
            await self._deactivate(rt, decision.reason)
        await self._record(rt, job, decision, on_recorded)
        return decision.status

    async def _attempt(self, rt: WebhookRuntime, job: Job) -> AttemptResult | _Held | None:
        hook = rt.hook
        async with rt.slots:
            if rt.retired:
                return None
            # Jobs handed over before the circuit opened may be waiting here:
            # while it is open nothing is sent, and half-open lets one probe out.
            rt.circuit.poll(time.monotonic())
            state = rt.circuit.state
            if state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and rt.in_flight > 0):
                return _Held.CIRCUIT
            rt.in_flight += 1
            try:
                now = utcnow()
                if job.entry.started_at is None:
                    job.entry.started_at = now
                if job.first_attempt_at is None:
                    job.first_attempt_at = now
                if job.body is None:
                    job.body = body_template(job.event)
                req = build_request(
                    hook,
                    job.event,
                    job.entry.event_id,
                    hook.signing_secrets(now),
                    int(time.time()),
                    job.body,
                )
                if hook.type is WebhookType.QUEUE and self._queue is not None:
                    result = await self._queue.send(req, job.event.ref_id)
                else:
                    result = await self._http.send(req)
            finally:
                rt.in_flight -= 1
        job.attempts_made += 1
        job.entry.attempts.append(
            DeliveryAttempt(
                time=now,
                http_status=result.http_status,
                duration_ms=result.duration_ms,
                error=result.error,
                response_body=result.body,
                response_truncated=result.truncated,
            )
        )
        job.entry.last_http_status = result.http_status
        job.entry.last_duration_ms = result.duration_ms
        if rt.metrics is not None:
            rt.metrics.attempted(result.http_status, result.error, result.duration_ms / 1000)
        return result

    def _decide(
        self, rt: WebhookRuntime, job: Job, result: AttemptResult, in_place_left: int
    ) -> Decision:
        """Classify the attempt, let ``outcome.after_attempt`` decide, then act
        on its circuit signal (the only state changed here)."""
        if result.http_status == 0 and result.error:
            kind = Outcome.RETRIABLE if result.retriable_error else Outcome.PERMANENT
        elif result.http_status == 0:
            kind = Outcome.SUCCESS  # produced to a QUEUE webhook's topic
        else:
            kind = classify_status(result.http_status)
        attempt = _ATTEMPT[kind]
        now = utcnow()
        retry_allowed, delay = False, 0.0
        allows_after = rt.circuit.allows_traffic
        if attempt is outcome.Attempt.RETRIABLE:
            first = job.first_attempt_at or now
            retry_allowed = should_retry(rt.policy, job.attempts_made, first, now)
            if retry_allowed:
                delay = next_delay(
                    rt.policy,
                    job.attempts_made,
                    retry_after=parse_retry_after(result.retry_after, now),
                    rng=self._rng,
                )
            allows_after = rt.circuit.would_allow_after_failure()
        nxt = outcome.after_attempt(
            attempt,
            result.error or f"HTTP {result.http_status}",
            retry_allowed=retry_allowed,
            delay=delay,
            in_place_left=in_place_left,
            in_place_max_delay=self._settings.in_place_max_delay_seconds,
            circuit_allows_after_failure=allows_after,
            now=now,
        )
        if nxt.signal is outcome.Signal.SUCCESS:
            rt.circuit_changed(rt.circuit.on_success())
        elif nxt.signal is outcome.Signal.FAILURE:
            rt.circuit_changed(rt.circuit.on_failure(time.monotonic()))
        return Decision(nxt.status, nxt.wait, nxt.due_at, nxt.reason, nxt.deactivate)

    async def _record(
        self,
        rt: WebhookRuntime,
        job: Job,
        d: Decision,
        on_recorded: Callable[[], None] | None,
    ) -> None:
        entry = job.entry
        now = utcnow()
        park: ParkedDelivery | None = None
        if d.status is DeliveryStatus.RETRYING:
            due = d.due_at or now
            outcome.apply(
                entry, outcome.parked(due, entry.ingested_at, rt.hook.sla_in_seconds, now)
            )
            park = _parked(rt, job, due, "retry")
        elif d.retired:
            outcome.apply(entry, outcome.webhook_retired(d.retired == "deleted", now))
            entry.source_event = job.event.to_doc()
        else:
            o = outcome.finished(d.status, d.reason, entry.ingested_at, rt.hook.sla_in_seconds, now)
            outcome.apply(entry, o)
            if o.keep_source_event:
                entry.source_event = job.event.to_doc()
        unpark = entry.event_id if job.from_parked and park is None else None
        if on_recorded is None:
            await self._recorder.record(entry, park=park, unpark=unpark)
        else:
            self._recorder.submit(entry, park, unpark, on_durable=on_recorded)
        if park is not None:
            rt.parked_keys.add(entry.ref_id)
        if rt.metrics is not None:
            delivered = d.status is DeliveryStatus.DELIVERED
            rt.metrics.finished(
                d.status,
                (now - entry.ingested_at).total_seconds() if delivered else None,
                park is None and entry.sla_breach_at is not None,
            )
        _log_outcome(job, d)

    def park_behind(self, rt: WebhookRuntime, job: Job, on_recorded: Callable[[], None]) -> None:
        """Ordered mode: an earlier event of this refId is parked, so this one
        is parked too, due now; the scheduler sends each refId's line in order."""
        now = utcnow()
        outcome.apply(job.entry, outcome.queued_behind(now))
        park = _parked(rt, job, now, "ordered: behind an earlier event of this refId")
        self._recorder.submit(job.entry, park, on_durable=on_recorded)

    async def _deactivate(self, rt: WebhookRuntime, reason: str) -> None:
        log.warning(
            "webhook deactivated: %s",
            reason,
            extra={
                "web_hook_id": rt.hook.web_hook_id,
                "consumer_group_id": rt.hook.consumer_group_id,
            },
        )
        rt.hook.active = False
        try:
            await self._webhooks.deactivate(rt.hook.web_hook_id, reason, utcnow())
        except Exception as exc:  # the outcome is still recorded; the supervisor retries
            log.warning("could not store deactivation: %s", exc)


def _log_outcome(job: Job, d: Decision) -> None:
    # eventId, consumerGroupId and request id come from the logging context
    # the consumer (or the scheduler) set for this delivery's task.
    if d.status is DeliveryStatus.FAILED:
        log.info("delivery failed: %s", d.reason, extra={"attempts": job.attempts_made})
    elif d.status is DeliveryStatus.RETRYING:
        log.info(
            "delivery parked until %s: %s",
            d.due_at.isoformat() if d.due_at else "now",
            d.reason,
            extra={"attempts": job.attempts_made},
        )
    elif log.isEnabledFor(logging.DEBUG):
        log.debug("delivered", extra={"attempts": job.attempts_made})


def _parked(rt: WebhookRuntime, job: Job, due_at: datetime, reason: str) -> ParkedDelivery:
    return ParkedDelivery(
        event_id=job.entry.event_id,
        web_hook_id=rt.hook.web_hook_id,
        org_id=job.entry.org_id,
        ref_id=job.entry.ref_id,
        due_at=due_at,
        seq=job.seq,
        attempts_made=job.attempts_made,
        first_attempt_at=job.first_attempt_at,
        event=job.event.to_doc(),
        kafka_position=job.entry.kafka_position,
        reason=reason,
        sla_deadline=job.entry.sla_deadline,
    )


def _circuit_due(rt: WebhookRuntime) -> datetime:
    """When a held job is due again: once the circuit's cool-down is over."""
    c = rt.circuit
    left = c.opened_at + c.cooldown - time.monotonic() if c.state is CircuitState.OPEN else 0.0
    return utcnow() + timedelta(seconds=max(left, _HELD_MIN_SECONDS))
