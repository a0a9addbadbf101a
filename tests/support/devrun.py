"""``python -m devstack run`` (what ``make run`` runs after installing) as a
child process with its own state directory and every port moved to a free
one, so it can run beside a developer's own ``make run``."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from devstack import REPO, free_port

VENV_BIN = REPO / ".venv" / "bin"
READY_LINE = "4. eventnotify logs get EVENT_ID"  # the banner's last line


def clean_env(home: Path, **overrides: str) -> dict[str, str]:
    """The environment without any EVENTNOTIFY_/MONGODB_/KAFKA_ variable, with
    the virtualenv first on PATH (as after ``. .venv/bin/activate``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVENTNOTIFY_", "MONGODB_", "KAFKA_"))
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def free_port_env() -> dict[str, str]:
    """Every port make run listens on, moved to a free one."""
    return {
        "EVENTNOTIFY_DEV_MONGO_PORT": str(free_port()),
        "EVENTNOTIFY_DEV_KAFKA_PORT": str(free_port()),
        "EVENTNOTIFY_DEV_KCAT_PORT": str(free_port()),
        "EVENTNOTIFY_GRPC_ADDRESS": f"127.0.0.1:{free_port()}",
        "EVENTNOTIFY_SERVICE_METRICS_PORT": str(free_port()),
        "EVENTNOTIFY_DISPATCHER_METRICS_PORT": str(free_port()),
    }


class LineReader:
    """Collects a pipe's lines in a thread, so a test can await one without blocking."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._queue.put(raw.decode(errors="replace").rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, within: float) -> bool:
        """Whether a line containing ``text`` arrives within ``within`` s."""
        if any(text in line for line in self.lines):
            return True
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            self.lines.append(line)
            if text in line:
                return True
        return False

    def wait_count(self, text: str, count: int, within: float) -> bool:
        """Whether ``count`` lines containing ``text`` have arrived within ``within`` s."""
        deadline = time.monotonic() + within
        while sum(text in line for line in self.lines) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            self.lines.append(line)
        return True

    def text(self) -> str:
        """Everything read so far (drains what is queued)."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return "\n".join(self.lines)


class DevRun:
    """One ``python -m devstack run``, started in its own process group so a
    test can send it the SIGINT a terminal's Ctrl-C sends."""

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.state = workdir / ".eventnotify"
        self.env = dict(env)
        self.env["EVENTNOTIFY_DEV_STATE_DIR"] = str(self.state)
        self.proc: subprocess.Popen[bytes] | None = None
        self.out: LineReader | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run"],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.out = LineReader(self.proc.stdout)

    def wait_ready(self, within: float) -> None:
        assert self.out is not None
        if not self.out.wait_for(READY_LINE, within):
            raise AssertionError(f"make run did not get ready:\n{self.out.text()}")

    @property
    def credentials(self) -> dict[str, str]:
        data = json.loads((self.state / "credentials.json").read_text())
        return {str(k): str(v) for k, v in data.items()}

    def ctrl_c(self, within: float) -> int:
        """SIGINT to the process group, as a terminal's Ctrl-C; the exit status."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(within)

    def kill(self) -> None:
        """Last resort at the end of a failed test: SIGTERM, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self, name: str) -> str:
        path = self.state / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
