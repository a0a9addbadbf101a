"""``python -m dispatcher``: run one dispatcher process until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys

from dispatcher import gc_tuning
from dispatcher.app import Dispatcher
from eventnotify.entrypoint import run_process
from eventnotify.logging import configure_logging
from eventnotify.settings import Settings


async def run(settings: Settings) -> None:
    """Run one dispatcher until SIGTERM/SIGINT, then drain and stop."""
    configure_logging(settings.log_level)
    gc_tuning.tune()
    dispatcher = Dispatcher(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await dispatcher.start()
    gc_tuning.freeze_startup_objects()
    await stop.wait()
    await dispatcher.shutdown()


def main() -> int:
    """Entry point; exits 2 on a configuration error."""
    return run_process(
        "python -m dispatcher", "The eventnotify dispatcher: Kafka events to webhooks.", run
    )


if __name__ == "__main__":
    sys.exit(main())
