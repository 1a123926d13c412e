"""USGS Mineral Commodity Summaries (MCS) data-release CSV files.

:func:`parse_usgs_mcs` recognises the layout from the header and yields records or ParseErrors:

=============================================  ==========================  ======================
file                                           header signature            records
=============================================  ==========================  ======================
``MCS2026_Commodities_Data.csv`` (one long     MCS chapter, Section,       :class:`ProductionRow`,
file, Windows-1252; see usgs_mcs2026)          Statistics, Value           :class:`SalientValue`
``MCS2025_World_Data.csv`` (one world file)    COMMODITY, UNIT_MEAS,       :class:`ProductionRow`
                                               PROD_2023, PROD_EST_ 2024
``mcs2024-galli_world.csv`` (2024/2023, one    Country, Type,              :class:`ProductionRow`
per commodity, units in column names)          Prod_kg_2022, Prod_t_est_2023
``mcs2025-*_salient.csv`` (U.S. statistics)    DataSource, Commodity, Year :class:`SalientValue`
``MCS2025_T5_Critical_Minerals_Salient.csv``   Critical_mineral, ...       :class:`CriticalMineralSummary`
``MCS2025_Fig2_Net_Import_Reliance.csv``       Net_Import_Reliance_pct_Y   :class:`NetImportReliance`
=============================================  ==========================  ======================

Decisions (the caller sees them through :class:`~.errors.ImportStats` ``skipped`` reasons):

* Capacity and reserves are out of scope: capacity/reserve series (``Type`` says capacity or
  reserves) and the CAP_*/RESERVES_* columns are skipped and counted.
* An empty production cell gives no record (counted), except when the row's notes say the value is
  withheld (``W for 23-24``): then a withheld record. ``NA`` gives a record with quantity None.
  Text such as ``Included in World total.`` gives a record with quantity None and the text in notes.
* Non-mass series (carats of diamond, cubic metres of helium) are skipped: units are kg or t.
* A world total spanning two series (``World total (ilmenite and rutile, rounded)``) is skipped:
  it is the sum of the two series' own world totals.
* Country cells: trailing footnote digits (``World total (rounded) 10``, ``Other countries4``) and
  one glued footnote letter (``Japane``) are dropped; a qualifier in parentheses that is not part
  of the name (``Brazil (beneficiated)``) is moved to the notes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .country_names import footnote_letter, resolve_country
from .csv_source import CsvItem, Decoding, Source, clean_text, is_blank_row, normalize_header, read_csv, source_name
from .errors import ImportStats, ParseError
from .numbers import NumberFormatError, UsgsNumber, parse_usgs_number
from .usgs_commodities import (
    UNIT_CORRECTIONS,
    UNIT_TOKENS,
    commodity_from_filename,
    conversion,
    mineral_slug_for,
    stage_for_measure,
    unit_from_words,
)

# ------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class ProductionRow:
    commodity: str  # USGS text, cleaned ("Gallium", "Platinum-Group metals")
    mineral_slug: str
    measure: str  # USGS Type text ("Mine production, antimony content"): tells series apart
    stage: str  # 'mine' | 'refinery'
    country_name: str  # as written, cleaned (footnotes dropped)
    country_iso3: str | None
    row_kind: str  # 'country' | 'world_total' | 'other'
    year: int
    quantity: float | None  # in `unit`
    unit: str  # canonical per mineral: 'kg' or 't'
    is_estimate: bool
    is_withheld: bool
    bound: str  # '' | '>' | '<'
    notes: str
    edition: str  # 'MCS 2025'
    line: int


@dataclass(frozen=True, slots=True)
class SalientValue:
    """One cell of a U.S. salient-statistics file (country is always the United States)."""

    commodity: str
    mineral_slug: str
    year: int
    column: str  # header as published, e.g. 'Imports_Metal_kg'
    statistic: str  # production|imports|exports|consumption|net_import_reliance|price|stocks|employment|other
    value: float | None
    unit: str  # 'kg'/'t' (converted) for masses, 'percent' for NIR, else the column's unit token
    bound: str
    is_withheld: bool
    is_not_available: bool
    is_net_exporter: bool
    is_estimate: bool
    notes: str
    edition: str
    line: int
    country_iso3: str = "USA"
    # False when the file has several columns for this mineral and statistic (Imports_Metal_kg and
    # Imports_GaAs_kg) and this one is not their total: a component, not the statistic itself.
    is_primary: bool = True


def salient_value(parsed: UsgsNumber, factor: float, **fields: object) -> SalientValue:
    """A SalientValue from a parsed cell: the value converted by ``factor``, the cell's flags kept."""
    return SalientValue(
        value=parsed.value * factor if parsed.value is not None else None,
        bound=parsed.bound,
        is_withheld=parsed.is_withheld,
        is_not_available=parsed.is_not_available,
        is_net_exporter=parsed.is_net_exporter,
        **fields,  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class CriticalMineralSummary:
    """A row of MCS table T5 (critical minerals: U.S. position and the leading world producer)."""

    mineral: str
    mineral_slug: str
    year: int
    is_estimate: bool
    primary_production: UsgsNumber | None
    secondary_production: UsgsNumber | None
    apparent_consumption: UsgsNumber | None
    net_import_reliance: UsgsNumber | None  # percent; bound, or is_net_exporter for 'E'
    primary_import_source: str
    primary_import_source_iso3: str | None
    leading_country: str
    leading_country_iso3: str | None
    leading_country_production: UsgsNumber | None  # metric tons as in T5
    leading_country_share_pct: UsgsNumber | None
    world_production: UsgsNumber | None
    notes: str
    edition: str
    line: int


@dataclass(frozen=True, slots=True)
class NetImportReliance:
    """A row of MCS figure 2 (U.S. net import reliance and major import sources)."""

    commodity: str  # as published, e.g. 'GALLIUM, metal'
    mineral_slug: str
    form: str  # text after the first comma: 'metal', 'sponge metal', ''
    year: int
    rank: int | None
    reliance_pct: UsgsNumber | None
    import_sources_iso3: tuple[str, ...]
    import_sources: tuple[str, ...]
    notes: str
    edition: str
    line: int


UsgsRecord = ProductionRow | SalientValue | CriticalMineralSummary | NetImportReliance

LAYOUTS_EXPECTED = (
    "one of the USGS MCS layouts: world data (SOURCE, COMMODITY, COUNTRY, TYPE, UNIT_MEAS, PROD_<year>, "
    "PROD_EST_<year>, PROD_NOTES, ...); per-commodity world file (Source, Country, Type, "
    "Prod_<unit>[_est]_<year>, Prod_notes, ...); salient statistics (DataSource, Commodity, Year, ...); "
    "T5 critical minerals (Source, Year, Critical_mineral, ..., Leading_source_country, ...); "
    "Fig2 net import reliance (Source, Import_Share_Order, Commodity, Net_Import_Reliance_pct_<year>, ...)"
)

# ------------------------------------------------------------------ editions


@dataclass(frozen=True, slots=True)
class McsEdition:
    published_on: date
    url: str
    date_from: str  # where the publication date is stated


# Publication dates of the MCS editions, as USGS states them. Editions are ranked by this date
# (the newest wins for a year), so an edition not listed here needs its date given explicitly.
MCS_EDITIONS: dict[int, McsEdition] = {
    2023: McsEdition(
        date(2023, 1, 31),
        "https://www.usgs.gov/centers/national-minerals-information-center/mineral-commodity-summaries",
        "USGS news release of 2023-02-02: report released Jan. 31",
    ),
    2024: McsEdition(
        date(2024, 1, 31),
        "https://doi.org/10.5066/P144BA54",
        "USGS publication page 'Mineral commodity summaries 2024': January 31, 2024",
    ),
    2025: McsEdition(
        date(2025, 1, 31),
        "https://doi.org/10.5066/P13XCP3R",
        "USGS publication 'Mineral commodity summaries 2025': January 31, 2025",
    ),
    2026: McsEdition(
        date(2026, 2, 6),
        "https://doi.org/10.5066/P1WKQ63T",
        "USGS data catalog metadata of the MCS 2026 data release: pubdate 20260206",
    ),
}

# ------------------------------------------------------------------ shared helpers


class _Ctx:
    def __init__(self, name: str, header: list[str], stats: ImportStats, edition: str) -> None:
        self.name = name
        self.header = header
        self.norm = [normalize_header(h) for h in header]
        self.stats = stats
        self.edition = edition
        last = max((i for i, h in enumerate(header) if h.strip()), default=-1)
        self.width = last + 1

    def index(self, key: str) -> int | None:
        try:
            return self.norm.index(key)
        except ValueError:
            return None

    def error(self, line: int, col: int | None, value: str, expected: str, problem: str) -> ParseError:
        self.stats.errors += 1
        column = self.header[col].strip() if col is not None and col < len(self.header) else None
        return ParseError(self.name, line, column, value, expected, problem)

    def check_width(self, line: int, cells: list[str]) -> ParseError | None:
        if len(cells) < self.width:
            missing = self.header[len(cells)].strip()
            return self.error(
                line,
                None,
                "",
                f"{self.width} fields as in the header",
                f"row has {len(cells)} fields, no value for column {missing!r} (is the file truncated?)",
            )
        for i in range(len(self.header), len(cells)):
            if cells[i].strip():
                return self.error(line, None, cells[i], f"at most {len(self.header)} fields", "is an extra field")
        return None

    def number(
        self, line: int, col: int, raw: str, *, allow_net_exporter: bool = False
    ) -> UsgsNumber | ParseError | None:
        try:
            return parse_usgs_number(raw, allow_net_exporter=allow_net_exporter)
        except NumberFormatError as exc:
            return self.error(line, col, raw, str(exc), "is not a number")


def _edition_from(source_cell: str, filename: str) -> str:
    match = re.search(r"(\d{4})", source_cell) or re.search(r"mcs[_ -]?(\d{4})", filename, re.IGNORECASE)
    return f"MCS {match.group(1)}" if match else "MCS"


_FOOTNOTE_DIGITS = re.compile(r"(?<=[A-Za-z)])\s*\d{1,2}$")
_QUALIFIER = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*(?:,\s*(.*))?$")


def usgs_row_kind(name: str) -> tuple[str, str]:
    """('world_total'|'other'|'country', qualifier text) for a cleaned country cell."""
    lowered = name.lower()
    for prefix, kind in (("world total", "world_total"), ("other countries", "other")):
        if lowered.startswith(prefix):
            rest = name[len(prefix) :].strip(" ,")
            return kind, rest.strip("()")
    if lowered == "other":  # some 2023/2024 files write the residual row as plain "Other"
        return "other", ""
    return "country", ""


def resolve_usgs_country(name: str) -> tuple[str | None, str]:
    """(iso3, qualifier moved to notes) for a USGS country cell; (None, '') if unknown."""
    iso3 = resolve_country(name)
    if iso3:
        return iso3, ""
    # A form after the last comma (``Kazakhstan, concentrate``, ``China, boric oxide equivalent``):
    # the row is the country's, in that form. Tried before the parentheses, so that
    # ``Congo (Kinshasa), concentrate`` never becomes ``Congo`` (the Republic of the Congo).
    base, comma, form = name.rpartition(",")
    if comma and form.strip():
        iso3 = resolve_country(base)
        if iso3:
            return iso3, f"form: {form.strip()}"
    match = _QUALIFIER.match(name)
    if match:
        base = match.group(1)
        iso3 = resolve_country(base)
        if iso3:
            extra = ", ".join(x for x in (match.group(2), match.group(3)) if x)
            return iso3, extra
    return None, ""


def _estimated_years(text: str) -> set[int] | bool:
    """Years a note marks as estimated: a set, True (all years) or False."""
    if "estimat" not in text.lower():
        return False
    years = {int(y) for y in re.findall(r"\b((?:19|20)\d\d)\b", text)}
    return years or True


def _withheld_years(text: str) -> set[int]:
    """'W for 23-24' -> {2023, 2024}; 'W' -> every year (empty set means none)."""
    match = re.fullmatch(r"W(?: for (\d\d)\s*-\s*(\d\d))?\.?", text.strip())
    if not match:
        return set()
    if match.group(1) is None:
        return {0}
    first, last = int(match.group(1)), int(match.group(2))
    return {2000 + y for y in range(first, last + 1)}


_ESTIMATE_PREFIX = re.compile(r"^e\s*(?=[\d.<>])")


def _estimate_prefix(raw: str) -> tuple[str, bool]:
    """``'e3,900'`` -> (``'3,900'``, True): a lower-case e before a number marks an estimate (2023/2024
    files). Only lower case: ``E`` alone means net exporter in NIR columns."""
    text = raw.strip()
    match = _ESTIMATE_PREFIX.match(text)
    return (text[match.end() :], True) if match else (raw, False)


@dataclass(frozen=True, slots=True)
class _ProdColumn:
    index: int
    year: int
    is_estimate: bool
    unit: tuple[str, float] | None  # from the column name, when it carries one


def _emit_production(
    ctx: _Ctx,
    line: int,
    cells: list[str],
    *,
    commodity: str,
    country_cell: str,
    country_col: int,
    measure: str,
    unit_text: str,
    unit_col: int | None,
    columns: list[_ProdColumn],
    notes_col: int | None,
) -> Iterator[ProductionRow | ParseError]:
    stats = ctx.stats
    stage = stage_for_measure(measure)
    if stage is None:
        kind = "capacity" if "capacity" in measure.lower() else "reserves"
        stats.skip(f"{kind} series (out of scope)")
        return
    slug = mineral_slug_for(commodity, measure)
    notes = clean_text(cells[notes_col]) if notes_col is not None else ""

    name = _FOOTNOTE_DIGITS.sub("", country_cell)
    row_kind, qualifier = usgs_row_kind(name)
    iso3: str | None = None
    if row_kind == "country":
        iso3, qualifier = resolve_usgs_country(name)
        if iso3 is None:
            yield ctx.error(
                line,
                country_col,
                country_cell,
                "a country name (ISO 3166 or country_aliases.csv)",
                "is not a known country",
            )
            return
    elif row_kind == "world_total" and " and " in qualifier:
        stats.skip("combined world total across series")
        return
    # a footnote letter glued to the name (2024 files: "Japane") marks the row's figures as estimated
    glued = footnote_letter(name) if row_kind == "country" else ""
    footnote = {"e": "USGS footnote e: estimated", "r": "USGS footnote r: revised"}.get(glued, "")
    row_notes = "; ".join(x for x in (qualifier if qualifier not in ("rounded", "") else "", footnote, notes) if x)

    estimated = _estimated_years(notes) or ("estimat" in measure.lower()) or glued == "e"
    withheld = _withheld_years(notes)
    base_from_text = None
    if unit_col is not None:
        # keyed by the commodity, not the series: the label is the commodity's (ilmenite and rutile alike)
        commodity_slug = mineral_slug_for(commodity)
        correction = UNIT_CORRECTIONS.get((ctx.edition, commodity_slug, unit_text.lower()))
        if correction:
            # counted beside the skips so the import report shows it; the row itself is kept
            stats.skip(f"unit label corrected (row kept): {commodity_slug} {unit_text or '(empty)'} -> {correction}")
            unit_text = correction
        base_from_text = unit_from_words(unit_text) if unit_text else None
    if base_from_text is None:
        base_from_text = unit_from_words(measure)

    for col in columns:
        raw = cells[col.index]
        base = col.unit or base_from_text
        if base is None:
            where = unit_col if unit_col is not None else col.index
            yield ctx.error(
                line, where, unit_text, "kilograms, metric tons or thousand metric tons", "is not a known unit"
            )
            return
        converted = conversion(base, slug)
        if converted is None:
            stats.skip("non-mass unit (carats, cubic meters)")
            return
        unit, factor = converted
        raw, prefixed_estimate = _estimate_prefix(raw)
        parsed = ctx.number(line, col.index, raw)
        if isinstance(parsed, ParseError):
            yield parsed
            continue
        is_withheld = False
        if parsed is None:
            if col.year in withheld or 0 in withheld:
                is_withheld = True
            else:
                stats.skip("empty production cell")
                continue
        else:
            is_withheld = parsed.is_withheld
        quantity = parsed.value * factor if parsed is not None and parsed.value is not None else None
        cell_note = parsed.note if parsed is not None else ""
        if parsed is not None and parsed.is_not_available:
            # NA: USGS publishes no figure; never "withheld" (only W is) and never 0
            cell_note = "not available (NA)"
        is_estimate = (
            col.is_estimate
            or prefixed_estimate
            or (estimated is True)
            or (isinstance(estimated, set) and col.year in estimated)
        )
        stats.records += 1
        yield ProductionRow(
            commodity=commodity,
            mineral_slug=slug,
            measure=measure,
            stage=stage,
            country_name=name,
            country_iso3=iso3,
            row_kind=row_kind,
            year=col.year,
            quantity=quantity,
            unit=unit,
            is_estimate=is_estimate,
            is_withheld=is_withheld,
            bound=parsed.bound if parsed is not None else "",
            notes="; ".join(x for x in (row_notes, cell_note) if x)[:300],
            edition=ctx.edition,
            line=line,
        )


def _data_rows(ctx: _Ctx, rows: Iterator[CsvItem]) -> Iterator[tuple[int, list[str]] | ParseError]:
    for item in rows:
        if isinstance(item, ParseError):
            ctx.stats.errors += 1
            yield item
            return
        line, cells = item
        if is_blank_row(cells):
            ctx.stats.skip("blank row")
            continue
        ctx.stats.rows += 1
        problem = ctx.check_width(line, cells)
        if problem:
            yield problem
            continue
        yield line, cells


# ------------------------------------------------------------------ layouts

_WORLD25_PROD = re.compile(r"^prod(_est)?_(\d{4})$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
PROD_COLUMN_EXPECTED = "Prod_[<form>_]<unit>[_est]_<year>, unit kg, t, kt, mmt or Mt (e.g. Prod_t_est_2023)"


def _world24_column(key: str) -> tuple[str, str, bool, int] | None:
    """(form, unit token, is_estimate, year) for a per-commodity production column, None if the name
    does not end in a year. ``prod_kg_2022`` -> ('', 'kg', False, 2022); ``prod_sponge_t_est_2023``
    (titanium sponge) -> ('sponge', 't', True, 2023). The unit is the last token before ``est``/year."""
    tokens = key.split("_")
    if len(tokens) < 3 or tokens[0] != "prod" or not _YEAR.match(tokens[-1]):
        return None
    middle = tokens[1:-1]
    is_estimate = bool(middle) and middle[-1] in ("est", "estimated")
    if is_estimate:
        middle = middle[:-1]
    if not middle:
        return None
    return "_".join(middle[:-1]), middle[-1], is_estimate, int(tokens[-1])


def _unknown_prod_columns(ctx: _Ctx, known: set[int]) -> Iterator[ParseError]:
    """A production column whose name is not understood is an error, never silently dropped:
    its figures would be missing from the import without anyone knowing."""
    for i, key in enumerate(ctx.norm):
        if key.startswith("prod") and "notes" not in key and i not in known:
            ctx.stats.errors += 1
            column = ctx.header[i].strip()
            yield ParseError(ctx.name, 1, column, column, PROD_COLUMN_EXPECTED, "is not a known year column")


def _parse_world_2025(ctx: _Ctx, rows: Iterator[CsvItem]) -> Iterator[UsgsRecord | ParseError]:
    i_source, i_commodity, i_country = ctx.index("source"), ctx.index("commodity"), ctx.index("country")
    i_type, i_unit, i_notes = ctx.index("type"), ctx.index("unit_meas"), ctx.index("prod_notes")
    columns = []
    for i, key in enumerate(ctx.norm):
        match = _WORLD25_PROD.match(key)
        if match:
            columns.append(_ProdColumn(i, int(match.group(2)), bool(match.group(1)), None))
    unknown = list(_unknown_prod_columns(ctx, {c.index for c in columns}))
    if unknown:
        yield from unknown
        return
    for item in _data_rows(ctx, rows):
        if isinstance(item, ParseError):
            yield item
            continue
        line, cells = item
        if i_source is not None and cells[i_source].strip():
            ctx.edition = _edition_from(cells[i_source], ctx.name)
        commodity = clean_text(cells[i_commodity])  # type: ignore[index]
        if not commodity:
            yield ctx.error(line, i_commodity, "", "a commodity name", "is empty")
            continue
        yield from _emit_production(
            ctx,
            line,
            cells,
            commodity=commodity,
            country_cell=clean_text(cells[i_country]),  # type: ignore[index]
            country_col=i_country,  # type: ignore[arg-type]
            measure=clean_text(cells[i_type]),  # type: ignore[index]
            unit_text=clean_text(cells[i_unit]),  # type: ignore[index]
            unit_col=i_unit,
            columns=columns,
            notes_col=i_notes,
        )
        _count_out_of_scope(ctx, cells)


def _count_out_of_scope(ctx: _Ctx, cells: list[str]) -> None:
    for i, key in enumerate(ctx.norm):
        if (key.startswith("cap_") or key.startswith("reserves_")) and "notes" not in key and cells[i].strip():
            ctx.stats.skip("capacity/reserves cell (out of scope)")


def _type_column(ctx: _Ctx, i_country: int, first_prod: int) -> int | None:
    """The Type column: named ``Type``, or (fluorspar, MCS 2024) named by a description of the series:
    then it is the one column between Country and the first production column."""
    i_type = ctx.index("type")
    if i_type is not None:
        return i_type
    between = [i for i in range(i_country + 1, first_prod) if ctx.header[i].strip()]
    return between[0] if len(between) == 1 else None


def _included_elsewhere(rec: ProductionRow) -> bool:
    return rec.quantity is None and not rec.is_withheld and "included with" in rec.notes.lower()


def _drop_included_duplicates(ctx: _Ctx, items: list[UsgsRecord | ParseError]) -> Iterator[UsgsRecord | ParseError]:
    """A second row for the same country and series that only says its figure is included with
    another row (titanium: the U.S. rutile row "Included with ilmenite") adds nothing: dropped, counted."""
    keys: dict[tuple[str, str, str, str | None, int], int] = {}
    for item in items:
        if isinstance(item, ProductionRow):
            key = (item.mineral_slug, item.stage, item.row_kind, item.country_iso3, item.year)
            keys[key] = keys.get(key, 0) + 1
    for item in items:
        if isinstance(item, ProductionRow) and _included_elsewhere(item):
            key = (item.mineral_slug, item.stage, item.row_kind, item.country_iso3, item.year)
            if keys[key] > 1:
                keys[key] -= 1
                ctx.stats.records -= 1
                ctx.stats.skip("duplicate row whose figure is included with another row")
                continue
        yield item


def _parse_world_per_commodity(
    ctx: _Ctx, rows: Iterator[CsvItem], commodity: str | None
) -> Iterator[UsgsRecord | ParseError]:
    commodity = commodity or commodity_from_filename(ctx.name)
    if not commodity:
        ctx.stats.errors += 1
        yield ParseError(
            ctx.name,
            None,
            None,
            ctx.name,
            "a name like mcs2024-galli_world.csv, or commodity=...",
            "does not name the commodity",
        )
        return
    i_source, i_country = ctx.index("source"), ctx.index("country")
    i_notes = ctx.index("prod_notes")
    columns: list[tuple[str, _ProdColumn]] = []
    non_mass: list[str] = []
    for i, key in enumerate(ctx.norm):
        parsed = _world24_column(key)
        if parsed is None:
            continue
        form, token, is_estimate, year = parsed
        unit = UNIT_TOKENS.get(token)
        if unit is None:
            ctx.stats.errors += 1
            yield ParseError(ctx.name, 1, ctx.header[i].strip(), token, PROD_COLUMN_EXPECTED, "is not a known unit")
            return
        if conversion(unit, mineral_slug_for(commodity)) is None:
            non_mass.append(token)
        columns.append((form, _ProdColumn(i, year, is_estimate, unit)))
    unknown = list(_unknown_prod_columns(ctx, {c.index for _, c in columns}))
    if unknown:
        yield from unknown
        return
    if non_mass and len(non_mass) == len(columns):
        # carats of diamond, cubic meters of helium: nothing to compare with masses
        ctx.stats.skip_file(f"unit {non_mass[0]} is not a mass: out of scope")
        return
    i_type = _type_column(ctx, i_country, min(c.index for _, c in columns))  # type: ignore[arg-type]
    if i_type is None:
        ctx.stats.errors += 1
        yield ParseError(ctx.name, 1, None, ",".join(ctx.header), "a Type column after Country", "has no Type column")
        return
    type_header = clean_text(ctx.header[i_type])
    forms = sorted({form for form, _ in columns})

    def emit() -> Iterator[UsgsRecord | ParseError]:
        for item in _data_rows(ctx, rows):
            if isinstance(item, ParseError):
                yield item
                continue
            line, cells = item
            if i_source is not None and cells[i_source].strip():
                ctx.edition = _edition_from(cells[i_source], ctx.name)
            measure = clean_text(cells[i_type]) or (type_header if ctx.norm[i_type] != "type" else "")
            for form in forms:
                yield from _emit_production(
                    ctx,
                    line,
                    cells,
                    commodity=commodity,
                    country_cell=clean_text(cells[i_country]),  # type: ignore[index]
                    country_col=i_country,  # type: ignore[arg-type]
                    # a form in the column name (Prod_Sponge_t_2023) names the series
                    measure=f"{measure}, {form}" if form and form not in measure.lower() else measure,
                    unit_text="",
                    unit_col=None,
                    columns=[c for f, c in columns if f == form],
                    notes_col=i_notes,
                )
            _count_out_of_scope(ctx, cells)

    yield from _drop_included_duplicates(ctx, list(emit()))


def _parse_capacity_only(ctx: _Ctx, rows: Iterator[CsvItem]) -> Iterator[UsgsRecord | ParseError]:
    """A per-commodity file with capacity columns only (abrasives, MCS 2023/2024): out of scope."""
    for item in _data_rows(ctx, rows):
        if isinstance(item, ParseError):
            yield item
    ctx.stats.skip_file("capacity only: no production figures")


_STATISTIC_TOKENS = {
    "usprod": "production",
    "mine": "production",
    "refinery": "production",
    "imports": "imports",
    "exports": "exports",
    "consump": "consumption",
    "nir": "net_import_reliance",
    "price": "price",
    "stocks": "stocks",
    "employment": "employment",
}


def _salient_column(header: str, slug: str) -> tuple[str, str, float]:
    """(statistic, unit, factor) for a salient column name such as 'Imports_Metal_kg'."""
    tokens = [t.lower() for t in header.strip().split("_") if t]
    statistic = next((_STATISTIC_TOKENS[t] for t in tokens if t in _STATISTIC_TOKENS), "other")
    suffix = tokens[-1] if tokens else ""
    if statistic == "net_import_reliance":
        return statistic, "percent", 1.0
    if suffix == "pct":
        return statistic, "percent", 1.0
    if statistic not in ("price", "employment") and suffix in UNIT_TOKENS:
        converted = conversion(UNIT_TOKENS[suffix], slug)
        if converted:
            return statistic, converted[0], converted[1]
    return statistic, suffix, 1.0


def _parse_salient(ctx: _Ctx, rows: Iterator[CsvItem]) -> Iterator[UsgsRecord | ParseError]:
    i_source, i_commodity, i_year = 0, 1, 2
    value_cols = [i for i in range(3, ctx.width) if ctx.header[i].strip()]
    primary: set[int] | None = None  # decided on the first data row, once the commodity is known
    for item in _data_rows(ctx, rows):
        if isinstance(item, ParseError):
            yield item
            continue
        line, cells = item
        if cells[i_source].strip():
            ctx.edition = _edition_from(cells[i_source], ctx.name)
        commodity = clean_text(cells[i_commodity]) or (commodity_from_filename(ctx.name) or "")
        year_text = clean_text(cells[i_year])
        match = re.fullmatch(r"(\d{4})(?:[_ ]?(e|est|estimated))?", year_text, re.IGNORECASE)
        if not match:
            yield ctx.error(line, i_year, year_text, "a year such as 2024", "is not a year")
            continue
        year, is_estimate = int(match.group(1)), bool(match.group(2))
        if primary is None:
            primary = _primary_salient_columns(ctx, value_cols, commodity)
        for i in value_cols:
            column = ctx.header[i].strip()
            slug = mineral_slug_for(commodity, column)
            statistic, unit, factor = _salient_column(column, slug)
            parsed = ctx.number(line, i, cells[i], allow_net_exporter=statistic == "net_import_reliance")
            if isinstance(parsed, ParseError):
                yield parsed
                continue
            if parsed is None:
                ctx.stats.skip("empty salient cell")
                continue
            ctx.stats.records += 1
            yield salient_value(
                parsed,
                factor,
                commodity=commodity,
                mineral_slug=slug,
                year=year,
                column=column,
                statistic=statistic,
                unit=unit,
                is_estimate=is_estimate,
                notes=parsed.note,
                edition=ctx.edition,
                line=line,
                is_primary=i in primary,
            )


TOTAL_TOKENS = ("total", "apparent", "apprnt")  # names of the column/row that is the statistic itself


def _primary_salient_columns(ctx: _Ctx, value_cols: list[int], commodity: str) -> set[int]:
    """Columns that are the statistic itself: the only one of their (mineral, statistic) in the
    header, or, among several, the single one named a total (``Imports_Total_t``) or apparent
    consumption. The others are components (by form or by route) and are flagged, not summed."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i in value_cols:
        column = ctx.header[i].strip()
        slug = mineral_slug_for(commodity, column)
        groups.setdefault((slug, _salient_column(column, slug)[0]), []).append(i)
    primary: set[int] = set()
    for columns in groups.values():
        if len(columns) == 1:
            primary.update(columns)
            continue
        totals = [i for i in columns if any(t in ctx.norm[i].split("_") for t in TOTAL_TOKENS)]
        if len(totals) == 1:
            primary.update(totals)
    return primary


def _import_source_iso3(name: str) -> str | None:
    text = re.sub(r"(?<=[a-z])\d+$", "", clean_text(name))  # 'China3' -> 'China' (footnote)
    return resolve_country(text)


def _parse_t5(ctx: _Ctx, rows: Iterator[CsvItem]) -> Iterator[UsgsRecord | ParseError]:
    col = {key: i for i, key in enumerate(ctx.norm)}

    def cell(cells: list[str], key: str) -> str:
        i = col.get(key)
        return clean_text(cells[i]) if i is not None else ""

    for item in _data_rows(ctx, rows):
        if isinstance(item, ParseError):
            yield item
            continue
        line, cells = item
        if cell(cells, "source"):
            ctx.edition = _edition_from(cell(cells, "source"), ctx.name)
        year_text = cell(cells, "year")
        match = re.fullmatch(r"(\d{4})(?:_?(estimated|est|e))?", year_text, re.IGNORECASE)
        if not match:
            yield ctx.error(line, col.get("year"), year_text, "a year such as 2024_estimated", "is not a year")
            continue
        numbers: dict[str, UsgsNumber | None] = {}
        bad = False
        for key in (
            "primary_prod", "secondary_prod", "apparent_consumption", "net_import_reliance",
            "leading_country_prod", "leading_source_precent_world", "world_total_prod",
        ):  # fmt: skip
            i = col.get(key)
            if i is None:
                numbers[key] = None
                continue
            parsed = ctx.number(line, i, cells[i], allow_net_exporter=key == "net_import_reliance")
            if isinstance(parsed, ParseError):
                yield parsed
                bad = True
                continue
            numbers[key] = parsed
        if bad:
            continue
        leading = cell(cells, "leading_source_country")
        leading_iso3 = _import_source_iso3(leading) if leading else None
        if leading and leading_iso3 is None:
            yield ctx.error(
                line, col.get("leading_source_country"), leading, "a country name", "is not a known country"
            )
            continue
        source = cell(cells, "primary_import_source")
        source_iso3 = _import_source_iso3(source) if source else None
        if source and source_iso3 is None:
            yield ctx.error(line, col.get("primary_import_source"), source, "a country name", "is not a known country")
            continue
        mineral = cell(cells, "critical_mineral")
        notes = "; ".join(
            f"{label}: {cell(cells, key)}"
            for key, label in (
                ("prod_notes", "production"),
                ("consumption_notes", "consumption"),
                ("import_source_notes", "import sources"),
                ("world_prod_notes", "world production"),
            )
            if cell(cells, key)
        )
        ctx.stats.records += 1
        yield CriticalMineralSummary(
            mineral=mineral,
            mineral_slug=mineral_slug_for(mineral),
            year=int(match.group(1)),
            is_estimate=bool(match.group(2)),
            primary_production=numbers["primary_prod"],
            secondary_production=numbers["secondary_prod"],
            apparent_consumption=numbers["apparent_consumption"],
            net_import_reliance=numbers["net_import_reliance"],
            primary_import_source=source,
            primary_import_source_iso3=source_iso3,
            leading_country=leading,
            leading_country_iso3=leading_iso3,
            leading_country_production=numbers["leading_country_prod"],
            leading_country_share_pct=numbers["leading_source_precent_world"],
            world_production=numbers["world_total_prod"],
            notes=notes,
            edition=ctx.edition,
            line=line,
        )


def _parse_fig2(ctx: _Ctx, rows: Iterator[CsvItem]) -> Iterator[UsgsRecord | ParseError]:
    col = {key: i for i, key in enumerate(ctx.norm)}
    nir_key = next(k for k in ctx.norm if k.startswith("net_import_reliance_pct_"))
    year = int(nir_key.rsplit("_", 1)[1])
    sources_key = next((k for k in ctx.norm if k.startswith("major_import_sources")), None)
    for item in _data_rows(ctx, rows):
        if isinstance(item, ParseError):
            yield item
            continue
        line, cells = item
        if "source" in col and cells[col["source"]].strip():
            ctx.edition = _edition_from(cells[col["source"]], ctx.name)
        commodity = clean_text(cells[col["commodity"]])
        name, _, form = commodity.partition(",")
        nir = ctx.number(line, col[nir_key], cells[col[nir_key]], allow_net_exporter=True)
        if isinstance(nir, ParseError):
            yield nir
            continue
        rank_text = clean_text(cells[col["import_share_order"]]) if "import_share_order" in col else ""
        names = (
            tuple(n for n in (clean_text(x) for x in cells[col[sources_key]].split(",")) if n) if sources_key else ()
        )
        iso3s = []
        for n in names:
            iso3 = _import_source_iso3(n)
            if iso3 is None:
                yield ctx.error(line, col[sources_key], n, "a country name", "is not a known country")  # type: ignore[index]
                break
            iso3s.append(iso3)
        else:
            ctx.stats.records += 1
            yield NetImportReliance(
                commodity=commodity,
                mineral_slug=mineral_slug_for(name.strip().title(), form),
                form=form.strip(),
                year=year,
                rank=int(rank_text) if rank_text.isdigit() else None,
                reliance_pct=nir,
                import_sources_iso3=tuple(iso3s),
                import_sources=names,
                notes=clean_text(cells[col["notes"]]) if "notes" in col else "",
                edition=ctx.edition,
                line=line,
            )


# ------------------------------------------------------------------ entry point

Handler = Callable[[_Ctx, Iterator[CsvItem]], Iterator[UsgsRecord | ParseError]]


def detect_layout(header: list[str]) -> str | None:
    """'mcs2026' | 'world_2025' | 'world_per_commodity' | 'capacity_only' | 'salient' | 't5' | 'fig2' | None."""
    norm = [normalize_header(h) for h in header]
    keys = set(norm)
    if {"mcschapter", "statistics", "statistics_detail", "value"} <= keys:
        return "mcs2026"
    if {"commodity", "country", "type", "unit_meas"} <= keys and any(_WORLD25_PROD.match(k) for k in norm):
        return "world_2025"
    if "country" in keys and any(_world24_column(k) for k in norm):
        return "world_per_commodity"
    if "country" in keys and any(k.startswith("cap_") for k in norm) and not any(k.startswith("prod") for k in norm):
        return "capacity_only"
    if {"critical_mineral", "leading_source_country"} <= keys:
        return "t5"
    if "commodity" in keys and any(k.startswith("net_import_reliance_pct_") for k in norm):
        return "fig2"
    if len(norm) >= 4 and norm[0] in ("datasource", "source") and norm[1:3] == ["commodity", "year"]:
        return "salient"
    return None


def parse_usgs_mcs(
    source: Source, *, stats: ImportStats | None = None, commodity: str | None = None
) -> Iterator[UsgsRecord | ParseError]:
    """Stream the records of any USGS MCS CSV layout above; ParseErrors are yielded, not raised.

    ``commodity`` names the commodity of a per-commodity world file whose name does not say it.
    """
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
        if not is_blank_row(item[1]):
            header = item[1]
            break
    if header is None:
        stats.errors += 1
        yield ParseError(name, None, None, "", LAYOUTS_EXPECTED, "is empty")
        return
    layout = detect_layout(header)
    if layout == "mcs2026":
        # Imported here: the 2026 module builds on this one's records and helpers.
        from .usgs_mcs2026 import parse_mcs2026

        decoding.fallback = "cp1252"  # the release is Windows-1252 (em dash, curly quotes)
        edition = _edition_from("", Path(name).name)
        if edition == "MCS":
            stats.errors += 1
            expected = "a file name with the edition, such as MCS2026_Commodities_Data.csv"
            yield ParseError(name, None, None, name, expected, "does not name the MCS edition")
            return
        yield from parse_mcs2026(name, header, rows, stats, edition)
        return
    if layout is None:
        stats.errors += 1
        shown = ",".join(h.strip() for h in header if h.strip())
        yield ParseError(name, 1, None, shown, LAYOUTS_EXPECTED, "is not a known USGS MCS header")
        return
    ctx = _Ctx(name, header, stats, _edition_from("", Path(name).name))
    if layout == "world_2025":
        yield from _parse_world_2025(ctx, rows)
    elif layout == "world_per_commodity":
        yield from _parse_world_per_commodity(ctx, rows, commodity)
    elif layout == "capacity_only":
        yield from _parse_capacity_only(ctx, rows)
    elif layout == "salient":
        yield from _parse_salient(ctx, rows)
    elif layout == "t5":
        yield from _parse_t5(ctx, rows)
    else:
        yield from _parse_fig2(ctx, rows)
