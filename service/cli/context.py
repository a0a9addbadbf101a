"""What every command handler receives."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from service.cli.client import Client
from service.cli.output import Output


@dataclass
class Context:
    """The client, the output, and the environment (for offline commands)."""

    client: Client
    out: Output
    env: Mapping[str, str]


Handler = Callable[[Context, argparse.Namespace], int]


def fetch_pages(
    ctx: Context,
    fetch: Callable[[str], Any],
    items: Callable[[Any], Any],
    merged: Any,
    token: str,
    all_pages: bool,
    what: str,
) -> str:
    """Call ``fetch(token)`` once, or until the last page with ``all_pages``,
    appending each page's ``items`` to ``merged``'s; returns the next token."""
    while True:
        page = fetch(token)
        items(merged).extend(items(page))
        token = page.next_page_token
        if not (all_pages and token):
            return str(token)
        ctx.out.info(f"fetched {len(items(merged))} {what}, fetching more...")


if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
