"""``pip install .`` works on a fresh virtualenv with nothing else: the wheel
carries the code generated from protos/, and the three entry points start.

Built from a copy of the tracked files only, so generated code lying around in
the working tree cannot hide a broken build."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Builds and installs from the package index: not part of the fast tier.
pytestmark = pytest.mark.slow


def _run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_CONSTRAINT": str(REPO / ".deps" / "constraints.txt")}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        rel = name.decode()
        if not (REPO / rel).is_file():
            continue  # deleted in the working tree
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes((REPO / rel).read_bytes())
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", work / "dist", src)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("eventnotify-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "eventnotify/v1/webhook_pb2.py" in names
    assert "eventnotify/v1/webhook_pb2.pyi" in names
    assert not [n for n in names if n.startswith(("devstack/", "bench/", "scripts/", "tests/"))]
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    pip = _run(env_dir / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return env_dir / "bin"


@pytest.mark.parametrize(
    "argv",
    [
        ("eventnotify", "--help"),
        ("python", "-m", "service", "--help"),
        ("python", "-m", "dispatcher", "--help"),
    ],
)
def test_installed_wheel_entry_points_start(installed: Path, argv: tuple[str, ...]) -> None:
    # Run from an empty directory so nothing is imported from the source tree.
    result = _run(installed / argv[0], *argv[1:], cwd=installed.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "usage:" in result.stdout
