"""The README stays a map: small, and linking every page under docs/."""

from __future__ import annotations

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
