"""The ``api_keys`` collection. Only a SHA-256 of each secret is stored."""

from __future__ import annotations

import hashlib
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from eventnotify.domain import ApiKey, Role
from eventnotify.store.errors import storage_errors

Document = dict[str, Any]
COLLECTION = "api_keys"


def hash_secret(secret: str) -> str:
    """The stored form of a key secret. Secrets are 256-bit random, so a fast
    hash suffices (no password stretching needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def to_doc(k: ApiKey) -> Document:
    return {
        "_id": k.key_id,
        "org_id": k.org_id,
        "role": int(k.role),
        "secret_hash": k.secret_hash,
        "description": k.description,
        "created_on": k.created_on,
        "revoked": k.revoked,
    }


def from_doc(d: Document) -> ApiKey:
    return ApiKey(
        key_id=d["_id"],
        org_id=int(d["org_id"]),
        role=Role(int(d["role"])),
        secret_hash=d["secret_hash"],
        description=d.get("description", ""),
        created_on=d["created_on"],
        revoked=bool(d.get("revoked", False)),
    )


class ApiKeyRepository:
    """Named queries over API keys."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._coll = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        with storage_errors():
            await self._coll.create_indexes(
                [
                    IndexModel([("secret_hash", ASCENDING)], unique=True),
                    IndexModel([("org_id", ASCENDING)]),
                ]
            )

    async def insert(self, key: ApiKey) -> None:
        with storage_errors():
            await self._coll.insert_one(to_doc(key))

    async def find_by_secret(self, secret: str) -> ApiKey | None:
        with storage_errors():
            doc = await self._coll.find_one({"secret_hash": hash_secret(secret)})
        return from_doc(doc) if doc else None

    async def list_for_org(self, org_id: int) -> list[ApiKey]:
        with storage_errors():
            return [
                from_doc(d)
                async for d in self._coll.find({"org_id": org_id}).sort("created_on", ASCENDING)
            ]

    async def revoke(self, org_id: int, key_id: str) -> ApiKey | None:
        with storage_errors():
            await self._coll.update_one(
                {"_id": key_id, "org_id": org_id}, {"$set": {"revoked": True}}
            )
            doc = await self._coll.find_one({"_id": key_id, "org_id": org_id})
        return from_doc(doc) if doc else None
