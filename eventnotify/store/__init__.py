"""MongoDB persistence: one repository per collection, opened together.

``open_store`` is called by each process's composition root; repositories
return domain objects and raise ``eventnotify.errors`` types, never pymongo ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from eventnotify.settings import MongoSettings
from eventnotify.store.api_keys import ApiKeyRepository
from eventnotify.store.event_types import EventTypeRepository
from eventnotify.store.logs import DeliveryLogRepository
from eventnotify.store.orders import ControlOrderRepository
from eventnotify.store.parked import ParkedDeliveryRepository
from eventnotify.store.positions import PositionRepository
from eventnotify.store.webhooks import WebhookRepository

Document = dict[str, Any]


@dataclass
class Store:
    """Every repository over one database."""

    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    webhooks: WebhookRepository
    event_types: EventTypeRepository
    logs: DeliveryLogRepository
    api_keys: ApiKeyRepository
    parked: ParkedDeliveryRepository
    orders: ControlOrderRepository
    positions: PositionRepository

    async def ensure_indexes(self) -> None:
        """Create every index the queries need (idempotent)."""
        for repo in (
            self.webhooks,
            self.event_types,
            self.logs,
            self.api_keys,
            self.parked,
            self.orders,
            self.positions,
        ):
            await repo.ensure_indexes()

    async def ping(self) -> bool:
        """Whether MongoDB answers right now."""
        try:
            await self.db.command("ping")
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.client.close()


def make_client(settings: MongoSettings) -> AsyncMongoClient[Document]:
    """A client with timeouts from settings (it connects lazily)."""
    return AsyncMongoClient(
        settings.uri,
        tz_aware=True,
        serverSelectionTimeoutMS=settings.timeout_ms,
        connectTimeoutMS=settings.timeout_ms,
        socketTimeoutMS=max(settings.timeout_ms * 6, 30000),
    )


def write_concern(settings: MongoSettings) -> WriteConcern:
    """The write concern of every eventnotify write (settings' ``w`` and ``j``)."""
    w: int | str = settings.write_concern_w
    if isinstance(w, str) and w.isdigit():
        w = int(w)
    return WriteConcern(w=w, j=settings.journal)


def open_store(settings: MongoSettings, client: AsyncMongoClient[Document] | None = None) -> Store:
    """Build the repositories over ``settings.database`` (no I/O yet)."""
    client = client or make_client(settings)
    # One write concern for every write: delivery log entries and parked
    # deliveries gate offset commits, management writes are acknowledged to
    # callers; none may be lost by a crash after it was acknowledged.
    db = client.get_database(settings.database, write_concern=write_concern(settings))
    return Store(
        client=client,
        db=db,
        webhooks=WebhookRepository(db),
        event_types=EventTypeRepository(db),
        logs=DeliveryLogRepository(db, ttl_days=settings.log_ttl_days),
        api_keys=ApiKeyRepository(db),
        parked=ParkedDeliveryRepository(db),
        orders=ControlOrderRepository(db),
        positions=PositionRepository(db),
    )
