"""Which webhooks are detached from the shared stream, where, in memory, and
what of that must be written to MongoDB before the shared group commits.

A webhook is *live* on a partition unless it has an entry here. An entry's
``offset`` is the next record the webhook has not been handed (None until it is
resolved from ``since_ms`` with ``offsets_for_times``); ``durable`` is what is
stored, the lowest record whose outcome for the webhook is not recorded yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import TopicPartition

from dispatcher.offsets import OffsetTracker
from dispatcher.runtime import WebhookRuntime
from eventnotify.store.positions import MARK, PositionRepository, WebhookPosition, position_key

LIVE = -1  # stored offset of a webhook merged back into the shared stream


@dataclass
class Detached:
    """One webhook's own position on one partition."""

    offset: int | None
    since_ms: int
    generation: int = 0


class Positions:
    """Detached webhooks per partition, and the writes pending for them."""

    def __init__(self, group_id: str, repo: PositionRepository) -> None:
        self.group_id = group_id
        self._repo = repo
        self._by_tp: dict[TopicPartition, dict[str, Detached]] = {}
        self._writes: dict[str, WebhookPosition] = {}
        self._removals: set[str] = set()
        self._generation = 0
        # (partition, webhook) pairs stored as merged back: live, not new.
        self._live: set[tuple[TopicPartition, str]] = set()
        # (partition, webhook) pairs whose stored position is an offset.
        self._stored: set[tuple[TopicPartition, str]] = set()
        # Per webhook, records handed by catch-up whose outcome is pending.
        # A stored position never passes them, whoever stores it (a reader's
        # progress, or a new detach from the shared stream).
        self._pending: dict[str, OffsetTracker] = {}
        # Known-through marks (see eventnotify.store.positions): the ones
        # loaded with the partitions (the previous committer's), this
        # process's own (set after its first webhook read), and the owned
        # partitions already stamped with it.
        self._marks: dict[TopicPartition, int] = {}
        # The value last queued or stored per position key.
        self._last: dict[str, int] = {}
        self.known_through_ms: int | None = None
        self._owned: set[TopicPartition] = set()
        self._stamped: set[TopicPartition] = set()
        self._unstampable: set[TopicPartition] = set()
        # Partitions given up in a rebalance: the group offset committed then,
        # and what was stored then for each webhook live there (None: nothing).
        self._handed: dict[TopicPartition, tuple[int, dict[str, int | None]]] = {}
        # Webhook positions written so far (a metric: in steady state, with
        # every webhook keeping up, it does not move).
        self.writes_total = 0

    def get(self, tp: TopicPartition, hook_id: str) -> Detached | None:
        part = self._by_tp.get(tp)
        return part.get(hook_id) if part else None

    def detach(
        self,
        tp: TopicPartition,
        hook_id: str,
        offset: int | None,
        since_ms: int,
        *,
        force: bool = False,
    ) -> Detached:
        """Detach a webhook (no-op when it already is, unless ``force``: a rewind)."""
        part = self._by_tp.setdefault(tp, {})
        found = part.get(hook_id)
        if found is not None and not force:
            return found
        self._generation += 1
        entry = part[hook_id] = Detached(offset, since_ms, self._generation)
        if offset is not None:
            self.persist(tp, hook_id, offset)
        return entry

    def clamp(self, tp: TopicPartition, offset: int) -> None:
        """No detached webhook on ``tp`` starts past ``offset`` (the shared group's)."""
        for hook_id, d in self._by_tp.get(tp, {}).items():
            if d.offset is not None and d.offset > offset:
                d.offset = offset
                self.persist(tp, hook_id, offset)

    def resolve(self, tp: TopicPartition, hook_id: str, offset: int) -> None:
        entry = self.get(tp, hook_id)
        if entry is not None and entry.offset is None:
            entry.offset = offset
            self.persist(tp, hook_id, offset)

    def pending(self, hook_id: str) -> OffsetTracker:
        """The webhook's catch-up outcomes not yet recorded (kept across readers)."""
        return self._pending.setdefault(hook_id, OffsetTracker())

    def persist(self, tp: TopicPartition, hook_id: str, offset: int) -> None:
        """Queue the stored position of a webhook for the next flush; never
        past one of its outcomes still pending on ``tp`` (catch-up, or moved
        from the shared stream). A value already stored or queued is not
        written again."""
        pending = self._pending.get(hook_id)
        if offset != LIVE and pending is not None and pending.open_count_of(tp):
            low = pending.committable(tp)
            if low is not None:
                offset = min(offset, low)
        pos = WebhookPosition(self.group_id, hook_id, tp.topic, tp.partition, offset)
        if self._last.get(pos.key) == offset:
            return
        self._last[pos.key] = offset
        self._removals.discard(pos.key)
        self._writes[pos.key] = pos

    def attach(self, tp: TopicPartition, hook_id: str) -> None:
        """The webhook is live again on ``tp`` (its stored position stays until
        ``release``: its catch-up outcomes may not all be recorded)."""
        part = self._by_tp.get(tp)
        if part is not None:
            part.pop(hook_id, None)

    def release(self, tp: TopicPartition, hook_id: str) -> None:
        """Every outcome before the attach point is recorded: store the webhook
        as live on ``tp`` (offset -1), so a process that takes the partition
        over serves it from the shared group's position instead of treating it
        as new."""
        self._live.add((tp, hook_id))
        self.persist(tp, hook_id, LIVE)

    def settled(self, tp: TopicPartition, hook_id: str) -> bool:
        """No catch-up outcome of the webhook is pending on ``tp``."""
        pending = self._pending.get(hook_id)
        return pending is None or not pending.open_count_of(tp)

    def known_live(self, tp: TopicPartition, hook_id: str) -> bool:
        return (tp, hook_id) in self._live

    def own(self, tps: set[TopicPartition]) -> None:
        """Every webhook new on ``tps`` is detached: they may be stamped."""
        self._owned |= tps

    def mark(self, tp: TopicPartition) -> int | None:
        """The known-through time stored for ``tp`` when it was assigned
        (None: never stamped, e.g. a new deployment)."""
        return self._marks.get(tp)

    def stamp(self, subscribers: Callable[[str], Iterable[WebhookRuntime]]) -> None:
        """Queue this process's mark for owned partitions not stamped yet,
        unless a webhook there waits for its position to be resolved: the
        mark must never claim a webhook whose position is not stored.

        A partition where this process serves live a webhook newer than its
        mark (created within the clock margin before it started) is not
        stamped at all, for as long as it is owned: the next owner would take
        that webhook for new and replay it from its creation. It keeps the
        previous mark (or none, and the rule without marks applies). Storing
        such webhooks as live instead would cost a write per webhook and
        partition, 120,000 for 10,000 webhooks created just before a start."""
        mark = self.known_through_ms
        todo = self._owned - self._stamped - self._unstampable
        if mark is None or not todo:
            return  # the usual case: runs before every commit
        waiting = {tp for tp, _hook, _d in self.unresolved()}
        for tp in todo - waiting:
            if any(
                rt.since_ms > mark
                and self.get(tp, rt.hook.web_hook_id) is None
                and not self.known_live(tp, rt.hook.web_hook_id)
                for rt in subscribers(tp.topic)
            ):
                self._unstampable.add(tp)
                continue
            pos = WebhookPosition(self.group_id, MARK, tp.topic, tp.partition, mark)
            self._writes[pos.key] = pos

    def unresolved(self) -> list[tuple[TopicPartition, str, Detached]]:
        return [
            (tp, hook_id, d)
            for tp, part in self._by_tp.items()
            for hook_id, d in part.items()
            if d.offset is None
        ]

    def waiting_on(self, tp: TopicPartition) -> bool:
        """Whether some webhook on ``tp`` waits for its position (an offset
        for "from time T") to be looked up."""
        part = self._by_tp.get(tp)
        return part is not None and any(d.offset is None for d in part.values())

    def of_webhook(self, hook_id: str) -> dict[TopicPartition, Detached]:
        out: dict[TopicPartition, Detached] = {}
        for tp, part in self._by_tp.items():
            d = part.get(hook_id)
            if d is not None:
                out[tp] = d
        return out

    def detached_webhooks(self) -> dict[str, list[TopicPartition]]:
        out: dict[str, list[TopicPartition]] = {}
        for tp, part in self._by_tp.items():
            for hook_id, d in part.items():
                if d.offset is not None:
                    out.setdefault(hook_id, []).append(tp)
        return out

    def hand_back(self, tp: TopicPartition, committed: int, live: Iterable[str]) -> None:
        """``tp`` is being revoked after a commit at ``committed`` that covers
        every record handed out on it: each webhook in ``live`` has its
        outcome recorded, or still pending here and bounded by its stored
        position. Remembered for ``take_back``; call before
        ``forget_partitions``."""
        keys = {h: position_key(self.group_id, h, tp.topic, tp.partition) for h in live}
        self._handed[tp] = (committed, {h: self._last.get(k) for h, k in keys.items()})

    def take_back(self, tp: TopicPartition, start: int) -> set[str]:
        """``tp`` is assigned again, and the group reads it from ``start``.
        If that is where this process committed when it gave ``tp`` up, no
        one has moved the partition on since: the webhooks that were live
        here stay live, unless what is stored for one changed meanwhile (the
        owner in between moved it; then the stored position rules). Their
        outcomes still pending here finish here, and ``_settle`` then stores
        them as live. Without this, an eager rebalance (every new event name
        subscribed causes one) would catch up again from its creation every
        webhook created while the process runs, and from its stored position
        every webhook with a record still open. Returns the webhooks kept live.
        """
        handed = self._handed.pop(tp, None)
        if handed is None or handed[0] != start:
            return set()
        part = self._by_tp.get(tp, {})
        kept: set[str] = set()
        for hook_id, stored in handed[1].items():
            loaded = part.get(hook_id)
            if loaded is None:
                kept.add(hook_id)  # stored as live, or nothing stored
            elif stored is not None and stored != LIVE and loaded.offset == stored:
                del part[hook_id]  # as this process stored it: its pending outcomes are here
                kept.add(hook_id)
        return kept

    def drop_handed(self, keep: set[TopicPartition]) -> None:
        """Forget what was remembered of partitions handed back and not in
        ``keep`` (this assignment): they went to another process."""
        for tp in set(self._handed) - keep:
            del self._handed[tp]

    def forget_partitions(self, tps: set[TopicPartition]) -> None:
        """Revoked: another process owns these partitions (what we stored is theirs)."""
        for tp in tps:
            self._by_tp.pop(tp, None)
            self._marks.pop(tp, None)
        self._owned -= tps
        self._stamped -= tps
        self._unstampable -= tps
        names = {(tp.topic, tp.partition) for tp in tps}
        self._last = {k: v for k, v in self._last.items() if _partition_of(k) not in names}
        self._stored = {(tp, h) for tp, h in self._stored if tp not in tps}
        self._live = {(tp, h) for tp, h in self._live if tp not in tps}

    def forget_webhook(self, hook_id: str) -> None:
        self._pending.pop(hook_id, None)
        self._stored = {(tp, h) for tp, h in self._stored if h != hook_id}
        for part in self._by_tp.values():
            part.pop(hook_id, None)
        self._live = {(tp, h) for tp, h in self._live if h != hook_id}
        for key in [k for k, p in self._writes.items() if p.web_hook_id == hook_id]:
            del self._writes[key]
        self._last = {k: v for k, v in self._last.items() if k.rsplit("|", 3)[1] != hook_id}

    @property
    def dirty(self) -> bool:
        return bool(self._writes or self._removals)

    def _settle(self) -> None:
        """Stored positions of webhooks that merged back and have no catch-up
        outcome pending on that partition become "live" (whichever reader
        merged them may have stopped before doing so): otherwise the next
        owner would catch them up again from there, duplicating deliveries."""
        for tp, hook_id in list(self._stored):
            if self.get(tp, hook_id) is None and self.settled(tp, hook_id):
                self.release(tp, hook_id)

    async def flush(self) -> None:
        """Write queued positions; raises (and keeps them queued) if MongoDB fails."""
        self._settle()
        if not self.dirty:
            return
        for p in self._writes.values():
            key = (TopicPartition(p.topic, p.partition), p.web_hook_id)
            if p.web_hook_id == MARK:
                continue
            if p.offset == LIVE:
                self._stored.discard(key)
            else:
                self._stored.add(key)
        # Marks last: in one ordered write, a mark is stored only after the
        # positions queued with it.
        writes = sorted(self._writes.values(), key=lambda p: p.web_hook_id == MARK)
        removals = list(self._removals)
        self._writes, self._removals = {}, set()
        try:
            await self._repo.apply(writes, removals)
        except BaseException:
            for p in writes:
                self._writes.setdefault(p.key, p)
            self._removals |= set(removals) - set(self._writes)
            raise
        self._stamped |= {
            TopicPartition(p.topic, p.partition) for p in writes if p.web_hook_id == MARK
        }
        self.writes_total += sum(1 for p in writes if p.web_hook_id != MARK)

    async def load(self, tps: set[TopicPartition]) -> None:
        """Read the stored positions of newly assigned partitions."""
        stored = await self._repo.load(self.group_id, [(tp.topic, tp.partition) for tp in tps])
        for p in stored:
            tp = TopicPartition(p.topic, p.partition)
            self._last[p.key] = p.offset
            if p.web_hook_id == MARK:
                self._marks[tp] = p.offset
                continue
            if p.offset == LIVE:
                self._live.add((tp, p.web_hook_id))
                continue
            self._generation += 1
            self._by_tp.setdefault(tp, {})[p.web_hook_id] = Detached(p.offset, 0, self._generation)
            self._stored.add((tp, p.web_hook_id))


def _partition_of(key: str) -> tuple[str, int]:
    """(topic, partition) of a position key (group|webhook|topic|partition)."""
    _group, _hook, topic, partition = key.rsplit("|", 3)
    return topic, int(partition)
