"""``eventnotify events ...``: EventCatalogService."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from google.protobuf import field_mask_pb2, struct_pb2

from eventnotify.v1 import catalog_pb2
from service.cli.context import Context
from service.cli.output import to_dict, yes_no
from service.cli.parsing import json_object, read_text

if TYPE_CHECKING:
    from service.cli.context import Subparsers


def register(sub: Subparsers) -> None:
    """Add the ``events`` command group."""
    group = sub.add_parser("events", help="the org's event catalogue")
    cmds = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = cmds.add_parser("list", help="standard and custom events with their state")
    listing.add_argument("--active-only", action="store_true", help="only active events")
    listing.set_defaults(handler=list_cmd)

    schema = cmds.add_parser("schema", help="print an event's JSON Schema")
    schema.add_argument("name", metavar="NAME")
    schema.set_defaults(handler=schema_cmd)

    create = cmds.add_parser("create", help="define a custom event")
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--schema", required=True, metavar="FILE", help="JSON Schema of `data` ('-' for stdin)"
    )
    create.add_argument("--description", default="", help="what the event means")
    create.set_defaults(handler=create_cmd)

    for action, active in (("activate", True), ("deactivate", False)):
        toggle = cmds.add_parser(action, help=f"{action} an event for the org")
        toggle.add_argument("name", metavar="NAME")
        toggle.set_defaults(handler=toggle_cmd, active=active)


def list_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ListEventTypes."""
    req = catalog_pb2.ListEventTypesRequest(active_only=args.active_only)
    resp = ctx.client.call(ctx.client.catalog.ListEventTypes, req)
    if ctx.out.json:
        ctx.out.message(resp)
        return 0
    rows = [
        (
            e.event_name,
            yes_no(e.active),
            "standard" if e.standard else "custom",
            e.category,
            e.description,
        )
        for e in resp.event_types
    ]
    ctx.out.table(("NAME", "ACTIVE", "KIND", "CATEGORY", "DESCRIPTION"), rows, "no events")
    return 0


def schema_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """GetEventType: the schema (human mode) or the whole EventType (--json)."""
    req = catalog_pb2.GetEventTypeRequest(event_name=args.name)
    event = ctx.client.call(ctx.client.catalog.GetEventType, req)
    if ctx.out.json:
        ctx.out.message(event)
    else:
        state = "active" if event.active else "inactive"
        ctx.out.info(f"{event.event_name} ({state}): {event.description}".rstrip(": "))
        ctx.out.line(json.dumps(to_dict(event.schema), indent=2, ensure_ascii=False))
    return 0


def create_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """CreateEventType from a schema file."""
    schema = struct_pb2.Struct()
    schema.update(json_object(read_text(args.schema), f"schema {args.schema}"))
    event = catalog_pb2.EventType(event_name=args.name, schema=schema, description=args.description)
    req = catalog_pb2.CreateEventTypeRequest(event_type=event)
    created = ctx.client.call(ctx.client.catalog.CreateEventType, req)
    return _show(ctx, created, f"created custom event {created.event_name}")


def toggle_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """UpdateEventType of the ``active`` field only."""
    req = catalog_pb2.UpdateEventTypeRequest(
        event_type=catalog_pb2.EventType(event_name=args.name, active=args.active),
        update_mask=field_mask_pb2.FieldMask(paths=["active"]),
    )
    event = ctx.client.call(ctx.client.catalog.UpdateEventType, req)
    state = "active" if event.active else "inactive"
    return _show(ctx, event, f"event {event.event_name} is now {state}")


def _show(ctx: Context, event: object, summary: str) -> int:
    if ctx.out.json:
        ctx.out.message(event)
    else:
        ctx.out.line(summary)
    return 0
