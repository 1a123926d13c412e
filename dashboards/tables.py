"""Data tables: one description drives the HTML table, its sorting and its CSV/XLSX download.

A page builds each table once (plain values in, formatted cells out); the template renders
it and downloads.py writes the same rows, so a download always has the rows on screen.
Pure: no Django ORM.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

Kind = Literal["text", "share", "number", "integer", "year", "date", "hhi", "risk"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = "text"
    help: str = ""
    digits: int = 1  # decimals shown for shares (as percent) and numbers

    @property
    def numeric(self) -> bool:
        return self.kind != "text" and self.kind != "date"


@dataclass(frozen=True)
class Cell:
    value: Any  # raw value: what the download writes and what sorting uses
    text: str  # what the page shows
    href: str = ""
    css: str = ""
    title: str = ""
    attrs: tuple[tuple[str, str], ...] = ()  # data-* attributes (tests read the stored numbers)


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""
    empty: str = "No rows."
    sortable: bool = False
    sort: str = ""
    descending: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def sorted_by(self, key: str, descending: bool) -> Table:
        """The table re-ordered by a column (unknown values last either way); unknown key: as is."""
        index = next((i for i, c in enumerate(self.columns) if c.key == key), None)
        if index is None:
            return self

        def value(row: tuple[Cell, ...]) -> tuple[int, Any]:
            raw = row[index].value
            if raw is None or (isinstance(raw, float) and math.isnan(raw)):
                return (1, 0)
            return (0, raw.lower() if isinstance(raw, str) else raw)

        known = [r for r in self.rows if value(r)[0] == 0]
        unknown = [r for r in self.rows if value(r)[0] == 1]
        known.sort(key=value, reverse=descending)
        return Table(
            id=self.id,
            caption=self.caption,
            columns=self.columns,
            rows=tuple(known + unknown),
            note=self.note,
            empty=self.empty,
            sortable=self.sortable,
            sort=key,
            descending=descending,
            extra=self.extra,
        )


def format_value(value: Any, column: Column) -> str:
    """Display text of a raw value; unknown values read an en dash (never 0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    match column.kind:
        case "share":
            return f"{value * 100:.{column.digits}f} %"
        case "number":
            return number_text(value)
        case "integer" | "hhi":
            return f"{value:,.0f}"
        case "risk":
            return f"{value:.2f}"
        case "year":
            return str(value)
        case "date":
            return value.isoformat() if isinstance(value, date | datetime) else str(value)
    return str(value)


def number_text(value: float | None, unit: str = "") -> str:
    """A quantity as a buyer reads it, the one rule for every table, chart and headline.

    Whole numbers from 100 ("31,000", never "31,000.0" from a float sum), one decimal below 100
    with a trailing ".0" dropped ("12.5", "7"), two significant digits below 1 ("0.036"); the
    unit after a space when given. Unknown: an en dash (never 0).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    size = abs(value)
    if size >= 100 or size == 0:
        text = f"{value:,.0f}"
    elif size >= 1:
        text = f"{value:,.1f}".removesuffix(".0")
    else:
        text = f"{value:.2g}"
        text = f"{value:.8f}".rstrip("0") if "e" in text else text  # never scientific notation
    return f"{text} {unit}" if unit else text


BOUND_SIGNS = {">": ">", "<": "<", "<=": "\u2264", "\u2264": "\u2264"}


def share_text(value: float | None, *, bound: str = "", estimate: bool = False, digits: int = 1) -> str:
    """A share as a buyer reads it, the one rule for every page and download text.

    Unknown: an en dash (never 0). A bound keeps its sign (USGS ``>50`` -> "> 50 %"; an
    upper bound from an "Other countries" row -> "\u2264 2.6 %"); ``E`` (net exporter) reads
    "E (net exporter)". An estimate carries an ``e`` suffix, as USGS prints it.
    """
    if bound == "E":
        return "E (net exporter)"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    sign = BOUND_SIGNS.get(bound, "")
    text = f"{sign} {value * 100:.{digits}f} %".strip()
    return f"{text} e" if estimate else text


def cell(value: Any, column: Column, **extra: Any) -> Cell:
    text = extra.pop("text", None)
    css = " ".join(c for c in ("num" if column.numeric else "", extra.pop("css", "")) if c)
    return Cell(value=value, text=text if text is not None else format_value(value, column), css=css, **extra)


def build_table(
    *,
    id: str,
    caption: str,
    columns: Sequence[Column],
    records: Sequence[dict[str, Any]],
    decorate: Callable[[Column, dict[str, Any]], dict[str, Any]] | None = None,
    **options: Any,
) -> Table:
    """A table from records (dicts keyed by column key). `decorate(column, record)` returns
    extra Cell fields (href, css, title, text, attrs) for one cell."""
    rows = []
    for record in records:
        cells = []
        for column in columns:
            extra = decorate(column, record) if decorate else {}
            cells.append(cell(record.get(column.key), column, **extra))
        rows.append(tuple(cells))
    return Table(id=id, caption=caption, columns=tuple(columns), rows=tuple(rows), **options)
