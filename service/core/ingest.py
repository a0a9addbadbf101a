"""Publishing events on a producer's behalf (EventIngestService).

Every event is checked before anything is written, and every problem of every
event is reported in one INVALID_ARGUMENT, with paths such as
``event.data.amount`` (PublishEvent) or ``events[3].data.amount``
(PublishEvents). Then all events are produced, in request order.

Decisions a producer should know:

- ``org_id`` comes from the API key. An event may leave it 0 or repeat the
  key's org; any other org is refused (``ORG_ID_MISMATCH``) rather than quietly
  rewritten, since it means the producer is confused about whose event it is.
- ``ref_id`` is required: it is the Kafka key that keeps one entity's events
  in order, and the log lookup by refId depends on it. Inventing one would hide
  the producer's bug and scatter the entity's events across partitions.
- ``event_id`` (a new UUID4) and ``created_at`` (now) are filled when empty.
  Producers that may retry a call should send their own eventId, so receivers
  can drop the duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from eventnotify.catalog.schemas import validate_data
from eventnotify.domain import Caller, EventType
from eventnotify.envelope import SourceEvent, encode
from eventnotify.errors import Unavailable
from eventnotify.limits import EVENT_STRING_LIMITS, MAX_EVENT_BYTES, MAX_REF_ID
from eventnotify.producer import Position
from eventnotify.store.event_types import EventTypeRepository
from eventnotify.text import brief
from eventnotify.timefmt import to_epoch_ms, utcnow
from service.core.catalog import list_event_types
from service.core.names import unknown_event
from service.core.validation import Violation, raise_if_any

MAX_BATCH = 500


@dataclass(frozen=True)
class Published:
    """Where one published event went."""

    event_id: str
    topic: str
    partition: int
    offset: int


class EventSink(Protocol):
    """Where validated events are written (``eventnotify.producer.KafkaSink``)."""

    async def publish(self, events: Sequence[SourceEvent]) -> Sequence[Position]:
        """Write ``events`` in order; raise ``Unavailable`` when that is impossible."""
        ...


def _event_violations(
    event: SourceEvent, caller: Caller, catalog: dict[str, EventType], path: str
) -> list[Violation]:
    v: list[Violation] = []
    et = catalog.get(event.event_name)
    if not event.event_name:
        v.append(Violation(f"{path}.event_name", "is required", "EVENT_NAME_REQUIRED"))
    elif et is None:
        v.append(
            Violation(
                f"{path}.event_name",
                unknown_event(event.event_name, catalog),
                "EVENT_NAME_UNKNOWN",
            )
        )
    elif not et.active:
        v.append(
            Violation(
                f"{path}.event_name",
                f"event {brief(event.event_name)} is inactive for this org",
                "EVENT_NAME_INACTIVE",
            )
        )
    if event.org_id not in (0, caller.org_id):
        v.append(
            Violation(
                f"{path}.org_id",
                f"must be 0 or the API key's org ({caller.org_id})",
                "ORG_ID_MISMATCH",
            )
        )
    if not event.ref_id:
        v.append(
            Violation(f"{path}.ref_id", "is required (it is the Kafka key)", "REF_ID_REQUIRED")
        )
    elif len(event.ref_id) > MAX_REF_ID:
        v.append(Violation(f"{path}.ref_id", f"at most {MAX_REF_ID} characters", "REF_ID_TOO_LONG"))
    for name, limit in EVENT_STRING_LIMITS.items():
        if name != "ref_id" and len(getattr(event, name)) > limit:
            v.append(Violation(f"{path}.{name}", f"at most {limit} characters", "TOO_LONG"))
    size = len(encode(event)[0])
    if size > MAX_EVENT_BYTES:
        # Kafka would refuse it with an error that reads as retriable.
        v.append(
            Violation(
                path, f"encoded event is {size} bytes; at most {MAX_EVENT_BYTES}", "EVENT_TOO_LARGE"
            )
        )
    if event.created_at_ms < 0:
        v.append(
            Violation(f"{path}.created_at", "must be epoch milliseconds", "CREATED_AT_INVALID")
        )
    if et is not None and et.schema is not None:
        # Checked even for an inactive event, so one answer lists everything.
        v += [
            Violation(f"{path}.{fv.field}", fv.description, "DATA_SCHEMA_VIOLATION")
            for fv in validate_data(et.schema, event.data)
        ]
    return v


def _completed(event: SourceEvent, caller: Caller, now_ms: int) -> SourceEvent:
    return replace(
        event,
        org_id=caller.org_id,
        event_id=event.event_id or str(uuid.uuid4()),
        created_at_ms=event.created_at_ms or now_ms,
    )


async def publish_events(
    sink: EventSink | None,
    event_types: EventTypeRepository,
    caller: Caller,
    events: Sequence[SourceEvent],
    *,
    batch: bool,
) -> list[Published]:
    """Validate every event, then produce them all; results in request order.

    ``batch`` chooses the field paths of violations (``events[i]`` or ``event``).
    """
    if batch and not 1 <= len(events) <= MAX_BATCH:
        raise_if_any(
            [Violation("events", f"between 1 and {MAX_BATCH} events", "BATCH_SIZE_INVALID")],
            "invalid batch",
        )
    catalog = {et.name: et for et in await list_event_types(event_types, caller.org_id)}
    violations: list[Violation] = []
    for i, event in enumerate(events):
        violations += _event_violations(
            event, caller, catalog, f"events[{i}]" if batch else "event"
        )
    raise_if_any(violations, "invalid event" + ("s" if batch else ""))
    if sink is None:
        raise Unavailable("this server has no Kafka producer", reason="KAFKA_UNAVAILABLE")
    now_ms = to_epoch_ms(utcnow())
    ready = [_completed(e, caller, now_ms) for e in events]
    positions = await sink.publish(ready)
    return [
        Published(e.event_id, p.topic, p.partition, p.offset)
        for e, p in zip(ready, positions, strict=True)
    ]
