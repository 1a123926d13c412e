"""What the risk engine reads: the inputs of dashboards.risk, gathered set-based from the database.

Both sides of the engine stand on this module: dashboards.services (compute and write the
metric rows) and the readers (dashboards.selectors, page_selectors, api.selectors: the
as-of-dependent figures from the stored rows). It reads and never writes; it imports
dashboards.risk (the pure maths) and the models, never the services.

* Configuration: the FEOC country set, China's group, ownership control under the threshold.
* Editions: every source with its rank ("the metrics use the newest edition").
* Production tables and trade tables per (mineral, stage/destination, year), run through risk.
* Policy measures as risk.Measure and the curators' per-type severities.
* Freshness: the one rule saying when a mineral's metrics are stale.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Sum

from dashboards import metric_sql, risk
from dashboards.models import ImportMetric, MineralMetricsState, SupplyMetric
from minerals.models import (
    KG_PER_UNIT,
    CommodityMineral,
    DataSource,
    MeasureTypeSeverity,
    Mineral,
    PolicyMeasure,
    ProductionRecord,
    SalientStatistic,
    Stage,
    TradeFlow,
)
from suppliers.models import Company, Facility, Organization, OwnershipStake, Requirement, Sourcing, SupplyLink

# Mirror statistics: one basis per (mineral, year), the most reliable first.
BASIS_PREFERENCE = (TradeFlow.Basis.RECONCILED, TradeFlow.Basis.IMPORT_REPORTED, TradeFlow.Basis.EXPORT_REPORTED)
# Stages in supply-chain order: the first one with data gives the fallback mix of exposure.
STAGE_ORDER = (Stage.MINE, Stage.REFINERY, Stage.RECYCLING, Stage.COMPONENT)


def feoc_controlled_companies() -> frozenset[str]:
    """Companies (ids as text, as risk keys them) domiciled in a FEOC country or owned at or
    above the control threshold by such entities through ownership chains. Two queries."""
    stakes = [
        risk.Stake(str(owner), str(owned), percent / 100.0)
        for owner, owned, percent in OwnershipStake.objects.values_list("owner_id", "owned_id", "percent")
    ]
    domiciles = {str(c): iso3 for c, iso3 in Company.objects.values_list("id", "hq_country_id")}
    return risk.controlled_companies(
        stakes, domiciles, feoc=feoc_countries(), threshold=settings.LODESTONE_CONTROL_THRESHOLD
    )


def feoc_countries() -> frozenset[str]:
    return frozenset(settings.LODESTONE_FEOC_COUNTRIES)


def china_group() -> frozenset[str]:
    return frozenset(settings.LODESTONE_CHINA_GROUP)


# --------------------------------------------------------------------------------------------
# Editions: "the metrics use the newest edition"


@dataclass(frozen=True, slots=True)
class SourceInfo:
    id: int
    key: str
    edition: str
    rank: tuple[date, str, int]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "edition": self.edition}


def data_sources() -> dict[int, SourceInfo]:
    """Every data source with its edition rank (one query; the table is small).

    Newest = latest `published_on`; a source without a date ranks below any dated one (the
    demo's usgs-mcs-2025 has none); ties are broken by the larger `edition` string ("MCS 2026"
    > "MCS 2025") and then by the later source (larger id).
    """
    return {
        row["id"]: SourceInfo(
            id=row["id"],
            key=row["key"],
            edition=row["edition"],
            rank=(row["published_on"] or date.min, row["edition"], row["id"]),
        )
        for row in DataSource.objects.values("id", "key", "edition", "published_on")
    }


def _newest(source_ids: Iterable[int], sources: Mapping[int, SourceInfo]) -> int:
    return max(source_ids, key=lambda sid: sources[sid].rank if sid in sources else (date.min, "", sid))


# --------------------------------------------------------------------------------------------
# Supply concentration: the production tables


@dataclass(frozen=True, slots=True)
class SupplyTable:
    """The newest edition's production table of one (mineral, stage, year), run through risk."""

    mineral_id: int
    stage: str
    year: int
    unit: str
    source_id: int
    concentration: risk.Concentration
    listed_countries: frozenset[str]


_PRODUCTION_FIELDS = (
    "mineral_id",
    "stage",
    "year",
    "row_kind",
    "country_id",
    "quantity",
    "unit",
    "is_withheld",
    "is_estimate",
    "bound",
    "source_id",
)


def supply_tables(
    mineral_ids: Sequence[int], sources: Mapping[int, SourceInfo], *, edition: int | None = None
) -> list[SupplyTable]:
    """Concentration of every (mineral, stage, year): one query over the production rows.

    Production tables are small (countries x years per mineral), so the edition choice runs
    here; the per-row work is the pure maths of risk.supply_concentration. With ``edition`` (a
    source id), that edition's tables only (`show_metrics --edition`, `?edition=`).
    """
    grouped: dict[tuple[int, str, int], dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in ProductionRecord.objects.filter(mineral_id__in=mineral_ids).values(*_PRODUCTION_FIELDS).order_by():
        grouped[(row["mineral_id"], row["stage"], row["year"])][row["source_id"]].append(row)
    tables = []
    for (mineral_id, stage, year), by_source in sorted(grouped.items()):
        if edition is not None and edition not in by_source:
            continue
        source_id = edition if edition is not None else _newest(by_source, sources)
        rows = by_source[source_id]
        figures = [
            risk.ProductionFigure(
                r["country_id"], r["quantity"], withheld=r["is_withheld"], bound=r["bound"], estimate=r["is_estimate"]
            )
            for r in rows
            if r["row_kind"] == ProductionRecord.RowKind.COUNTRY
        ]
        world = next((r["quantity"] for r in rows if r["row_kind"] == ProductionRecord.RowKind.WORLD_TOTAL), None)
        residual = next((r["quantity"] for r in rows if r["row_kind"] == ProductionRecord.RowKind.OTHER), None)
        concentration = risk.supply_concentration(figures, world, residual=residual, feoc=feoc_countries())
        tables.append(
            SupplyTable(
                mineral_id=mineral_id,
                stage=stage,
                year=year,
                unit=rows[0]["unit"],
                source_id=source_id,
                concentration=concentration,
                listed_countries=frozenset(f.country for f in figures),
            )
        )
    return tables


def supply_metric_row(table: SupplyTable, *, version: int, now: Any, sources: Mapping[int, SourceInfo]) -> SupplyMetric:
    """The SupplyMetric of one table: what the recompute stores, and what `?edition=` shows unsaved."""
    c = table.concentration
    return SupplyMetric(
        mineral_id=table.mineral_id,
        stage=table.stage,
        year=table.year,
        unit=table.unit,
        data_version=version,
        computed_at=now,
        sources=[sources[table.source_id].as_json()] if table.source_id in sources else [],
        world_total=c.world_total,
        world_total_source=c.world_total_source,
        coverage=c.coverage,
        residual_share=c.residual_share,
        china_share=c.china_share,
        china_share_upper=c.china_share_upper,
        estimated_countries=list(c.estimated_countries),
        unpublished_countries=list(c.unpublished_countries),
        feoc_share=c.feoc_share,
        top3_share=c.top3_share,
        hhi=c.hhi,
        hhi_band=c.hhi_band or "",
        complete=c.complete,
        unknown=c.unknown,
        withheld_countries=list(c.withheld_countries),
        bounded_countries=list(c.bounded_countries),
        country_shares=[list(pair) for pair in c.country_shares],
    )


# --------------------------------------------------------------------------------------------
# Import dependence and net import reliance: the trade tables


def import_destinations() -> list[str] | None:
    """Destinations whose imports are materialized; None means every importer.

    `LODESTONE_IMPORT_DESTINATIONS` lists them ("*" = all); by default the default
    destination plus the countries of the buyers (organizations), the only ones shown.
    """
    configured = list(settings.LODESTONE_IMPORT_DESTINATIONS)
    if "*" in configured:
        return None
    buyers = Organization.objects.values_list("country_id", flat=True).distinct().order_by()
    return sorted({settings.LODESTONE_DEFAULT_DESTINATION, *configured, *buyers})


def _mineral_codes(mineral_id: int) -> Any:
    return CommodityMineral.objects.filter(mineral_id=mineral_id).values("commodity_code_id")


def _choose_datasets(
    found: Mapping[int, Mapping[int, set[str]]], sources: Mapping[int, SourceInfo]
) -> list[tuple[int, int, str]]:
    """Per year (year -> source -> bases found): the newest edition, then the preferred basis."""
    chosen: list[tuple[int, int, str]] = []
    for year, by_source in sorted(found.items()):
        source_id = _newest(by_source, sources)
        basis = next(b for b in BASIS_PREFERENCE if b in by_source[source_id])
        chosen.append((year, source_id, basis))
    return chosen


def datasets_by_code(codes: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """(code, year, source_id, basis) present in the trade flows of the codes. One query: on
    PostgreSQL a skip scan of an index (one entry read per dataset, not per flow)."""
    if metric_sql.supported():
        return metric_sql.datasets_by_code(codes)
    rows = TradeFlow.objects.filter(commodity_code_id__in=list(codes))
    return list(rows.values_list("commodity_code_id", "year", "source_id", "basis").distinct().order_by())


def dataset_choice(
    mineral_id: int, sources: Mapping[int, SourceInfo], *, edition: int | None = None
) -> list[tuple[int, int, str]]:
    """The (year, source, basis) used per year: newest edition, then the preferred basis. One query.

    Mirror statistics (importer's and exporter's reports, BACI) describe the same flows: mixing
    them would double count, so each year uses exactly one dataset. With ``edition`` (a source
    id) that holds trade flows of the mineral, that source's flows only; an edition without
    any (a USGS edition: trade is no part of it) leaves the newest trade figures.
    """
    found: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    if metric_sql.supported():
        present = metric_sql.datasets_by_code(mineral_id=mineral_id)
    else:
        rows = TradeFlow.objects.filter(commodity_code_id__in=_mineral_codes(mineral_id))
        present = list(rows.values_list("commodity_code_id", "year", "source_id", "basis").distinct().order_by())
    for _, year, source_id, basis in present:
        found[year][source_id].add(basis)
    if edition is not None and any(edition in by_source for by_source in found.values()):
        found = {year: {edition: by_source[edition]} for year, by_source in found.items() if edition in by_source}
    return _choose_datasets(found, sources)


def export_datasets(chosen: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Where a destination's exports are read, per chosen (year, source, basis): the reporter's
    own export records (basis ``export``: flow X of its own report) in the same source, or the
    reconciled rows when BACI is chosen. Partners' reports of imports from it (the mirror) are
    not mixed in: they describe the same goods and would count them twice."""
    return [
        (year, source_id, basis if basis == TradeFlow.Basis.RECONCILED else TradeFlow.Basis.EXPORT_REPORTED)
        for year, source_id, basis in chosen
    ]


def _datasets_filter(datasets: Sequence[tuple[int, int, str]]) -> Q:
    choice = Q(pk__in=[])
    for year, source_id, basis in datasets:
        choice |= Q(year=year, source_id=source_id, basis=basis)
    return choice


def nir_comparability(mineral_id: int) -> str:
    """risk.nir_comparability of the mineral's mapped codes (one query)."""
    mapped = CommodityMineral.objects.filter(mineral_id=mineral_id).values_list(
        "commodity_code__is_basket", "quantity_basis"
    )
    return risk.nir_comparability(mapped)


def published_nir(
    mineral_ids: Sequence[int],
    destinations: Sequence[str] | None,
    sources: Mapping[int, SourceInfo],
    *,
    edition: int | None = None,
) -> dict[int, dict[tuple[str, int], dict[str, Any]]]:
    """Per mineral, the published NIR row per (country, year), newest edition (with ``edition``,
    a source id: that edition's rows only; a year it does not publish has none). One query."""
    salient = SalientStatistic.objects.filter(
        mineral_id__in=list(mineral_ids), statistic=SalientStatistic.Statistic.NET_IMPORT_RELIANCE
    )
    if edition is not None:
        salient = salient.filter(source_id=edition)
    if destinations is not None:
        salient = salient.filter(country_id__in=destinations)
    by_key: dict[tuple[int, str, int], list[dict[str, Any]]] = defaultdict(list)
    fields = ("mineral_id", "country_id", "year", "value", "bound", "is_withheld", "is_estimate", "notes", "source_id")
    for row in salient.values(*fields).order_by():
        by_key[(row["mineral_id"], row["country_id"], row["year"])].append(row)
    published: dict[int, dict[tuple[str, int], dict[str, Any]]] = {m: {} for m in mineral_ids}
    for (mineral_id, country, year), rows in by_key.items():
        newest = _newest((r["source_id"] for r in rows), sources)
        published[mineral_id][(country, year)] = next(r for r in rows if r["source_id"] == newest)
    return published


def _net_exporter(stated: Mapping[str, Any]) -> bool:
    # The USGS parser stores "E" as no value with the note "net exporter".
    return stated["value"] is None and not stated["is_withheld"] and "net exporter" in (stated["notes"] or "").lower()


def _published_fraction(stated: Mapping[str, Any] | None) -> float | None:
    if stated is None:
        return None
    return risk.published_import_reliance(
        stated["value"], bound=stated["bound"] or "", withheld=stated["is_withheld"], net_exporter=_net_exporter(stated)
    )


def _published_bound(stated: Mapping[str, Any] | None) -> str:
    """``>`` / ``<`` as published, ``E`` for a net exporter, else empty."""
    if stated is None:
        return ""
    return "E" if _net_exporter(stated) else stated["bound"] or ""


def import_inputs(
    tables: Sequence[SupplyTable], sources: Mapping[int, SourceInfo], mineral_ids: Sequence[int]
) -> dict[int, metric_sql.ImportInputs]:
    """The small inputs of the set-based import statement, per mineral: destinations (buyers'
    countries), mapped codes, dataset choice, published NIR, production. Four queries for any
    number of minerals, none returning flows."""
    destinations = import_destinations()
    codes: dict[int, set[str]] = defaultdict(set)
    mapped: dict[int, list[tuple[bool, str]]] = defaultdict(list)
    for code, mineral_id, is_basket, quantity_basis in CommodityMineral.objects.filter(
        mineral_id__in=list(mineral_ids)
    ).values_list("commodity_code_id", "mineral_id", "commodity_code__is_basket", "quantity_basis"):
        codes[mineral_id].add(code)
        mapped[mineral_id].append((is_basket, quantity_basis))
    # Distinct datasets per code, over every mapped code at once (one query instead of one per mineral).
    by_code: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for code, year, source_id, basis in datasets_by_code(sorted({c for found in codes.values() for c in found})):
        by_code[code].append((year, source_id, basis))
    published = published_nir(mineral_ids, destinations, sources)
    inputs = {}
    for mineral_id in mineral_ids:
        found: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
        for code in codes[mineral_id]:
            for year, source_id, basis in by_code[code]:
                found[year][source_id].add(basis)
        chosen = _choose_datasets(found, sources)
        stated = published[mineral_id]
        production = _primary_production_kg([t for t in tables if t.mineral_id == mineral_id])
        used = {d[1] for d in chosen} | {row["source_id"] for row in stated.values()}
        inputs[mineral_id] = metric_sql.ImportInputs(
            codes=sorted(codes[mineral_id]),
            datasets=chosen,
            export_datasets=export_datasets(chosen),
            not_comparable=risk.nir_comparability(mapped[mineral_id]),
            destinations=destinations,
            production=[(country, year, kg) for (country, year), kg in production.items() if country != "*"],
            production_years=sorted(year for country, year in production if country == "*"),
            published=[
                (country, year, _published_fraction(row), _published_bound(row), row["source_id"], row["is_estimate"])
                for (country, year), row in sorted(stated.items())
            ],
            sources={sid: sources[sid].as_json() for sid in sorted(used) if sid in sources},
        )
    return inputs


@dataclass(frozen=True, slots=True)
class ImportTable:
    destination: str
    year: int
    dependence: risk.ImportDependence | None
    nir: float | None
    nir_published: float | None
    nir_published_bound: str
    source_ids: tuple[int, ...]
    nir_note: str = ""
    nir_published_estimate: bool = False


def attributed_flows(code_flows: Sequence[risk.ImportFlow]) -> list[risk.ImportFlow]:
    """One HS code's flows into one destination, the partner aggregate "World" made a residual.

    A World row is a total, never a partner: what it holds beyond the named partners is value
    from unknown partners (exporter None), so shares use the World total as denominator and
    `import_coverage` says how much of it is attributed. Without a World row the partners are
    the total. The set-based statement (dashboards.metric_sql) does the same per code.
    """
    partners = [f for f in code_flows if f.exporter is not None]
    world = [f for f in code_flows if f.exporter is None]
    if not world:
        return partners
    world_value = math.fsum(f.value_usd for f in world)
    world_quantities = [f.quantity_kg for f in world if f.quantity_kg is not None]
    known_value = math.fsum(f.value_usd for f in partners)
    known_quantity = math.fsum(f.quantity_kg for f in partners if f.quantity_kg is not None)
    residual_quantity = max(math.fsum(world_quantities) - known_quantity, 0.0) if world_quantities else None
    return [*partners, risk.ImportFlow(None, max(world_value - known_value, 0.0), residual_quantity)]


def import_tables(
    mineral_id: int,
    tables: Sequence[SupplyTable],
    sources: Mapping[int, SourceInfo],
    *,
    edition: int | None = None,
    destination: str | None = None,
) -> list[ImportTable]:
    """Import shares and NIR of every (destination, year) of one mineral: the pure path.

    With ``edition`` (a source id; `?edition=`, `show_metrics --edition`): that edition's
    published NIR, its trade flows when it holds any (else the newest trade figures), and
    ``tables`` should be its production tables (the computed NIR's production).
    ``destination``: that importer only (default: every one of `import_destinations()`).

    Used on SQLite and as the reference of the set-based statement (dashboards.metric_sql,
    PostgreSQL), which must give the same rows. Queries: the dataset choice, the flows summed
    per (year, importer, exporter, has quantity), the destinations' exports, the published NIR;
    each one statement whatever the number of flows. Summing per exporter in SQL gives
    risk.import_dependence the same totals as the raw rows (it is additive), split by "has a
    quantity" so quantity shares stay exact.
    """
    destinations = [destination] if destination else import_destinations()
    chosen = dataset_choice(mineral_id, sources, edition=edition)
    not_comparable = nir_comparability(mineral_id)
    flows: dict[tuple[str, int], list[risk.ImportFlow]] = defaultdict(list)
    exports_kg: dict[tuple[str, int], float] = {}
    trade_source: dict[int, int] = {}
    if chosen:
        codes = _mineral_codes(mineral_id)
        base = TradeFlow.objects.filter(_datasets_filter(chosen), commodity_code_id__in=codes)
        inbound = base.filter(importer__isnull=False)
        if destinations is not None:
            inbound = inbound.filter(importer_id__in=destinations)
        has_quantity = ExpressionWrapper(Q(quantity_kg__isnull=False), output_field=BooleanField())
        summed = (
            inbound.values(
                "year", "importer_id", "commodity_code_id", "exporter_id", "source_id", has_quantity=has_quantity
            )
            .annotate(value=Sum("value_usd"), quantity=Sum("quantity_kg"))
            .order_by()
        )
        by_code: dict[tuple[str, int, str], list[risk.ImportFlow]] = defaultdict(list)
        for row in summed:
            by_code[(row["importer_id"], row["year"], row["commodity_code_id"])].append(
                risk.ImportFlow(row["exporter_id"], row["value"], row["quantity"] if row["has_quantity"] else None)
            )
            trade_source[row["year"]] = row["source_id"]
        for (importer, year, _code), code_flows in by_code.items():
            flows[(importer, year)].extend(attributed_flows(code_flows))
        outbound = TradeFlow.objects.filter(
            _datasets_filter(export_datasets(chosen)),
            commodity_code_id__in=codes,
            exporter__isnull=False,
            quantity_kg__isnull=False,
        )
        if destinations is not None:
            outbound = outbound.filter(exporter_id__in=destinations)
        to_world = ExpressionWrapper(Q(importer__isnull=True), output_field=BooleanField())
        exported = (
            outbound.values("year", "exporter_id", "commodity_code_id", to_world=to_world)
            .annotate(quantity=Sum("quantity_kg"))
            .order_by()
        )
        per_code: dict[tuple[str, int, str], float] = defaultdict(float)
        for export_row in exported:
            key = (export_row["exporter_id"], export_row["year"], export_row["commodity_code_id"])
            quantity = export_row["quantity"]
            # A World total and the partner rows describe the same exports: take the larger.
            per_code[key] = max(per_code[key], quantity) if export_row["to_world"] else per_code[key] + quantity
        for (exporter, year, _code), kg in per_code.items():
            exports_kg[(exporter, year)] = exports_kg.get((exporter, year), 0.0) + kg

    published = published_nir([mineral_id], destinations, sources, edition=edition)[mineral_id]

    production = _primary_production_kg(tables)
    result = []
    for destination, year in sorted(set(flows) | set(published)):
        dependence = None
        if (destination, year) in flows:
            dependence = risk.import_dependence(
                flows[(destination, year)], china_group=china_group(), feoc=feoc_countries()
            )
        imports = dependence.total_quantity_kg if dependence is not None else None
        # No export record is unknown exports, not zero (a net exporter would read as 100 % reliant).
        exports = exports_kg.get((destination, year)) if imports is not None else None
        produced = production.get((destination, year))
        nir = None if not_comparable else risk.net_import_reliance(produced, imports, exports)
        nir_note = risk.nir_unknown_reason(
            produced, imports, exports, has_trade=dependence is not None, not_comparable=not_comparable
        )
        stated = published.get((destination, year))
        nir_published = _published_fraction(stated)
        source_ids = tuple(
            sorted({s for s in (trade_source.get(year) if dependence else None, stated and stated["source_id"]) if s})
        )
        result.append(
            ImportTable(
                destination=destination,
                year=year,
                dependence=dependence,
                nir=nir,
                nir_published=nir_published,
                nir_published_bound=_published_bound(stated),
                nir_published_estimate=bool(stated and stated["is_estimate"]),
                source_ids=source_ids,
                nir_note=nir_note,
            )
        )
    return result


def import_metric_row(
    mineral_id: int, table: ImportTable, *, version: int, now: Any, sources: Mapping[int, SourceInfo]
) -> ImportMetric:
    """The ImportMetric of one table: what the pure-path recompute stores, and what `?edition=`
    shows unsaved."""
    d = table.dependence
    return ImportMetric(
        mineral_id=mineral_id,
        destination_id=table.destination,
        year=table.year,
        data_version=version,
        computed_at=now,
        sources=[sources[s].as_json() for s in table.source_ids if s in sources],
        total_value_usd=d.total_value_usd if d else None,
        import_coverage=d.import_coverage if d else None,
        import_china_share=d.import_china_share if d else None,
        import_feoc_share=d.import_feoc_share if d else None,
        import_hhi=d.import_hhi if d else None,
        import_hhi_band=(d.import_hhi_band or "") if d else "",
        partners_json=json.dumps([list(p) for p in d.partners] if d else []),
        total_quantity_kg=d.total_quantity_kg if d else None,
        quantity_coverage=d.quantity_coverage if d else None,
        import_china_share_by_quantity=d.import_china_share_by_quantity if d else None,
        import_feoc_share_by_quantity=d.import_feoc_share_by_quantity if d else None,
        import_hhi_by_quantity=d.import_hhi_by_quantity if d else None,
        nir=table.nir,
        nir_published=table.nir_published,
        nir_published_bound=table.nir_published_bound,
        nir_published_estimate=table.nir_published_estimate,
        nir_note=table.nir_note,
    )


def _primary_production_kg(tables: Sequence[SupplyTable]) -> dict[tuple[str, int], float | None]:
    """A country's production for NIR: the most upstream stage with data, in kg.

    A country not listed in a published table produces nothing (USGS lists every producer);
    a withheld value is unknown (None).
    """
    out: dict[tuple[str, int], float | None] = {}
    stages = {t.stage for t in tables}
    primary = next((s for s in STAGE_ORDER if s in stages), None)
    for table in tables:
        if table.stage != primary:
            continue
        factor = KG_PER_UNIT.get(table.unit, 1.0)
        shares = dict(table.concentration.country_shares)
        total = table.concentration.world_total
        for country in table.listed_countries:
            share = shares.get(country)
            out[(country, table.year)] = None if share is None or total is None else share * total * factor
        out[("*", table.year)] = 0.0  # marker: the year has a table
    return _DefaultZero(out)


class _DefaultZero(dict):  # type: ignore[type-arg]
    """Production lookups: unlisted countries in a year with a table produce 0."""

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        return 0.0 if ("*", key[1]) in self else default


# --------------------------------------------------------------------------------------------
# Buyer exposure: fallback mix, supply networks, sourcing lines


class FallbackMix(Mapping[str, Mapping[str, float]]):
    """Assumed origin of material whose facility or inputs are unknown (documented rule).

    A country listed as a producer in the mineral's most upstream production table (newest
    year) is assumed to supply itself; any other country is assumed to draw on the world mix
    of that table (known shares).
    """

    def __init__(self, table: SupplyTable | None) -> None:
        self.producers = table.listed_countries if table else frozenset()
        self.world = {c: s for c, s in (table.concentration.country_shares if table else ()) if s is not None}

    def __getitem__(self, country: str) -> Mapping[str, float]:
        if country in self.producers:
            return {country: 1.0}
        if not self.world:
            raise KeyError(country)
        return self.world

    def __iter__(self) -> Iterator[str]:
        return iter(self.producers)

    def __len__(self) -> int:
        return len(self.producers)


_Staged = TypeVar("_Staged", SupplyTable, SupplyMetric)


def mix_table(tables: Sequence[SupplyTable]) -> SupplyTable | None:
    """The most upstream stage's newest table (preferring one with known shares; a fully
    withheld table such as germanium's still names the producers)."""
    return most_upstream(tables, rank=lambda t: (not t.concentration.unknown, t.year))


def mix_metric(rows: Sequence[SupplyMetric]) -> SupplyMetric | None:
    """The stored row of the table mix_table picks: what a buyer's exposure falls back on, and
    so the data year and estimates behind it (the portfolio's vintage)."""
    return most_upstream(rows, rank=lambda r: (not r.unknown, r.year))


def most_upstream(rows: Sequence[_Staged], *, rank: Callable[[_Staged], tuple[bool, int]]) -> _Staged | None:
    """The best-ranked row of the most upstream stage with any row (STAGE_ORDER)."""
    for stage in STAGE_ORDER:
        staged = [r for r in rows if r.stage == stage]
        if staged:
            return max(staged, key=rank)
    return None


def supply_networks(
    mineral_ids: Sequence[int], *, extra_nodes: Sequence[risk.FacilityNode] = ()
) -> dict[int, risk.SupplyNetwork]:
    """Each mineral's facilities (located, with their operator's FEOC control) and supply links,
    as risk.SupplyNetwork: four queries whatever their number (control: two). ``extra_nodes``
    join every network (the plan's generic levers, risk.lever_node)."""
    controlled = feoc_controlled_companies()
    facilities: dict[int, list[risk.FacilityNode]] = defaultdict(list)
    facility_rows = Facility.objects.filter(mineral_id__in=mineral_ids).values_list(
        "id", "mineral_id", "country_id", "company_id", "stage", "company__recorded_foreign_control"
    )
    for fid, mid, country, company, stage, recorded in facility_rows.order_by():
        company_key = str(company)
        facilities[mid].append(
            risk.FacilityNode(
                fid, country, china_controlled=recorded or company_key in controlled, company=company_key, stage=stage
            )
        )
    links: dict[int, list[risk.Link]] = defaultdict(list)
    for up, down, link_share, mid in SupplyLink.objects.filter(mineral_id__in=mineral_ids).values_list(
        "upstream_id", "downstream_id", "share", "mineral_id"
    ):
        links[mid].append(risk.Link(up, down, link_share))
    return {m: risk.supply_network([*facilities[m], *extra_nodes], links[m]) for m in mineral_ids}


def sourcing_lines(
    sourcing: Iterable[tuple[int, int, int | None, str, float | None, float | None]],
    requirements: Mapping[tuple[int, int], tuple[float | None, str]],
) -> dict[tuple[int, int], list[risk.SourcingLine]]:
    """Sourcing rows (organization, mineral, facility, country, quantity, share) as risk lines
    per (organization, mineral), in the requirement's unit: a line given as a share of the
    requirement is that share of it (0 without a requirement)."""
    lines: dict[tuple[int, int], list[risk.SourcingLine]] = defaultdict(list)
    for org_id, mid, facility_id, country, quantity, share in sourcing:
        if quantity is None:
            required = requirements.get((org_id, mid), (None, ""))[0]
            quantity = share * required if share is not None and required is not None else 0.0
        lines[(org_id, mid)].append(risk.SourcingLine(quantity, facility_id, country))
    return lines


# --------------------------------------------------------------------------------------------
# Policy measures and severities


def policy_measures(mineral_ids: Iterable[int] | None = None) -> list[risk.Measure]:
    """Measures as risk.Measure, keyed by mineral slug. Three queries whatever their number.

    A measure applies to the minerals it names; its HS codes serve the trade view only (basket
    codes such as 811292 would otherwise spread a tungsten measure to gallium). A measure
    naming no mineral (e.g. "no dual-use items to military users") applies to none.
    """
    through_minerals = PolicyMeasure.minerals.through.objects.all()
    if mineral_ids is not None:
        through_minerals = through_minerals.filter(mineral_id__in=list(mineral_ids))
    minerals_of: dict[int, set[str]] = defaultdict(set)
    for measure_id, slug in through_minerals.values_list("policymeasure_id", "mineral__slug"):
        minerals_of[measure_id].add(slug)
    targets_of: dict[int, set[str]] = defaultdict(set)
    through_targets = PolicyMeasure.targets.through.objects.filter(policymeasure_id__in=list(minerals_of))
    for measure_id, iso3 in through_targets.values_list("policymeasure_id", "country_id"):
        targets_of[measure_id].add(iso3)
    return [
        measure_for_risk(m, minerals=minerals_of[m.pk], targets=targets_of[m.pk])
        for m in PolicyMeasure.objects.filter(pk__in=list(minerals_of)).order_by("key")
    ]


def measure_for_risk(measure: PolicyMeasure, *, minerals: Iterable[str], targets: Iterable[str]) -> risk.Measure:
    """A stored measure as the pure maths sees it (minerals by slug, targets by ISO3)."""
    return risk.Measure(
        key=measure.key,
        issuer=measure.issuer_id,
        measure_type=measure.measure_type,
        minerals=frozenset(minerals),
        targets=frozenset(targets),
        effective_on=measure.effective_on,
        suspended_from=measure.suspended_from,
        suspended_until=measure.suspended_until,
        ended_on=measure.ended_on,
        severity_override=measure.severity_override,
        reviewed_on=measure.reviewed_on,
    )


def severity_by_type() -> dict[str, float]:
    """Curators' per-type severities (one query); risk.DEFAULT_SEVERITY fills the rest."""
    return dict(MeasureTypeSeverity.objects.values_list("measure_type", "severity"))


# --------------------------------------------------------------------------------------------
# Buyer exposure: the inputs of a batch of (organization, mineral) pairs


@dataclass(frozen=True, slots=True)
class ExposureInputs:
    """What risk.buyer_exposure needs for every (organization, mineral) pair in scope: read by the
    exposure recompute (dashboards.services) and by scenarios, which shock these inputs."""

    organizations: dict[int, tuple[int, str]]  # id -> (data version, country)
    requirements: dict[tuple[int, int], tuple[float, str]]  # (org, mineral) -> (annual quantity, unit)
    pairs: set[tuple[int, int]]
    mineral_versions: Mapping[int, int]
    slugs: dict[int, str] = field(default_factory=dict)
    sources: Mapping[int, SourceInfo] = field(default_factory=dict)
    mix_tables: dict[int, SupplyTable | None] = field(default_factory=dict)
    networks: dict[int, risk.SupplyNetwork] = field(default_factory=dict)
    lines: dict[tuple[int, int], list[risk.SourcingLine]] = field(default_factory=dict)
    measures: list[risk.Measure] = field(default_factory=list)
    severities: dict[str, float] = field(default_factory=dict)


def exposure_inputs(
    *,
    organization_ids: Sequence[int] | None = None,
    mineral_ids: Sequence[int] | None = None,
    mineral_versions: Mapping[int, int] | None = None,
    supply: Sequence[SupplyTable] | None = None,
) -> ExposureInputs:
    """The inputs of every (organization, mineral) pair in scope, in a fixed number of queries.

    Versions are read before the data they label (organizations first, then their portfolios;
    minerals before production, facilities and links). Ownership control is solved once for
    all companies (risk.controlled_companies) and set as the facilities' `china_controlled`
    flag. Without any pair, the reads stop after the portfolios.
    """
    orgs = Organization.objects.all()
    if organization_ids is not None:
        orgs = orgs.filter(pk__in=organization_ids)
    if mineral_ids is not None:
        holds = Q(Exists(Requirement.objects.filter(organization=OuterRef("pk"), mineral_id__in=mineral_ids))) | Q(
            Exists(Sourcing.objects.filter(organization=OuterRef("pk"), mineral_id__in=mineral_ids))
        )
        orgs = orgs.filter(holds)
    org_info = {row[0]: (row[1], row[2]) for row in orgs.values_list("id", "data_version", "country_id").order_by()}
    org_ids = list(org_info)

    scope = Q(organization_id__in=org_ids)
    if mineral_ids is not None:
        scope &= Q(mineral_id__in=mineral_ids)
    requirements = {
        (r[0], r[1]): (r[2], r[3])
        for r in Requirement.objects.filter(scope).values_list(
            "organization_id", "mineral_id", "annual_quantity", "unit"
        )
    }
    sourcing = list(
        Sourcing.objects.filter(scope)
        .values_list("organization_id", "mineral_id", "facility_id", "country_id", "annual_quantity", "share")
        .order_by("id")
    )
    pairs = set(requirements) | {(s[0], s[1]) for s in sourcing}
    minerals_in_scope = sorted({m for _, m in pairs} | set(mineral_ids or ()))
    if mineral_versions is None:
        mineral_versions = dict(Mineral.objects.filter(pk__in=minerals_in_scope).values_list("id", "data_version"))
    slugs = dict(Mineral.objects.filter(pk__in=minerals_in_scope).values_list("id", "slug"))
    if not pairs:
        return ExposureInputs(org_info, requirements, pairs, mineral_versions, slugs)

    sources = data_sources()
    tables = list(supply) if supply is not None else supply_tables(minerals_in_scope, sources)
    mix_tables = {m: mix_table([t for t in tables if t.mineral_id == m]) for m in minerals_in_scope}

    networks = supply_networks(minerals_in_scope)
    measures = policy_measures(minerals_in_scope)
    severities = severity_by_type()
    lines = sourcing_lines(sourcing, requirements)
    return ExposureInputs(
        org_info,
        requirements,
        pairs,
        mineral_versions,
        slugs,
        sources,
        mix_tables,
        networks,
        lines,
        measures,
        severities,
    )


# --------------------------------------------------------------------------------------------
# Freshness: a mineral's metrics are stale when its data moved past the version they reflect


def metrics_stale(mineral: Mineral) -> bool:
    """True when the mineral's metric rows are older than its data, or were never computed.

    The one rule of the overview, the mineral page, the API, `show_metrics` and the beat sweep
    (services.stale_mineral_ids; minerals are few, so the sweep applies it to every one).
    """
    state: MineralMetricsState | None = getattr(mineral, "metrics_state", None)
    computed = state.data_version if state is not None and state.computed_at is not None else None
    return risk.is_stale(computed, mineral.data_version)
