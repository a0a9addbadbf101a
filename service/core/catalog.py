"""The org's event catalogue: standard events (in code) merged with the org's
overrides and custom events (in MongoDB)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from eventnotify.catalog.schemas import check_schema
from eventnotify.catalog.standard import STANDARD_EVENTS
from eventnotify.domain import Caller, EventType
from eventnotify.errors import NotFound
from eventnotify.store.event_types import EventTypeRepository
from eventnotify.text import brief
from service.core.names import closest
from service.core.validation import Violation, raise_if_any

MAX_SCHEMA_BYTES = 64 * 1024
MAX_DESCRIPTION = 1024
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


async def list_event_types(
    repo: EventTypeRepository, org_id: int, *, active_only: bool = False
) -> list[EventType]:
    """Standard events (with the org's activation) then custom ones, each by name."""
    docs = {et.name: et for et in await repo.list_for_org(org_id)}
    standard = []
    for name in sorted(STANDARD_EVENTS):
        base = STANDARD_EVENTS[name]
        override = docs.get(name)
        active = override.active if override is not None and override.standard else base.active
        standard.append(replace(base, active=active))
    custom = sorted((et for et in docs.values() if not et.standard), key=lambda e: e.name)
    events = standard + custom
    return [e for e in events if e.active] if active_only else events


async def event_catalog(repo: EventTypeRepository, org_id: int) -> dict[str, bool]:
    """Event name -> active flag, for the org (what webhook validation needs)."""
    return {e.name: e.active for e in await list_event_types(repo, org_id)}


async def get_event_type(repo: EventTypeRepository, org_id: int, name: str) -> EventType:
    """One event with its schema; NOT_FOUND when the org has no such event."""
    base = STANDARD_EVENTS.get(name)
    doc = await repo.get(org_id, name)
    if base is not None:
        active = doc.active if doc is not None and doc.standard else base.active
        return replace(base, active=active)
    if doc is None or doc.standard:
        known = [*STANDARD_EVENTS, *(et.name for et in await repo.list_for_org(org_id))]
        guess = closest(name, known)
        hint = f" (did you mean {guess!r}?)" if guess else ""
        raise NotFound(f"event {brief(name)} does not exist{hint}", reason="EVENT_TYPE_NOT_FOUND")
    return doc


def _schema_violations(schema: object, path: str) -> list[Violation]:
    if schema is None:
        return [Violation(path, "a JSON Schema is required", "SCHEMA_REQUIRED")]
    if len(json.dumps(schema, separators=(",", ":"), allow_nan=False)) > MAX_SCHEMA_BYTES:
        return [Violation(path, f"at most {MAX_SCHEMA_BYTES} bytes", "SCHEMA_TOO_LARGE")]
    return [Violation(path, problem, "SCHEMA_INVALID") for problem in check_schema(schema)]


async def create_event_type(repo: EventTypeRepository, caller: Caller, et: EventType) -> EventType:
    """Define a custom event for the org."""
    v: list[Violation] = []
    if not _NAME.match(et.name):
        v.append(
            Violation(
                "event_type.event_name",
                "1..64 of [A-Za-z0-9_.-] starting with a letter",
                "EVENT_NAME_INVALID",
            )
        )
    elif et.name in STANDARD_EVENTS:
        v.append(
            Violation("event_type.event_name", "is a standard event name", "EVENT_NAME_RESERVED")
        )
    if len(et.description) > MAX_DESCRIPTION:
        v.append(
            Violation("event_type.description", f"at most {MAX_DESCRIPTION} characters", "TOO_LONG")
        )
    v += _schema_violations(et.schema, "event_type.schema")
    raise_if_any(v, "invalid event type")
    custom = EventType(
        name=et.name,
        active=et.active,
        standard=False,
        description=et.description,
        category=et.category or "custom",
        schema=et.schema,
    )
    await repo.insert(caller.org_id, custom)
    return custom


@dataclass
class EventTypeChanges:
    """Changes to an event; ``None`` means unchanged."""

    active: bool | None = None
    description: str | None = None
    schema: dict[str, object] | None = None
    schema_given: bool = False


async def update_event_type(
    repo: EventTypeRepository, caller: Caller, name: str, c: EventTypeChanges
) -> EventType:
    """Activate/deactivate any event for the org; change a custom one's
    description and schema."""
    current = await get_event_type(repo, caller.org_id, name)
    v: list[Violation] = []
    if current.standard and (c.description is not None or c.schema_given):
        v.append(
            Violation(
                "update_mask",
                "only `active` can be changed on a standard event",
                "STANDARD_EVENT_READ_ONLY",
            )
        )
    if c.schema_given:
        v += _schema_violations(c.schema, "event_type.schema")
    if c.description is not None and len(c.description) > MAX_DESCRIPTION:
        v.append(
            Violation("event_type.description", f"at most {MAX_DESCRIPTION} characters", "TOO_LONG")
        )
    raise_if_any(v, "invalid event type change")
    updated = replace(current)
    if c.active is not None:
        updated.active = c.active
    if c.description is not None:
        updated.description = c.description
    if c.schema_given:
        updated.schema = c.schema
    # A standard event's document records only the org's activation flag;
    # its schema stays in code.
    await repo.save(caller.org_id, updated)
    return updated
