"""Scraping a Prometheus endpoint the way Prometheus does, and reading samples."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from eventnotify.logging import JsonFormatter


@dataclass(frozen=True)
class Scrape:
    """Every sample of one scrape, by name and labels."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def get(self, name: str, **labels: str) -> float | None:
        """The sample's value, or None when it is not exported."""
        return self.samples.get((name, frozenset(labels.items())))

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when absent (a counter never incremented)."""
        return self.get(name, **labels) or 0.0

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}


async def scrape(port: int, accept: str = "", names: tuple[str, ...] = ()) -> Scrape:
    """GET /metrics on 127.0.0.1:``port`` and parse the text format; with
    ``names``, only those samples (``name[]=``: the other collectors do not
    run, which matters with thousands of webhooks)."""
    headers = {"Accept": accept} if accept else {}
    params = [("name[]", n) for n in names]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics", headers=headers, params=params) as resp,
    ):
        assert resp.status == 200, resp.status
        text = await resp.text()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return Scrape(samples)


class JsonLines(logging.Handler):
    """Formats each record with the production ``JsonFormatter`` when it is
    logged (context variables are read then, in the logging task), and keeps
    the parsed lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextlib.contextmanager
def json_lines(logger_name: str) -> Iterator[JsonLines]:
    """Capture ``logger_name``'s records (INFO and up) as parsed JSON lines."""
    handler = JsonLines()
    logger = logging.getLogger(logger_name)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
