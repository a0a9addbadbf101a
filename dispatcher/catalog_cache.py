"""The dispatcher's view of every org's event catalogue, refreshed periodically.

Standard events come from code; org overrides (deactivations) and custom events
from MongoDB. Lookups are dictionary reads, so checking each event is cheap.
"""

from __future__ import annotations

from typing import Any

from eventnotify.catalog.standard import STANDARD_EVENTS
from eventnotify.domain import EventType
from eventnotify.store.event_types import EventTypeRepository


class CatalogCache:
    """Answers "is this event known and active for this org, and its schema"."""

    def __init__(self, repo: EventTypeRepository) -> None:
        self._repo = repo
        self._org_types: dict[tuple[int, str], EventType] = {}

    async def refresh(self) -> None:
        """Reload the orgs' overrides and custom events."""
        self._org_types = {(org, et.name): et for org, et in await self._repo.list_all()}

    def lookup(self, org_id: int, name: str) -> EventType | None:
        """The event as the org sees it, or None when unknown to the org."""
        override = self._org_types.get((org_id, name))
        standard = STANDARD_EVENTS.get(name)
        if override is None:
            return standard
        if override.standard and standard is not None:
            # An override of a standard event changes only its active flag.
            return EventType(
                name=name,
                active=override.active,
                standard=True,
                description=standard.description,
                category=standard.category,
                schema=standard.schema,
            )
        return override

    def schema(self, org_id: int, name: str) -> dict[str, Any] | None:
        et = self.lookup(org_id, name)
        return et.schema if et is not None else None
