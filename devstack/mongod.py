"""Launch the SecantusDB MongoDB-wire server (run with the .venv-mongo interpreter).

SecantusDB is GPL-2.0, so it is installed in its own virtualenv and this tiny
script is the only code that imports it; eventnotify talks to it over the wire.
The ``secantusd-py`` CLI ignores ``ttl_sweep_seconds``, hence this launcher.

Usage: python mongod.py PORT [STORAGE_PATH]   (prints "ready PORT" when listening)
"""

import signal
import sys
import threading

import secantus  # type: ignore[import-not-found]

port = int(sys.argv[1])
storage = sys.argv[2] if len(sys.argv) > 2 else ":memory:"
server = secantus.SecantusDBServer(
    host="127.0.0.1", port=port, storage_path=storage, ttl_sweep_seconds=1
)
server.start()
print(f"ready {server.port}", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
server.stop()
