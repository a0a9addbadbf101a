"""``eventnotify keys ...``: ApiKeyService, plus the offline ``bootstrap``.

``bootstrap`` mints a key straight into MongoDB, the one way to do so: it is
how the first admin key of an org comes to exist, before any key can call the
API. It finds MongoDB through the service's own environment variables
(MONGODB_URI, MONGODB_DATABASE).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from eventnotify.v1 import admin_pb2
from service.cli.config import UsageError
from service.cli.context import Context
from service.cli.output import enum_name, yes_no

if TYPE_CHECKING:
    from service.cli.context import Subparsers

ROLES = {"read": admin_pb2.READ, "write": admin_pb2.WRITE, "admin": admin_pb2.ADMIN}


def register(sub: Subparsers) -> None:
    """Add the ``keys`` command group."""
    group = sub.add_parser("keys", help="API keys of the org")
    cmds = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    boot = cmds.add_parser(
        "bootstrap",
        help="mint a key straight into MongoDB (no server or key needed)",
        description="Mint an API key by writing to MongoDB directly, found through "
        "MONGODB_URI / MONGODB_DATABASE like the service. Prints the secret once.",
    )
    boot.add_argument("--org", type=int, required=True, help="org id (> 0)")
    boot.add_argument("--role", choices=list(ROLES), required=True)
    boot.add_argument("--description", default="bootstrap")
    boot.set_defaults(handler=bootstrap_cmd)

    create = cmds.add_parser("create", help="mint a key over the API (prints its secret once)")
    create.add_argument("--role", choices=list(ROLES), required=True)
    create.add_argument("--description", default="")
    create.add_argument(
        "--org-id", type=int, default=0, help="org of the key (root key only; default: yours)"
    )
    create.set_defaults(handler=create_cmd)

    listing = cmds.add_parser("list", help="the org's keys")
    listing.set_defaults(handler=list_cmd)

    revoke = cmds.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(handler=revoke_cmd)


def _key_row(k: Any) -> tuple[object, ...]:
    state = "revoked" if k.revoked else "active"
    return (
        k.key_id,
        k.org_id,
        enum_name(admin_pb2.ApiKeyRole, k.role),
        state,
        k.created_on,
        k.description,
    )


KEY_HEADERS = ("KEY_ID", "ORG", "ROLE", "STATE", "CREATED", "DESCRIPTION")


def _show_created(ctx: Context, resp: Any) -> int:
    ctx.out.secret_warning("the API key secret")
    if ctx.out.json:
        ctx.out.message(resp)
    else:
        k = resp.api_key
        ctx.out.fields(
            [
                ("keyId", k.key_id),
                ("orgId", k.org_id),
                ("role", enum_name(admin_pb2.ApiKeyRole, k.role)),
                ("description", k.description),
                ("secret", resp.secret),
            ]
        )
    return 0


def create_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """CreateApiKey."""
    req = admin_pb2.CreateApiKeyRequest(
        org_id=args.org_id, role=ROLES[args.role], description=args.description
    )
    return _show_created(ctx, ctx.client.call(ctx.client.keys.CreateApiKey, req))


def list_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """ListApiKeys."""
    resp = ctx.client.call(ctx.client.keys.ListApiKeys, admin_pb2.ListApiKeysRequest())
    ctx.out.result(resp, KEY_HEADERS, lambda: [_key_row(k) for k in resp.api_keys], "no keys")
    return 0


def revoke_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """RevokeApiKey."""
    req = admin_pb2.RevokeApiKeyRequest(key_id=args.key_id)
    key = ctx.client.call(ctx.client.keys.RevokeApiKey, req)
    if ctx.out.json:
        ctx.out.message(key)
    else:
        ctx.out.line(f"key {key.key_id} revoked ({yes_no(key.revoked)})")
    return 0


def bootstrap_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """Mint a key into MongoDB directly; prints it like ``keys create``."""
    # Imported here: only this command needs the storage layer and its settings.
    from eventnotify.settings import Settings, SettingsError

    if args.org <= 0:
        raise UsageError("--org must be a positive org id")
    try:
        settings = Settings.from_env(ctx.env)
    except SettingsError as exc:
        raise UsageError(f"configuration error: {exc}") from None
    ctx.out.info(
        f"minting an {args.role.upper()} key for org {args.org} in MongoDB {settings.mongo.uri}"
    )
    from eventnotify.errors import DomainError

    try:
        resp = asyncio.run(_mint(settings, args.org, args.role, args.description))
    except DomainError as exc:  # e.g. MongoDB unreachable
        ctx.out.info(f"error: {type(exc).__name__}: {exc.message}")
        return 1
    return _show_created(ctx, resp)


async def _mint(settings: Any, org: int, role: str, description: str) -> Any:
    from eventnotify.domain import Role
    from eventnotify.store import open_store
    from service import convert
    from service.core.keys import mint_key

    store = open_store(settings.mongo)
    try:
        await store.ensure_indexes()
        key, secret = await mint_key(store.api_keys, org, Role[role.upper()], description)
    finally:
        await store.close()
    return admin_pb2.CreateApiKeyResponse(api_key=convert.api_key_to_proto(key), secret=secret)
