"""``python -m dispatcher``: run one dispatcher process until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal

from dispatcher.app import Dispatcher
from service.logging import configure_logging
from service.settings import Settings


async def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    dispatcher = Dispatcher(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await dispatcher.start()
    await stop.wait()
    await dispatcher.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
