"""What ``python -m service`` and ``python -m dispatcher`` share at the edge:
``--help`` listing the environment they read, settings built once from the
environment with errors that name the variable, and the event loop (uvloop
when it is installed)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from eventnotify.settings import Settings, SettingsError, describe

T = TypeVar("T")


def _epilog() -> str:
    rows = [f"  {env:<40} {default!s:<14} {doc}" for env, default, doc in describe()]
    return "environment (name, default, meaning):\n" + "\n".join(rows)


def run_process(
    prog: str,
    summary: str,
    main: Callable[[Settings], Coroutine[Any, Any, None]],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv`` (only ``--help``), build settings from the environment and
    run ``main`` to completion. Returns the exit code: 2 on a configuration error."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=summary + " Configured entirely by environment variables.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return 2
    run_on_loop(main(settings))
    return 0


def run_on_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the loop both processes use in
    production: uvloop when installed (a normal dependency), else asyncio's.
    The benchmarks run every contender through this too."""
    try:
        import uvloop
    except ImportError:  # optional on platforms without it
        return asyncio.run(coro)
    return uvloop.run(coro)
