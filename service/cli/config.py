"""Where the server is and which API key to use.

Precedence, for each of address and API key: the command-line flag, then the
environment (``EVENTNOTIFY_ADDRESS`` / ``EVENTNOTIFY_API_KEY``), then the
credentials file ``make run`` writes, ``.eventnotify/credentials.json``, looked
for in the working directory and each of its parents, then in the home
directory. Without any of them the address is ``127.0.0.1:50051`` and no key
is sent (the server then answers UNAUTHENTICATED).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 30.0
CREDENTIALS_FILE = Path(".eventnotify") / "credentials.json"
ADDRESS_ENV = "EVENTNOTIFY_ADDRESS"
API_KEY_ENV = "EVENTNOTIFY_API_KEY"
ORG_ENV = "EVENTNOTIFY_ORG_ID"


class UsageError(Exception):
    """A mistake in the command line or the local files: exit status 2."""


@dataclass(frozen=True)
class Credentials:
    """The contents of a credentials file."""

    path: Path
    api_key: str
    address: str


@dataclass(frozen=True)
class Config:
    """Everything needed to reach the server, resolved once at start-up."""

    address: str
    api_key: str
    org_id: str
    timeout: float
    credentials: Path | None
    # Where the API key came from, for error messages: "--api-key",
    # "$EVENTNOTIFY_API_KEY", "credentials file PATH", or "" when none was found.
    api_key_source: str = ""


def find_credentials(cwd: Path, home: Path) -> Path | None:
    """The nearest ``.eventnotify/credentials.json`` walking up from ``cwd``,
    else the one in ``home``, else None."""
    for directory in (cwd, *cwd.parents):
        candidate = directory / CREDENTIALS_FILE
        if candidate.is_file():
            return candidate
    candidate = home / CREDENTIALS_FILE
    return candidate if candidate.is_file() else None


def load_credentials(path: Path) -> Credentials:
    """Read a credentials file ``{"api_key": ..., "address": ...}``."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read credentials file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"credentials file {path} must hold a JSON object")
    return Credentials(path, str(raw.get("api_key") or ""), str(raw.get("address") or ""))


def resolve(
    *,
    address: str | None,
    api_key: str | None,
    org_id: str | None,
    timeout: float | None,
    env: Mapping[str, str],
    cwd: Path,
    home: Path,
) -> Config:
    """Combine flags (None when not given), environment and credentials file."""
    source = "--api-key" if api_key else f"${API_KEY_ENV}" if env.get(API_KEY_ENV) else ""
    address = address or env.get(ADDRESS_ENV) or None
    api_key = api_key or env.get(API_KEY_ENV) or None
    path: Path | None = None
    if address is None or api_key is None:
        path = find_credentials(cwd, home)
        if path is not None:
            found = load_credentials(path)
            address = address or found.address or None
            if api_key is None and found.api_key:
                api_key = found.api_key
                source = f"credentials file {path}"
    if timeout is not None and timeout <= 0:
        raise UsageError("--timeout must be positive")
    return Config(
        address=address or DEFAULT_ADDRESS,
        api_key=api_key or "",
        org_id=org_id or env.get(ORG_ENV, ""),
        timeout=timeout or DEFAULT_TIMEOUT,
        credentials=path,
        api_key_source=source,
    )
