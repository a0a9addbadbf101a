"""The dispatcher as a real child process (``python -m dispatcher``), so tests
can SIGKILL it mid-run the way a crashed host would, and restart it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from devstack import REPO
from eventnotify.settings import Settings

_VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def dispatcher_env(
    mongodb_uri: str,
    database: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    **overrides: str,
) -> dict[str, str]:
    """Environment of a test dispatcher: its own database and topic prefix,
    fast group joins and webhook pick-up, 127.0.0.1 allow-listed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTNOTIFY_", "KAFKA_"))}
    env.update(
        {
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DATABASE": database,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "EVENTNOTIFY_TOPIC_PREFIX": topic_prefix,
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "EVENTNOTIFY_ALLOWED_PRIVATE_HOSTS": "127.0.0.1,localhost",
            "EVENTNOTIFY_DISPATCHER_METRICS_PORT": "0",
            "EVENTNOTIFY_REFRESH_SECONDS": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def env_for(settings: Settings, **overrides: str) -> dict[str, str]:
    """``dispatcher_env`` for a test's own settings (its database and prefix)."""
    return dispatcher_env(
        settings.mongo.uri,
        settings.mongo.database,
        settings.kafka.bootstrap_servers,
        settings.kafka.topic_prefix,
        **overrides,
    )


class DispatcherProcess:
    """One ``python -m dispatcher`` child; every start appends to one log file.

    Only the process this object started is ever signalled (by its handle).
    """

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.alive:
            raise RuntimeError("dispatcher already running")
        python = _VENV_PYTHON if _VENV_PYTHON.exists() else Path(sys.executable)
        with self.log_path.open("ab") as log:
            log.write(f"--- start #{self.starts + 1} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(python), "-m", "dispatcher"],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no drain, no commit, no goodbye to the consumer groups."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful drain), SIGKILL if it does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def tail(self, lines: int = 80) -> str:
        """The last lines of the log, for failure reports."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no dispatcher log)"
        return "\n".join(text.splitlines()[-lines:])
