"""``python -m service``: run the gRPC service with settings from the environment."""

from __future__ import annotations

import sys

from eventnotify.entrypoint import run_process
from service.server import serve


def main() -> int:
    """Entry point; exits 2 on a configuration error."""
    return run_process("python -m service", "The eventnotify gRPC service.", serve)


if __name__ == "__main__":
    sys.exit(main())
