"""Bulk upserts of reference data sent through the API: trade flows and production figures.

A request is all or nothing. Every row is checked first (types, ranges: amounts finite and
0..1e15, known countries, HS codes, minerals and sources, repeated keys inside the request);
any error answers the whole
list of errors (row, field, value, expected) and writes nothing. A clean request is streamed
into a TEMP staging table and moved with ONE set-based upsert per unique index: the importers'
machinery (minerals.bulk_upsert: COPY on PostgreSQL, INSERT ... ON CONFLICT ... WHERE changed),
so a repeat of the same request updates nothing. The affected minerals are marked stale once.

Like the importers, bulk writes bypass django-simple-history (audited as a whole instead: the
acting user and the counts are logged); single-object API writes go through minerals.services.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from minerals.bulk_upsert import Staging, Target, UpsertCount
from minerals.importers.numbers import MAX_AMOUNT, bounded_float
from minerals.models import (
    CommodityCode,
    Country,
    DataSource,
    Mineral,
    ProductionRecord,
    Stage,
    TradeFlow,
)
from minerals.services import minerals_mark_stale
from minerals.upsert_targets import (
    PRODUCTION_FIGURE_STAGING_COLUMNS,
    TRADE_FLOW_STAGING_COLUMNS,
    production_targets,
    trade_flow_mineral_ids,
    trade_flow_targets,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------- row checking


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based position in the JSON array, or the data row of the CSV (header excluded)
    field: str
    value: Any
    expected: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class BulkRejected(Exception):
    """The request had invalid rows: nothing was written."""

    def __init__(self, errors: Sequence[RowError], rows: int) -> None:
        super().__init__(f"{len(errors)} invalid rows")
        self.errors = list(errors)
        self.rows = rows


@dataclass
class BulkResult:
    rows: int
    inserted: int
    updated: int
    unchanged: int
    stale_minerals: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


MAX_REPORTED_ERRORS = 1000


def rows_from_csv(text: str) -> list[dict[str, str]]:
    """A CSV with a header line, as dicts (header names stripped and lower-cased). Rows are counted
    as they are read: reading stops one row past LODESTONE_API_BULK_MAX_ROWS (check_size refuses it)."""
    limit = settings.LODESTONE_API_BULK_MAX_ROWS
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    rows: list[dict[str, str]] = []
    for cells in reader:
        if any(c.strip() for c in cells):
            rows.append(dict(zip(header, cells, strict=False)))
            if len(rows) > limit:
                break
    return rows


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    return int(str(value).strip())


def parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    number = float(value if isinstance(value, int | float) else str(value).strip())
    if not math.isfinite(number):
        raise ValueError
    return number


def parse_amount(value: Any) -> float:
    """A finite number no larger than MAX_AMOUNT (numbers.bounded_float, as the importers); the sign
    is checked with the row's other problems, so a negative amount does not hide them."""
    return bounded_float(value if isinstance(value, int | float) else str(value).strip(), low=-MAX_AMOUNT)


AMOUNT = f"a finite number from 0 to {MAX_AMOUNT:g}"


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n", ""):
        return False
    raise ValueError


@dataclass(frozen=True)
class Column:
    name: str
    expected: str
    parse: Callable[[Any], Any] = str
    required: bool = True
    default: Any = None


class RowChecker:
    """Parses rows column by column, collecting every error (capped) instead of stopping."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = columns
        self.errors: list[RowError] = []

    def error(self, row: int, name: str, value: Any, expected: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, name, value, expected))

    def parse(self, number: int, raw: Any) -> dict[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.error(number, "", raw, "an object with the columns " + ", ".join(c.name for c in self.columns))
            return None
        out: dict[str, Any] = {}
        ok = True
        for column in self.columns:
            value = raw.get(column.name)
            if _blank(value):
                if column.required:
                    self.error(number, column.name, value, column.expected)
                    ok = False
                out[column.name] = column.default
                continue
            try:
                out[column.name] = column.parse(value)
            except (TypeError, ValueError):
                self.error(number, column.name, value, column.expected)
                ok = False
        unknown = sorted(set(raw) - {c.name for c in self.columns})
        if unknown:
            self.error(
                number, unknown[0], raw[unknown[0]], "only the columns " + ", ".join(c.name for c in self.columns)
            )
            ok = False
        return out if ok else None


def check_size(rows: Sequence[Any]) -> None:
    limit = settings.LODESTONE_API_BULK_MAX_ROWS
    if not rows:
        raise BulkRejected([RowError(0, "", None, "at least one row")], 0)
    if len(rows) > limit:
        raise BulkRejected([RowError(0, "", len(rows), f"at most {limit:,} rows per request")], len(rows))


def repeated_keys(checker: RowChecker, keyed: Iterable[tuple[int, tuple[Any, ...]]], what: str) -> None:
    first: dict[tuple[Any, ...], int] = {}
    for number, key in keyed:
        if key in first:
            checker.error(number, "", number, f"one row per {what} (repeats row {first[key]})")
        else:
            first[key] = number


def mineral_slugs(ids: Iterable[int]) -> list[str]:
    return sorted(Mineral.objects.filter(id__in=set(ids)).values_list("slug", flat=True))


# ---------------------------------------------------------------------------------- trade flows

TRADE_STAGING_COLUMNS = (*TRADE_FLOW_STAGING_COLUMNS, ("source_id", "bigint"))


def _upper(value: Any) -> str:
    return str(value).strip().upper()


TRADE_COLUMNS = (
    Column("year", "a year between 1900 and 2100", parse_int),
    Column("exporter", "an ISO3 code of the countries table, or empty for World", _upper, required=False),
    Column("importer", "an ISO3 code of the countries table, or empty for World", _upper, required=False),
    Column("commodity_code", "a stored six-digit HS code", lambda v: str(v).strip()),
    Column("basis", "one of import, export, reconciled", lambda v: str(v).strip().lower()),
    Column("value_usd", AMOUNT, parse_amount),
    Column("quantity_kg", AMOUNT + ", or empty", parse_amount, required=False),
    Column("source", "the key of a stored data source", lambda v: str(v).strip()),
)


def trade_flows_bulk_upsert(*, rows: Sequence[Any], user: AbstractBaseUser | None = None) -> BulkResult:
    """Insert or update trade flows by their natural key (source, year, exporter, importer, HS6, basis)."""
    check_size(rows)
    checker = RowChecker(TRADE_COLUMNS)
    countries = set(Country.objects.values_list("iso3", flat=True))
    codes = set(CommodityCode.objects.values_list("hs6", flat=True))
    sources = dict(DataSource.objects.values_list("key", "id"))
    bases = set(TradeFlow.Basis.values)
    staged: list[tuple[Any, ...]] = []
    keys: list[tuple[int, tuple[Any, ...]]] = []
    for number, raw in enumerate(rows, start=1):
        row = checker.parse(number, raw)
        if row is None:
            continue
        problems = [
            ("year", row["year"], "a year between 1900 and 2100", not 1900 <= row["year"] <= 2100),
            ("exporter", row["exporter"], "an ISO3 code of the countries table", row["exporter"] not in countries),
            ("importer", row["importer"], "an ISO3 code of the countries table", row["importer"] not in countries),
            ("commodity_code", row["commodity_code"], "a stored six-digit HS code", row["commodity_code"] not in codes),
            ("basis", row["basis"], "one of import, export, reconciled", row["basis"] not in bases),
            ("value_usd", row["value_usd"], AMOUNT, row["value_usd"] < 0),
            ("quantity_kg", row["quantity_kg"], AMOUNT + ", or empty",
             row["quantity_kg"] is not None and row["quantity_kg"] < 0),
            ("source", row["source"], "the key of a stored data source", row["source"] not in sources),
        ]  # fmt: skip
        # Empty exporter/importer is the World aggregate (None passes the country check).
        countries_ok = {"exporter", "importer"}
        bad = [p for p in problems if p[3] and not (p[0] in countries_ok and p[1] is None)]
        if row["exporter"] is None and row["importer"] is None:
            bad.append(("importer", None, "a country on at least one side (exporter or importer)", True))
        for name, value, expected, _ in bad:
            checker.error(number, name, value, expected)
        if bad:
            continue
        record = (
            row["year"],
            row["exporter"],
            row["importer"],
            row["commodity_code"],
            row["basis"],
            row["value_usd"],
            row["quantity_kg"],
            sources[row["source"]],
        )
        staged.append(record)
        keys.append((number, (record[7], record[0], record[1], record[2], record[3], record[4])))
    repeated_keys(checker, keys, "source, year, exporter, importer, HS code and basis")
    if checker.errors:
        raise BulkRejected(checker.errors, len(rows))

    count, mineral_ids = _upsert_staged(
        Staging("lodestone_stage_api_trade", TRADE_STAGING_COLUMNS),
        staged,
        trade_flow_targets(source_id="s.source_id"),
        minerals_of=trade_flow_mineral_ids,
    )
    return _result(len(rows), count, mineral_ids, user, "trade flows")


def _upsert_staged(
    staging: Staging,
    staged: Sequence[tuple[Any, ...]],
    targets: Iterable[Target],
    minerals_of: Callable[[set[Any]], set[int]],
) -> tuple[UpsertCount, set[int]]:
    """In one transaction: the checked rows into the staging table, one upsert per unique index,
    and the minerals of the written rows (``minerals_of`` the targets' scope) marked stale."""
    with transaction.atomic():
        staging.create()
        with staging.writer() as out:
            for line, record in enumerate(staged, start=1):
                out.write((*record, line))
        count = UpsertCount()
        for target in targets:
            count.add(staging.upsert(target))
        mineral_ids = minerals_of(count.scope)
        minerals_mark_stale(mineral_ids=mineral_ids)
        staging.drop()
    return count, mineral_ids


def _result(rows: int, count: UpsertCount, mineral_ids: set[int], user: Any, what: str) -> BulkResult:
    logger.info(
        "bulk %s by %s: %d rows, %d inserted, %d updated, %d unchanged",
        what,
        getattr(user, "username", None),
        rows,
        count.inserted,
        count.updated,
        count.unchanged,
    )
    return BulkResult(rows, count.inserted, count.updated, count.unchanged, mineral_slugs(mineral_ids))


# ---------------------------------------------------------------------------------- production

PRODUCTION_STAGING_COLUMNS = (("mineral_id", "bigint"), *PRODUCTION_FIGURE_STAGING_COLUMNS, ("source_id", "bigint"))

PRODUCTION_COLUMNS = (
    Column("mineral", "the slug of a stored mineral", lambda v: str(v).strip()),
    Column("stage", "one of mine, refinery, recycling, component", lambda v: str(v).strip().lower()),
    Column("row_kind", "one of country, world_total, other", lambda v: str(v).strip().lower(), False, "country"),
    Column("country", "an ISO3 code (country rows only)", _upper, required=False),
    Column("year", "a year between 1900 and 2100", parse_int),
    Column("quantity", AMOUNT + ", or empty when withheld", parse_amount, required=False),
    Column("unit", "kg or t", lambda v: str(v).strip().lower()),
    Column("is_estimate", "true or false", parse_bool, False, False),
    Column("is_withheld", "true or false", parse_bool, False, False),
    Column("bound", "empty, > or <", lambda v: str(v).strip(), False, ""),
    Column("notes", "text of at most 300 characters", str, False, ""),
    Column("source", "the key of a stored data source", lambda v: str(v).strip()),
)


def production_bulk_upsert(*, rows: Sequence[Any], user: AbstractBaseUser | None = None) -> BulkResult:
    """Insert or update production figures by (mineral, stage, country or row kind, year, source)."""
    check_size(rows)
    checker = RowChecker(PRODUCTION_COLUMNS)
    countries = set(Country.objects.values_list("iso3", flat=True))
    minerals = dict(Mineral.objects.values_list("slug", "id"))
    sources = dict(DataSource.objects.values_list("key", "id"))
    stages = set(Stage.values)
    kinds = set(ProductionRecord.RowKind.values)
    staged: list[tuple[Any, ...]] = []
    keys: list[tuple[int, tuple[Any, ...]]] = []
    for number, raw in enumerate(rows, start=1):
        row = checker.parse(number, raw)
        if row is None:
            continue
        is_country = row["row_kind"] == "country"
        problems = [
            ("mineral", row["mineral"], "the slug of a stored mineral", row["mineral"] not in minerals),
            ("stage", row["stage"], "one of " + ", ".join(sorted(stages)), row["stage"] not in stages),
            ("row_kind", row["row_kind"], "one of country, world_total, other", row["row_kind"] not in kinds),
            ("country", row["country"], "an ISO3 code of the countries table on a country row",
             is_country and row["country"] not in countries),
            ("country", row["country"], "empty on a world_total or other row",
             not is_country and row["country"] is not None),
            ("year", row["year"], "a year between 1900 and 2100", not 1900 <= row["year"] <= 2100),
            ("quantity", row["quantity"], AMOUNT, row["quantity"] is not None and row["quantity"] < 0),
            ("quantity", row["quantity"], "empty when is_withheld is true",
             row["is_withheld"] and row["quantity"] is not None),
            ("unit", row["unit"], "kg or t", row["unit"] not in ("kg", "t")),
            ("bound", row["bound"], "empty, > or <", row["bound"] not in ("", ">", "<")),
            ("notes", row["notes"], "text of at most 300 characters", len(row["notes"] or "") > 300),
            ("source", row["source"], "the key of a stored data source", row["source"] not in sources),
        ]  # fmt: skip
        bad = [p for p in problems if p[3]]
        for name, value, expected, _ in bad:
            checker.error(number, name, value, expected)
        if bad:
            continue
        record = (
            minerals[row["mineral"]],
            row["stage"],
            row["row_kind"],
            row["country"] if is_country else None,
            row["year"],
            row["quantity"],
            row["unit"],
            row["is_estimate"],
            row["is_withheld"],
            row["bound"],
            row["notes"] or "",
            sources[row["source"]],
        )
        staged.append(record)
        keys.append((number, (record[0], record[1], record[2], record[3], record[4], record[11])))
    repeated_keys(checker, keys, "mineral, stage, row kind, country, year and source")
    if checker.errors:
        raise BulkRejected(checker.errors, len(rows))

    count, mineral_ids = _upsert_staged(
        Staging("lodestone_stage_api_production", PRODUCTION_STAGING_COLUMNS),
        staged,
        production_targets(mineral_join="JOIN minerals_mineral m ON m.id = s.mineral_id", source_id="s.source_id"),
        minerals_of=lambda ids: {int(m) for m in ids},
    )
    return _result(len(rows), count, mineral_ids, user, "production")
