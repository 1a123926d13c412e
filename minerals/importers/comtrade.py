"""UN Comtrade trade flows: API CSV (camelCase) and Comtrade+ web download (PascalCase, quoted, trailing comma).

Header matching is case-insensitive, so both layouts share one code path; extra columns (the
three appended to our API extracts, the empty column after the Comtrade+ trailing comma) are ignored.

Decisions:

* Flows: only ``M`` (imports) and ``X`` (exports) are kept. Re-imports (``RM``) and re-exports
  (``RX``) are skipped and counted: a re-export does not say where the material was produced, and
  counting it beside imports would double count. Other flow codes (``DX``, ``FM``, ...) likewise.
* Breakdown rows (a mode of transport other than 0 = all, a customs procedure other than C00 =
  all, a second partner other than 0 = World) are skipped and counted: they repeat the totals.
* Partner aggregates (0 World, 899 Areas nes, 97 EU, ...) give ``partner_iso3=None`` and
  ``is_partner_aggregate=True``; 490 "Other Asia, nes" is Taiwan (TWN), per Comtrade practice.
  A reporter must be a country: an aggregate reporter row is skipped and counted.
* ``quantity_kg``: net weight when positive, else ``qty`` when its unit is kilograms (code 8),
  else None (Comtrade writes 0 for an unknown weight).
* Encoding: API extracts must be UTF-8 (a bad byte is a ParseError). Comtrade+ web downloads
  (PascalCase header) come in Windows-1252 (the sample writes "Türkiye" as byte FC): for that layout
  a line that is not UTF-8 is decoded as cp1252 and counted. Only codes and numbers are read, so
  the choice never changes a record.
* Numbers must be finite and at most 1e15 (``nan``, ``inf``, ``1e306`` are errors naming the
  cell); ``primaryValue`` is 0 or more. A weight or quantity of 0 or less means unknown.
* HS codes keep their level (2, 4 or 6 digits; an odd length lost its leading zero and is
  re-padded). ``hs6`` is the code when it is 6 digits, else None.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .country_names import UnknownCountryCode, is_aggregate_m49, m49_to_iso3
from .csv_source import Decoding, Source, is_blank_row, normalize_header, read_csv, source_name
from .errors import ImportStats, ParseError
from .numbers import MAX_AMOUNT, NumberRangeError, bounded_float

REQUIRED = ("refyear", "reportercode", "flowcode", "partnercode", "cmdcode", "primaryvalue")
OPTIONAL = ("netwgt", "qty", "qtyunitcode", "motcode", "customscode", "partner2code", "reporteriso", "partneriso")
EXPECTED_HEADER = (
    "a UN Comtrade CSV header with refYear, reporterCode, flowCode, partnerCode, cmdCode, primaryValue "
    "(and netWgt, qty, qtyUnitCode) in camelCase (API) or PascalCase (Comtrade+)"
)
KG_UNIT_CODE = "8"


@dataclass(frozen=True, slots=True)
class TradeFlowRow:
    year: int
    reporter_iso3: str
    partner_iso3: str | None  # None for aggregates (World, Areas nes, ...)
    flow: str  # 'M' (reporter imports from partner) | 'X' (reporter exports to partner)
    hs_code: str  # 2, 4 or 6 digits, zero-padded
    value_usd: float
    quantity_kg: float | None
    is_partner_aggregate: bool
    line: int

    @property
    def hs6(self) -> str | None:
        return self.hs_code if len(self.hs_code) == 6 else None

    @property
    def exporter_iso3(self) -> str | None:
        return self.partner_iso3 if self.flow == "M" else self.reporter_iso3

    @property
    def importer_iso3(self) -> str | None:
        return self.reporter_iso3 if self.flow == "M" else self.partner_iso3


_HS_RE = re.compile(r"\d{1,6}")


def normalize_hs(code: str) -> str | None:
    """'811292' -> '811292'; '28469' -> '028469'; '8105' stays '8105'; 'TOTAL'/'' -> None."""
    text = code.strip()
    if not _HS_RE.fullmatch(text):
        return None
    return "0" + text if len(text) % 2 else text


def _float(text: str, *, low: float = -MAX_AMOUNT) -> float | None:
    """None for an empty cell; NumberFormatError / NumberRangeError (ValueErrors) otherwise."""
    text = text.strip()
    if not text:
        return None
    return bounded_float(text, low=low)


def _number_problem(exc: ValueError, unit: str) -> tuple[str, str]:
    """(expected, problem) of a cell that failed :func:`_float`."""
    if isinstance(exc, NumberRangeError):
        return f"{exc} ({unit})", "is not a finite number in range"
    return f"a number ({unit})", "is not a number"


def parse_comtrade(source: Source, *, stats: ImportStats | None = None) -> Iterator[TradeFlowRow | ParseError]:
    stats = stats if stats is not None else ImportStats()
    name = source_name(source)
    decoding = Decoding()
    rows = read_csv(source, decoding=decoding)
    header: list[str] | None = None
    for item in rows:
        if isinstance(item, ParseError):
            stats.errors += 1
            yield item
            return
        header = item[1]
        break
    if header is None:
        stats.errors += 1
        yield ParseError(name, None, None, "", EXPECTED_HEADER, "is empty")
        return
    norm = [normalize_header(h) for h in header]
    missing = [k for k in REQUIRED if k not in norm]
    if missing:
        stats.errors += 1
        shown = ",".join(h.strip() for h in header if h.strip())
        yield ParseError(
            name, 1, None, shown, EXPECTED_HEADER, f"is not a Comtrade header (missing {', '.join(missing)})"
        )
        return
    if header[0].strip()[:1].isupper():  # Comtrade+ download (PascalCase): Windows-1252 text
        decoding.fallback = "cp1252"
    idx = {k: norm.index(k) for k in REQUIRED + OPTIONAL if k in norm}
    width = max(i for i, h in enumerate(header) if h.strip()) + 1
    i_year, i_rep, i_flow, i_partner = idx["refyear"], idx["reportercode"], idx["flowcode"], idx["partnercode"]
    i_cmd, i_value = idx["cmdcode"], idx["primaryvalue"]
    i_wgt, i_qty, i_unit = idx.get("netwgt"), idx.get("qty"), idx.get("qtyunitcode")
    i_mot, i_customs, i_p2 = idx.get("motcode"), idx.get("customscode"), idx.get("partner2code")

    def err(line: int, col: int | None, value: str, expected: str, problem: str) -> ParseError:
        stats.errors += 1
        return ParseError(name, line, header[col].strip() if col is not None else None, value, expected, problem)

    for item in _counting_fallback(rows, decoding, stats):
        if isinstance(item, ParseError):
            stats.errors += 1
            yield item
            return
        line, cells = item
        if is_blank_row(cells):
            stats.skip("blank row")
            continue
        stats.rows += 1
        if len(cells) < width:
            missing_column = header[len(cells)].strip()
            yield err(
                line,
                None,
                "",
                f"{width} fields as in the header",
                f"row has {len(cells)} fields, no value for column {missing_column!r} (is the file truncated?)",
            )
            continue
        flow = cells[i_flow].strip().upper()
        if flow not in ("M", "X"):
            stats.skip(f"flow {flow or '(empty)'} (only M and X are imported)")
            continue
        if (
            (i_mot is not None and cells[i_mot].strip() not in ("", "0"))
            or (i_customs is not None and cells[i_customs].strip() not in ("", "C00"))
            or (i_p2 is not None and cells[i_p2].strip() not in ("", "0"))
        ):
            stats.skip("breakdown row (mode of transport / customs procedure / second partner)")
            continue
        year_text = cells[i_year].strip()
        if not (year_text.isdigit() and len(year_text) == 4):
            yield err(line, i_year, year_text, "a year such as 2024", "is not a year")
            continue
        rep_text = cells[i_rep].strip()
        try:
            reporter = m49_to_iso3(rep_text)
        except UnknownCountryCode:
            yield err(line, i_rep, rep_text, "a UN M49 / Comtrade country code", "is not a known country code")
            continue
        if reporter is None:
            stats.skip("aggregate reporter")
            continue
        partner_text = cells[i_partner].strip()
        try:
            partner = m49_to_iso3(partner_text)
        except UnknownCountryCode:
            yield err(line, i_partner, partner_text, "a UN M49 / Comtrade country code", "is not a known country code")
            continue
        hs = normalize_hs(cells[i_cmd])
        if hs is None:
            if cells[i_cmd].strip().upper() == "TOTAL":
                stats.skip("all-commodities total")
                continue
            yield err(line, i_cmd, cells[i_cmd], "an HS code of 2, 4 or 6 digits", "is not an HS code")
            continue
        try:
            value = _float(cells[i_value], low=0.0)
        except ValueError as exc:
            yield err(line, i_value, cells[i_value], *_number_problem(exc, "US dollars"))
            continue
        if value is None:
            stats.skip("no trade value")
            continue
        quantity = None
        col = i_wgt
        try:
            weight = _float(cells[i_wgt]) if i_wgt is not None else None
            if weight is not None and weight > 0:
                quantity = weight
            elif i_qty is not None and i_unit is not None and cells[i_unit].strip() == KG_UNIT_CODE:
                col = i_qty
                qty = _float(cells[i_qty])
                quantity = qty if qty is not None and qty > 0 else None
        except ValueError as exc:
            yield err(line, col, cells[col] if col is not None else "", *_number_problem(exc, "kilograms"))
            continue
        stats.records += 1
        yield TradeFlowRow(
            year=int(year_text),
            reporter_iso3=reporter,
            partner_iso3=partner,
            flow=flow,
            hs_code=hs,
            value_usd=value,
            quantity_kg=quantity,
            is_partner_aggregate=partner is None and is_aggregate_m49(partner_text),
            line=line,
        )


def _counting_fallback(rows, decoding: Decoding, stats: ImportStats):  # type: ignore[no-untyped-def]
    yield from rows
    if decoding.fallback_lines:
        stats.skip(f"lines decoded as {decoding.fallback} (rows kept)", decoding.fallback_lines)
