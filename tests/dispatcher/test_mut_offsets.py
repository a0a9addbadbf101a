"""dispatcher.offsets: edges mutation testing found unguarded."""

from __future__ import annotations

from dispatcher.offsets import OffsetTracker, PartitionWatermark


def test_a_watermark_at_position_zero_commits_zero() -> None:
    assert PartitionWatermark().committable() is None
    assert PartitionWatermark(next_offset=0).committable() == 0
    assert PartitionWatermark(next_offset=1).committable() == 1


def test_committable_and_partitions_per_tracker() -> None:
    tracker = OffsetTracker()
    assert tracker.committable("p0") is None and tracker.partitions() == []
    w0 = tracker.add("p0", 10)
    tracker.add("p1", 3)
    assert tracker.partitions() == ["p0", "p1"]
    assert tracker.committable("p0") == 10  # 10 is open
    w0.done(10)
    assert tracker.committable("p0") == 11
    assert tracker.committable("p2") is None


def test_forgetting_an_unknown_partition_is_harmless() -> None:
    tracker = OffsetTracker()
    tracker.forget({"never-seen"})
    assert tracker.partitions() == []


def test_a_reassigned_partition_commits_again_from_scratch() -> None:
    tracker = OffsetTracker()
    tracker.add("p0", 4).done(4)
    assert tracker.to_commit() == {"p0": 5}
    tracker.committed({"p0": 5})
    tracker.forget(["p0"])
    # Reassigned later (another member may have committed meanwhile): the same
    # position must be committed again, not skipped as "already committed".
    tracker.add("p0", 4).done(4)
    assert tracker.to_commit() == {"p0": 5}


def test_open_count_per_partition() -> None:
    tracker = OffsetTracker()
    assert tracker.open_count_of("p0") == 0
    w = tracker.add("p0", 1)
    tracker.add("p0", 2)
    tracker.add("p1", 7)
    assert (tracker.open_count_of("p0"), tracker.open_count_of("p1")) == (2, 1)
    w.done(1)
    assert tracker.open_count_of("p0") == 1
    assert tracker.open_count_of("p2") == 0
