"""The unique indexes the bulk writers upsert into, written once for the importers
(minerals.imports) and the API's bulk endpoints (minerals.bulk_services).

TradeFlow has three partial unique indexes (bilateral rows, and the World partner aggregate on
either side); ProductionRecord two (country rows keyed by country, world total / "other
countries" rows keyed by row kind). The callers differ only in where the source and the mineral
come from: one source per file for an import, a source per row for the API.
"""

from __future__ import annotations

from collections.abc import Iterable

from minerals.bulk_upsert import Target
from minerals.models import CommodityMineral, ProductionRecord, TradeFlow

# The parsers convert masses to their own canonical unit; the mineral's stored canonical_unit (a
# curator's choice, e.g. indium in t) wins, so kg <-> t is converted once more in SQL.
TO_CANONICAL_UNIT = (
    "CASE WHEN s.unit = 'kg' AND m.canonical_unit = 't' THEN {value} / 1000.0 "
    "WHEN s.unit = 't' AND m.canonical_unit = 'kg' THEN {value} * 1000.0 ELSE {value} END"
)

# The staged columns of a trade flow (callers add their own extra columns after these).
TRADE_FLOW_STAGING_COLUMNS = (
    ("year", "int"),
    ("exporter_id", "text"),
    ("importer_id", "text"),
    ("commodity_code_id", "text"),
    ("basis", "text"),
    ("value_usd", "float"),
    ("quantity_kg", "float"),
)

# The staged columns of a production figure after its mineral (callers add theirs around these).
PRODUCTION_FIGURE_STAGING_COLUMNS = (
    ("stage", "text"),
    ("row_kind", "text"),
    ("country_id", "text"),
    ("year", "int"),
    ("quantity", "float"),
    ("unit", "text"),
    ("is_estimate", "bool"),
    ("is_withheld", "bool"),
    ("bound", "text"),
    ("notes", "text"),
)


def trade_flow_targets(*, source_id: str) -> list[Target]:
    """Bilateral rows first, then the World importer and the World exporter aggregates.

    ``source_id`` is the SQL for the source: a literal id (one file) or ``s.source_id`` (per row).
    """
    select = {
        "year": "s.year",
        "exporter_id": "s.exporter_id",
        "importer_id": "s.importer_id",
        "commodity_code_id": "s.commodity_code_id",
        "basis": "s.basis",
        "value_usd": "s.value_usd",
        "quantity_kg": "s.quantity_kg",
        "source_id": source_id,
    }
    table = TradeFlow._meta.db_table
    compare = ("value_usd", "quantity_kg")
    return [
        Target(
            table=table,
            select=select,
            compare=compare,
            scope="commodity_code_id",
            where=where,
            key=("source_id", "year", *identity, "commodity_code_id", "basis"),
            predicate=predicate,
        )
        for where, identity, predicate in (
            (
                "s.exporter_id IS NOT NULL AND s.importer_id IS NOT NULL",
                ("exporter_id", "importer_id"),
                "{t}exporter_id IS NOT NULL AND {t}importer_id IS NOT NULL",
            ),
            ("s.exporter_id IS NULL", ("importer_id",), "{t}exporter_id IS NULL"),
            ("s.importer_id IS NULL", ("exporter_id",), "{t}importer_id IS NULL"),
        )
    ]


def trade_flow_mineral_ids(codes: Iterable[str]) -> set[int]:
    """The minerals that trade flows of these HS codes feed (the trade targets' scope is the code)."""
    return set(CommodityMineral.objects.filter(commodity_code_id__in=codes).values_list("mineral_id", flat=True))


def production_targets(*, mineral_join: str, source_id: str) -> list[Target]:
    """Country rows, then the world total and "other countries" rows; ``scope`` is the mineral.

    ``mineral_join`` joins the staged row to its mineral ``m`` (by slug for an import, by id for
    the API); ``source_id`` is the SQL for the source, as for trade flows.
    """
    select = {
        "mineral_id": "m.id",
        "stage": "s.stage",
        "row_kind": "s.row_kind",
        "country_id": "s.country_id",
        "year": "s.year",
        "quantity": TO_CANONICAL_UNIT.format(value="s.quantity"),
        "unit": "m.canonical_unit",
        "is_estimate": "s.is_estimate",
        "is_withheld": "s.is_withheld",
        "bound": "s.bound",
        "notes": "s.notes",
        "source_id": source_id,
    }
    return [
        Target(
            table=ProductionRecord._meta.db_table,
            select=select,
            joins=mineral_join,
            where=where,
            key=("mineral_id", "stage", identity, "year", "source_id"),
            predicate=predicate,
            compare=("quantity", "unit", "is_estimate", "is_withheld", "bound", "notes"),
            scope="mineral_id",
        )
        for where, identity, predicate in (
            ("s.row_kind = 'country'", "country_id", "{t}row_kind = 'country'"),
            ("s.row_kind <> 'country'", "row_kind", "NOT ({t}row_kind = 'country')"),
        )
    ]
