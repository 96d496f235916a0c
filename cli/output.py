"""What people read: tables that fit the terminal, colour only where it can show.

One printer for every listing (`outputs`, `status`, `dlq list`, `events list`,
the plan summary, ...), so they all look alike and all fit. `markdown_table` gives the
same rows as a GitHub-flavoured Markdown table (a CI job summary, a PR comment). click's own `style` does the colour;
a table needs no library: columns shrink from the widest down, and a cell that
does not fit ends in "…".

Colour appears only when the stream is a terminal and `NO_COLOR` is unset
(https://no-color.org), so CI logs and pipes get plain text.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, TextIO

import click

ELLIPSIS = "…"
GAP = "  "
MIN_WIDTH = 40  # below this a table wraps anyway; never squeeze columns to nothing


def terminal_width(stream: TextIO | None = None, default: int = 100) -> int:
    """The stream's terminal width; `default` when it is not a terminal (`COLUMNS` overrides)."""
    stream = stream or sys.stdout
    if os.environ.get("COLUMNS", "").isdigit():
        return max(MIN_WIDTH, int(os.environ["COLUMNS"]))
    if not _isatty(stream):
        return default
    try:  # this stream's terminal: stderr's when stdout is piped (`webhookctl deploy --json | jq`)
        return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns or default)
    except (AttributeError, OSError, ValueError):
        return max(MIN_WIDTH, shutil.get_terminal_size((default, 24)).columns)


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (to anything) or TERM=dumb."""
    stream = stream or sys.stdout
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, stream: TextIO | None = None, **style: Any) -> str:
    """`click.style(text, **style)` where colour can show; the plain text elsewhere."""
    return click.style(text, **style) if use_color(stream) else text


STATUS_COLORS = {
    "processed": "green", "ok": "green", "delivered": "green",
    "queued": "cyan", "received": "cyan",
    "failed": "red", "error": "red", "FAIL": "red",
}


def status_color(value: Any) -> str | None:
    return STATUS_COLORS.get(str(value))


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its header, and how it may shrink."""

    key: str
    header: str | None = None
    min_width: int = 4
    align: str = "left"  # or "right" (numbers)
    color: Any = None  # value -> a click colour name, or None

    @property
    def title(self) -> str:
        return self.header if self.header is not None else self.key.replace("_", " ")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())  # one line per row, whatever the value holds


def fit_widths(natural: Sequence[int], minimum: Sequence[int], width: int) -> list[int]:
    """Column widths that fit `width` with gaps: the widest columns give way first."""
    widths = list(natural)
    budget = width - len(GAP) * (len(widths) - 1)
    while sum(widths) > budget:
        shrinkable = [i for i, w in enumerate(widths) if w > minimum[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], *, width: int | None = None,
          stream: TextIO | None = None) -> str:
    """The rows as a table no wider than `width` (the terminal's by default), header first."""
    rows = list(rows)
    width = width or terminal_width(stream)
    texts = [[cell(row.get(c.key)) for c in columns] for row in rows]
    natural = [max([len(c.title)] + [len(t[i]) for t in texts]) for i, c in enumerate(columns)]
    minimum = [min(natural[i], max(c.min_width, len(c.title))) for i, c in enumerate(columns)]
    widths = fit_widths(natural, minimum, width)
    lines = [_line([c.title for c in columns], columns, widths, stream, header=True)]
    for row, text in zip(rows, texts):
        lines.append(_line(text, columns, widths, stream, colors=[c.color(row.get(c.key)) if c.color else None
                                                                  for c in columns]))
    return "\n".join(lines)


def _line(values: Sequence[str], columns: Sequence[Column], widths: Sequence[int], stream: TextIO | None, *,
          header: bool = False, colors: Sequence[str | None] | None = None) -> str:
    parts = []
    for i, (value, column, w) in enumerate(zip(values, columns, widths)):
        text = _clip(value, w)
        text = text.rjust(w) if column.align == "right" else text.ljust(w)
        if header:
            text = paint(text, stream, bold=True)
        elif colors and colors[i]:
            text = paint(text, stream, fg=colors[i])
        parts.append(text)
    return GAP.join(parts).rstrip()


def key_values(values: Mapping[str, Any], *, width: int | None = None, stream: TextIO | None = None) -> str:
    """A two-column table of names and values, in the mapping's order (records, outputs)."""
    rows = [{"name": k, "value": v} for k, v in values.items()]
    return table(rows, [Column("name", "", min_width=8), Column("value", "", min_width=12, color=status_color)],
                 width=width, stream=stream).split("\n", 1)[-1] if rows else ""


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """The rows as a GitHub-flavoured Markdown table: no width limit, no colour, `|` escaped.

    https://github.github.com/gfm/#tables-extension-
    """
    def md(value: Any) -> str:
        return cell(value).replace("|", "\\|")

    lines = ["| " + " | ".join(md(c.title) for c in columns) + " |",
             "|" + "|".join("---:" if c.align == "right" else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(md(row.get(c.key)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
