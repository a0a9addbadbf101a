"""``eventnotify publish``: EventIngestService (one event, or a JSON Lines file
of envelopes sent in batches with progress on stderr)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from eventnotify.v1 import envelope_pb2, ingest_pb2
from service.cli.config import UsageError
from service.cli.context import Context
from service.cli.parsing import json_arg, json_object, read_text

if TYPE_CHECKING:
    from service.cli.context import Subparsers

MAX_BATCH = 500
RESULT_HEADERS = ("EVENT_ID", "TOPIC", "PARTITION", "OFFSET")


def register(sub: Subparsers) -> None:
    """Add the ``publish`` command."""
    p = sub.add_parser(
        "publish",
        help="publish an event (or --file events.jsonl) through the API",
        description="Publish one event, or with --file every EventEnvelope (canonical JSON, "
        "one per line) of a JSON Lines file, in batches; each batch is validated as a whole "
        "before any of its events is written.",
    )
    p.add_argument("event_name", nargs="?", metavar="EVENT_NAME")
    p.add_argument("--ref", default="", help="reference id '{orgId}_{entityId}' (the Kafka key)")
    p.add_argument("--data", default="", help="the event's data: JSON, @file or @- for stdin")
    p.add_argument("--request-id", default="", help="originating API request id")
    p.add_argument("--event-id", default="", help="your eventId (default: a new UUID)")
    p.add_argument("--file", metavar="EVENTS_JSONL", help="publish every envelope of this file")
    p.add_argument("--batch-size", type=int, default=MAX_BATCH, help="events per call (1..500)")
    p.set_defaults(handler=publish_cmd)


def publish_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """PublishEvent, or PublishEvents over --file."""
    if args.file:
        if args.event_name or args.data or args.ref:
            raise UsageError("give either EVENT_NAME --ref --data, or --file, not both")
        return _publish_file(ctx, args)
    missing = [
        what
        for what, value in (
            ("EVENT_NAME (e.g. pointsIssued; see `eventnotify events list`)", args.event_name),
            ("--ref '{orgId}_{entityId}' (the Kafka key, e.g. 1_cust-77)", args.ref),
            ("--data JSON (the event's data; `eventnotify events schema NAME`)", args.data),
        )
        if not value
    ]
    if missing:
        raise UsageError("publish is missing " + "; ".join(missing) + " (or give --file)")
    event = envelope_pb2.EventEnvelope(
        event_name=args.event_name,
        ref_id=args.ref,
        request_id=args.request_id,
        event_id=args.event_id,
    )
    event.data.update(json_arg(args.data, "--data"))
    resp = ctx.client.call(
        ctx.client.ingest.PublishEvent, ingest_pb2.PublishEventRequest(event=event)
    )
    ctx.out.result(resp, RESULT_HEADERS, lambda: [_row(resp)], "")
    if not ctx.out.json:
        ctx.out.info(f"its deliveries: eventnotify logs get {resp.event_id}")
    return 0


def _row(r: Any) -> tuple[object, ...]:
    return (r.event_id, r.topic, r.partition, r.offset)


def read_envelopes(source: str) -> list[Any]:
    """EventEnvelopes from a JSON Lines file (blank lines skipped)."""
    events: list[Any] = []
    for number, line in enumerate(read_text(source).splitlines(), start=1):
        if not line.strip():
            continue
        raw = json_object(line, f"{source} line {number}")
        try:
            events.append(json_format.ParseDict(raw, envelope_pb2.EventEnvelope()))
        except json_format.ParseError as exc:
            raise UsageError(f"{source} line {number}: not an EventEnvelope: {exc}") from None
    if not events:
        raise UsageError(f"{source} holds no events")
    return events


def _publish_file(ctx: Context, args: argparse.Namespace) -> int:
    if not 1 <= args.batch_size <= MAX_BATCH:
        raise UsageError(f"--batch-size must be 1..{MAX_BATCH}")
    events = read_envelopes(args.file)
    merged = ingest_pb2.PublishEventsResponse()
    total = len(events)
    ctx.out.info(f"publishing {total} events in batches of {args.batch_size}...")
    for start in range(0, total, args.batch_size):
        batch = events[start : start + args.batch_size]
        try:
            resp = ctx.client.call(
                ctx.client.ingest.PublishEvents, ingest_pb2.PublishEventsRequest(events=batch)
            )
        except Exception:
            ctx.out.info(
                f"the batch of events {start + 1}..{start + len(batch)} failed; "
                f"{start} of {total} events had been published before it"
            )
            raise
        merged.results.extend(resp.results)
        ctx.out.info(f"published {len(merged.results)}/{total} events")
    ctx.out.result(merged, RESULT_HEADERS, lambda: [_row(r) for r in merged.results], "")
    return 0
