"""Commit watermarks: the highest offset safe to commit on each partition.

A message's offset is *done* once its outcome is durably recorded (delivered,
failed, dead-lettered or parked for retry). Messages finish out of order, so
the committable position of a partition is the lowest offset still open; we
never commit past it. This is the whole at-least-once contract of the consumer.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass
class PartitionWatermark:
    """Open offsets of one partition and the position safe to commit."""

    # Next offset to commit when nothing is open (last seen + 1).
    next_offset: int = -1
    _open: list[int] = field(default_factory=list)
    _done: set[int] = field(default_factory=set)

    def add(self, offset: int) -> None:
        """A message was handed to the pipeline."""
        heapq.heappush(self._open, offset)
        if offset + 1 > self.next_offset:
            self.next_offset = offset + 1

    def passed(self, offset: int) -> None:
        """Every message up to ``offset`` was seen and needs no outcome (no
        webhook takes it): nothing opens, the position moves past them."""
        if offset + 1 > self.next_offset:
            self.next_offset = offset + 1

    def done(self, offset: int) -> None:
        """The message's outcome is durably recorded."""
        self._done.add(offset)
        while self._open and self._open[0] in self._done:
            self._done.discard(heapq.heappop(self._open))

    @property
    def open_count(self) -> int:
        return len(self._open)

    def committable(self) -> int | None:
        """Offset to commit (Kafka commits "next to read"), or None if nothing seen."""
        if self._open:
            return self._open[0]
        return self.next_offset if self.next_offset >= 0 else None


class OffsetTracker:
    """Watermarks of every assigned partition of one consumer."""

    def __init__(self) -> None:
        self._parts: dict[object, PartitionWatermark] = {}
        self._committed: dict[object, int] = {}

    def add(self, tp: object, offset: int) -> PartitionWatermark:
        """Track a message; the caller marks it done on the returned watermark,
        so a message from before a revoke or rewind can never touch the
        partition's new watermark."""
        part = self._parts.setdefault(tp, PartitionWatermark())
        part.add(offset)
        return part

    def passed(self, tp: object, offset: int) -> None:
        """Messages up to ``offset`` need no outcome (``PartitionWatermark.passed``)."""
        self._parts.setdefault(tp, PartitionWatermark()).passed(offset)

    def open_count(self) -> int:
        return sum(p.open_count for p in self._parts.values())

    def to_commit(self) -> dict[object, int]:
        """Partitions whose committable offset moved since the last commit."""
        out: dict[object, int] = {}
        for tp, part in self._parts.items():
            offset = part.committable()
            if offset is not None and self._committed.get(tp) != offset:
                out[tp] = offset
        return out

    def open_count_of(self, tp: object) -> int:
        part = self._parts.get(tp)
        return part.open_count if part is not None else 0

    def committable(self, tp: object) -> int | None:
        """The offset that would be committed for ``tp``; None if none seen."""
        part = self._parts.get(tp)
        return part.committable() if part is not None else None

    def committed(self, offsets: dict[object, int]) -> None:
        self._committed.update(offsets)

    def starts_at(self, tp: object, offset: int) -> None:
        """``tp`` was assigned, and the group's committed offset there is
        ``offset`` (or, with none, the reset position the consumer reads from)."""
        self._parts.setdefault(tp, PartitionWatermark()).passed(offset - 1)
        self._committed[tp] = offset

    def committed_offset(self, tp: object) -> int | None:
        """The offset last committed for ``tp``, or its start since assigned."""
        return self._committed.get(tp)

    def forget(self, tps: set[object] | list[object]) -> None:
        """Drop revoked partitions: their open messages will be redelivered."""
        for tp in tps:
            self._parts.pop(tp, None)
            self._committed.pop(tp, None)

    def partitions(self) -> list[object]:
        return list(self._parts)
