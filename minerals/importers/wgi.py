"""World Bank Worldwide Governance Indicators (WGI): governance estimates per country and year.

Layouts recognised (CSV or XLSX, from the header):

* **long** (official files since the 2023 update, one row per economy-year-indicator):
  ``codeindyr, code, countryname, year, indicator, estimate, stddev, nsource, pctrank, ...``;
  the web table's labels (``Economy (code)``, ``Year``, ``Indicator``,
  ``Governance estimate (approx. -2.5 to +2.5)``) are accepted too.
* **DataBank** CSV export: ``Country Name, Country Code, Series Name, Series Code, 1996 [YR1996], ...``
  (series ``CC.EST`` ... or ``GOV_WGI_CC.EST``; other series such as ranks are skipped and counted).
* **2022-release workbook** ``wgidataset.xlsx``: one sheet per dimension, header rows ``years`` over
  ``Estimate, StdErr, NumSrc, Rank, Lower, Upper``, or a single header row of years when the sheet
  holds estimates only.

Missing estimates (``#N/A``, ``..``, empty) give ``estimate=None``. WGI economy codes that are not
ISO (``ADO``, ``ROM``, ``ZAR``, ``TMP``, ``WBG``, ``KSV``) are mapped through the alias table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .country_names import UnknownCountryCode, wgi_code_to_iso3
from .csv_source import Source, clean_text, normalize_header, read_csv, source_name
from .errors import ImportStats, ParseError
from .numbers import NumberRangeError, to_float
from .workbook import WorkbookTooLarge, check_xlsx_sizes

DIMENSIONS = ("va", "pv", "ge", "rq", "rl", "cc")
# The 2022 release workbook (1.7 MB) expands to 7.2 MB of XML: these leave ample room and refuse a
# zip bomb before openpyxl reads anything (minerals.importers.workbook).
MAX_XLSX_BYTES = 100 * 1024 * 1024
MAX_XLSX_PART_BYTES = 20 * 1024 * 1024
_MISSING = {"", "..", "#n/a", "n/a", "na", "#na"}
EXPECTED_LAYOUTS = (
    "a WGI layout: long (code, year, indicator, estimate, ...), DataBank (Country Name, Country Code, "
    "Series Name, Series Code, 1996 [YR1996], ...) or the 2022 workbook (a sheet per dimension with "
    "Country/Territory, Code, then years)"
)


@dataclass(frozen=True, slots=True)
class WgiScore:
    iso3: str
    year: int
    dimension: str  # 'va' | 'pv' | 'ge' | 'rq' | 'rl' | 'cc'
    estimate: float | None
    line: int


def dimension_code(text: str) -> str | None:
    """'cc', 'CC.EST', 'GOV_WGI_CC.EST', 'Control of Corruption', 'ControlofCorruption' -> 'cc'."""
    lowered = clean_text(str(text)).lower()
    lowered = re.sub(r"^gov_wgi_", "", lowered)
    lowered = re.sub(r"\.est$", "", lowered)
    if lowered in DIMENSIONS:
        return lowered
    for prefix, code in (
        ("voice", "va"), ("political", "pv"), ("government", "ge"),
        ("regulatory", "rq"), ("rule", "rl"), ("control", "cc"),
    ):  # fmt: skip
        if lowered.startswith(prefix):
            return code
    return None


class _Out:
    def __init__(self, name: str, stats: ImportStats) -> None:
        self.name = name
        self.stats = stats

    def error(self, line: int | None, column: str | None, value: object, expected: str, problem: str) -> ParseError:
        self.stats.errors += 1
        return ParseError(self.name, line, column, "" if value is None else str(value), expected, problem)

    def iso3(self, code: object, line: int, column: str) -> str | ParseError:
        try:
            return wgi_code_to_iso3(str(code or ""))
        except UnknownCountryCode:
            return self.error(
                line, column, code, "an ISO 3166 alpha-3 or WGI economy code", "is not a known country code"
            )

    def estimate(self, value: object, line: int, column: str) -> float | ParseError | None:
        if value is None:
            return None
        text = str(value).strip()
        if text.lower() in _MISSING:
            return None
        try:
            # finite and of sane size here; the loader checks the -5..5 range of an estimate
            return to_float(value if isinstance(value, (int, float)) and not isinstance(value, bool) else text)
        except NumberRangeError as exc:
            return self.error(line, column, value, str(exc), "is not a finite number in range")
        except ValueError:
            return self.error(line, column, value, "a number, #N/A or ..", "is not a number")


def _find(norm: list[str], *candidates: str, prefix: str | None = None) -> int | None:
    for c in candidates:
        if c in norm:
            return norm.index(c)
    if prefix:
        for i, key in enumerate(norm):
            if key.startswith(prefix):
                return i
    return None


def _long_columns(norm: list[str]) -> tuple[int, int, int, int] | None:
    code = _find(norm, "code", "economy(code)", "economycode", "countrycode")
    year = _find(norm, "year")
    indicator = _find(norm, "indicator", "indicator(code)", "indicatorcode", "dimension")
    estimate = _find(norm, "estimate", prefix="governanceestimate")
    if None in (code, year, indicator, estimate):
        return None
    return code, year, indicator, estimate  # type: ignore[return-value]


_YEAR_COL = re.compile(r"^(\d{4})(?:\[yr\d{4}\])?$")


def _rows_long(out: _Out, header: list[str], cols: tuple[int, int, int, int], rows: Iterable) -> Iterator:
    i_code, i_year, i_ind, i_est = cols
    width = max(cols) + 1
    for line, cells in rows:
        if not any(c not in (None, "") and str(c).strip() for c in cells):
            out.stats.skip("blank row")
            continue
        out.stats.rows += 1
        if len(cells) < width:
            yield out.error(
                line, None, "", f"{len(header)} fields as in the header", "row is too short (is the file truncated?)"
            )
            continue
        dim = dimension_code(cells[i_ind] or "")
        if dim is None:
            out.stats.skip("not a WGI dimension")
            continue
        year_text = str(cells[i_year]).strip()
        match = re.fullmatch(r"(\d{4})(?:\.0)?", year_text)
        if not match:
            yield out.error(line, header[i_year], cells[i_year], "a year such as 2023", "is not a year")
            continue
        iso3 = out.iso3(cells[i_code], line, header[i_code])
        if isinstance(iso3, ParseError):
            yield iso3
            continue
        estimate = out.estimate(cells[i_est], line, header[i_est])
        if isinstance(estimate, ParseError):
            yield estimate
            continue
        out.stats.records += 1
        yield WgiScore(iso3, int(match.group(1)), dim, estimate, line)


def _rows_databank(out: _Out, header: list[str], norm: list[str], rows: Iterable) -> Iterator:
    i_code = norm.index("countrycode")
    i_series = norm.index("seriescode")
    years = [(i, int(m.group(1))) for i, k in enumerate(norm) if (m := _YEAR_COL.match(k))]
    for line, cells in rows:
        if not any(str(c).strip() for c in cells if c is not None):
            out.stats.skip("blank row")
            continue
        if len(cells) <= i_series or not str(cells[i_code]).strip():
            out.stats.skip("DataBank footer line")  # "Data from database: ...", "Last Updated: ..."
            continue
        out.stats.rows += 1
        series = clean_text(str(cells[i_series]))
        match = re.fullmatch(r"(?:GOV_WGI_)?(VA|PV|GE|RQ|RL|CC)\.EST", series, re.IGNORECASE)
        if not match:
            out.stats.skip("series other than the estimate")
            continue
        if len(cells) < len(header):
            yield out.error(
                line, None, "", f"{len(header)} fields as in the header", "row is too short (is the file truncated?)"
            )
            continue
        iso3 = out.iso3(cells[i_code], line, header[i_code])
        if isinstance(iso3, ParseError):
            yield iso3
            continue
        for i, year in years:
            estimate = out.estimate(cells[i], line, header[i].strip())
            if isinstance(estimate, ParseError):
                yield estimate
                continue
            out.stats.records += 1
            yield WgiScore(iso3, year, match.group(1).lower(), estimate, line)


def _rows_workbook_sheet(out: _Out, dim: str, sheet_rows: list[tuple[int, tuple]], rows: Iterator) -> Iterator:
    """Rows of a 2022-release sheet; ``sheet_rows`` are the rows read so far (header found last)."""
    header_line, header = sheet_rows[-1]
    above = sheet_rows[-2][1] if len(sheet_rows) >= 2 else ()
    estimate_cols: list[tuple[int, int]] = []
    if any(str(c).strip() == "Estimate" for c in header if c is not None):
        current = None
        for i, label in enumerate(header):
            year = above[i] if i < len(above) else None
            if isinstance(year, (int, float)) or (isinstance(year, str) and year.strip().isdigit()):
                current = int(year)
            if label is not None and str(label).strip() == "Estimate" and current is not None:
                estimate_cols.append((i, current))
    else:
        for i, label in enumerate(header[2:], start=2):
            if isinstance(label, (int, float)) or (isinstance(label, str) and label.strip().isdigit()):
                estimate_cols.append((i, int(label)))
    if not estimate_cols:
        yield out.error(header_line, None, "", "years over Estimate columns, or a row of years", "has no year columns")
        return
    for line, cells in rows:
        if not cells or cells[1] in (None, ""):
            out.stats.skip("blank row")
            continue
        out.stats.rows += 1
        iso3 = out.iso3(cells[1], line, "Code")
        if isinstance(iso3, ParseError):
            yield iso3
            continue
        for i, year in estimate_cols:
            estimate = out.estimate(cells[i] if i < len(cells) else None, line, f"{year} Estimate")
            if isinstance(estimate, ParseError):
                yield estimate
                continue
            out.stats.records += 1
            yield WgiScore(iso3, year, dim, estimate, line)


def _parse_xlsx(path: Path, stats: ImportStats) -> Iterator[WgiScore | ParseError]:
    import openpyxl  # local: CSV users need not load it

    try:
        check_xlsx_sizes(path, max_total=MAX_XLSX_BYTES, max_part=MAX_XLSX_PART_BYTES)
    except WorkbookTooLarge as exc:
        stats.errors += 1
        yield ParseError(path.name, None, None, "", "an .xlsx workbook of sane size", f"is refused: it {exc}")
        return
    except ValueError:
        pass  # not a zip: openpyxl says so below
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        stats.errors += 1
        yield ParseError(path.name, None, None, "", "an .xlsx workbook", f"cannot be read as XLSX: {exc}")
        return
    found = False
    try:
        for sheet in workbook.worksheets:
            out = _Out(f"{path.name} [{sheet.title}]", stats)
            numbered = ((n, tuple(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1))
            seen: list[tuple[int, tuple]] = []
            for line, cells in numbered:
                seen.append((line, cells))
                if len(seen) > 40:
                    break
                texts = [clean_text(str(c)) if c is not None else "" for c in cells]
                norm = [normalize_header(t) for t in texts]
                if texts[:2] == ["Country/Territory", "Code"]:
                    dim = dimension_code(sheet.title) or dimension_code(str(seen[0][1][0] or ""))
                    if dim is None:
                        yield out.error(
                            None, None, sheet.title, "a sheet named after a WGI dimension", "is not a WGI dimension"
                        )
                        break
                    found = True
                    yield from _rows_workbook_sheet(out, dim, seen, numbered)
                    break
                cols = _long_columns(norm)
                if cols:
                    found = True
                    yield from _rows_long(out, texts, cols, ((n, list(r)) for n, r in numbered))
                    break
            else:
                stats.skip(f"sheet without WGI data: {sheet.title}")
                continue
            if len(seen) > 40:
                stats.skip(f"sheet without WGI data: {sheet.title}")
    finally:
        workbook.close()
    if not found:
        stats.errors += 1
        yield ParseError(path.name, None, None, "", EXPECTED_LAYOUTS, "has no sheet in a known WGI layout")


def parse_wgi(source: Source, *, stats: ImportStats | None = None) -> Iterator[WgiScore | ParseError]:
    """Stream WGI estimates from a CSV or XLSX file in any layout above."""
    stats = stats if stats is not None else ImportStats()
    name = source_name(source)
    if name.lower().endswith((".xlsx", ".xlsm")):
        yield from _parse_xlsx(Path(source), stats)  # type: ignore[arg-type]
        return
    out = _Out(name, stats)
    rows = read_csv(source)
    first = next(rows, None)
    if first is None or isinstance(first, ParseError):
        stats.errors += 1
        yield first or out.error(None, None, "", EXPECTED_LAYOUTS, "is empty")
        return
    header = [clean_text(c) for c in first[1]]
    norm = [normalize_header(h) for h in header]

    def data() -> Iterator[tuple[int, list[str]]]:
        for item in rows:
            if isinstance(item, ParseError):
                stats.errors += 1
                raise _Stop(item)
            yield item

    try:
        cols = _long_columns(norm)
        if cols:
            yield from _rows_long(out, header, cols, data())
        elif {"countrycode", "seriescode"} <= set(norm):
            yield from _rows_databank(out, header, norm, data())
        else:
            yield out.error(1, None, ",".join(h for h in header if h), EXPECTED_LAYOUTS, "is not a known WGI header")
    except _Stop as stop:
        yield stop.error


class _Stop(Exception):
    def __init__(self, error: ParseError) -> None:
        self.error = error
