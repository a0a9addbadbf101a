"""Build hook: the wheel carries the code generated from protos/.

Metadata lives in pyproject.toml; this file only makes ``build_py`` run the
proto generator first, so ``pip install .`` on a fresh machine needs nothing
else (grpcio-tools is a build requirement).
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithProtos(build_py):
    """``build_py`` that compiles protos/ into eventnotify/v1 before collecting modules."""

    def run(self) -> None:
        sys.path.insert(0, str(HERE / "scripts"))
        try:
            from protogen import generate
        finally:
            sys.path.pop(0)
        if generate(HERE) != 0:
            raise SystemExit("protoc failed; see the messages above")
        super().run()


setup(cmdclass={"build_py": BuildPyWithProtos})
