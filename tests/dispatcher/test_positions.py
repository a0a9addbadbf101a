"""Known-through marks kept by ``Positions`` (pure logic; the repository is an
in-memory stand-in that records each write in order)."""

from __future__ import annotations

from aiokafka import TopicPartition

from dispatcher.circuit import Circuit
from dispatcher.offsets import PartitionWatermark
from dispatcher.positions import Positions
from dispatcher.runtime import WebhookRuntime
from eventnotify.store.positions import MARK, WebhookPosition
from tests.support.hooks import make_webhook

TP = TopicPartition("t.badgeEarned", 0)
MARK_MS = 1_000_000


class Repo:
    def __init__(self, stored: list[WebhookPosition] | None = None) -> None:
        self.stored = stored or []
        self.writes: list[list[WebhookPosition]] = []

    async def load(self, group_id: str, partitions: list[tuple[str, int]]) -> list[WebhookPosition]:
        return list(self.stored)

    async def apply(self, upserts: list[WebhookPosition], removals: list[str]) -> None:
        self.writes.append(list(upserts))


def runtime(since_ms: int) -> WebhookRuntime:
    return WebhookRuntime(
        make_webhook(1, "http://h/", ["badgeEarned"]), Circuit(), since_ms=since_ms
    )


async def owned(repo: Repo) -> Positions:
    positions = Positions("g", repo)  # type: ignore[arg-type]
    await positions.load({TP})
    positions.own({TP})
    positions.known_through_ms = MARK_MS
    return positions


async def test_no_mark_while_a_new_webhook_waits_for_its_position() -> None:
    repo = Repo()
    positions = await owned(repo)
    new = runtime(MARK_MS + 5)
    positions.detach(TP, new.hook.web_hook_id, None, new.since_ms)
    positions.stamp(lambda _t: [new])
    await positions.flush()
    assert repo.writes == []
    positions.resolve(TP, new.hook.web_hook_id, 42)
    positions.stamp(lambda _t: [new])
    await positions.flush()
    [written] = repo.writes
    # The webhook's position first, the mark last, in one ordered write.
    assert [(p.web_hook_id, p.offset) for p in written] == [
        (new.hook.web_hook_id, 42),
        (MARK, MARK_MS),
    ]


async def test_no_mark_where_a_live_webhook_is_newer_than_it() -> None:
    repo = Repo()
    positions = await owned(repo)
    old, newer, detached = runtime(MARK_MS - 1), runtime(MARK_MS + 1), runtime(MARK_MS + 1)
    positions.detach(TP, detached.hook.web_hook_id, 7, detached.since_ms)
    positions.stamp(lambda _t: [old, newer, detached])
    await positions.flush()
    # The detached one's position only: no mark, no write per live webhook.
    assert [(p.web_hook_id, p.offset) for p in repo.writes[0]] == [(detached.hook.web_hook_id, 7)]
    # A newer webhook already stored as live (it merged back) does not block.
    repo2 = Repo()
    again = await owned(repo2)
    again.release(TP, newer.hook.web_hook_id)
    again.stamp(lambda _t: [old, newer])
    await again.flush()
    assert (MARK, MARK_MS) in [(p.web_hook_id, p.offset) for p in repo2.writes[-1]]


async def test_a_partition_is_stamped_once_per_assignment() -> None:
    repo = Repo()
    positions = await owned(repo)
    positions.stamp(lambda _t: [runtime(MARK_MS - 1)])
    await positions.flush()
    positions.stamp(lambda _t: [runtime(MARK_MS - 1)])
    await positions.flush()
    assert [[p.web_hook_id for p in w] for w in repo.writes] == [[MARK]]


async def test_a_loaded_mark_is_the_previous_committers_until_revoked() -> None:
    repo = Repo([WebhookPosition("g", MARK, TP.topic, TP.partition, 77)])
    positions = Positions("g", repo)  # type: ignore[arg-type]
    await positions.load({TP})
    assert positions.mark(TP) == 77
    assert positions.detached_webhooks() == {}
    positions.forget_partitions({TP})
    assert positions.mark(TP) is None


async def test_nothing_is_stamped_before_the_first_webhook_read() -> None:
    repo = Repo()
    positions = Positions("g", repo)  # type: ignore[arg-type]
    await positions.load({TP})
    positions.own({TP})
    positions.stamp(lambda _t: [runtime(5)])
    await positions.flush()
    assert repo.writes == []


async def handed_back(
    *, stored_meanwhile: int | None = None
) -> tuple[Positions, str, PartitionWatermark]:
    """A webhook live on TP with one outcome pending here (at offset 3), its
    position stored, TP revoked after a commit at 10, then assigned again;
    ``stored_meanwhile``: what another owner stored for the webhook in
    between."""
    repo = Repo()
    positions = await owned(repo)
    hook = runtime(MARK_MS - 1).hook.web_hook_id
    pending = positions.pending(hook).add(TP, 3)
    positions.persist(TP, hook, 3)
    await positions.flush()
    positions.hand_back(TP, 10, [hook])
    positions.forget_partitions({TP})
    offset = 3 if stored_meanwhile is None else stored_meanwhile
    repo.stored = [WebhookPosition("g", hook, TP.topic, TP.partition, offset)]
    await positions.load({TP})
    return positions, hook, pending


async def test_a_partition_handed_back_unmoved_keeps_its_live_webhooks_live() -> None:
    positions, hook, pending = await handed_back()
    assert positions.take_back(TP, 10) == {hook}
    assert positions.detached_webhooks() == {}
    # Stored as live once its pending outcome is recorded, not before.
    await positions.flush()
    assert not positions.known_live(TP, hook)
    pending.done(3)
    await positions.flush()
    assert positions.known_live(TP, hook)


async def test_a_partition_moved_on_meanwhile_is_caught_up_as_stored() -> None:
    # The group's offset moved: someone else owned it and committed.
    positions, hook, _ = await handed_back()
    assert positions.take_back(TP, 12) == set()
    assert positions.detached_webhooks() == {hook: [TP]}
    # The webhook's stored position moved: another owner caught it up.
    positions, hook, _ = await handed_back(stored_meanwhile=7)
    assert positions.take_back(TP, 10) == set()
    assert positions.of_webhook(hook)[TP].offset == 7


async def test_a_partition_assigned_elsewhere_in_between_is_not_taken_back() -> None:
    positions, hook, _ = await handed_back()
    other = TopicPartition(TP.topic, 1)
    positions.drop_handed({other})  # an assignment without TP: it went elsewhere
    assert positions.take_back(TP, 10) == set()
    assert positions.detached_webhooks() == {hook: [TP]}
