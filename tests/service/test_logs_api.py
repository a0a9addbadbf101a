"""EventLogService over a real socket, on entries written through the
dispatcher's repository (DeliveryLogRepository.upsert_many)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest

from eventnotify.domain import DeliveryAttempt, DeliveryStatus, LogEntry, Role
from eventnotify.timefmt import format_ts, utcnow
from eventnotify.v1 import log_pb2
from tests.service.conftest import Api, Metadata, create_hook, expect_error

_n = itertools.count()


def entry(
    org: int,
    group: str,
    *,
    status: DeliveryStatus = DeliveryStatus.DELIVERED,
    ingested: datetime | None = None,
    duration_ms: int | None = 100,
    end_after_ms: int | None = None,
    breach: bool = False,
    event_name: str = "transactionAdded",
    ref_id: str = "1_100",
    request_id: str = "req-1",
) -> LogEntry:
    ingested = ingested or utcnow()
    attempted = duration_ms is not None
    return LogEntry(
        event_id=f"ev-{next(_n):05d}-{uuid.uuid4().hex[:6]}",
        source_event_id="src",
        org_id=org,
        web_hook_id="5e9d7b03c64f3d00085d7f00",
        consumer_group_id=group,
        event_name=event_name,
        ref_id=ref_id,
        request_id=request_id,
        status=status,
        ingested_at=ingested,
        started_at=ingested + timedelta(milliseconds=3) if attempted else None,
        ended_at=(
            ingested + timedelta(milliseconds=end_after_ms) if end_after_ms is not None else None
        ),
        sla_breach_at=ingested + timedelta(seconds=30) if breach else None,
        last_http_status=200 if attempted else None,
        last_duration_ms=duration_ms,
        attempts=(
            [DeliveryAttempt(ingested, 200, duration_ms or 0, response_body="ok")]
            if attempted
            else []
        ),
    )


@pytest.fixture
async def group(api: Api, org1: Metadata) -> str:
    return str((await create_hook(api, org1)).webhook.consumer_group_id)


async def test_get_by_event_id_maps_every_field(api: Api, org1: Metadata, group: str) -> None:
    done = entry(1, group, end_after_ms=250, breach=True)
    pending = entry(1, group, status=DeliveryStatus.PENDING, duration_ms=None)
    await api.store.logs.upsert_many([done, pending])
    got = await api.logs.GetEventLog(
        log_pb2.GetEventLogRequest(event_id=done.event_id), metadata=org1
    )
    assert got.event_id == done.event_id and got.consumer_group_id == group
    assert got.status == log_pb2.DELIVERED and got.org_id == 1
    assert got.event_ingestion_timestamp == format_ts(done.ingested_at)
    assert got.event_end_timestamp == format_ts(done.ended_at)
    assert got.sla_breach_timestamp == format_ts(done.sla_breach_at)
    assert got.consumer_response.webhook_http_status == 200
    assert got.consumer_response.time_taken == 100
    assert [a.response_body for a in got.attempts] == ["ok"]
    waiting = await api.logs.GetEventLog(
        log_pb2.GetEventLogRequest(event_id=pending.event_id), metadata=org1
    )
    assert waiting.status == log_pb2.PENDING
    assert not waiting.HasField("consumer_response") and waiting.event_end_timestamp == ""
    d = await expect_error(
        api.logs.GetEventLog(log_pb2.GetEventLogRequest(event_id="nope"), metadata=org1),
        grpc.StatusCode.NOT_FOUND,
    )
    assert d.info is not None and d.info.reason == "EVENT_LOG_NOT_FOUND"
    d = await expect_error(
        api.logs.GetEventLog(log_pb2.GetEventLogRequest(), metadata=org1),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.fields == ["event_id"]


async def test_lookups_by_request_and_ref_id_are_org_scoped(
    api: Api, org1: Metadata, group: str
) -> None:
    t0 = utcnow() - timedelta(minutes=5)
    mine = [
        entry(1, group, ingested=t0 + timedelta(seconds=i), request_id="r-A", ref_id="1_7")
        for i in range(3)
    ]
    theirs = entry(2, "other-group", request_id="r-A", ref_id="1_7")
    await api.store.logs.upsert_many([*reversed(mine), theirs, entry(1, group, ref_id="1_8")])
    by_req = await api.logs.ListEventLogsByRequestId(
        log_pb2.ListEventLogsByRequestIdRequest(request_id="r-A"), metadata=org1
    )
    assert [e.event_id for e in by_req.entries] == [e.event_id for e in mine]  # oldest first
    by_ref = await api.logs.ListEventLogsByRefId(
        log_pb2.ListEventLogsByRefIdRequest(ref_id="1_7"), metadata=org1
    )
    assert [e.event_id for e in by_ref.entries] == [e.event_id for e in mine]
    org2 = await api.key(2, Role.READ)
    only_theirs = await api.logs.ListEventLogsByRefId(
        log_pb2.ListEventLogsByRefIdRequest(ref_id="1_7"), metadata=org2
    )
    assert [e.event_id for e in only_theirs.entries] == [theirs.event_id]
    await expect_error(
        api.logs.GetEventLog(log_pb2.GetEventLogRequest(event_id=mine[0].event_id), metadata=org2),
        grpc.StatusCode.NOT_FOUND,
    )
    for call in (
        api.logs.ListEventLogsByRequestId(log_pb2.ListEventLogsByRequestIdRequest(), metadata=org1),
        api.logs.ListEventLogsByRefId(log_pb2.ListEventLogsByRefIdRequest(), metadata=org1),
    ):
        await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT)


async def _all_pages(
    api: Api, md: Metadata, max_pages: int = 20, **request: Any
) -> tuple[list[str], int]:
    """Every page's ids; fails when a token is still handed out after ``max_pages``."""
    ids: list[str] = []
    token = ""
    for pages in range(1, max_pages + 1):
        page = await api.logs.ListConsumerGroupLogs(
            log_pb2.ListConsumerGroupLogsRequest(page_token=token, **request), metadata=md
        )
        ids += [e.event_id for e in page.entries]
        token = page.next_page_token
        if not token:
            return ids, pages
    pytest.fail(f"pagination did not end within {max_pages} pages")


async def test_group_log_sorts_and_pages_without_gaps_or_duplicates(
    api: Api, org1: Metadata, group: str
) -> None:
    t0 = utcnow() - timedelta(hours=1)
    durations = [50, None, 300, 50, None, 120, 900, None, 10]
    entries = [
        entry(
            1,
            group,
            # Two entries share each timestamp: the id breaks the tie.
            ingested=t0 + timedelta(seconds=i // 2),
            duration_ms=d,
            status=DeliveryStatus.PENDING if d is None else DeliveryStatus.DELIVERED,
        )
        for i, d in enumerate(durations)
    ]
    await api.store.logs.upsert_many(entries)

    def dur(e: LogEntry) -> int:
        return -1 if e.last_duration_ms is None else e.last_duration_ms

    expected = {
        log_pb2.TIME_ASC: sorted(entries, key=lambda e: (e.ingested_at, e.event_id)),
        log_pb2.TIME_DESC: sorted(entries, key=lambda e: (e.ingested_at, e.event_id))[::-1],
        log_pb2.DURATION_ASC: sorted(entries, key=lambda e: (dur(e), e.event_id)),
        log_pb2.DURATION_DESC: sorted(entries, key=lambda e: (dur(e), e.event_id))[::-1],
    }
    for sort, want in expected.items():
        ids, pages = await _all_pages(api, org1, consumer_group_id=group, sort=sort, page_size=2)
        assert ids == [e.event_id for e in want], log_pb2.LogSort.Name(sort)
        assert pages == 5
    default, _ = await _all_pages(api, org1, consumer_group_id=group)
    assert default == [e.event_id for e in expected[log_pb2.TIME_DESC]]


async def test_group_log_pages_are_stable_under_concurrent_inserts(
    api: Api, org1: Metadata, group: str
) -> None:
    t0 = utcnow() - timedelta(hours=1)
    before = [entry(1, group, ingested=t0 + timedelta(seconds=i)) for i in range(8)]
    await api.store.logs.upsert_many(before)
    written: list[LogEntry] = []
    ids: list[str] = []
    token = ""
    # The dispatcher writes two entries after each of the first 4 pages, then
    # stops: at most 8 + 8 entries in pages of 3 is 6 pages, so a seventh
    # means the pagination does not end.
    for n in range(6):
        page = await api.logs.ListConsumerGroupLogs(
            log_pb2.ListConsumerGroupLogsRequest(
                consumer_group_id=group, sort=log_pb2.TIME_ASC, page_size=3, page_token=token
            ),
            metadata=org1,
        )
        ids += [e.event_id for e in page.entries]
        if n < 4:
            more = [entry(1, group), entry(1, group)]
            await api.store.logs.upsert_many(more)
            written += more
        token = page.next_page_token
        if not token:
            break
    assert token == "", "pagination did not end once writing stopped"
    assert len(ids) == len(set(ids)), "duplicates across pages"
    # Entries written while paging are newer than every page read so far, so
    # an ascending walk must reach all of them too: nothing is skipped.
    assert ids == [e.event_id for e in (*before, *written)]


async def test_group_log_filters(api: Api, org1: Metadata, group: str) -> None:
    t0 = utcnow() - timedelta(hours=2)
    a = entry(1, group, ingested=t0, event_name="pointsIssued", request_id="rq", ref_id="1_1")
    b = entry(1, group, ingested=t0 + timedelta(minutes=30), status=DeliveryStatus.FAILED)
    c = entry(1, group, ingested=t0 + timedelta(minutes=60), ref_id="1_9")
    await api.store.logs.upsert_many([a, b, c])
    cases: list[tuple[dict[str, Any], list[LogEntry]]] = [
        ({"event_name": "pointsIssued"}, [a]),
        ({"status": log_pb2.FAILED}, [b]),
        ({"request_id": "rq"}, [a]),
        ({"ref_id": "1_9"}, [c]),
        ({"start_time": format_ts(b.ingested_at)}, [b, c]),
        ({"end_time": format_ts(b.ingested_at)}, [a]),
        (
            {
                "start_time": (t0 + timedelta(minutes=10)).isoformat(),
                "end_time": format_ts(c.ingested_at),
            },
            [b],
        ),
    ]
    for filters, want in cases:
        ids, _ = await _all_pages(
            api, org1, consumer_group_id=group, sort=log_pb2.TIME_ASC, **filters
        )
        assert ids == [e.event_id for e in want], filters


async def test_page_tokens_are_bound_to_their_filters(api: Api, org1: Metadata, group: str) -> None:
    await api.store.logs.upsert_many([entry(1, group) for _ in range(3)])
    first = await api.logs.ListConsumerGroupLogs(
        log_pb2.ListConsumerGroupLogsRequest(consumer_group_id=group, page_size=1), metadata=org1
    )
    assert first.next_page_token
    cases = [
        (
            {"event_name": "pointsIssued", "page_token": first.next_page_token},
            "PAGE_TOKEN_FILTER_MISMATCH",
        ),
        (
            {"sort": log_pb2.DURATION_ASC, "page_token": first.next_page_token},
            "PAGE_TOKEN_FILTER_MISMATCH",
        ),
        ({"page_token": "bm9wZQ"}, "PAGE_TOKEN_INVALID"),
        ({"start_time": "yesterday"}, "TIME_INVALID"),
        ({"status": 99}, "STATUS_INVALID"),
        ({"page_size": -5}, "PAGE_SIZE_INVALID"),
    ]
    for request, reason in cases:
        d = await expect_error(
            api.logs.ListConsumerGroupLogs(
                log_pb2.ListConsumerGroupLogsRequest(consumer_group_id=group, **request),
                metadata=org1,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert d.info is not None and d.info.reason == reason, request


async def test_another_orgs_consumer_group_is_not_found(
    api: Api, org1: Metadata, group: str
) -> None:
    await api.store.logs.upsert_many([entry(1, group)])
    org2 = await api.key(2, Role.READ)
    for call in (
        api.logs.ListConsumerGroupLogs(
            log_pb2.ListConsumerGroupLogsRequest(consumer_group_id=group), metadata=org2
        ),
        api.logs.GetConsumerGroupMetrics(
            log_pb2.GetConsumerGroupMetricsRequest(consumer_group_id=group), metadata=org2
        ),
        api.logs.ListConsumerGroupLogs(
            log_pb2.ListConsumerGroupLogsRequest(consumer_group_id=str(uuid.uuid4())),
            metadata=org1,
        ),
    ):
        d = await expect_error(call, grpc.StatusCode.NOT_FOUND)
        assert d.info is not None and d.info.reason == "CONSUMER_GROUP_NOT_FOUND"
    # A purged webhook's group stays readable while its entries are kept.
    orphan = str(uuid.uuid4())
    await api.store.logs.upsert_many([entry(1, orphan)])
    page = await api.logs.ListConsumerGroupLogs(
        log_pb2.ListConsumerGroupLogsRequest(consumer_group_id=orphan), metadata=org1
    )
    assert len(page.entries) == 1


async def test_metrics_over_a_window(api: Api, org1: Metadata, group: str) -> None:
    now = utcnow()
    entries = [
        entry(1, group, ingested=now - timedelta(minutes=10), end_after_ms=200),
        entry(1, group, ingested=now - timedelta(minutes=20), end_after_ms=400, breach=True),
        entry(1, group, ingested=now - timedelta(minutes=5), status=DeliveryStatus.FAILED),
        entry(1, group, status=DeliveryStatus.RETRYING, breach=True),
        entry(1, group, status=DeliveryStatus.PENDING, duration_ms=None),
        entry(1, group, status=DeliveryStatus.DEAD_LETTERED, duration_ms=None),
        entry(1, group, ingested=now - timedelta(days=2), end_after_ms=5000),
        entry(1, str(uuid.uuid4()), end_after_ms=9999),  # another group
    ]
    await api.store.logs.upsert_many(entries)
    m = await api.logs.GetConsumerGroupMetrics(
        log_pb2.GetConsumerGroupMetricsRequest(consumer_group_id=group), metadata=org1
    )
    assert (m.total_events, m.delivered_events, m.failed_events) == (6, 2, 1)
    assert (m.retrying_events, m.pending_events, m.dead_lettered_events) == (1, 1, 1)
    assert m.sla_breaches == 2 and m.average_delivery_time == pytest.approx(300.0)
    assert m.consumer_group_id == group and m.window_start < m.window_end
    wide = await api.logs.GetConsumerGroupMetrics(
        log_pb2.GetConsumerGroupMetricsRequest(consumer_group_id=group, window_seconds=3 * 86400),
        metadata=org1,
    )
    assert wide.total_events == 7 and wide.delivered_events == 3
    assert wide.average_delivery_time == pytest.approx((200 + 400 + 5000) / 3)
    for window in (-1, 30 * 86400 + 1):
        d = await expect_error(
            api.logs.GetConsumerGroupMetrics(
                log_pb2.GetConsumerGroupMetricsRequest(
                    consumer_group_id=group, window_seconds=window
                ),
                metadata=org1,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert d.info is not None and d.info.reason == "WINDOW_INVALID"


async def test_the_published_event_id_leads_to_every_delivery_of_the_event(
    api: Api, org1: Metadata, group: str
) -> None:
    other_group = str((await create_hook(api, org1, name="second")).webhook.consumer_group_id)
    t0 = utcnow() - timedelta(minutes=1)
    first = replace(entry(1, group, ingested=t0), source_event_id="published-1")
    second = replace(
        entry(1, other_group, ingested=t0 + timedelta(seconds=1)), source_event_id="published-1"
    )
    unrelated = replace(entry(1, group), source_event_id="published-2")
    theirs = replace(entry(2, "their-group"), source_event_id="published-1")
    await api.store.logs.upsert_many([second, first, unrelated, theirs])
    got = await api.logs.ListEventLogsBySourceEventId(
        log_pb2.ListEventLogsBySourceEventIdRequest(source_event_id="published-1"), metadata=org1
    )
    assert [e.event_id for e in got.entries] == [first.event_id, second.event_id]
    assert {e.source_event_id for e in got.entries} == {"published-1"}
    # The seed's lookup by the delivered eventId is unchanged, and its
    # NOT_FOUND for the published id says where to look instead.
    one = await api.logs.GetEventLog(
        log_pb2.GetEventLogRequest(event_id=first.event_id), metadata=org1
    )
    assert one.source_event_id == "published-1"
    d = await expect_error(
        api.logs.GetEventLog(log_pb2.GetEventLogRequest(event_id="published-1"), metadata=org1),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "ListEventLogsBySourceEventId" in d.message
    none = await api.logs.ListEventLogsBySourceEventId(
        log_pb2.ListEventLogsBySourceEventIdRequest(source_event_id="nobody"), metadata=org1
    )
    assert list(none.entries) == []
    d = await expect_error(
        api.logs.ListEventLogsBySourceEventId(
            log_pb2.ListEventLogsBySourceEventIdRequest(), metadata=org1
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert d.reasons == ["SOURCE_EVENT_ID_REQUIRED"]


async def test_metrics_and_group_logs_accept_a_web_hook_id(api: Api, org1: Metadata) -> None:
    hook = (await create_hook(api, org1)).webhook
    await api.store.logs.upsert_many([entry(1, hook.consumer_group_id)])
    m = await api.logs.GetConsumerGroupMetrics(
        log_pb2.GetConsumerGroupMetricsRequest(consumer_group_id=hook.web_hook_id), metadata=org1
    )
    assert m.consumer_group_id == hook.consumer_group_id and m.total_events == 1
    page = await api.logs.ListConsumerGroupLogs(
        log_pb2.ListConsumerGroupLogsRequest(consumer_group_id=hook.web_hook_id), metadata=org1
    )
    assert [e.consumer_group_id for e in page.entries] == [hook.consumer_group_id]
    # Another org's webHookId is as unknown as a made-up id, and the message
    # says which ids are accepted.
    org2 = await api.key(2, Role.READ)
    d = await expect_error(
        api.logs.GetConsumerGroupMetrics(
            log_pb2.GetConsumerGroupMetricsRequest(consumer_group_id=hook.web_hook_id),
            metadata=org2,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "consumerGroupId or webHookId" in d.message
