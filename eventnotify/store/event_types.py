"""The ``event_types`` collection: per-org activation of standard events and
the org's custom events. Standard events themselves live in code
(``eventnotify.catalog.standard``); a document exists only where an org differs.

Schemas are stored as JSON text: JSON Schema keys such as ``$schema`` and
``$ref`` are not safe MongoDB field names.
"""

from __future__ import annotations

import json
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from eventnotify.domain import EventType
from eventnotify.store.errors import storage_errors
from eventnotify.text import brief

Document = dict[str, Any]
COLLECTION = "event_types"


def _doc_id(org_id: int, name: str) -> str:
    return f"{org_id}:{name}"


def to_doc(org_id: int, et: EventType) -> Document:
    return {
        "_id": _doc_id(org_id, et.name),
        "org_id": org_id,
        "name": et.name,
        "active": et.active,
        "standard": et.standard,
        "description": et.description,
        "category": et.category,
        "schema_json": json.dumps(et.schema, allow_nan=False)
        if et.schema is not None and not et.standard
        else None,
    }


def from_doc(d: Document) -> EventType:
    raw = d.get("schema_json")
    return EventType(
        name=d["name"],
        active=bool(d.get("active", True)),
        standard=bool(d.get("standard", False)),
        description=d.get("description", ""),
        category=d.get("category", ""),
        schema=json.loads(raw) if raw else None,
    )


class EventTypeRepository:
    """An org's overrides and custom events."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._coll = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        with storage_errors():
            await self._coll.create_indexes(
                [IndexModel([("org_id", ASCENDING), ("name", ASCENDING)])]
            )

    async def list_for_org(self, org_id: int) -> list[EventType]:
        """The org's documents (overrides of standard events, and custom events)."""
        with storage_errors():
            return [from_doc(d) async for d in self._coll.find({"org_id": org_id})]

    async def get(self, org_id: int, name: str) -> EventType | None:
        with storage_errors():
            doc = await self._coll.find_one({"_id": _doc_id(org_id, name)})
        return from_doc(doc) if doc else None

    async def insert(self, org_id: int, et: EventType) -> None:
        """Create a custom event; AlreadyExists when the org has one by that name."""
        with storage_errors(f"event type {brief(et.name)} already exists"):
            await self._coll.insert_one(to_doc(org_id, et))

    async def save(self, org_id: int, et: EventType) -> None:
        """Create or replace the org's document for this event."""
        with storage_errors():
            await self._coll.replace_one(
                {"_id": _doc_id(org_id, et.name)}, to_doc(org_id, et), upsert=True
            )

    async def list_all(self) -> list[tuple[int, EventType]]:
        """Every org's documents (the dispatcher's view)."""
        with storage_errors():
            return [(int(d["org_id"]), from_doc(d)) async for d in self._coll.find({})]
