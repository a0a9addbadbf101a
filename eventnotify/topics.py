"""Creating missing event topics.

A real cluster may have topic auto-creation off, and a broker restart can lose
topics (the local stand-in keeps them in memory): whoever writes or reads an
event topic makes sure it exists first, and again after a failure that could
mean it vanished. ``ensure_topics`` is the one way to do that (the service's
producer and the dispatcher's supervisor both use it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    request_timeout_ms: int = 10000,
) -> list[str]:
    """Create whichever of ``topics`` does not exist; returns the names created.

    Idempotent and safe against concurrent creators (a topic someone else just
    created counts as existing). Raises ``KafkaError`` when the cluster cannot
    be reached or refuses to create a topic."""
    wanted = sorted(set(topics))
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=request_timeout_ms
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(
                [NewTopic(t, partitions, replication_factor) for t in missing]
            )
        except TopicAlreadyExistsError:
            pass
        log.info("created missing event topics", extra={"topics": missing})
        return missing
    finally:
        await admin.close()


class TopicGuard:
    """Remembers which topics were seen to exist, for ``recheck_every``
    seconds, so a producer pays for an admin round trip on a topic's first
    use, after a failed send, and at most once per period otherwise. (A broker
    that lost a topic may still accept sends to it without error, so failures
    alone do not reveal the loss.)"""

    def __init__(
        self,
        bootstrap_servers: str,
        partitions: int,
        *,
        recheck_every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._partitions = partitions
        self._every = recheck_every
        self._clock = clock
        self._known: set[str] = set()
        self._checked_at = clock()

    async def ensure(self, topics: Iterable[str]) -> list[str]:
        """Make sure every topic exists; returns those created (``KafkaError``
        when that fails)."""
        if self._clock() - self._checked_at >= self._every:
            self._known.clear()
            self._checked_at = self._clock()
        new = set(topics) - self._known
        if not new:
            return []
        created = await ensure_topics(self._bootstrap, new, partitions=self._partitions)
        self._known |= new
        return created

    def forget(self, topics: Iterable[str]) -> None:
        """Check these again next time (a send to them failed)."""
        self._known -= set(topics)


__all__ = ["KafkaError", "TopicGuard", "ensure_topics"]
