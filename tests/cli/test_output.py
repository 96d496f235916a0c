"""The one table printer: fits the width, clips with an ellipsis, colours only on a terminal."""
from __future__ import annotations

import io

import pytest

from cli.output import Column, fit_widths, key_values, table, terminal_width, use_color

ROWS = [
    {"id": "3af7f1f7bc90c53696fa952b8d01e3f6", "provider": "stripe", "type": "payment_intent.succeeded", "n": 3},
    {"id": "short", "provider": "github", "type": None, "n": 12},
]
COLUMNS = [Column("id", min_width=8), Column("provider"), Column("type"), Column("n", align="right")]


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_table_that_fits_is_left_whole():
    text = table(ROWS, COLUMNS, width=120, stream=io.StringIO())
    assert text.splitlines() == [
        "id                                provider  type                       n",
        "3af7f1f7bc90c53696fa952b8d01e3f6  stripe    payment_intent.succeeded   3",
        "short                             github    -                         12",
    ]


def test_the_widest_column_gives_way_and_ends_in_an_ellipsis():
    text = table(ROWS, COLUMNS, width=50, stream=io.StringIO())
    assert all(len(line) <= 50 for line in text.splitlines())
    assert "…" in text and "stripe" in text and "payment_intent.succeeded"[:10] in text


def test_columns_never_shrink_below_their_minimum():
    assert fit_widths([30, 10], [8, 4], 10) == [8, 4]  # too narrow: stop at the minimums, never below
    assert fit_widths([30, 10], [8, 4], 30) == [18, 10]


def test_cells_are_one_line():
    text = table([{"a": "two\nlines", "b": True}], [Column("a"), Column("b")], width=80, stream=io.StringIO())
    assert text.splitlines()[1].split() == ["two", "lines", "yes"]


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(Tty()) and not use_color(io.StringIO())
    assert "\x1b[" in key_values({"status": "failed"}, width=80, stream=Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())
    assert "\x1b[" not in key_values({"status": "failed"}, width=80, stream=Tty())


@pytest.mark.parametrize("columns, expected", [("132", 132), ("10", 40)])
def test_columns_variable_sets_the_width(monkeypatch, columns, expected):
    monkeypatch.setenv("COLUMNS", columns)
    assert terminal_width(io.StringIO()) == expected


def test_key_values_keeps_the_order_and_has_no_header():
    assert key_values({"b": 1, "a": "x"}, width=80, stream=io.StringIO()).splitlines() == ["b  1", "a  x"]


def test_markdown_table_right_aligns_numbers_and_escapes_pipes():
    from cli.output import markdown_table

    text = markdown_table([{"a": "x|y", "n": 3}, {"a": None, "n": 10}], [Column("a"), Column("n", align="right")])
    assert text.splitlines() == ["| a | n |", "|---|---:|", "| x\\|y | 3 |", "| - | 10 |"]
