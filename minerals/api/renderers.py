"""The API's renderers: JSON (orjson), and CSV and XLSX for list endpoints (`?format=csv`, `?format=xlsx`).

Spreadsheet formula injection: every text cell goes through minerals.spreadsheets.safe_cell
(the one rule for every CSV/XLSX written). Numbers are written as numbers (a negative number
is not a formula). Nested values (share vectors, sources) are written as JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer
from rest_framework.renderers import JSONRenderer as RestFrameworkJSONRenderer

from minerals.spreadsheets import safe_cell

# DRF's encoder for what orjson leaves to it: datetimes (so an aware UTC one ends in "Z", as
# DRF writes it), decimals, lazy translations, querysets and the rest of DRF's list.
_DRF_DEFAULT = RestFrameworkJSONRenderer.encoder_class().default
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class JSONRenderer(RestFrameworkJSONRenderer):
    """DRF's JSON renderer, encoding with orjson: the same compact UTF-8 JSON with U+2028/2029
    escaped, the same text for everything but some floats, which orjson writes in another
    shortest round-trip form of the same number (0.00001 where Python writes 1e-05). A 100-row
    trade-flow page: 263 µs with DRF's json.dumps, 16 µs with orjson (docs/performance.md, "Fourth round").
    A pretty-printed answer (`Accept: application/json; indent=4`) and anything orjson refuses
    (an integer past 64 bits, a type DRF's encoder does not know either) go through DRF's own
    renderer, with its errors. A NaN or an infinity would be written null, where DRF's strict
    JSON failed the request."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_DRF_DEFAULT, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


def spreadsheet_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | dict):
        value = json.dumps(value, separators=(",", ":"), default=str)
    return safe_cell(str(value))


def table_rows(data: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a list answer (a page's `results`, or a plain list; an object is one row)."""
    if isinstance(data, Mapping) and isinstance(data.get("results"), list):
        data = data["results"]
    rows: Iterable[Any] = data if isinstance(data, list) else [data]
    header: list[str] = []
    for row in rows:
        if isinstance(row, Mapping):
            header.extend(k for k in row if k not in header)
    if not header:
        return ["value"], [[spreadsheet_cell(r)] for r in rows]
    return header, [[spreadsheet_cell(row.get(k)) for k in header] for row in rows if isinstance(row, Mapping)]


PRIVATE_NO_STORE = "private, no-store"


def _private_no_store(renderer_context: Any) -> None:
    """A downloaded export is a file on the caller's disk, not something for caches to keep."""
    response = (renderer_context or {}).get("response")
    if response is not None:
        response["Cache-Control"] = PRIVATE_NO_STORE


class SafeCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        _private_no_store(renderer_context)
        header, rows = table_rows(data)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")


class SafeXLSXRenderer(BaseRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        from openpyxl import Workbook  # imported on use: most requests never need it

        if data is None:
            return b""
        _private_no_store(renderer_context)
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        def xml_text(value: Any) -> Any:
            # A worksheet is XML, which cannot hold most control characters: openpyxl refused a
            # scenario named with one and the export answered 500 (found by the schema fuzz).
            return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value

        header, rows = table_rows(data)
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("data")
        sheet.append([xml_text(name) for name in header])
        for row in rows:
            sheet.append([xml_text(cell) for cell in row])
        out = io.BytesIO()
        workbook.save(out)
        response = (renderer_context or {}).get("response")
        view = (renderer_context or {}).get("view")
        if response is not None:
            name = getattr(view, "basename", None) or "export"
            response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return out.getvalue()
