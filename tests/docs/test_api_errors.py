"""docs/api-errors.md lists every ErrorInfo reason the API can return, and
nothing else: the reasons are read from the code (the ``reason=`` given to
errors, the reason of every field ``Violation``, the error classes' default
reasons and the two the gRPC layer adds), so a new reason without a row, or
a row left behind, fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from devstack import REPO

TABLE = REPO / "docs" / "api-errors.md"
# The reasons of error classes and field violations live in these modules.
REASON_CLASSES = {REPO / "eventnotify" / "errors.py", REPO / "service" / "core" / "validation.py"}
# DomainError's placeholder: every error raised is one of its subclasses,
# each with its own reason.
NOT_RETURNED = {"ERROR"}


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def reasons_in(path: Path) -> set[str]:
    """Reasons a module gives errors and field violations."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            found |= {t for kw in node.keywords if kw.arg == "reason" if (t := _text(kw.value))}
            # Violation(field, description, reason) and logs' _invalid(path, description, reason)
            if _call_name(node) in {"Violation", "_invalid"} and len(node.args) >= 3:
                found |= {t for t in [_text(node.args[2])] if t}
        elif isinstance(node, ast.ClassDef) and path in REASON_CLASSES:
            for stmt in node.body:
                target: ast.expr | None = stmt.target if isinstance(stmt, ast.AnnAssign) else None
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    target = stmt.targets[0]
                value = getattr(stmt, "value", None)
                if isinstance(target, ast.Name) and target.id == "reason" and _text(value):
                    found.add(str(_text(value)))
    return found


def code_reasons() -> set[str]:
    paths = [
        *(REPO / "service").rglob("*.py"),
        *(REPO / "eventnotify").rglob("*.py"),
    ]
    found: set[str] = set()
    for path in paths:
        # The CLI prints reasons, the generated code has none; the store's
        # parked deliveries and the delivery outcomes have a "reason" that is
        # no API error (it is a log entry's failureReason).
        parts = set(path.relative_to(REPO).parts)
        if {"v1", "cli", "delivery"} & parts or path.name == "parked.py":
            continue
        found |= reasons_in(path)
    return found - NOT_RETURNED


def documented_reasons() -> set[str]:
    reasons = set()
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[2].startswith("`"):
            reasons.add(cells[2].strip("`"))
    return reasons


def test_every_reason_the_code_returns_is_documented_and_no_other() -> None:
    code, docs = code_reasons(), documented_reasons()
    assert "DATA_SCHEMA_VIOLATION" in code  # the extraction sees violations' reasons
    assert "INTERNAL" in code and "RATE_LIMITED" in code  # and the gRPC layer's, classes'
    assert code - docs == set(), "reasons missing from docs/api-errors.md"
    assert docs - code == set(), "docs/api-errors.md lists reasons the code never returns"
