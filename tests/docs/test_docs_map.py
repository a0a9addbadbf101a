"""The README stays a map: small, and linking every page under docs/."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_is_at_most_12_kb() -> None:
    assert len((REPO / "README.md").read_bytes()) <= 12 * 1024


def test_readme_links_every_docs_page_and_every_link_resolves() -> None:
    readme = (REPO / "README.md").read_text()
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md"))
    assert pages, "docs/ has no pages"
    for name in pages:
        assert f"(docs/{name})" in readme, f"README does not link docs/{name}"
    for doc in (REPO / "docs").glob("*.md"):
        assert "(../README.md)" in doc.read_text(), f"{doc.name} has no way back to the README"


def _console_commands(markdown: str) -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", markdown, flags=re.S)
    lines = [line.strip() for b in blocks for line in b.splitlines()]
    return [line[2:] for line in lines if line.startswith("$ ")]


def test_readme_first_webhook_commands_are_the_executed_getting_started_ones() -> None:
    # tests/docs/test_getting_started.py runs getting-started.md's commands as
    # written; the README's must be among them, so they are executed too.
    readme = _console_commands((REPO / "README.md").read_text())
    page = _console_commands((REPO / "docs" / "getting-started.md").read_text())
    assert len(readme) >= 4
    assert [c for c in readme if c not in page] == []
