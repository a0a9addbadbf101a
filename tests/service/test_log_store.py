"""The delivery-log collection on the real MongoDB wire server: its indexes and
its TTL expiry."""

from __future__ import annotations

import uuid
from datetime import timedelta

from eventnotify.domain import DeliveryStatus, LogEntry
from eventnotify.store import Store
from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.timefmt import utcnow
from tests.support.waiting import wait_until


def _entry(minutes_ago: int) -> LogEntry:
    return LogEntry(
        event_id=str(uuid.uuid4()),
        source_event_id="s",
        org_id=1,
        web_hook_id="w",
        consumer_group_id="g",
        event_name="badgeEarned",
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
    await store.logs.write_many([kept])  # default 30 days
    assert await store.logs.get(1, old.event_id) is not None

    async def expired() -> bool:
        return await store.logs.get(1, old.event_id) is None

    await wait_until(expired, within=30)
    assert await store.logs.get(1, kept.event_id) is not None
