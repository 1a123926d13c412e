"""CSV and XLSX downloads of the tables shown on a page (the same rows, raw values).

Every cell goes through minerals.spreadsheets.safe_cell, so a supplier name cannot become a
formula in a buyer's Excel (OWASP "CSV injection"). Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from django.http import HttpResponse
from django.utils.text import slugify

from dashboards.tables import Cell, Column, Table, format_value
from minerals.spreadsheets import safe_cell

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def cell_value(value: Any) -> Any:
    """A value ready for a spreadsheet: lists joined, text that could run as a formula escaped."""
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    return safe_cell(value)


def table_rows(table: Table) -> list[list[Any]]:
    """Header plus one row per row on screen, raw values (shares as fractions).

    A share the page qualifies (a bound "\u2264 2.1 %" or "> 50 %", an estimate "98.7 % e",
    "withheld", "not published", a basket) is written as the page shows it: the bare fraction
    would drop the qualifier, and an empty cell would hide a bound (issue 11).
    """
    header = [c.label + (" (fraction)" if c.kind == "share" else "") for c in table.columns]
    return [header] + [
        [cell_value(_download_value(cell, column)) for cell, column in zip(row, table.columns, strict=True)]
        for row in table.rows
    ]


def _download_value(cell: Cell, column: Column) -> Any:
    if column.kind == "share" and cell.text != format_value(cell.value, column):
        return cell.text
    return cell.value


def csv_bytes(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in table_rows(table):
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def xlsx_bytes(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = slugify(table.id)[:31] or "table"
    for i, row in enumerate(table_rows(table)):
        values = [_xlsx_value(v) for v in row]
        sheet.append(values)
        if i == 0:
            for cell in sheet[1]:
                cell.font = Font(bold=True)
    for i, column in enumerate(table.columns, start=1):
        if column.kind == "share":
            for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = "0.0%"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones; all times are UTC here
    if isinstance(value, date | datetime | int | float | str) or value is None:
        return value
    return str(value)


def table_response(table: Table, fmt: str, *, filename_stem: str) -> HttpResponse:
    body = xlsx_bytes(table) if fmt == "xlsx" else csv_bytes(table)
    response = HttpResponse(body, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{slugify(filename_stem)}-{slugify(table.id)}.{fmt}"'
    return response
