"""Handling one Kafka record: decode and check it once, match it to the
subscribed webhooks, and hand it to each one's delivery pipeline.

Nothing here reads Kafka or commits: the shared intake (live webhooks) and the
catch-up readers (detached ones) call ``handle`` with the record and a
``RecordDone`` that completes once every outcome for it is durably recorded.
Any failure while handling a record, of any type, dead-letters it for its
subscribers with the reason and moves on: a record can never stop a reader.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from dispatcher.catalog_cache import CatalogCache
from dispatcher.offsets import OffsetTracker, PartitionWatermark
from dispatcher.pipeline import Deliverer, Job
from dispatcher.positions import Positions
from dispatcher.recorder import Awaiting, Recorder
from dispatcher.runtime import WebhookRuntime
from eventnotify.catalog.schemas import validate_data
from eventnotify.delivery import outcome
from eventnotify.delivery.entries import new_entry
from eventnotify.delivery.request import BodyTemplate, body_template, dead_letter_event_id
from eventnotify.domain import CircuitState, DeliveryStatus, LogEntry
from eventnotify.envelope import SourceEvent, decode, peek_org_id, topic_for
from eventnotify.logging import consumer_group_id_var, event_id_var, request_id_var
from eventnotify.settings import DispatcherSettings
from eventnotify.timefmt import from_epoch_ms, utcnow

log = logging.getLogger(__name__)


class RecordDone:
    """Counts the outcomes a record still waits for; calls ``done`` at zero.

    The handler holds one count itself while it works, so a failure half-way
    through can never complete a record early or leave it open forever.

    A record of the shared stream also lists each live webhook's ``Share`` of
    it, so the intake can move a slow webhook's share to that webhook's own
    stored position (``Share.move``) instead of holding the group's commit."""

    __slots__ = ("_done", "_pending", "shares")

    def __init__(self, done: Callable[[], None], *, shared: bool = False) -> None:
        self._pending = 1
        self._done = done
        self.shares: list[Share] | None = [] if shared else None

    def hold(self) -> None:
        self._pending += 1

    def release(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._done()


class Share(Awaiting):
    """One live webhook's outcome for one record of the shared stream: it
    completes the record's count, unless moved to the webhook's own pending
    outcomes first (then it completes that instead). Called once the outcome
    is durably recorded.

    ``decided`` lets the intake tell a webhook that is slow (its delivery
    is still under way: worth moving) from one whose outcome only waits for
    the delivery log, like every other webhook's outcome queued with it:
    moving those would only write a position per webhook while MongoDB is
    already behind, and the record completes as soon as the log catches up."""

    __slots__ = ("_offset", "_own", "_record", "decided", "hook_id", "rt")

    def __init__(self, rt: WebhookRuntime, record: RecordDone) -> None:
        self.rt = rt
        self.hook_id = rt.hook.web_hook_id
        self.decided = False
        self._record: RecordDone | None = record
        self._own: PartitionWatermark | None = None
        self._offset = -1

    def queued(self) -> None:
        self.decided = True

    def __call__(self) -> None:
        self.rt.backlog -= 1
        self.finish()

    def finish(self) -> None:
        """The outcome is durably recorded."""
        if self._own is not None:
            self._own.done(self._offset)
            self._own = None
        elif self._record is not None:
            record, self._record = self._record, None
            record.release()

    def move(self, own: OffsetTracker, tp: TopicPartition, offset: int) -> bool:
        """Count this outcome in ``own`` (the webhook's pending outcomes,
        which bound its stored position) instead of in the record. False if
        the outcome is already recorded."""
        if self._record is None:
            return False
        self._own, self._offset = own.add(tp, offset), offset
        record, self._record = self._record, None
        record.release()
        return True


@dataclass(frozen=True)
class _Checked:
    event: SourceEvent | None
    reason: str  # non-empty: dead-letter
    violation: str = ""


class Fanout:
    """Decodes, checks and fans a record out to its webhooks' pipelines."""

    def __init__(
        self,
        catalog: CatalogCache,
        deliverer: Deliverer,
        recorder: Recorder,
        positions: Positions,
        topic_prefix: str,
        settings: DispatcherSettings,
        subscribers: Callable[[int, str], Sequence[WebhookRuntime]],
        of_name: Callable[[str], Sequence[WebhookRuntime]],
    ) -> None:
        self._catalog = catalog
        self._deliverer = deliverer
        self._recorder = recorder
        self._positions = positions
        self._prefix = topic_prefix
        self._settings = settings
        self._subscribers = subscribers
        self._of_name = of_name
        self.tasks: set[asyncio.Task[None]] = set()

    # -- the one entry point ---------------------------------------------------

    def handle(
        self, tp: TopicPartition, msg: Any, done: RecordDone, only: WebhookRuntime | None = None
    ) -> None:
        """Hand one record to every live subscriber (or to ``only``, a
        catching-up webhook). Never raises.

        Work per record is paid once, whatever the fan-out: decode, then the
        webhooks that take the record now, and only if any does, the checks
        (catalog, schema, data limits) and the body's encoding. A record every
        subscriber skips (each is detached and served by its catch-up reader,
        which checks the record itself) is not even decoded when that is
        exact (``_admitted_undecoded``)."""
        name = tp.topic.removeprefix(self._prefix)
        targets: Sequence[WebhookRuntime] = ()
        try:
            known = self._admitted_undecoded(tp, name, msg) if only is None else None
            if known is not None:
                if not known:
                    return  # every webhook of its name skips it: no need to decode
                targets = known
            event, undecodable = self._decode(msg)
            if known is None:
                targets = self._targets(tp, name, msg, event, only)
            if not targets:
                return
            checked = _Checked(None, undecodable) if event is None else self._check(tp, name, event)
            position = _position(tp, msg)
            if checked.reason:
                for rt in targets:
                    self._dead_letter(rt, tp, msg, event, checked.reason, done, position)
                return
            assert event is not None  # a record that passed its checks was decoded
            template = body_template(event)
            for rt in targets:
                self._deliver(rt, msg, event, checked.violation, done, position, template)
        except Exception as exc:  # a hostile record must not stop the reader
            reason = f"record could not be handled ({type(exc).__name__}: {_short(exc)})"
            log.exception("record %s/%s/%s: %s", tp.topic, tp.partition, msg.offset, reason)
            for rt in targets or (self._safe_of_name(name) if only is None else [only]):
                try:
                    self._dead_letter(rt, tp, msg, None, reason, done, _position(tp, msg))
                except Exception:
                    log.exception("dead letter failed; the record is skipped")
        finally:
            done.release()

    # -- steps ---------------------------------------------------------------

    def _admitted_undecoded(
        self, tp: TopicPartition, name: str, msg: Any
    ) -> list[WebhookRuntime] | None:
        """The live webhooks that take the record, found before decoding it,
        or None when that cannot be told exactly without decoding.

        When every webhook of the record's event name is in the org its
        protobuf envelope names (read without converting ``data``), the
        record goes to those of them admitted now, whether it decodes or not
        (an undecodable record is dead-lettered to every webhook of its name).
        When none is admitted, the record is skipped undecoded: a detached
        webhook's records are all read again by its catch-up reader, so a
        backlog is decoded once, not twice."""
        org_id = peek_org_id(msg.value, msg.headers)
        if org_id is None:
            return None
        subscribers = self._subscribers(org_id, name)
        if len(subscribers) != len(self._of_name(name)):
            return None  # other orgs' webhooks too: only a decode tells who gets it
        return [rt for rt in subscribers if self._admit(rt, tp, msg)]

    def _targets(
        self,
        tp: TopicPartition,
        name: str,
        msg: Any,
        event: SourceEvent | None,
        only: WebhookRuntime | None,
    ) -> list[WebhookRuntime]:
        """The webhooks that take a decoded (or undecodable: None) record now."""
        if only is not None:
            if only.retired or msg.timestamp < only.since_ms:
                return []
            if event is None:
                return [only]
            # A catching-up webhook gets only its own org's events.
            mine = any(rt is only for rt in self._subscribers(event.org_id, name))
            return [only] if mine else []
        candidates = self._of_name(name) if event is None else self._subscribers(event.org_id, name)
        return [rt for rt in candidates if self._admit(rt, tp, msg)]

    @staticmethod
    def _decode(msg: Any) -> tuple[SourceEvent | None, str]:
        """The record's event, or None and why it is undecodable."""
        try:
            return decode(msg.value, msg.headers, msg.timestamp), ""
        except RecursionError:
            return None, "undecodable record: nested too deeply"
        except Exception as exc:  # EnvelopeError, or anything a hostile record provokes
            return None, _short(exc)

    def _check(self, tp: TopicPartition, name: str, event: SourceEvent) -> _Checked:
        # ``data`` itself needs no check here: the decoder already refused
        # anything JSON cannot carry (NaN, Infinity, nesting deeper than
        # MAX_DATA_DEPTH) and any record over MAX_EVENT_BYTES (eventnotify.limits).
        if tp.topic != topic_for(self._prefix, event.event_name):
            return _Checked(
                event, f"eventName {event.event_name!r} does not belong on topic {tp.topic!r}"
            )
        et = self._catalog.lookup(event.org_id, name)
        if et is None:
            return _Checked(event, f"unknown event name {event.event_name!r}")
        if not et.active:
            return _Checked(event, f"event {name!r} is not active for org {event.org_id}")
        if et.schema is None:
            return _Checked(event, "")
        violations = validate_data(et.schema, event.data)
        if not violations:
            return _Checked(event, "")
        first = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
        if self._settings.schema_mode == "flag":
            return _Checked(event, "", first)
        return _Checked(event, f"schema-invalid: {first}")

    def _admit(self, rt: WebhookRuntime, tp: TopicPartition, msg: Any) -> bool:
        """Whether a live webhook takes this record now; detaches it when it
        cannot keep up (backlog full) or its endpoint is failing (circuit)."""
        if rt.retired or msg.timestamp < rt.since_ms:
            return False
        if self._positions.get(tp, rt.hook.web_hook_id) is not None:
            return False  # detached here: its catch-up reader serves it
        rt.circuit.poll(time.monotonic())
        state = rt.circuit.state
        if (
            state is CircuitState.OPEN
            or rt.backlog >= self._settings.max_backlog_per_webhook
            or (state is CircuitState.HALF_OPEN and rt.backlog > 0)
        ):
            self._positions.detach(tp, rt.hook.web_hook_id, msg.offset, rt.since_ms)
            log.info(
                "detached at %s/%s/%s (%s)",
                tp.topic,
                tp.partition,
                msg.offset,
                "circuit " + state.value if state is not CircuitState.CLOSED else "backlog full",
                extra=_extra(rt),
            )
            return False
        return True

    def _deliver(
        self,
        rt: WebhookRuntime,
        msg: Any,
        event: SourceEvent,
        violation: str,
        done: RecordDone,
        position: str,
        template: BodyTemplate,
    ) -> None:
        entry = new_entry(rt.hook, event, position, msg.timestamp)
        entry.schema_violation = violation
        job = Job(event=event, entry=entry, seq=msg.offset, body=template)
        on_recorded = self._recorded(rt, done)
        rt.backlog += 1
        done.hold()
        if rt.hook.ordered_delivery:
            place = rt.sequencer.reserve(event.ref_id)
            self._spawn(self._run_ordered(rt, job, place, on_recorded))
            return
        rt.queued.append((job, on_recorded))
        self._more_workers(rt)

    def _more_workers(self, rt: WebhookRuntime) -> None:
        if rt.queued and rt.workers < rt.cap:
            rt.workers += 1
            self._spawn(self._work(rt))

    async def _work(self, rt: WebhookRuntime) -> None:
        """Deliver ``rt``'s queued jobs in the order they were handed over
        until none is left. At most ``cap`` of these take jobs per webhook: a
        job waiting its turn costs a queue entry, not a task of its own parked
        on a connection slot (the slots still enforce the cap exactly). A
        worker whose delivery waits to retry in place steps aside: it finishes
        that delivery only, and another worker takes the queue meanwhile, as
        the waiting delivery holds no connection slot."""
        stepped_aside = False

        def step_aside() -> None:
            nonlocal stepped_aside
            if not stepped_aside:
                stepped_aside = True
                rt.workers -= 1
                self._more_workers(rt)

        try:
            while rt.queued and not stepped_aside:
                job, on_recorded = rt.queued.popleft()
                _log_context(rt, job)
                try:
                    await self._deliverer.deliver(
                        rt, job, on_recorded=on_recorded, on_wait=step_aside
                    )
                except Exception:
                    # The record stays open, so it is redelivered after a restart.
                    log.exception("delivery failed", extra=_extra(rt))
        finally:
            if not stepped_aside:
                rt.workers -= 1

    async def _run_ordered(
        self, rt: WebhookRuntime, job: Job, place: Any, on_recorded: Callable[[], None]
    ) -> None:
        _log_context(rt, job)
        async with rt.sequencer.turn(job.event.ref_id, place):
            if job.event.ref_id in rt.parked_keys:
                # An earlier event of this refId is parked: queue behind it.
                self._deliverer.park_behind(rt, job, on_recorded)
            else:
                await self._deliverer.deliver(rt, job, on_recorded=on_recorded)

    def _dead_letter(
        self,
        rt: WebhookRuntime,
        tp: TopicPartition,
        msg: Any,
        event: SourceEvent | None,
        reason: str,
        done: RecordDone,
        position: str,
    ) -> None:
        hook = rt.hook
        if event is not None:
            entry = new_entry(hook, event, position, msg.timestamp)
        else:
            key = msg.key.decode("utf-8", "replace") if isinstance(msg.key, bytes) else ""
            entry = LogEntry(
                event_id=dead_letter_event_id(position, hook.web_hook_id),
                source_event_id="",
                org_id=hook.org_id,
                web_hook_id=hook.web_hook_id,
                consumer_group_id=hook.consumer_group_id,
                event_name=tp.topic.removeprefix(self._prefix),
                ref_id=key[:256],
                request_id="",
                status=DeliveryStatus.PENDING,
                ingested_at=from_epoch_ms(msg.timestamp),
                kafka_position=position,
            )
        outcome.apply(entry, outcome.dead_lettered(reason, utcnow()))
        extra = _extra(rt) | {"event_id": entry.event_id}
        if entry.request_id:
            extra["request_id"] = entry.request_id
        log.warning("dead-lettered %s: %s", position, reason, extra=extra)
        if rt.metrics is not None:
            rt.metrics.finished(DeliveryStatus.DEAD_LETTERED, None, False)
        rt.backlog += 1
        done.hold()
        self._recorder.submit(entry, on_durable=self._recorded(rt, done))

    def _recorded(self, rt: WebhookRuntime, done: RecordDone) -> Callable[[], None]:
        if done.shares is None:

            def recorded() -> None:
                rt.backlog -= 1
                done.release()

            return recorded
        share = Share(rt, done)
        done.shares.append(share)
        return share

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The record stays open, so it is redelivered after a restart.
            log.error("delivery task failed", exc_info=task.exception())

    def _safe_of_name(self, name: str) -> Sequence[WebhookRuntime]:
        try:
            return self._of_name(name)
        except Exception:
            return ()


def _position(tp: TopicPartition, msg: Any) -> str:
    return f"{tp.topic}/{tp.partition}/{msg.offset}"


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


def _extra(rt: WebhookRuntime) -> dict[str, str]:
    return {"web_hook_id": rt.hook.web_hook_id, "consumer_group_id": rt.hook.consumer_group_id}


def _log_context(rt: WebhookRuntime, job: Job) -> None:
    # Runs inside the delivery's own task, whose context is a copy: no reset needed.
    consumer_group_id_var.set(rt.hook.consumer_group_id)
    event_id_var.set(job.entry.event_id)
    request_id_var.set(job.event.request_id or None)
