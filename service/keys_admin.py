"""Bootstrap API keys without the server (writes straight to MongoDB).

    python -m service.keys_admin mint --org 1 --role admin [--description "ops"]
    python -m service.keys_admin list --org 1
    python -m service.keys_admin revoke --org 1 --key-id 3f9a0c1b2d4e

``mint`` prints the secret on stdout (only then is it ever shown); use it as
``authorization: Bearer <secret>``. MongoDB is found through the same
environment variables as the service (MONGODB_URI, MONGODB_DATABASE).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from service.core.keys import mint_key
from service.domain import Role
from service.settings import Settings, SettingsError
from service.store import open_store
from service.timefmt import format_ts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service.keys_admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mint = sub.add_parser("mint", help="create a key and print its secret")
    mint.add_argument("--org", type=int, required=True)
    mint.add_argument("--role", choices=["read", "write", "admin"], required=True)
    mint.add_argument("--description", default="")
    listing = sub.add_parser("list", help="list an org's keys")
    listing.add_argument("--org", type=int, required=True)
    revoke = sub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("--org", type=int, required=True)
    revoke.add_argument("--key-id", required=True)
    return parser


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one command; returns the exit status."""
    store = open_store(settings.mongo)
    try:
        await store.ensure_indexes()
        if args.command == "mint":
            if args.org <= 0:
                sys.stderr.write("--org must be a positive org id\n")
                return 2
            key, secret = await mint_key(
                store.api_keys, args.org, Role[args.role.upper()], args.description
            )
            sys.stderr.write(f"minted {key.role.name} key {key.key_id} for org {key.org_id}\n")
            sys.stdout.write(secret + "\n")
        elif args.command == "list":
            for k in await store.api_keys.list_for_org(args.org):
                state = "revoked" if k.revoked else "active"
                sys.stdout.write(
                    f"{k.key_id}\t{k.role.name}\t{state}\t{format_ts(k.created_on)}\t"
                    f"{k.description}\n"
                )
        else:
            revoked = await store.api_keys.revoke(args.org, args.key_id)
            if revoked is None:
                sys.stderr.write(f"no key {args.key_id} in org {args.org}\n")
                return 1
            sys.stdout.write(f"revoked {revoked.key_id}\n")
        return 0
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run; settings come from the environment."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return 2
    return asyncio.run(run(args, settings))


if __name__ == "__main__":
    sys.exit(main())
