"""service/receiver.py is meant to be copied into receivers' code bases, so it
must import nothing but the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

RECEIVER = Path(__file__).resolve().parents[2] / "eventnotify" / "receiver.py"


def non_stdlib_imports(source: str) -> list[str]:
    """Modules imported by ``source`` that are relative or outside the stdlib."""
    offenders: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [("." * node.level + (node.module or ""), node.level)]
        else:
            continue
        offenders.extend(
            name
            for name, level in names
            if level > 0 or name.split(".")[0] not in sys.stdlib_module_names
        )
    return offenders


def test_receiver_imports_only_the_standard_library() -> None:
    source = RECEIVER.read_text(encoding="utf-8")
    assert "import" in source, "expected the receiver to import something; is the path right?"
    assert non_stdlib_imports(source) == []


def test_the_check_catches_non_stdlib_imports() -> None:
    source = (
        "from __future__ import annotations\nimport json, hmac\n"
        "from service import signing\nfrom . import x\nimport aiohttp.web\n"
        "def f():\n    import yaml\n"
    )
    assert non_stdlib_imports(source) == ["service", ".", "aiohttp.web", "yaml"]
