"""Commit watermarks: never past the lowest offset whose outcome is unrecorded."""

from __future__ import annotations

from dispatcher.offsets import OffsetTracker, PartitionWatermark


def test_watermark_stops_at_lowest_open_offset() -> None:
    wm = PartitionWatermark()
    assert wm.committable() is None
    for offset in (10, 11, 12, 13):
        wm.add(offset)
    assert wm.committable() == 10
    wm.done(12)
    wm.done(11)
    assert wm.committable() == 10  # 10 still open: nothing past it may be committed
    wm.done(10)
    assert wm.committable() == 13
    wm.done(13)
    assert wm.committable() == 14  # all done: "next to read"
    assert wm.open_count == 0


def test_tracker_reports_only_moved_partitions_and_forgets_revoked() -> None:
    t = OffsetTracker()
    a = t.add("p0", 0)
    t.add("p1", 5)
    assert t.to_commit() == {"p0": 0, "p1": 5}
    t.committed({"p0": 0, "p1": 5})
    assert t.to_commit() == {}
    a.done(0)
    assert t.to_commit() == {"p0": 1}
    assert t.open_count() == 1
    t.forget({"p1"})
    assert t.open_count() == 0
    assert "p1" not in t.to_commit()


def test_done_on_a_stale_watermark_cannot_touch_the_new_one() -> None:
    t = OffsetTracker()
    old = t.add("p0", 7)
    t.forget({"p0"})  # revoked or rewound
    new = t.add("p0", 7)  # the same offset, delivered again
    old.done(7)  # the earlier attempt finishing late
    assert new.committable() == 7
    assert t.to_commit() == {"p0": 7}


def test_passed_records_move_the_position_but_never_past_an_open_one() -> None:
    """Records no webhook takes (the intake's whole batch while every webhook
    of the partition is detached) open nothing and move the position."""
    t = OffsetTracker()
    t.passed("p0", 9)
    assert t.to_commit() == {"p0": 10}
    wm = t.add("p0", 10)
    t.passed("p0", 20)
    assert t.committable("p0") == 10  # 10 is still open
    assert t.open_count_of("p0") == 1
    wm.done(10)
    assert t.committable("p0") == 21
    t.passed("p0", 15)  # an older batch cannot move it back
    assert t.committable("p0") == 21


def test_an_assigned_partition_starts_at_the_groups_offset_already_committed() -> None:
    t = OffsetTracker()
    t.starts_at("p0", 40)
    assert t.committed_offset("p0") == 40
    assert t.to_commit() == {}  # nothing to commit until something moves
    t.add("p0", 40).done(40)
    assert t.to_commit() == {"p0": 41}
