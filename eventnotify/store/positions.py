"""The ``webhook_positions`` collection: where a detached webhook stands.

A webhook served from the dispatcher's shared Kafka stream has no position of
its own. When it falls behind (backlog full, circuit open), is created while
the stream is past its first events, or is rewound, it *detaches*: its next
offset per partition is stored here, and a catch-up reader brings it back to
the shared stream. A document exists only while the webhook is detached on
that partition, or its catch-up outcomes are not all recorded yet, or as a
"live" marker (offset -1) once it merged back; so the collection grows with
webhooks that ever fell behind, not with events.

One more document per partition, with an empty ``web_hook_id``: the
partition's *known-through* mark (``offset`` holds a time in epoch ms). The
process that commits the shared group's offset of a partition knew every
webhook created or reactivated up to that time, so a webhook newer than the
mark may have had events passed over by the committed offset: the next owner
serves it from its creation time instead of from the group's offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DeleteOne, IndexModel, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from eventnotify.store.errors import storage_errors

Document = dict[str, Any]


@dataclass(frozen=True)
class WebhookPosition:
    """The next offset of ``topic``/``partition`` the webhook has not been handed."""

    group_id: str
    web_hook_id: str
    topic: str
    partition: int
    offset: int

    @property
    def key(self) -> str:
        return f"{self.group_id}|{self.web_hook_id}|{self.topic}|{self.partition}"


MARK = ""  # web_hook_id of a partition's known-through mark


def position_key(group_id: str, web_hook_id: str, topic: str, partition: int) -> str:
    return f"{group_id}|{web_hook_id}|{topic}|{partition}"


class PositionRepository:
    """Detached webhooks' positions, per dispatcher group and partition."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._coll = db["webhook_positions"]

    async def ensure_indexes(self) -> None:
        with storage_errors():
            await self._coll.create_indexes(
                [
                    IndexModel(
                        [("group_id", ASCENDING), ("topic", ASCENDING), ("partition", ASCENDING)]
                    )
                ]
            )

    async def load(self, group_id: str, partitions: list[tuple[str, int]]) -> list[WebhookPosition]:
        """Every stored position of these partitions."""
        if not partitions:
            return []
        query = {
            "group_id": group_id,
            "$or": [{"topic": t, "partition": p} for t, p in partitions],
        }
        with storage_errors():
            return [
                WebhookPosition(
                    d["group_id"],
                    d["web_hook_id"],
                    d["topic"],
                    int(d["partition"]),
                    int(d["offset"]),
                )
                async for d in self._coll.find(query)
            ]

    async def apply(self, upserts: list[WebhookPosition], removals: list[str]) -> None:
        """Store and remove positions in one round trip."""
        ops: list[Any] = [
            ReplaceOne(
                {"_id": p.key},
                {
                    "_id": p.key,
                    "group_id": p.group_id,
                    "web_hook_id": p.web_hook_id,
                    "topic": p.topic,
                    "partition": p.partition,
                    "offset": p.offset,
                },
                upsert=True,
            )
            for p in upserts
        ]
        ops += [DeleteOne({"_id": key}) for key in removals]
        if not ops:
            return
        with storage_errors():
            await self._coll.bulk_write(ops, ordered=True)

    async def remove_webhook(self, web_hook_id: str) -> None:
        """Forget a deleted or deactivated webhook's positions."""
        with storage_errors():
            await self._coll.delete_many({"web_hook_id": web_hook_id})
