"""``eventnotify dev receiver``: a webhook receiver for trying things out.

It prints each request that arrives (event, ids, whether its Standard Webhooks
signature verifies, the body) and answers 204, or 400 when a secret was given
and the signature does not match it, so a new user sees a first delivery
without writing a receiver. It uses ``eventnotify.receiver``, the same
verification a real receiver copies. Not for production: one thread per
request, everything on stdout.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, TextIO

from eventnotify.receiver import Verifier, WebhookVerificationError
from service.cli.config import UsageError
from service.cli.context import Context

if TYPE_CHECKING:
    from service.cli.context import Subparsers

DEFAULT_PORT = 8765
MAX_BODY_SHOWN = 4000


def register(sub: Subparsers) -> None:
    """Add the ``dev`` command group."""
    group = sub.add_parser("dev", help="tools for trying eventnotify locally")
    cmds = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    rec = cmds.add_parser(
        "receiver",
        help="print the webhook requests that arrive, verifying their signatures",
        description="Listen on 127.0.0.1:PORT, print every request that arrives and check "
        "its webhook-signature against --secret (the whsec_... that `webhooks create` "
        "printed). Answers 204, or 400 when the signature does not verify. Ctrl-C stops it.",
    )
    rec.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    rec.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    rec.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="WHSEC",
        help="signing secret to verify with (repeat for several, e.g. during rotation)",
    )
    rec.set_defaults(handler=receiver_cmd)


def describe(headers: dict[str, str], body: bytes, verifier: Verifier | None) -> tuple[bool, str]:
    """(accepted, the lines to print) for one request. Pure: no I/O."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if verifier is None:
        accepted, check = True, "not checked (start with --secret whsec_... to verify)"
    else:
        try:
            verifier.verify(lowered, body)
            accepted, check = True, "verified"
        except WebhookVerificationError as exc:
            accepted, check = False, f"INVALID ({exc})"
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if isinstance(event, dict):
        title = f"{event.get('eventName', '?')}  eventId={event.get('eventId', '?')}"
        shown = json.dumps(event, indent=2, sort_keys=True)
    else:
        title = "(body is not a JSON object)"
        shown = body.decode(errors="replace")
    if len(shown) > MAX_BODY_SHOWN:
        shown = shown[:MAX_BODY_SHOWN] + "\n…"
    lines = [
        f"delivery: {title}",
        f"  webhook-id: {lowered.get('webhook-id', '-')}",
        f"  signature: {check}",
        *("  " + line for line in shown.splitlines()),
    ]
    return accepted, "\n".join(lines)


def _handler_class(verifier: Verifier | None, out: TextIO) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            accepted, text = describe(dict(self.headers.items()), body, verifier)
            with lock:
                out.write(f"{self.command} {self.path}  {text}\n")
                out.flush()
            self.send_response(204 if accepted else 400)
            self.send_header("content-length", "0")
            self.end_headers()

        do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Silence the default per-request line on stderr."""

    return Handler


def receiver_cmd(ctx: Context, args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    try:
        verifier = Verifier(args.secret) if args.secret else None
    except ValueError as exc:
        raise UsageError(f"--secret: {exc}") from None
    try:
        server = ThreadingHTTPServer(
            (args.host, args.port), _handler_class(verifier, ctx.out.stdout)
        )
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc} "
            "(choose another with --port)"
        ) from None
    url = f"http://{args.host}:{server.server_address[1]}/"
    ctx.out.info(f"receiving webhooks at {url}  (Ctrl-C stops)")
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0
