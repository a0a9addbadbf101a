"""The ``parked_deliveries`` collection: deliveries waiting for a retry.

A delivery that still fails after its quick in-place attempts is parked here,
durably, with the event it carries (or, for a replay of an old delivery, the
Kafka position to fetch it from). The dispatcher's scheduler claims due
deliveries with a lease, so several dispatcher processes never send the same
one at once, and a crashed owner's lease simply runs out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReplaceOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from eventnotify.store.errors import storage_errors

Document = dict[str, Any]
COLLECTION = "parked_deliveries"


@dataclass
class ParkedDelivery:
    """One delivery waiting for its next attempt."""

    event_id: str
    web_hook_id: str
    org_id: int
    ref_id: str
    due_at: datetime
    # Orders deliveries of one refId for ordered webhooks (the Kafka offset).
    seq: int = 0
    attempts_made: int = 0
    first_attempt_at: datetime | None = None
    # SourceEvent.to_doc(), or None when it must be fetched from kafka_position.
    event: dict[str, Any] | None = None
    kafka_position: str = ""
    reason: str = "retry"
    # The delivery's SLA deadline: lets the sweeper find overdue deliveries here.
    sla_deadline: datetime | None = None
    lease_owner: str = ""
    lease_until: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def to_doc(p: ParkedDelivery) -> Document:
    return {
        "_id": p.event_id,
        "web_hook_id": p.web_hook_id,
        "org_id": p.org_id,
        "ref_id": p.ref_id,
        "due_at": p.due_at,
        "seq": p.seq,
        "attempts_made": p.attempts_made,
        "first_attempt_at": p.first_attempt_at,
        "event": p.event,
        "kafka_position": p.kafka_position,
        "reason": p.reason,
        "sla_deadline": p.sla_deadline,
        "sla_swept": False,
        "lease_owner": p.lease_owner,
        "lease_until": p.lease_until,
    }


def from_doc(d: Document) -> ParkedDelivery:
    return ParkedDelivery(
        event_id=d["_id"],
        web_hook_id=d["web_hook_id"],
        org_id=int(d["org_id"]),
        ref_id=d.get("ref_id", ""),
        due_at=d["due_at"],
        seq=int(d.get("seq", 0)),
        attempts_made=int(d.get("attempts_made", 0)),
        first_attempt_at=d.get("first_attempt_at"),
        event=d.get("event"),
        kafka_position=d.get("kafka_position", ""),
        reason=d.get("reason", "retry"),
        sla_deadline=d.get("sla_deadline"),
        lease_owner=d.get("lease_owner", ""),
        lease_until=d.get("lease_until"),
    )


class ParkedDeliveryRepository:
    """Park, claim, and release deliveries."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._coll = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        with storage_errors():
            await self._coll.create_indexes(
                [
                    IndexModel([("due_at", ASCENDING)]),
                    IndexModel([("sla_deadline", ASCENDING)]),
                    # Ordered webhooks: the head of a refId's line is its lowest seq.
                    IndexModel(
                        [("web_hook_id", ASCENDING), ("ref_id", ASCENDING), ("seq", ASCENDING)]
                    ),
                ]
            )

    async def park_many(self, parked: list[ParkedDelivery]) -> None:
        """Write (or overwrite) parked deliveries in one round trip."""
        if not parked:
            return
        ops = [ReplaceOne({"_id": p.event_id}, to_doc(p), upsert=True) for p in parked]
        with storage_errors():
            await self._coll.bulk_write(ops, ordered=False)

    async def claim_due(
        self, now: datetime, owner: str, lease: timedelta, excluding: list[str]
    ) -> ParkedDelivery | None:
        """Lease one due delivery of any webhook but ``excluding``, or None.

        An exclusion list, not an inclusion list: the webhooks that must wait
        (circuit open, deactivated) are few, so the query stays small however
        many webhooks there are."""
        query: Document = {
            "due_at": {"$lte": now},
            "web_hook_id": {"$nin": excluding},
            "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}],
        }
        with storage_errors():
            doc = await self._coll.find_one_and_update(
                query,
                {"$set": {"lease_owner": owner, "lease_until": now + lease}},
                sort=[("due_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
        return from_doc(doc) if doc else None

    async def webhook_ids(self) -> set[str]:
        """The webhooks that have parked deliveries (usually few)."""
        with storage_errors():
            return {str(i) for i in await self._coll.distinct("web_hook_id")}

    async def of_webhooks(self, web_hook_ids: list[str], limit: int) -> list[ParkedDelivery]:
        """Parked deliveries of the given webhooks."""
        with storage_errors():
            cursor = self._coll.find({"web_hook_id": {"$in": web_hook_ids}}).limit(limit)
            return [from_doc(d) async for d in cursor]

    async def has_earlier(self, p: ParkedDelivery) -> bool:
        """Whether a delivery of the same webhook and refId is ahead of ``p``."""
        with storage_errors():
            doc = await self._coll.find_one(
                {"web_hook_id": p.web_hook_id, "ref_id": p.ref_id, "seq": {"$lt": p.seq}},
                {"_id": 1},
            )
        return doc is not None

    async def release(self, event_id: str, due_at: datetime) -> None:
        """Give a claimed delivery back, due at ``due_at``."""
        with storage_errors():
            await self._coll.update_one(
                {"_id": event_id},
                {"$set": {"due_at": due_at, "lease_owner": "", "lease_until": None}},
            )

    async def overdue(self, now: datetime, limit: int = 1000) -> dict[str, datetime]:
        """Parked deliveries past their SLA deadline not yet swept: id -> deadline."""
        query = {"sla_deadline": {"$lte": now}, "sla_swept": False}
        with storage_errors():
            cursor = self._coll.find(query, {"sla_deadline": 1}).limit(limit)
            return {d["_id"]: d["sla_deadline"] async for d in cursor}

    async def mark_swept(self, event_ids: list[str]) -> None:
        with storage_errors():
            await self._coll.update_many({"_id": {"$in": event_ids}}, {"$set": {"sla_swept": True}})

    async def remove(self, event_id: str) -> None:
        with storage_errors():
            await self._coll.delete_one({"_id": event_id})

    async def remove_many(self, event_ids: list[str]) -> None:
        with storage_errors():
            await self._coll.delete_many({"_id": {"$in": event_ids}})

    async def ids_for(self, web_hook_id: str) -> list[str]:
        """eventIds of every delivery parked for a webhook."""
        with storage_errors():
            cursor = self._coll.find({"web_hook_id": web_hook_id}, {"_id": 1})
            return [str(d["_id"]) async for d in cursor]

    async def keys_for(self, web_hook_id: str) -> set[str]:
        """refIds with a parked delivery for a webhook (ordered mode's blockers)."""
        with storage_errors():
            cursor = self._coll.find({"web_hook_id": web_hook_id}, {"ref_id": 1})
            return {d.get("ref_id", "") async for d in cursor}

    async def count_for(self, web_hook_id: str, ref_id: str | None = None) -> int:
        query: Document = {"web_hook_id": web_hook_id}
        if ref_id is not None:
            query["ref_id"] = ref_id
        with storage_errors():
            return int(await self._coll.count_documents(query))

    async def count_by_webhook(self) -> dict[str, int]:
        """Parked deliveries per webhook (webhooks with none are absent)."""
        pipeline: list[Document] = [{"$group": {"_id": "$web_hook_id", "n": {"$sum": 1}}}]
        with storage_errors():
            cursor = await self._coll.aggregate(pipeline)
            return {str(d["_id"]): int(d["n"]) async for d in cursor}

    async def count_all(self) -> int:
        with storage_errors():
            return int(await self._coll.count_documents({}))
