"""Printing results: aligned tables and field lists for people, the protobuf
JSON mapping for scripts (``--json``). Results go to stdout; progress,
warnings and hints go to stderr so they never pollute a pipe."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from google.protobuf import json_format


def to_json(message: Any) -> str:
    """The protobuf JSON mapping of ``message`` (json_name keys, every field)."""
    return str(
        json_format.MessageToJson(
            message, indent=2, always_print_fields_with_no_presence=True, ensure_ascii=False
        )
    )


def to_dict(message: Any) -> dict[str, Any]:
    """``message`` as a JSON-ready dict (json_name keys, set fields only)."""
    return dict(json_format.MessageToDict(message))


def enum_name(enum_type: Any, value: int) -> str:
    """The symbolic name of an enum value ("" for 0 / unspecified)."""
    if value == 0:
        return ""
    try:
        return str(enum_type.Name(value))
    except ValueError:
        return str(value)


def yes_no(value: bool) -> str:
    """A boolean as people read it in a table."""
    return "yes" if value else "no"


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Rows as lines of left-aligned columns separated by two spaces."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def format_fields(pairs: Iterable[tuple[str, object]]) -> list[str]:
    """``label  value`` lines with the values aligned."""
    items = [(k, str(v)) for k, v in pairs]
    width = max((len(k) for k, _ in items), default=0)
    return [f"{k.ljust(width)}  {v}".rstrip() for k, v in items]


class Output:
    """Where a command writes: results on ``out``, everything else on ``err``."""

    def __init__(self, json_mode: bool, out: TextIO, err: TextIO) -> None:
        self.json = json_mode
        self._out = out
        self._err = err

    @property
    def stdout(self) -> TextIO:
        """The result stream (for commands that stream results, like ``dev receiver``)."""
        return self._out

    def line(self, text: str = "") -> None:
        """A result line on stdout."""
        self._out.write(text + "\n")

    def lines(self, texts: Iterable[str]) -> None:
        """Several result lines on stdout."""
        for text in texts:
            self.line(text)

    def message(self, message: Any) -> None:
        """A protobuf message as JSON on stdout."""
        self.line(to_json(message))

    def data(self, value: Any) -> None:
        """Plain JSON data on stdout."""
        self.line(json.dumps(value, indent=2, ensure_ascii=False))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> None:
        """A table on stdout, or ``empty`` on stderr when there are no rows."""
        if rows:
            self.lines(format_table(headers, rows))
        else:
            self.info(empty)

    def result(
        self,
        message: Any,
        headers: Sequence[str],
        rows: Callable[[], Sequence[Sequence[object]]],
        empty: str,
    ) -> None:
        """A response: its JSON mapping with --json, else a table of ``rows()``."""
        if self.json:
            self.message(message)
        else:
            self.table(headers, rows(), empty)

    def fields(self, pairs: Iterable[tuple[str, object]]) -> None:
        """A ``label  value`` list on stdout."""
        self.lines(format_fields(pairs))

    def info(self, text: str) -> None:
        """Progress or status on stderr."""
        self._err.write(text + "\n")
        self._err.flush()

    def warn(self, text: str) -> None:
        """A warning on stderr."""
        self.info(f"warning: {text}")

    def secret_warning(self, what: str) -> None:
        """The one-time notice printed with every secret."""
        self.warn(f"{what} is shown only this once: store it now (e.g. in a secret manager)")
