"""The delivery-log collection on the real MongoDB wire server: its indexes and
its TTL expiry."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from eventnotify.domain import DeliveryAttempt, DeliveryStatus, LogEntry
from eventnotify.store import Store
from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.timefmt import utcnow
from tests.support.entries import log_entry
from tests.support.waiting import wait_until


def _entry(minutes_ago: int) -> LogEntry:
    return log_entry(
        event_id=str(uuid.uuid4()),
        ref_id="1_1",
        request_id="r",
        status=DeliveryStatus.DELIVERED,
        ingested_at=utcnow() - timedelta(minutes=minutes_ago),
    )


async def test_every_lookup_path_has_an_index(store: Store) -> None:
    info = await store.db["delivery_logs"].index_information()
    keys = {tuple(k for k, _ in spec["key"]) for spec in info.values()}
    assert ("org_id", "request_id") in keys
    assert ("org_id", "ref_id") in keys
    assert ("consumer_group_id", "ingested_at") in keys
    assert ("consumer_group_id", "last_duration_ms") in keys
    ttl = [spec for spec in info.values() if "expireAfterSeconds" in spec]
    assert [tuple(k for k, _ in spec["key"]) for spec in ttl] == [("expire_at",)]
    hooks = await store.db["webhooks"].index_information()
    unique = {tuple(k for k, _ in s["key"]) for s in hooks.values() if s.get("unique")}
    assert ("org_id", "name") in unique and ("consumer_group_id",) in unique


async def test_entries_expire_after_the_ttl(store: Store) -> None:
    # A repository whose TTL is 0 days writes entries that are already due.
    expiring = DeliveryLogRepository(store.db, ttl_days=0)
    old = _entry(minutes_ago=5)
    await expiring.write_many([old])
    kept = _entry(minutes_ago=5)
    # An event created long ago (its createdAt is its ingestion time),
    # delivered now: kept 30 days from now, not born expired.
    delivered_now = _entry(minutes_ago=400 * 24 * 60)
    delivered_now.updated_at = utcnow()
    await store.logs.write_many([kept, delivered_now])  # default 30 days
    assert await store.logs.get(1, old.event_id) is not None

    async def expired() -> bool:
        return await store.logs.get(1, old.event_id) is None

    await wait_until(expired, within=30)
    assert await store.logs.get(1, kept.event_id) is not None
    assert await store.logs.get(1, delivered_now.event_id) is not None


async def test_a_redelivery_adds_its_attempts_to_the_recorded_history(store: Store) -> None:
    # After a crash the dispatcher redelivers from a fresh in-memory entry; the
    # attempts recorded before the crash must survive its write.
    first = _entry(5)
    t0 = utcnow().replace(microsecond=0) - timedelta(minutes=4)
    first.status = DeliveryStatus.RETRYING
    first.attempts = [
        DeliveryAttempt(t0, 503, 10),
        DeliveryAttempt(t0 + timedelta(seconds=2), 503, 11),
    ]
    await store.logs.upsert_many([first])
    await store.logs.upsert_many([first])  # the same outcome written twice adds nothing
    again = dataclasses.replace(
        first,
        status=DeliveryStatus.DELIVERED,
        attempts=[DeliveryAttempt(t0 + timedelta(minutes=1), 200, 9)],
    )
    await store.logs.upsert_many([again])
    stored = await store.logs.get_any(first.event_id)
    assert stored is not None and stored.status is DeliveryStatus.DELIVERED
    assert [a.http_status for a in stored.attempts] == [503, 503, 200]
