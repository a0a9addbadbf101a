"""The ``delivery_logs`` collection: one document per (event, webhook).

The dispatcher writes entries in batches (``upsert_many``); the service reads
them. ``_id`` is the delivered eventId, so a redelivery of the same pair
updates the same document. Entries expire through a TTL index on ``expire_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from eventnotify.domain import DeliveryAttempt, DeliveryStatus, LogEntry
from eventnotify.store.errors import storage_errors

Document = dict[str, Any]
COLLECTION = "delivery_logs"
MAX_ATTEMPTS_KEPT = 50
DUPLICATE_KEY = 11000


def attempt_doc(a: DeliveryAttempt) -> Document:
    return {
        "time": a.time,
        "http_status": a.http_status,
        "duration_ms": a.duration_ms,
        "error": a.error,
        "response_body": a.response_body,
        "response_truncated": a.response_truncated,
    }


def to_doc(e: LogEntry, ttl: timedelta) -> Document:
    """Domain -> document. ``expire_at`` counts the TTL from the entry's last
    change, or from the event's ingestion if that is later: counted from
    ingestion alone (the event's ``createdAt``), the entry of an old event
    delivered today (a rewind, a producer's own timestamp) was born expired,
    and the TTL sweep removed what had just happened to it."""
    return {
        "_id": e.event_id,
        "source_event_id": e.source_event_id,
        "org_id": e.org_id,
        "web_hook_id": e.web_hook_id,
        "consumer_group_id": e.consumer_group_id,
        "event_name": e.event_name,
        "ref_id": e.ref_id,
        "request_id": e.request_id,
        "status": e.status.value,
        "ingested_at": e.ingested_at,
        "started_at": e.started_at,
        "ended_at": e.ended_at,
        "sla_breach_at": e.sla_breach_at,
        "sla_deadline": e.sla_deadline,
        "last_http_status": e.last_http_status,
        "last_duration_ms": e.last_duration_ms,
        "attempts": [attempt_doc(a) for a in e.attempts[-MAX_ATTEMPTS_KEPT:]],
        "failure_reason": e.failure_reason,
        "next_attempt_at": e.next_attempt_at,
        "schema_violation": e.schema_violation,
        "kafka_position": e.kafka_position,
        "test": e.test,
        "source_event": e.source_event,
        "updated_at": e.updated_at,
        "expire_at": max(e.ingested_at, e.updated_at or e.ingested_at) + ttl,
    }


def from_doc(d: Document) -> LogEntry:
    """Document -> domain."""
    return LogEntry(
        event_id=d["_id"],
        source_event_id=d.get("source_event_id", ""),
        org_id=int(d.get("org_id", 0)),
        web_hook_id=d.get("web_hook_id", ""),
        consumer_group_id=d.get("consumer_group_id", ""),
        event_name=d.get("event_name", ""),
        ref_id=d.get("ref_id", ""),
        request_id=d.get("request_id", ""),
        status=DeliveryStatus(d.get("status", "PENDING")),
        ingested_at=d["ingested_at"],
        started_at=d.get("started_at"),
        ended_at=d.get("ended_at"),
        sla_breach_at=d.get("sla_breach_at"),
        sla_deadline=d.get("sla_deadline"),
        last_http_status=d.get("last_http_status"),
        last_duration_ms=d.get("last_duration_ms"),
        attempts=[
            DeliveryAttempt(
                time=a["time"],
                http_status=int(a.get("http_status", 0)),
                duration_ms=int(a.get("duration_ms", 0)),
                error=a.get("error", ""),
                response_body=a.get("response_body", ""),
                response_truncated=bool(a.get("response_truncated", False)),
            )
            for a in d.get("attempts", [])
        ],
        failure_reason=d.get("failure_reason", ""),
        next_attempt_at=d.get("next_attempt_at"),
        schema_violation=d.get("schema_violation", ""),
        kafka_position=d.get("kafka_position", ""),
        test=bool(d.get("test", False)),
        source_event=d.get("source_event"),
        updated_at=d.get("updated_at"),
    )


@dataclass(frozen=True)
class LogFilter:
    """Filters of a consumer group's log; empty values mean "any"."""

    consumer_group_id: str
    event_name: str = ""
    status: DeliveryStatus | None = None
    request_id: str = ""
    ref_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    # Leave out SendTestEvent deliveries (RecoverFailed never re-sends them).
    exclude_test: bool = False


class LogSort:
    """Sort keys of a consumer group's log (field, direction)."""

    TIME_DESC = ("ingested_at", DESCENDING)
    TIME_ASC = ("ingested_at", ASCENDING)
    DURATION_DESC = ("last_duration_ms", DESCENDING)
    DURATION_ASC = ("last_duration_ms", ASCENDING)


@dataclass(frozen=True)
class GroupMetrics:
    """Counts of one consumer group over a window."""

    total: int
    delivered: int
    failed: int
    retrying: int
    pending: int
    dead_lettered: int
    sla_breaches: int
    average_delivery_ms: float


def _after_clause(key: str, direction: int, value: Any, last_id: str) -> Document:
    """Rows strictly after (value, last_id) in (key, _id) order.

    Null keys (no attempt yet, for the duration sorts) sort before every
    number, and comparison operators never match across types, so a null
    position and the nulls still ahead of a number position are spelt out.
    """
    op = "$lt" if direction == DESCENDING else "$gt"
    same = {key: value, "_id": {op: last_id}}
    if value is None:
        # Ascending: every non-null row is still ahead; descending: nothing but nulls.
        return {"$or": [same, {key: {"$ne": None}}]} if direction == ASCENDING else same
    ahead: list[Document] = [same, {key: {op: value}}]
    if direction == DESCENDING:
        ahead.append({key: None})
    return {"$or": ahead}


class DeliveryLogRepository:
    """Named queries over the delivery log. Reads for API callers are org-scoped."""

    def __init__(self, db: AsyncDatabase[Document], ttl_days: int = 30) -> None:
        self._coll = db[COLLECTION]
        self.ttl = timedelta(days=ttl_days)

    async def ensure_indexes(self) -> None:
        with storage_errors():
            await self._coll.create_indexes(
                [
                    IndexModel([("org_id", ASCENDING), ("request_id", ASCENDING)]),
                    IndexModel([("org_id", ASCENDING), ("ref_id", ASCENDING)]),
                    # The producer's eventId leads to every delivery of the event.
                    IndexModel([("org_id", ASCENDING), ("source_event_id", ASCENDING)]),
                    # Consumer-group log pages and metrics windows.
                    IndexModel([("consumer_group_id", ASCENDING), ("ingested_at", ASCENDING)]),
                    IndexModel([("consumer_group_id", ASCENDING), ("last_duration_ms", ASCENDING)]),
                    IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
                ]
            )

    async def upsert_many(self, entries: list[LogEntry]) -> None:
        """Write entries in one round trip. Each sets its (event, webhook)
        record's state and adds its attempts to those already recorded: a
        redelivery after a crash starts a fresh entry in memory, and must not
        erase the attempts made before the crash (re-written attempts are equal
        documents, so they are not added twice)."""
        if not entries:
            return
        ops = [self._upsert(e) for e in entries]
        with storage_errors():
            await self._coll.bulk_write(ops, ordered=False)

    def _upsert(self, entry: LogEntry) -> UpdateOne:
        doc = to_doc(entry, self.ttl)
        del doc["_id"]
        attempts = doc.pop("attempts")
        return UpdateOne(
            {"_id": entry.event_id},
            {"$set": doc, "$addToSet": {"attempts": {"$each": attempts}}},
            upsert=True,
        )

    async def write_many(self, entries: list[LogEntry]) -> None:
        """Record entries: one insert_many for the (usual) new ones, then an
        upsert for those that already had a record (retries, redeliveries)."""
        if not entries:
            return
        try:
            with storage_errors():
                await self._coll.insert_many([to_doc(e, self.ttl) for e in entries], ordered=False)
            return
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != DUPLICATE_KEY for err in errors):
                raise
            existing = [entries[err["index"]] for err in errors]
        await self.upsert_many(existing)

    async def get(self, org_id: int, event_id: str) -> LogEntry | None:
        with storage_errors():
            doc = await self._coll.find_one({"_id": event_id, "org_id": org_id})
        return from_doc(doc) if doc else None

    async def get_any(self, event_id: str) -> LogEntry | None:
        """An entry whatever its org (dispatcher use only)."""
        with storage_errors():
            doc = await self._coll.find_one({"_id": event_id})
        return from_doc(doc) if doc else None

    async def list_by_request_id(
        self, org_id: int, request_id: str, limit: int = 1000
    ) -> list[LogEntry]:
        return await self._list({"org_id": org_id, "request_id": request_id}, limit)

    async def list_by_ref_id(self, org_id: int, ref_id: str, limit: int = 1000) -> list[LogEntry]:
        return await self._list({"org_id": org_id, "ref_id": ref_id}, limit)

    async def list_by_source_event_id(
        self, org_id: int, source_event_id: str, limit: int = 1000
    ) -> list[LogEntry]:
        """Every delivery of one published event (one per webhook)."""
        return await self._list({"org_id": org_id, "source_event_id": source_event_id}, limit)

    async def end_pending(self, event_ids: list[str], reason: str, now: datetime) -> int:
        """End these deliveries as FAILED with ``reason`` if they are still
        PENDING or RETRYING (a finished outcome is never overwritten)."""
        if not event_ids:
            return 0
        with storage_errors():
            result = await self._coll.update_many(
                {"_id": {"$in": event_ids}, "status": {"$in": ["PENDING", "RETRYING"]}},
                {
                    "$set": {
                        "status": DeliveryStatus.FAILED.value,
                        "failure_reason": reason,
                        "ended_at": now,
                        "next_attempt_at": None,
                        "updated_at": now,
                    }
                },
            )
        return int(result.modified_count)

    async def _list(self, query: Document, limit: int) -> list[LogEntry]:
        with storage_errors():
            cursor = self._coll.find(query).sort([("ingested_at", ASCENDING), ("_id", ASCENDING)])
            return [from_doc(d) async for d in cursor.limit(limit)]

    @staticmethod
    def _filter_query(org_id: int, f: LogFilter) -> Document:
        query: Document = {"org_id": org_id, "consumer_group_id": f.consumer_group_id}
        if f.event_name:
            query["event_name"] = f.event_name
        if f.status is not None:
            query["status"] = f.status.value
        if f.request_id:
            query["request_id"] = f.request_id
        if f.ref_id:
            query["ref_id"] = f.ref_id
        if f.exclude_test:
            query["test"] = {"$ne": True}
        window: Document = {}
        if f.start is not None:
            window["$gte"] = f.start
        if f.end is not None:
            window["$lt"] = f.end
        if window:
            query["ingested_at"] = window
        return query

    async def list_for_group(
        self,
        org_id: int,
        f: LogFilter,
        sort: tuple[str, int],
        *,
        after: tuple[Any, str] | None,
        limit: int,
    ) -> list[LogEntry]:
        """A page of a group's log in ``sort`` order, keyset-paginated on
        (sort key, _id) so concurrent inserts cause no gaps or duplicates."""
        query = self._filter_query(org_id, f)
        key, direction = sort
        if after is not None:
            query = {"$and": [query, _after_clause(key, direction, *after)]}
        with storage_errors():
            cursor = self._coll.find(query).sort([(key, direction), ("_id", direction)])
            return [from_doc(d) async for d in cursor.limit(limit)]

    async def group_has_entries(self, org_id: int, consumer_group_id: str) -> bool:
        """Whether the org has any kept entry of the consumer group."""
        with storage_errors():
            doc = await self._coll.find_one(
                {"consumer_group_id": consumer_group_id, "org_id": org_id}, {"_id": 1}
            )
        return doc is not None

    async def metrics(
        self, org_id: int, consumer_group_id: str, start: datetime, end: datetime
    ) -> GroupMetrics:
        """Counts by status, SLA breaches and mean delivery time in a window."""
        match = {
            "org_id": org_id,
            "consumer_group_id": consumer_group_id,
            "ingested_at": {"$gte": start, "$lt": end},
        }
        counts: dict[str, int] = {}
        breaches = 0
        total_ms = 0.0
        delivered_timed = 0
        projection = {"status": 1, "sla_breach_at": 1, "ingested_at": 1, "ended_at": 1}
        with storage_errors():
            async for d in self._coll.find(match, projection):
                status = d.get("status", "PENDING")
                counts[status] = counts.get(status, 0) + 1
                if d.get("sla_breach_at") is not None:
                    breaches += 1
                if status == "DELIVERED" and d.get("ended_at") is not None:
                    total_ms += (d["ended_at"] - d["ingested_at"]).total_seconds() * 1000
                    delivered_timed += 1
        return GroupMetrics(
            total=sum(counts.values()),
            delivered=counts.get("DELIVERED", 0),
            failed=counts.get("FAILED", 0),
            retrying=counts.get("RETRYING", 0),
            pending=counts.get("PENDING", 0),
            dead_lettered=counts.get("DEAD_LETTERED", 0),
            sla_breaches=breaches,
            average_delivery_ms=total_ms / delivered_timed if delivered_timed else 0.0,
        )

    async def mark_sla_breaches(self, deadlines: dict[str, datetime]) -> int:
        """Stamp ``slaBreachTimestamp`` = deadline on these entries if they are
        still unfinished and unstamped. The sweeper finds overdue deliveries
        through the small parked-deliveries collection rather than scanning
        the whole log."""
        if not deadlines:
            return 0
        ops = [
            UpdateOne(
                {
                    "_id": event_id,
                    "sla_breach_at": None,
                    "status": {"$in": ["PENDING", "RETRYING"]},
                },
                {"$set": {"sla_breach_at": deadline}},
            )
            for event_id, deadline in deadlines.items()
        ]
        with storage_errors():
            result = await self._coll.bulk_write(ops, ordered=False)
        return int(result.modified_count)
