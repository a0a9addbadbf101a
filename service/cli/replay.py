"""``eventnotify replay ...``: ReplayService, with progress on stderr.

The service never delivers a replay itself: it schedules deliveries (resend,
recover) or records a rewind order that the dispatcher owning the consumer
group carries out. So the commands report what the API returns, and
``--watch SECONDS`` follows the consumer group's figures (GetConsumerGroupMetrics
over the replayed window) while the dispatchers work.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import TYPE_CHECKING, Any

from eventnotify.timefmt import utcnow
from eventnotify.v1 import log_pb2, replay_pb2, webhook_pb2
from service.cli.context import Context
from service.cli.parsing import parse_time, time_arg

if TYPE_CHECKING:
    from service.cli.context import Subparsers

MAX_WINDOW_SECONDS = 30 * 86400


def register(sub: Subparsers) -> None:
    """Add the ``replay`` command group."""
    group = sub.add_parser("replay", help="send deliveries again (eventIds are kept)")
    cmds = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    resend = cmds.add_parser("resend", help="send one delivery again now")
    resend.add_argument("event_id", metavar="EVENT_ID")
    resend.set_defaults(handler=resend_cmd)

    recover = cmds.add_parser(
        "recover", help="send a webhook's FAILED deliveries again (test sends excepted)"
    )
    recover.add_argument("webhook_id", metavar="WEBHOOK_ID")
    _window_options(recover, "ingested at/after")
    recover.set_defaults(handler=recover_cmd)

    rewind = cmds.add_parser("rewind", help="move a webhook's consumer group back in time")
    rewind.add_argument("webhook_id", metavar="WEBHOOK_ID")
    _window_options(rewind, "events with a Kafka timestamp at/after")
    rewind.set_defaults(handler=rewind_cmd)


def _window_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--since", required=True, help=f"{what} this time (or e.g. 6h ago)")
    p.add_argument(
        "--watch",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="then follow the group's figures for up to SECONDS",
    )
    p.add_argument("--interval", type=float, default=2.0, help="seconds between --watch polls")


def resend_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ResendEvent."""
    req = replay_pb2.ResendEventRequest(event_id=args.event_id)
    resp = ctx.client.call(ctx.client.replay.ResendEvent, req)
    if ctx.out.json:
        ctx.out.message(resp)
    else:
        ctx.out.line(f"delivery {resp.event_id} scheduled for redelivery")
    ctx.out.info(f"follow it: eventnotify logs get {resp.event_id}")
    return 0


def deliveries(n: int) -> str:
    """``1 delivery``, ``120 deliveries``."""
    return f"{n} delivery" if n == 1 else f"{n} deliveries"


def _webhook(ctx: Context, webhook_id: str) -> Any:
    req = webhook_pb2.GetWebhookRequest(web_hook_id=webhook_id)
    return ctx.client.call(ctx.client.webhooks.GetWebhook, req)


def recover_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """RecoverFailed, reporting how many deliveries were scheduled."""
    since = time_arg(args.since)
    hook = _webhook(ctx, args.webhook_id)
    ctx.out.info(
        f"recovering FAILED deliveries of webhook {hook.name!r} ingested since {since}: "
        "scheduling..."
    )
    req = replay_pb2.RecoverFailedRequest(web_hook_id=args.webhook_id, since=since)
    resp = ctx.client.call(ctx.client.replay.RecoverFailed, req)
    scheduled = deliveries(resp.scheduled)
    ctx.out.info(f"scheduling... {scheduled} scheduled")
    if ctx.out.json:
        ctx.out.message(resp)
    else:
        ctx.out.line(f"{scheduled} scheduled for redelivery")
    _follow(ctx, args, hook.consumer_group_id, since, until_settled=resp.scheduled > 0)
    return 0


def rewind_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """RewindConsumerGroup, reporting the order id."""
    since = time_arg(args.since)
    hook = _webhook(ctx, args.webhook_id)
    ctx.out.info(f"ordering a rewind of webhook {hook.name!r} to {since}...")
    req = replay_pb2.RewindConsumerGroupRequest(web_hook_id=args.webhook_id, since=since)
    resp = ctx.client.call(ctx.client.replay.RewindConsumerGroup, req)
    if ctx.out.json:
        ctx.out.message(resp)
    else:
        ctx.out.line(f"rewind order {resp.rewind_id} recorded")
    ctx.out.info(
        "the dispatcher owning consumer group "
        f"{hook.consumer_group_id} carries it out within seconds"
    )
    _follow(ctx, args, hook.consumer_group_id, since, until_settled=False)
    return 0


def _figures(m: Any) -> str:
    return (
        f"{m.total_events} in window: {m.delivered_events} delivered, {m.failed_events} failed, "
        f"{m.retrying_events} retrying, {m.pending_events} pending"
    )


def _follow(
    ctx: Context, args: argparse.Namespace, group: str, since: str, *, until_settled: bool
) -> None:
    """Print the group's figures since ``since`` whenever they change, for up
    to ``--watch`` seconds (recover stops early once nothing is left failed,
    retrying or pending); without --watch, say how to follow."""
    start = parse_time(since)
    if args.watch <= 0 or start is None:
        ctx.out.info(f"watch it: eventnotify logs group {group} --since {since}")
        return
    deadline = time.monotonic() + args.watch
    last = ""
    while True:
        window = math.ceil((utcnow() - start).total_seconds()) + 1
        req = log_pb2.GetConsumerGroupMetricsRequest(
            consumer_group_id=group, window_seconds=min(max(window, 1), MAX_WINDOW_SECONDS)
        )
        m = ctx.client.call(ctx.client.logs.GetConsumerGroupMetrics, req)
        figures = _figures(m)
        if figures != last:
            ctx.out.info(f"progress: {figures}")
            last = figures
        unsettled = m.failed_events + m.retrying_events + m.pending_events
        if until_settled and unsettled == 0:
            ctx.out.info("done: nothing left failed, retrying or pending")
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            ctx.out.info(
                f"stopped watching after {args.watch:g}s: {unsettled} in the window not delivered "
                f"(failed, retrying or pending); "
                f"continue with: eventnotify logs group {group} --since {since}"
            )
            return
        time.sleep(min(args.interval, remaining))
