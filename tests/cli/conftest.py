"""Fixtures of the CLI tests: a real gRPC server on port 0 over the session's
local stack, and a runner of the installed ``eventnotify`` console command.

The server runs in the test's event loop, so the command runs through
``asyncio.create_subprocess_exec`` (a blocking ``subprocess.run`` would stop
the loop that has to answer it)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack import Stack
from eventnotify.domain import Role
from eventnotify.settings import Settings
from eventnotify.store import Store
from service.core.keys import mint_key
from service.server import ApiServer
from tests.support.service import serving
from tests.support.stack import make_settings

EXE = Path(sys.executable).parent / "eventnotify"
CALL_TIMEOUT = 60.0


@dataclass
class Api:
    """A running server (with a Kafka producer, so publishing works)."""

    settings: Settings
    store: Store
    server: ApiServer
    port: int

    async def key(self, org: int, role: Role = Role.ADMIN) -> str:
        """The secret of a fresh key of ``org``."""
        _, secret = await mint_key(self.store.api_keys, org, role, "cli test")
        return secret


@dataclass
class Result:
    """What one run of the command printed and returned."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def fields(self) -> dict[str, str]:
        """A ``label  value`` listing as a dict."""
        pairs = (line.split(None, 1) for line in self.out.splitlines() if line.strip())
        return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}

    def rows(self) -> list[list[str]]:
        """A table's data rows, split on runs of two or more spaces."""
        lines = [line for line in self.out.splitlines() if line.strip()]
        return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


class Cli:
    """Runs the installed console command with a clean environment: no
    EVENTNOTIFY_* or MONGODB_* variables, HOME and cwd in empty temp dirs (so
    no credentials file is found unless a test puts one there)."""

    def __init__(self, api: Api, key: str, tmp: Path) -> None:
        self.api = api
        self.key = key
        self.address = f"127.0.0.1:{api.port}"
        self.home = tmp / "home"
        self.cwd = tmp / "work"
        self.home.mkdir()
        self.cwd.mkdir()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("EVENTNOTIFY_", "MONGODB_", "KAFKA_"))
        }
        self.env["HOME"] = str(self.home)

    async def raw(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Result:
        """Run ``eventnotify *args`` exactly as given."""
        proc = await asyncio.create_subprocess_exec(
            str(EXE),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**self.env, **(env or {})},
            cwd=str(cwd or self.cwd),
        )
        out, err = await asyncio.wait_for(proc.communicate(), CALL_TIMEOUT)
        assert proc.returncode is not None
        return Result(proc.returncode, out.decode(), err.decode())

    async def __call__(self, *args: str) -> Result:
        """Run with --address and --api-key flags."""
        return await self.raw("--address", self.address, "--api-key", self.key, *args)

    async def ok(self, *args: str) -> Result:
        """Run with flags; the command must succeed."""
        result = await self(*args)
        assert result.code == 0, (args, result.out, result.err)
        return result

    def mongo_env(self) -> dict[str, str]:
        """MONGODB_* variables pointing at the test's database (for bootstrap)."""
        mongo = self.api.settings.mongo
        return {"MONGODB_URI": mongo.uri, "MONGODB_DATABASE": mongo.database}


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    """A running server with its own database and topic prefix."""
    settings = make_settings(stack)
    async with serving(settings) as (server, port, store):
        yield Api(settings, store, server, port)


@pytest.fixture
async def cli(api: Api, tmp_path: Path) -> Cli:
    """The command, with an admin key of org 1."""
    return Cli(api, await api.key(1), tmp_path)


def write_credentials(directory: Path, address: str, key: str) -> Path:
    """Write ``directory/.eventnotify/credentials.json`` as ``make run`` does."""
    path = directory / ".eventnotify" / "credentials.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"api_key": key, "address": address}, indent=2))
    return path


def table_has(result: Result, *cells: str) -> bool:
    """Whether some table row contains every one of ``cells``."""
    return any(all(c in row for c in cells) for row in result.rows())
