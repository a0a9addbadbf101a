"""``python -m service``: run the gRPC service with settings from the environment."""

from __future__ import annotations

import asyncio
import os
import sys

from service.server import serve
from service.settings import Settings, SettingsError


def main() -> int:
    """Entry point; exits 2 on a configuration error."""
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return 2
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
