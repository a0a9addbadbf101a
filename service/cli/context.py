"""What every command handler receives."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from service.cli.client import Client
from service.cli.output import Output


@dataclass
class Context:
    """The client, the output, and the environment (for offline commands)."""

    client: Client
    out: Output
    env: Mapping[str, str]


Handler = Callable[[Context, argparse.Namespace], int]

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
