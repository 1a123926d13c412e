"""The MCS 2026 data release's single long file, ``MCS2026_Commodities_Data.csv``.

One row per statistic::

    MCS chapter, Section, Commodity, Country, Statistics, Statistics_detail, Unit, Year, Value,
    Notes, Is critical mineral 2025, Other notes

World production, reserves, U.S. salient statistics, import sources and prices share the file;
this parser yields the records the older layouts yield (:class:`~.usgs_mcs.ProductionRow`,
:class:`~.usgs_mcs.SalientValue`), so the same loader stores them, under the edition named by the
file (``MCS 2026``). Pure: no Django.

Decisions (counted in :class:`~.errors.ImportStats` ``skipped``):

* Encoding: the release is Windows-1252 (em dash, curly quotes); a line that is not UTF-8 is
  decoded as cp1252 (set by :func:`~.usgs_mcs.parse_usgs_mcs` once the header says this layout).
* ``—`` (em dash) in Value is USGS's "zero" (none): quantity 0. ``NA`` is not available (no
  figure, never 0), ``W`` withheld, ``E`` net exporter (net import reliance only).
* ``Estimated.`` in Notes (or ``estimated`` anywhere in it) flags the figure as an estimate.
* World section, Statistics ``Production``: a production row; ``World total`` with
  ``...: rounded`` is the world total, ``Other countries`` the residual row. Reserves and
  capacity are out of scope.
* Other sections, country United States: salient statistics, by the words of ``Statistics``
  (net import reliance, imports, exports, consumption, production, price, stocks, employment).
  Where one statistic has several rows in a year (by form), only a row named a total (or apparent
  consumption) stands for the statistic; the others are components, flagged, not summed.
* Import sources and anything not recognised are skipped and counted by section and statistic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

from .csv_source import CsvItem, clean_text, normalize_header
from .errors import ImportStats, ParseError
from .numbers import NumberFormatError, UsgsNumber, parse_usgs_number
from .usgs_commodities import conversion, mineral_slug_for, stage_for_measure, unit_from_words
from .usgs_mcs import (  # the records and row rules the older layouts share
    TOTAL_TOKENS,
    ProductionRow,
    SalientValue,
    _Ctx,
    _data_rows,
    resolve_usgs_country,
    salient_value,
    usgs_row_kind,
)

HEADER = (
    "mcschapter",
    "section",
    "commodity",
    "country",
    "statistics",
    "statistics_detail",
    "unit",
    "year",
    "value",
    "notes",
)
EXPECTED_HEADER = (
    "MCS chapter, Section, Commodity, Country, Statistics, Statistics_detail, Unit, Year, Value, Notes, "
    "Is critical mineral 2025, Other notes"
)
EM_DASH = "\u2014"

_SALIENT_WORDS = (
    ("net import reliance", "net_import_reliance"),
    ("import", "imports"),
    ("export", "exports"),
    ("consumption", "consumption"),
    ("production", "production"),
    ("price", "price"),
    ("stock", "stocks"),
    ("employ", "employment"),
)


def _number(raw: str, *, allow_net_exporter: bool) -> UsgsNumber | None:
    """A Value cell; the em dash is USGS's zero. Raises NumberFormatError."""
    text = clean_text(raw)
    if text == EM_DASH:
        return UsgsNumber(0.0, note="\u2014 (zero)")
    return parse_usgs_number(text, allow_net_exporter=allow_net_exporter)


def _salient_statistic(statistics: str) -> str:
    lowered = statistics.lower()
    return next((name for words, name in _SALIENT_WORDS if words in lowered), "other")


def parse_mcs2026(
    name: str, header: list[str], rows: Iterator[CsvItem], stats: ImportStats, edition: str
) -> Iterator[ProductionRow | SalientValue | ParseError]:
    """Records of the long file; ``rows`` continue after the header row."""
    norm = [normalize_header(h) for h in header]
    missing = [key for key in HEADER if key not in norm]
    if missing:
        stats.errors += 1
        yield ParseError(name, 1, None, ",".join(h.strip() for h in header), EXPECTED_HEADER, "lacks columns")
        return
    col = {key: norm.index(key) for key in HEADER}
    ctx = _Ctx(name, header, stats, edition)
    salient: list[SalientValue] = []

    def error(line: int, key: str | None, value: str, expected: str, problem: str) -> ParseError:
        return ctx.error(line, col[key] if key else None, value, expected, problem)

    for item in _data_rows(ctx, rows):
        if isinstance(item, ParseError):
            yield item
            continue
        line, cells = item
        cell = {key: clean_text(cells[i]) for key, i in col.items()}
        commodity, section, statistics = cell["commodity"], cell["section"], cell["statistics"]
        if not commodity:
            yield error(line, "commodity", "", "a commodity name", "is empty")
            continue
        if not re.fullmatch(r"(?:19|20)\d\d", cell["year"]):
            yield error(line, "year", cell["year"], "a year such as 2025", "is not a year")
            continue
        year = int(cell["year"])
        notes = cell["notes"]
        is_estimate = "estimat" in notes.lower()
        detail = cell["statistics_detail"]
        lowered_section = section.lower()

        if "import source" in lowered_section:
            stats.skip("import sources (not stored)")
            continue
        if "world" in lowered_section:
            if statistics.lower() != "production":
                kind = statistics.lower() or "empty statistic"
                stats.skip(f"world {kind} (out of scope)" if kind in ("reserves", "capacity") else f"world {kind}")
                continue
            yield from _production(line, cell, year, is_estimate, edition, stats, error)
            continue

        # U.S. salient statistics (and prices)
        if resolve_usgs_country(cell["country"])[0] != "USA":
            stats.skip(f"{section or 'no section'}: {statistics} for {cell['country'] or 'no country'} (not stored)")
            continue
        statistic = _salient_statistic(statistics)
        try:
            parsed = _number(cell["value"], allow_net_exporter=statistic == "net_import_reliance")
        except NumberFormatError as exc:
            yield error(line, "value", cell["value"], str(exc), "is not a number")
            continue
        if parsed is None:
            stats.skip("empty salient cell")
            continue
        label = " - ".join(x for x in (statistics, detail) if x)
        slug = mineral_slug_for(commodity, detail)
        unit, factor = cell["unit"] or "", 1.0
        if statistic == "net_import_reliance":
            unit = "percent"
        else:
            base = unit_from_words(unit) if unit else None
            converted = conversion(base, slug) if base else None
            if converted:
                unit, factor = converted
            elif statistic in ("production", "imports", "exports", "consumption"):
                stats.skip(f"salient {statistic} not in a mass unit ({unit or 'no unit'})")
                continue
        stats.records += 1
        salient.append(
            salient_value(
                parsed,
                factor,
                commodity=commodity,
                mineral_slug=slug,
                year=year,
                column=label,
                statistic=statistic,
                unit=unit,
                is_estimate=is_estimate,
                notes="; ".join(x for x in (parsed.note, label, notes) if x)[:300],
                edition=edition,
                line=line,
            )
        )
    yield from _mark_components(salient)


ErrorAt = Callable[[int, str | None, str, str, str], ParseError]


def _production(
    line: int, cell: dict[str, str], year: int, is_estimate: bool, edition: str, stats: ImportStats, error: ErrorAt
) -> Iterator[ProductionRow | ParseError]:
    commodity, detail, notes = cell["commodity"], cell["statistics_detail"], cell["notes"]
    measure = re.sub(r":\s*rounded$", "", detail, flags=re.IGNORECASE)
    stage = stage_for_measure(measure)
    if stage is None:
        stats.skip("capacity or reserves series (out of scope)")
        return
    slug = mineral_slug_for(commodity, measure)
    base = unit_from_words(cell["unit"])
    if base is None:
        yield error(line, "unit", cell["unit"], "kilograms, metric tons or thousand metric tons", "is not a known unit")
        return
    converted = conversion(base, slug)
    if converted is None:
        stats.skip(f"unit {cell['unit']} is not a mass: out of scope")
        return
    unit, factor = converted
    country = cell["country"]
    row_kind, qualifier = usgs_row_kind(country)
    iso3: str | None = None
    if row_kind == "country":
        iso3, qualifier = resolve_usgs_country(country)
        if iso3 is None:
            expected = "a country name (ISO 3166 or country_aliases.csv)"
            yield error(line, "country", country, expected, "is not a known country")
            return
    try:
        parsed = _number(cell["value"], allow_net_exporter=False)
    except NumberFormatError as exc:
        yield error(line, "value", cell["value"], str(exc), "is not a number")
        return
    if parsed is None:
        stats.skip("empty production cell")
        return
    if parsed.is_not_available:
        parsed = UsgsNumber(None, is_not_available=True, note="not available (NA)")
    stats.records += 1
    yield ProductionRow(
        commodity=commodity,
        mineral_slug=slug,
        measure=measure,
        stage=stage,
        country_name=country,
        country_iso3=iso3,
        row_kind=row_kind,
        year=year,
        quantity=parsed.value * factor if parsed.value is not None else None,
        unit=unit,
        is_estimate=is_estimate,
        is_withheld=parsed.is_withheld,
        bound=parsed.bound,
        notes="; ".join(x for x in (qualifier if qualifier != "rounded" else "", parsed.note, notes) if x)[:300],
        edition=edition,
        line=line,
    )


def _mark_components(values: list[SalientValue]) -> Iterator[SalientValue]:
    """Several rows for one (mineral, statistic, year): the single total among them stands for the
    statistic; every other row is a component (is_primary False), never summed."""
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, value in enumerate(values):
        groups.setdefault((value.mineral_slug, value.statistic, value.year), []).append(i)
    primary: set[int] = set()
    for members in groups.values():
        if len(members) == 1:
            primary.update(members)
            continue
        totals = [i for i in members if any(word in values[i].column.lower() for word in TOTAL_TOKENS)]
        if len(totals) == 1:
            primary.update(totals)
    for i, value in enumerate(values):
        if i in primary:
            yield value
        else:
            yield replace(value, is_primary=False)
