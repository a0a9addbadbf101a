"""The ``control_orders`` collection: work the service asks of the dispatchers.

A rewind of a consumer group must be carried out by the processes that own its
partitions, so the service records an order and every dispatcher process
applies it to the partitions it holds, marking the order as applied by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from eventnotify.store.errors import storage_errors

Document = dict[str, Any]
COLLECTION = "control_orders"
ORDER_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class RewindOrder:
    """Deliver again every event of a webhook with a Kafka timestamp >= since."""

    order_id: str
    web_hook_id: str
    since: datetime
    created_at: datetime


class ControlOrderRepository:
    """Record and pick up control orders."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._coll = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        with storage_errors():
            await self._coll.create_indexes(
                [
                    IndexModel([("web_hook_id", ASCENDING), ("created_at", ASCENDING)]),
                    # Orders matter only to the dispatchers running when they are given.
                    IndexModel([("created_at", ASCENDING)], expireAfterSeconds=86400),
                ]
            )

    async def add_rewind(self, web_hook_id: str, since: datetime, now: datetime) -> str:
        doc = {
            "_id": ObjectId(),
            "kind": "rewind",
            "web_hook_id": web_hook_id,
            "since": since,
            "created_at": now,
            "applied_by": [],
        }
        with storage_errors():
            await self._coll.insert_one(doc)
        return str(doc["_id"])

    async def pending_rewinds(
        self, owner: str, web_hook_ids: list[str] | None, now: datetime
    ) -> list[RewindOrder]:
        """Recent rewind orders of these webhooks (None: of any) not yet
        applied by ``owner``."""
        query: Document = {
            "kind": "rewind",
            "applied_by": {"$ne": owner},
            "created_at": {"$gte": now - ORDER_LIFETIME},
        }
        if web_hook_ids is not None:
            query["web_hook_id"] = {"$in": web_hook_ids}
        with storage_errors():
            return [
                RewindOrder(str(d["_id"]), d["web_hook_id"], d["since"], d["created_at"])
                async for d in self._coll.find(query)
            ]

    async def mark_applied(self, order_id: str, owner: str) -> None:
        with storage_errors():
            await self._coll.update_one(
                {"_id": ObjectId(order_id)}, {"$addToSet": {"applied_by": owner}}
            )

    async def applied_by(self, order_id: str) -> list[str]:
        with storage_errors():
            doc = await self._coll.find_one({"_id": ObjectId(order_id)})
        return list(doc.get("applied_by", [])) if doc else []
