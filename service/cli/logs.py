"""``eventnotify logs ...`` and ``eventnotify metrics``: EventLogService."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from eventnotify.v1 import log_pb2
from service.cli.client import RpcError, is_not_found
from service.cli.context import Context, fetch_pages
from service.cli.output import enum_name, yes_no
from service.cli.parsing import duration_seconds, time_arg

if TYPE_CHECKING:
    from service.cli.context import Subparsers

STATUSES = {
    "pending": log_pb2.PENDING,
    "retrying": log_pb2.RETRYING,
    "delivered": log_pb2.DELIVERED,
    "failed": log_pb2.FAILED,
    "dead-lettered": log_pb2.DEAD_LETTERED,
}
SORTS = {
    "time": log_pb2.TIME_DESC,
    "time-asc": log_pb2.TIME_ASC,
    "duration": log_pb2.DURATION_DESC,
    "duration-asc": log_pb2.DURATION_ASC,
}
ENTRY_HEADERS = ("EVENT_ID", "STATUS", "EVENT", "REF", "HTTP", "MS", "INGESTED", "WEBHOOK")


def register(sub: Subparsers) -> None:
    """Add the ``logs`` command group and ``metrics``."""
    group = sub.add_parser("logs", help="what happened to deliveries")
    cmds = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    get = cmds.add_parser(
        "get",
        help="one delivery with its attempts, or every delivery of a published event",
        description="EVENT_ID is a delivered eventId (one delivery, with its attempts) or "
        "the eventId an event was published with, as `eventnotify publish` prints it "
        "(every delivery of that event, one per webhook).",
    )
    get.add_argument("event_id", metavar="EVENT_ID")
    get.set_defaults(handler=get_cmd)

    by_event = cmds.add_parser(
        "by-event", help="every delivery of a published event, by the id publish printed"
    )
    by_event.add_argument("source_event_id", metavar="SOURCE_EVENT_ID")
    by_event.set_defaults(handler=by_event_cmd)

    by_request = cmds.add_parser("by-request", help="deliveries caused by one API request")
    by_request.add_argument("request_id", metavar="REQUEST_ID")
    by_request.set_defaults(handler=by_request_cmd)

    by_ref = cmds.add_parser("by-ref", help="deliveries of one reference id")
    by_ref.add_argument("ref_id", metavar="REF_ID")
    by_ref.set_defaults(handler=by_ref_cmd)

    grp = cmds.add_parser("group", help="a consumer group's log, filtered and sorted")
    grp.add_argument(
        "consumer_group_id", metavar="ID", help="the webhook's consumerGroupId or webHookId"
    )
    grp.add_argument("--event", default="", help="only this event name")
    grp.add_argument("--status", choices=list(STATUSES), help="only this status")
    grp.add_argument("--request-id", default="", help="only this originating request")
    grp.add_argument("--ref-id", default="", help="only this reference id")
    grp.add_argument("--since", default="", help="ingested at/after (time, or e.g. 2h ago)")
    grp.add_argument("--until", default="", help="ingested before (time, or e.g. 30m ago)")
    grp.add_argument("--sort", choices=list(SORTS), default="time", help="default: newest first")
    grp.add_argument("--page-size", type=int, default=0, help="entries per page (1..500)")
    grp.add_argument("--page-token", default="", help="next-page token of a previous call")
    grp.add_argument("--all", action="store_true", help="fetch every page")
    grp.set_defaults(handler=group_cmd)

    metrics = sub.add_parser(
        "metrics", help="a webhook's delivery figures (by consumerGroupId or webHookId)"
    )
    metrics.add_argument(
        "consumer_group_id",
        metavar="ID",
        help="the webhook's consumerGroupId or webHookId (both in `eventnotify webhooks list`)",
    )
    metrics.add_argument("--window", default="24h", help="1h, 24h, 7d or seconds (default 24h)")
    metrics.set_defaults(handler=metrics_cmd)


def status_name(value: int) -> str:
    """A DeliveryStatus value as shown in tables."""
    return enum_name(log_pb2.DeliveryStatus, value) or "-"


def entry_row(e: Any) -> tuple[object, ...]:
    """One table row of a log entry."""
    return (
        e.event_id,
        status_name(e.status),
        e.event_name,
        e.ref_id,
        e.consumer_response.webhook_http_status or "-",
        e.consumer_response.time_taken if e.attempts else "-",
        e.event_ingestion_timestamp,
        e.web_hook_id,
    )


def _entries(ctx: Context, resp: Any) -> int:
    ctx.out.result(
        resp, ENTRY_HEADERS, lambda: [entry_row(e) for e in resp.entries], "no deliveries"
    )
    return 0


def get_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """GetEventLog: the entry's fields, then its attempts. When no delivery has
    that eventId, the id may be the one the event was published with: then
    every delivery of the event (ListEventLogsBySourceEventId)."""
    req = log_pb2.GetEventLogRequest(event_id=args.event_id)
    try:
        e = ctx.client.call(ctx.client.logs.GetEventLog, req)
    except RpcError as exc:
        if not is_not_found(exc):
            raise
        by_source = log_pb2.ListEventLogsBySourceEventIdRequest(source_event_id=args.event_id)
        resp = ctx.client.call(ctx.client.logs.ListEventLogsBySourceEventId, by_source)
        if not resp.entries:
            raise
        if not ctx.out.json:
            ctx.out.info(
                f"{args.event_id} is a published event's id: its deliveries, one per webhook "
                "(`eventnotify logs get <EVENT_ID>` of a row shows its attempts)"
            )
        return _entries(ctx, resp)
    if ctx.out.json:
        ctx.out.message(e)
        return 0
    pairs: list[tuple[str, object]] = [
        ("eventId", e.event_id),
        ("status", status_name(e.status)),
        ("eventName", e.event_name),
        ("refId", e.ref_id),
        ("requestId", e.request_id),
        ("webHookId", e.web_hook_id),
        ("consumerGroupId", e.consumer_group_id),
        ("sourceEventId", e.source_event_id),
        ("eventIngestionTimestamp", e.event_ingestion_timestamp),
        ("eventStartTimestamp", e.event_start_timestamp),
        ("eventEndTimestamp", e.event_end_timestamp),
        ("slaBreachTimestamp", e.sla_breach_timestamp),
        ("nextAttemptAt", e.next_attempt_at),
        ("failureReason", e.failure_reason),
        ("schemaViolation", e.schema_violation),
        ("kafkaPosition", e.kafka_position),
        ("test", yes_no(e.test)),
    ]
    ctx.out.fields(pairs)
    ctx.out.line()
    rows = [
        (a.time, a.http_status or "-", a.duration_ms, a.error, _excerpt(a.response_body))
        for a in e.attempts
    ]
    ctx.out.table(("ATTEMPT_TIME", "HTTP", "MS", "ERROR", "RESPONSE"), rows, "no attempts yet")
    return 0


def _excerpt(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def by_event_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ListEventLogsBySourceEventId."""
    req = log_pb2.ListEventLogsBySourceEventIdRequest(source_event_id=args.source_event_id)
    return _entries(ctx, ctx.client.call(ctx.client.logs.ListEventLogsBySourceEventId, req))


def by_request_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ListEventLogsByRequestId."""
    req = log_pb2.ListEventLogsByRequestIdRequest(request_id=args.request_id)
    return _entries(ctx, ctx.client.call(ctx.client.logs.ListEventLogsByRequestId, req))


def by_ref_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ListEventLogsByRefId."""
    req = log_pb2.ListEventLogsByRefIdRequest(ref_id=args.ref_id)
    return _entries(ctx, ctx.client.call(ctx.client.logs.ListEventLogsByRefId, req))


def group_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ListConsumerGroupLogs: one page, or every page with --all."""

    def fetch(token: str) -> Any:
        req = log_pb2.ListConsumerGroupLogsRequest(
            consumer_group_id=args.consumer_group_id,
            event_name=args.event,
            status=STATUSES[args.status] if args.status else None,
            request_id=args.request_id,
            ref_id=args.ref_id,
            start_time=time_arg(args.since) if args.since else "",
            end_time=time_arg(args.until) if args.until else "",
            sort=SORTS[args.sort],
            page_size=args.page_size,
            page_token=token,
        )
        return ctx.client.call(ctx.client.logs.ListConsumerGroupLogs, req)

    merged = log_pb2.ListConsumerGroupLogsResponse()
    token = fetch_pages(
        ctx, fetch, lambda r: r.entries, merged, args.page_token, args.all, "entries"
    )
    merged.next_page_token = token
    _entries(ctx, merged)
    if token and not ctx.out.json:
        ctx.out.info(f"more entries: --page-token {token} (or --all)")
    return 0


def metrics_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """GetConsumerGroupMetrics over a window ending now."""
    req = log_pb2.GetConsumerGroupMetricsRequest(
        consumer_group_id=args.consumer_group_id, window_seconds=duration_seconds(args.window)
    )
    m = ctx.client.call(ctx.client.logs.GetConsumerGroupMetrics, req)
    if ctx.out.json:
        ctx.out.message(m)
        return 0
    ctx.out.fields(
        [
            ("consumerGroupId", m.consumer_group_id),
            ("window", f"{m.window_start} .. {m.window_end}"),
            ("totalEvents", m.total_events),
            ("deliveredEvents", m.delivered_events),
            ("failedEvents", m.failed_events),
            ("retryingEvents", m.retrying_events),
            ("pendingEvents", m.pending_events),
            ("deadLetteredEvents", m.dead_lettered_events),
            ("slaBreaches", m.sla_breaches),
            ("averageDeliveryTime", f"{m.average_delivery_time:.1f} ms"),
        ]
    )
    return 0
