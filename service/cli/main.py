"""Entry point of the ``eventnotify`` console command.

Exit status: 0 on success, 1 when the server refused a call (or a test
delivery / offline command failed), 2 for usage and configuration mistakes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from service.cli import dev, events, keys, logs, publish, replay, webhooks
from service.cli.client import Client, RpcError, describe_error
from service.cli.config import (
    ADDRESS_ENV,
    API_KEY_ENV,
    DEFAULT_ADDRESS,
    Config,
    UsageError,
    resolve,
)
from service.cli.context import Context, Handler
from service.cli.output import Output
from service.gateway.curl import curl_command, route_for

EPILOG = f"""\
The server and key come from --address/--api-key, else ${ADDRESS_ENV}/${API_KEY_ENV},
else the nearest .eventnotify/credentials.json (written by `make run`) in this
directory or a parent, else ~/.eventnotify/credentials.json; the default address
is {DEFAULT_ADDRESS}. Times accept "2020-04-20T10:35:47.473+0000", RFC 3339, or a
duration meaning that long ago (30m, 6h, 7d).
"""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(
        prog="eventnotify",
        description="Command line for the eventnotify gRPC API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--address", help=f"server host:port (env {ADDRESS_ENV})")
    parser.add_argument("--api-key", help=f"API key secret (env {API_KEY_ENV})")
    parser.add_argument(
        "--org", help="org id for the deployment's root key (x-org-id; env EVENTNOTIFY_ORG_ID)"
    )
    parser.add_argument("--json", action="store_true", help="print the protobuf JSON mapping")
    parser.add_argument("--timeout", type=float, help="seconds per call (default 30)")
    parser.add_argument(
        "--curl",
        nargs="?",
        const=DEFAULT_HTTP_URL,
        metavar="URL",
        help="also print each call as the equivalent curl command against the HTTP "
        f"gateway at URL (default {DEFAULT_HTTP_URL}) to stderr",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (webhooks, events, logs, replay, publish, keys, dev):
        module.register(sub)
    return parser


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    home: Path,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Parse ``argv`` and run the command; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help
        return exc.code if isinstance(exc.code, int) else 2
    out = Output(args.json, stdout, stderr)
    try:
        config = resolve(
            address=args.address,
            api_key=args.api_key,
            org_id=args.org,
            timeout=args.timeout,
            env=env,
            cwd=cwd,
            home=home,
        )
    except UsageError as exc:
        out.info(f"error: {exc}")
        return 2
    client = Client(config)
    if args.curl:
        client.show_curl = _curl_printer(args.curl, config, stderr)
    handler: Handler = args.handler
    try:
        code = handler(Context(client, out, env), args)
        stdout.flush()  # inside the try: a closed pipe surfaces here
        return code
    except UsageError as exc:
        out.info(f"error: {exc}")
        return 2
    except RpcError as exc:
        for line in describe_error(exc, config):
            out.info(line)
        return 1
    except KeyboardInterrupt:
        out.info("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `eventnotify events list | head`
        # Point stdout at devnull so the interpreter's final flush does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        client.close()


DEFAULT_HTTP_URL = "http://127.0.0.1:8080"


def _curl_printer(base_url: str, config: Config, stderr: TextIO) -> Callable[[Any], None]:
    headers = ['"authorization: Bearer $EVENTNOTIFY_API_KEY"'] if config.api_key else []
    if config.org_id:
        headers.append(f"'x-org-id: {config.org_id}'")

    def show(request: Any) -> None:
        route = route_for(request)
        if route is not None:
            stderr.write(curl_command(route, request, base_url, headers) + "\n")

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    return run(
        sys.argv[1:] if argv is None else argv,
        env=os.environ,
        cwd=Path.cwd(),
        home=Path.home(),
        stdout=sys.stdout,
        stderr=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
