"""``eventnotify webhooks ...``: WebhookService."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from google.protobuf import field_mask_pb2

from eventnotify.v1 import webhook_pb2
from service.cli.config import UsageError
from service.cli.context import Context, fetch_pages
from service.cli.output import enum_name, yes_no
from service.cli.parsing import header_pair

if TYPE_CHECKING:
    from service.cli.context import Subparsers

TYPES = {"http": webhook_pb2.HTTP, "queue": webhook_pb2.QUEUE}
METHODS = {
    m.lower(): webhook_pb2.MethodType.Value(m) for m in ("POST", "PUT", "PATCH", "GET", "DELETE")
}


def register(sub: Subparsers) -> None:
    """Add the ``webhooks`` command group."""
    group = sub.add_parser("webhooks", help="create and manage webhooks")
    cmds = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = cmds.add_parser("create", help="create a webhook (prints its signing secret once)")
    _webhook_options(create, creating=True)
    create.set_defaults(handler=create_cmd)

    get = cmds.add_parser("get", help="show one webhook")
    get.add_argument("webhook_id", metavar="WEBHOOK_ID")
    get.set_defaults(handler=get_cmd)

    listing = cmds.add_parser("list", help="list the org's webhooks")
    listing.add_argument("--all", action="store_true", help="fetch every page")
    listing.add_argument("--page-size", type=int, default=0, help="webhooks per page (1..500)")
    listing.add_argument("--page-token", default="", help="next-page token of a previous list")
    listing.add_argument("--include-inactive", action="store_true", help="also deleted ones")
    listing.add_argument("--event", default="", help="only webhooks subscribed to this event")
    listing.set_defaults(handler=list_cmd)

    update = cmds.add_parser("update", help="change only the given fields of a webhook")
    update.add_argument("webhook_id", metavar="WEBHOOK_ID")
    _webhook_options(update, creating=False)
    update.set_defaults(handler=update_cmd)

    delete = cmds.add_parser(
        "delete",
        help="deactivate a webhook (or --purge it); its waiting retries end as FAILED",
    )
    delete.add_argument("webhook_id", metavar="WEBHOOK_ID")
    delete.add_argument("--purge", action="store_true", help="remove the document for good")
    delete.set_defaults(handler=delete_cmd)

    rotate = cmds.add_parser("rotate-secret", help="issue a new signing secret")
    rotate.add_argument("webhook_id", metavar="WEBHOOK_ID")
    rotate.add_argument(
        "--grace", type=int, default=0, help="seconds the old secret still signs (default 86400)"
    )
    rotate.set_defaults(handler=rotate_cmd)

    test = cmds.add_parser("send-test", help="deliver a sample event now and show the answer")
    test.add_argument("webhook_id", metavar="WEBHOOK_ID")
    test.add_argument("--event", default="", help="event type (default: the webhook's first)")
    test.set_defaults(handler=send_test_cmd)


def _webhook_options(p: argparse.ArgumentParser, *, creating: bool) -> None:
    p.add_argument("--name", required=creating, help="unique name (1..128 characters)")
    p.add_argument("--url", required=creating, help="HTTP(S) URL, or the topic for --type queue")
    p.add_argument(
        "--event",
        action="append",
        dest="events",
        required=creating,
        metavar="NAME",
        help="subscribed event: repeat, or give a comma list (a,b); on update replaces the list",
    )
    p.add_argument("--type", choices=sorted(TYPES), help="delivery channel (default http)")
    p.add_argument("--method", choices=sorted(METHODS), help="HTTP method (default post)")
    p.add_argument(
        "--header",
        action="append",
        dest="headers",
        metavar="NAME=VALUE",
        help="extra header (repeat for several; on update replaces them all)",
    )
    p.add_argument(
        "--max-connections", type=int, required=creating, help="concurrent requests cap (> 0)"
    )
    p.add_argument("--sla", type=int, help="expected delivery time in seconds (default 3600)")
    p.add_argument("--retries", type=int, help="retry attempts; 0 = default policy (7 days)")
    if creating:
        p.add_argument("--ordered", action="store_true", help="deliver each refId in order")
    else:
        p.add_argument("--ordered", action=argparse.BooleanOptionalAction, default=None)
        p.add_argument(
            "--active", action=argparse.BooleanOptionalAction, default=None, help="(re)activate"
        )


def split_names(values: list[str]) -> list[str]:
    """``--event a,b --event c`` -> ``[a, b, c]`` (event names never hold commas)."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def webhook_from_args(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The Webhook message the options describe and the proto paths they set."""
    hook = webhook_pb2.Webhook()
    paths: list[str] = []

    def given(path: str, value: Any) -> bool:
        if value is None:
            return False
        paths.append(path)
        return True

    if given("name", args.name):
        hook.name = args.name
    if given("event_names", args.events):
        hook.event_names.extend(split_names(args.events))
    if given("web_hook_url", args.url):
        hook.web_hook_url = args.url
    if given("web_hook_type", args.type):
        hook.web_hook_type = TYPES[args.type]
    if given("method_type", args.method):
        hook.method_type = METHODS[args.method]
    if given("web_hook_headers", args.headers):
        hook.web_hook_headers.update(dict(header_pair(h) for h in args.headers))
    if given("max_allowed_connections", args.max_connections):
        hook.max_allowed_connections = args.max_connections
    if given("sla_in_seconds", args.sla):
        hook.sla_in_seconds = args.sla
    if given("no_of_retry_attempts", args.retries):
        hook.no_of_retry_attempts = args.retries
    if given("ordered_delivery", args.ordered):
        hook.ordered_delivery = args.ordered
    if given("active", getattr(args, "active", None)):
        hook.active = args.active
    return hook, paths


def webhook_fields(h: Any) -> list[tuple[str, object]]:
    """A webhook as ``label, value`` pairs (labels are the JSON names)."""
    headers = "; ".join(f"{k}={v}" for k, v in sorted(h.web_hook_headers.items()))
    pairs: list[tuple[str, object]] = [
        ("webHookId", h.web_hook_id),
        ("name", h.name),
        ("active", yes_no(h.active)),
        ("eventNames", ", ".join(h.event_names)),
        ("webHookUrl", h.web_hook_url),
        ("webHookType", enum_name(webhook_pb2.WebhookType, h.web_hook_type) or "HTTP"),
        ("methodType", enum_name(webhook_pb2.MethodType, h.method_type) or "POST"),
        ("webHookHeaders", headers),
        ("maxAllowedConnections", h.max_allowed_connections),
        ("slaInSeconds", h.sla_in_seconds),
        ("noOfRetryAttempts", h.no_of_retry_attempts or "default policy"),
        ("orderedDelivery", yes_no(h.ordered_delivery)),
        ("consumerGroupId", h.consumer_group_id),
        ("circuitState", enum_name(webhook_pb2.CircuitState, h.circuit_state)),
        ("orgId", h.org_id),
        ("createdOn", h.attribution.created_on),
        ("lastUpdatedOn", h.attribution.last_updated_on),
    ]
    if h.deactivation_reason:
        pairs.append(("deactivationReason", h.deactivation_reason))
    return pairs


def _show(ctx: Context, hook: Any) -> int:
    if ctx.out.json:
        ctx.out.message(hook)
    else:
        ctx.out.fields(webhook_fields(hook))
    return 0


def create_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """CreateWebhook; the signing secret is printed once."""
    hook, _ = webhook_from_args(args)
    resp = ctx.client.call(
        ctx.client.webhooks.CreateWebhook, webhook_pb2.CreateWebhookRequest(webhook=hook)
    )
    ctx.out.secret_warning("the signing secret")
    if ctx.out.json:
        ctx.out.message(resp)
    else:
        ctx.out.fields([*webhook_fields(resp.webhook), ("signingSecret", resp.signing_secret)])
    return 0


def get_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """GetWebhook."""
    req = webhook_pb2.GetWebhookRequest(web_hook_id=args.webhook_id)
    return _show(ctx, ctx.client.call(ctx.client.webhooks.GetWebhook, req))


def list_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ListWebhooks: one page, or every page with --all."""

    def fetch(token: str) -> Any:
        req = webhook_pb2.ListWebhooksRequest(
            page_size=args.page_size,
            page_token=token,
            include_inactive=args.include_inactive,
            event_name=args.event,
        )
        return ctx.client.call(ctx.client.webhooks.ListWebhooks, req)

    merged = webhook_pb2.ListWebhooksResponse()
    token = fetch_pages(
        ctx, fetch, lambda r: r.webhooks, merged, args.page_token, args.all, "webhooks"
    )
    merged.next_page_token = token
    if ctx.out.json:
        ctx.out.message(merged)
        return 0
    rows = [
        (
            h.web_hook_id,
            h.name,
            yes_no(h.active),
            enum_name(webhook_pb2.WebhookType, h.web_hook_type) or "HTTP",
            ",".join(h.event_names),
            h.web_hook_url,
        )
        for h in merged.webhooks
    ]
    ctx.out.table(("ID", "NAME", "ACTIVE", "TYPE", "EVENTS", "URL"), rows, "no webhooks")
    if token:
        ctx.out.info(f"more webhooks: --page-token {token} (or --all)")
    return 0


def update_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """UpdateWebhook with an update_mask naming only the given options."""
    hook, paths = webhook_from_args(args)
    if not paths:
        raise UsageError("nothing to update: give at least one option (see --help)")
    hook.web_hook_id = args.webhook_id
    req = webhook_pb2.UpdateWebhookRequest(
        webhook=hook, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    return _show(ctx, ctx.client.call(ctx.client.webhooks.UpdateWebhook, req))


def delete_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """DeleteWebhook: deactivate, or purge."""
    req = webhook_pb2.DeleteWebhookRequest(web_hook_id=args.webhook_id, purge=args.purge)
    hook = ctx.client.call(ctx.client.webhooks.DeleteWebhook, req)
    ctx.out.info(f"webhook {args.webhook_id} {'purged' if args.purge else 'deactivated'}")
    return _show(ctx, hook)


def rotate_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """RotateSecret; the new secret is printed once."""
    req = webhook_pb2.RotateSecretRequest(
        web_hook_id=args.webhook_id, grace_period_seconds=args.grace
    )
    resp = ctx.client.call(ctx.client.webhooks.RotateSecret, req)
    ctx.out.secret_warning("the new signing secret")
    if ctx.out.json:
        ctx.out.message(resp)
    else:
        ctx.out.fields(
            [
                ("signingSecret", resp.signing_secret),
                ("previousSecretExpiresAt", resp.previous_secret_expires_at),
            ]
        )
    return 0


def send_test_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """SendTestEvent; exits 1 when the receiver did not answer 2xx."""
    req = webhook_pb2.SendTestEventRequest(web_hook_id=args.webhook_id, event_name=args.event)
    resp = ctx.client.call(ctx.client.webhooks.SendTestEvent, req)
    if ctx.out.json:
        ctx.out.message(resp)
    else:
        ctx.out.fields(
            [
                ("eventId", resp.event_id),
                ("success", yes_no(resp.success)),
                ("httpStatus", resp.http_status or "-"),
                ("latencyMs", resp.latency_ms),
                ("signatureSent", yes_no(resp.signature_sent)),
                ("error", resp.error),
                ("responseExcerpt", resp.response_excerpt),
            ]
        )
    if not resp.success:
        ctx.out.info("test delivery failed: the receiver did not answer 2xx")
        return 1
    return 0
