"""Reads of the materialized metrics, for the dashboards, the API and `show_metrics`.

Stored rows carry the date-independent numbers; the as-of-dependent ones (restricted shares,
policy status, t factors, supply risk) are computed here from the stored share vectors and
the measures with dashboards.risk: cheap, exact for any date, never a stale "today".
A fixed number of queries per call whatever the number of rows (pinned in the tests).
Shares are fractions; field names follow docs/metrics.md.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, OuterRef, Subquery
from django.utils import timezone

from dashboards import risk
from dashboards.inputs import (
    STAGE_ORDER,
    data_sources,
    feoc_controlled_companies,
    feoc_countries,
    import_metric_row,
    import_tables,
    metrics_stale,
    policy_measures,
    severity_by_type,
    supply_metric_row,
    supply_tables,
)
from dashboards.models import ExposureMetric, ImportMetric, MineralMetricsState, SupplyMetric
from minerals.models import (
    WGI_DIMENSIONS,
    CommodityCode,
    Mineral,
    MineralParameter,
    PolicyMeasure,
    RecyclingFigure,
    Stage,
    TradeFlow,
    TradeRestrictionFactor,
    WgiScore,
    convert_quantity,
)
from suppliers.models import Facility, FederalSupport, Organization, Requirement, SupplyLink

SUPPLY_FIELDS = (
    "stage", "year", "unit", "world_total", "world_total_source", "coverage", "residual_share", "china_share",
    "china_share_upper", "feoc_share", "top3_share", "hhi", "hhi_band", "complete", "unknown", "withheld_countries",
    "unpublished_countries", "estimated_countries",
    "bounded_countries", "country_shares", "sources",
)  # fmt: skip
IMPORT_FIELDS = (
    "year", "total_value_usd", "import_coverage", "import_china_share", "import_feoc_share", "import_hhi",
    "import_hhi_band", "partner_shares", "total_quantity_kg", "quantity_coverage", "import_china_share_by_quantity",
    "import_feoc_share_by_quantity", "import_hhi_by_quantity", "partner_shares_by_quantity", "nir",
    "nir_note", "nir_published", "nir_published_bound", "nir_published_estimate", "sources",
)  # fmt: skip
EXPOSURE_FIELDS = (
    "as_of", "requirement_quantity", "unit", "total_volume", "direct_china_share", "china_controlled_share",
    "upstream_china_share", "unmapped_share", "restricted_share", "china_exposed_volume", "issues", "sources",
)  # fmt: skip


def row_freshness(*, row_version: int, current_version: int, computed_at: Any, now: Any) -> dict[str, Any]:
    """`stale` when newer data is waiting (row version below the mineral's); `age_seconds`."""
    return {
        "data_version": row_version,
        "current_data_version": current_version,
        "stale": risk.is_stale(row_version, current_version),
        "computed_at": computed_at.isoformat(),
        "age_seconds": round(max(0.0, (now - computed_at).total_seconds()), 3),
    }


def _shares(pairs: Sequence[Sequence[Any]]) -> dict[str, float | None]:
    return {pair[0]: pair[1] for pair in pairs}  # stored as JSON lists, not tuples


def latest_wgi() -> dict[str, list[float]]:
    """Each country's newest WGI estimates (one query)."""
    out: dict[str, list[float]] = {}
    for row in WgiScore.objects.values("country_id", *WGI_DIMENSIONS).order_by("country_id", "-year"):
        if row["country_id"] in out:
            continue
        estimates = [row[d] for d in WGI_DIMENSIONS if row[d] is not None]
        if estimates:
            out[row["country_id"]] = estimates
    return out


@dataclass(frozen=True, slots=True)
class AsOfInputs:
    """What the as-of-dependent figures read besides the stored rows, for many minerals at once."""

    measures: list[risk.Measure]
    severities: dict[str, float]
    wgi: dict[str, list[float]]
    parameters: dict[int, dict[str, float]]
    t_overrides: dict[int, dict[str, float]]


def as_of_inputs(mineral_ids: Sequence[int] | None = None) -> AsOfInputs:
    """Measures (3 queries), severities, WGI, parameters and t overrides (1 each) of the given
    minerals (None: all), seven queries whatever their number."""
    parameters: dict[int, dict[str, float]] = defaultdict(dict)
    t_overrides: dict[int, dict[str, float]] = defaultdict(dict)
    stored_parameters = MineralParameter.objects.all()
    stored_factors = TradeRestrictionFactor.objects.all()
    if mineral_ids is not None:
        stored_parameters = stored_parameters.filter(mineral_id__in=list(mineral_ids))
        stored_factors = stored_factors.filter(mineral_id__in=list(mineral_ids))
    measures = policy_measures(mineral_ids)
    severities = severity_by_type()
    wgi = latest_wgi()
    for mineral_id, name, value in stored_parameters.values_list("mineral_id", "name", "value"):
        parameters[mineral_id][name] = value
    for mineral_id, iso3, t_value in stored_factors.values_list("mineral_id", "country_id", "t_value"):
        t_overrides[mineral_id][iso3] = t_value
    return AsOfInputs(measures, severities, wgi, parameters, t_overrides)


def restriction_of(
    shares: Sequence[Sequence[Any]], *, mineral: str, destination: str, as_of: date, inputs: AsOfInputs
) -> risk.Restriction:
    """Share of a stored share vector (countries or import partners) restricted on `as_of`."""
    return risk.restriction_breakdown(
        _shares(shares),
        inputs.measures,
        mineral=mineral,
        destination=destination,
        as_of=as_of,
        severity_by_type=inputs.severities,
    )


def stored_supply_risk(
    supply: SupplyMetric,
    imported: ImportMetric | None,
    *,
    mineral: Mineral,
    destination: str,
    as_of: date,
    inputs: AsOfInputs,
) -> risk.SupplyRisk:
    """EU-method supply risk of one stored supply row as of a date (the design's supply risk).

    The t factors come from the measures in force on `as_of`. Without trade data for the
    destination, its sourcing is assumed to follow the world mix (the caller flags it).
    The one derivation of the overview, the mineral page and the API.
    """
    global_shares = _shares(supply.country_shares)
    sourcing = _shares(imported.partner_shares) if imported and imported.partner_shares else None
    parameters = inputs.parameters.get(mineral.pk, {})
    return risk.supply_risk(
        global_shares=global_shares,
        sourcing_shares=sourcing if sourcing is not None else global_shares,
        wgi_estimates=inputs.wgi,
        import_reliance=imported.import_reliance if imported else None,
        eol_rir=parameters.get(MineralParameter.Name.EOL_RIR),
        substitution_index=parameters.get(MineralParameter.Name.SUBSTITUTION_INDEX),
        t_overrides=inputs.t_overrides.get(mineral.pk, {}),
        mineral=mineral.slug,
        destination=destination,
        as_of=as_of,
        measures=inputs.measures,
        severity_by_type=inputs.severities,
    )


def mineral_trade_codes(mineral: Mineral) -> list[dict[str, Any]]:
    """The HS codes mapped to the mineral, each with whether it is a basket and has trade rows:
    the import shares name baskets and gaps (a mapped code without rows). One query."""
    # The code's earliest year of trade, not an EXISTS: PostgreSQL costs an EXISTS in the select
    # list as a scan that stops at its first match, so with few codes in the table's statistics it
    # read every flow for a code that has none (4 s a mineral page at 20 M flows). Asked for the
    # first year, the (code, year, ...) index answers in one probe.
    first_year = TradeFlow.objects.filter(commodity_code=OuterRef("pk")).order_by("year").values("year")[:1]
    codes = (
        CommodityCode.objects.filter(mappings__mineral=mineral)
        .annotate(first_year=Subquery(first_year))
        .values("hs6", "description", "is_basket", "first_year")
        .distinct()
        .order_by("hs6")
    )
    return [
        {
            "hs6": c["hs6"],
            "description": c["description"],
            "is_basket": c["is_basket"],
            "traded": c["first_year"] is not None,
        }
        for c in codes
    ]


class UnknownEdition(ValueError):
    """An ``edition`` that is no data source's key."""


def _edition_rows(
    mineral: Mineral, edition: str, *, stage: str | None, year: int | None, destination: str, now: Any
) -> tuple[list[SupplyMetric], list[ImportMetric]]:
    """One edition's supply and import rows, unsaved, ordered as the stored ones: its production
    tables, its published NIR and (when it holds any) its trade flows, through the recompute's
    own code (inputs.import_tables; a USGS edition keeps the newest trade figures)."""
    sources = data_sources()
    source = next((s for s in sources.values() if s.key == edition), None)
    if source is None:
        raise UnknownEdition(f"unknown edition {edition!r}: expected a data source key such as usgs-mcs-2025")
    tables = supply_tables([mineral.pk], sources, edition=source.id)
    supply_rows = [
        supply_metric_row(table, version=mineral.data_version, now=now, sources=sources)
        for table in tables
        if (not stage or table.stage == stage) and (not year or table.year == year)
    ]
    import_rows = [
        import_metric_row(mineral.pk, table, version=mineral.data_version, now=now, sources=sources)
        for table in import_tables(mineral.pk, tables, sources, edition=source.id, destination=destination)
        if not year or table.year == year
    ]
    return sorted(supply_rows, key=lambda r: (r.stage, -r.year)), sorted(import_rows, key=lambda r: -r.year)


def mineral_metrics(
    *,
    mineral: Mineral | str,
    stage: str | None = None,
    year: int | None = None,
    destination: str | None = None,
    as_of: date | None = None,
    edition: str | None = None,
) -> dict[str, Any]:
    """Every stored metric of one mineral, with the as-of-dependent ones and freshness.

    Eleven queries: the mineral with its state, supply rows, import rows, the mapped HS codes
    (`mineral_trade_codes`), and `as_of_inputs` (measures (3), severities, WGI, parameters,
    t overrides). With ``edition`` (a source key,
    e.g. ``usgs-mcs-2024``) the supply and import rows are that edition's figures (its
    production tables and published NIR; its trade flows when it holds any), computed on read
    by the recompute's own code (a few queries more; `UnknownEdition` for a key that is no
    source); without it, the stored rows: the newest edition by publication date.
    """
    if isinstance(mineral, str):
        mineral = Mineral.objects.select_related("metrics_state").get(slug=mineral)
    as_of = as_of or timezone.localdate()
    destination = destination or settings.LODESTONE_DEFAULT_DESTINATION
    now = timezone.now()
    try:
        state: MineralMetricsState | None = mineral.metrics_state
    except MineralMetricsState.DoesNotExist:
        state = None

    supply = SupplyMetric.objects.filter(mineral=mineral).order_by("stage", "-year")
    imports = ImportMetric.objects.filter(mineral=mineral, destination_id=destination).order_by("-year")
    if stage:
        supply = supply.filter(stage=stage)
    if year:
        supply = supply.filter(year=year)
        imports = imports.filter(year=year)
    trade_codes = mineral_trade_codes(mineral)
    baskets = [c["hs6"] for c in trade_codes if c["is_basket"] and c["traded"]]
    if edition is None:
        supply_rows, import_rows = list(supply), list(imports)
    else:
        supply_rows, import_rows = _edition_rows(
            mineral, edition, stage=stage, year=year, destination=destination, now=now
        )
    inputs = as_of_inputs([mineral.pk])

    def restriction(shares: Sequence[Sequence[Any]]) -> risk.Restriction:
        return restriction_of(shares, mineral=mineral.slug, destination=destination, as_of=as_of, inputs=inputs)

    supply_out = []
    for row in supply_rows:
        restricted = restriction(row.country_shares)
        supply_out.append(
            {
                **{name: getattr(row, name) for name in SUPPLY_FIELDS},
                "restricted_supply_share": restricted.share,
                "restricted_contributions": [_contribution(c) for c in restricted.contributions],
                "measures_needing_review": list(restricted.review_measure_keys),
                **row_freshness(
                    row_version=row.data_version,
                    current_version=mineral.data_version,
                    computed_at=row.computed_at,
                    now=now,
                ),
            }
        )

    imports_by_year = {row.year: row for row in import_rows}
    import_out = []
    for import_row in import_rows:
        restricted = restriction(import_row.partner_shares)
        import_out.append(
            {
                "destination": import_row.destination_id,
                **{name: getattr(import_row, name) for name in IMPORT_FIELDS},
                "top_import_sources": import_row.partner_shares[:5],
                # A basket code's shares are the basket's (811292: Ga, Ge, In, Nb, V), never this
                # mineral's alone: said on every row, as the pages say it.
                "shares_of": "basket" if baskets else "mineral",
                "basket_codes": baskets,
                "restricted_import_share": restricted.share if import_row.partner_shares else None,
                "restricted_contributions": [_contribution(c) for c in restricted.contributions],
                **row_freshness(
                    row_version=import_row.data_version,
                    current_version=mineral.data_version,
                    computed_at=import_row.computed_at,
                    now=now,
                ),
            }
        )

    risk_out = []
    for row in supply_rows:
        imported = imports_by_year.get(row.year)
        result = stored_supply_risk(
            row,
            imported,
            mineral=mineral,
            destination=destination,
            as_of=as_of,
            inputs=inputs,
        )
        flags = list(result.flags) + ([] if imported and imported.partner_shares else ["sourcing_from_global_mix"])
        risk_out.append(
            {
                "stage": row.stage,
                "year": row.year,
                "destination": destination,
                "supply_risk": result.supply_risk,
                "above_threshold": result.above_threshold,
                "hhi_wgi_t_global": result.hhi_wgi_t_global,
                "hhi_wgi_t_sourcing": result.hhi_wgi_t_sourcing,
                "import_reliance": result.import_reliance,
                "eol_rir": result.eol_rir,
                "substitution_index": result.substitution_index,
                "trade_factors": [list(p) for p in result.trade_factors if p[1] != 1.0],
                "wgi_imputed": list(result.wgi_imputed),
                "flags": flags,
            }
        )

    return {
        "mineral": mineral.slug,
        "edition": edition,
        "as_of": as_of.isoformat(),
        "destination": destination,
        "data_version": mineral.data_version,
        "metrics_version": state.data_version if state and state.computed_at else None,
        "stale": metrics_stale(mineral),
        "computed_at": state.computed_at.isoformat() if state and state.computed_at else None,
        "data_changed_at": mineral.data_changed_at.isoformat() if mineral.data_changed_at else None,
        "supply": supply_out,
        "trade_codes": trade_codes,
        "imports": import_out,
        "supply_risk": risk_out,
        "policy_status": [_measure_status(m, as_of, inputs.severities) for m in inputs.measures],
    }


def _contribution(c: risk.RestrictionContribution) -> dict[str, Any]:
    return {
        "country": c.country,
        "share": c.share,
        "severity": c.severity,
        "restricted": c.restricted,
        "measures": list(c.measure_keys),
    }


def _measure_status(measure: risk.Measure, as_of: date, severities: Mapping[str, float]) -> dict[str, Any]:
    return {
        "key": measure.key,
        "issuer": measure.issuer,
        "measure_type": measure.measure_type,
        "targets": sorted(measure.targets),
        "in_force": risk.in_force(measure, as_of),
        "suspended": risk.is_suspended(measure, as_of),
        "needs_review": risk.needs_review(measure, as_of),
        "severity": risk.measure_severity(measure, severities),
    }


def organization_exposure(*, organization: Organization, today: date | None = None) -> list[dict[str, Any]]:
    """A buyer's stored exposure per mineral with freshness. One query."""
    today = today or timezone.localdate()
    now = timezone.now()
    rows = ExposureMetric.objects.filter(organization=organization).select_related("mineral", "organization")
    out = []
    for row in rows.order_by("mineral__name"):
        stale = (
            risk.is_stale(row.organization_data_version, row.organization.data_version)
            or risk.is_stale(row.mineral_data_version, row.mineral.data_version)
            or row.as_of < today
        )
        out.append(
            {
                "organization": row.organization.slug,
                "mineral": row.mineral.slug,
                **{name: getattr(row, name) for name in EXPOSURE_FIELDS},
                "as_of": row.as_of.isoformat(),
                "organization_data_version": row.organization_data_version,
                "mineral_data_version": row.mineral_data_version,
                "stale": stale,
                "computed_at": row.computed_at.isoformat(),
                "age_seconds": round(max(0.0, (now - row.computed_at).total_seconds()), 3),
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# Alternatives (docs/metrics.md, "Alternatives"): non-FEOC sources that could replace an exposed volume

# Facility statuses that can supply (idle and closed ones cannot): risk.ProjectStatus values.
_SUPPLYING_STATUSES = ("operating", "construction", "planned")


_convert = convert_quantity


def federal_support_by_facility(mineral_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """U.S. federal support (DPA Title III awards, DoD agreements, EXIM) per facility id of these
    minerals, oldest first, with its source. One query. An unpublished amount or date stays None."""
    rows = FederalSupport.objects.filter(facility__mineral_id__in=mineral_ids).values(
        "facility_id", "program", "summary", "amount_usd", "announced_on", "announced_period", "source_url",
        "source__title", "source__edition", "policy_measure__key",
    )  # fmt: skip
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows.order_by("facility_id", "announced_on", "id"):
        out[row["facility_id"]].append(
            {
                "program": row["program"],
                "program_label": FederalSupport.Program(row["program"]).label,
                "summary": row["summary"],
                "amount_usd": row["amount_usd"],
                "announced": row["announced_on"].isoformat() if row["announced_on"] else row["announced_period"],
                "source": ", ".join(x for x in (row["source__title"], row["source__edition"]) if x),
                "source_url": row["source_url"],
                "policy_measure": row["policy_measure__key"] or "",
            }
        )
    return dict(out)


def recycling_figures(mineral_ids: Sequence[int], *, country: str, year: int) -> dict[int, dict[str, Any]]:
    """The newest recycling figure up to ``year`` per mineral for ``country`` (newest edition
    first at a year), with its source and edition. One query. ``rate`` None: not published."""
    rows = RecyclingFigure.objects.filter(mineral_id__in=mineral_ids, country_id=country, year__lte=year).values(
        "mineral_id", "year", "rate", "secondary_quantity", "consumption_quantity", "unit", "basis", "is_estimate",
        "notes", "source__key", "source__title", "source__edition", "source__url",
    )  # fmt: skip
    out: dict[int, dict[str, Any]] = {}
    for row in rows.order_by("mineral_id", "-year", F("source__published_on").desc(nulls_last=True)):
        out.setdefault(row["mineral_id"], dict(row))
    return out


def recycling_lever(
    figure: Mapping[str, Any] | None, *, requirement: float | None, unit: str, recyclers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The recycling lever of one mineral: the recycled share of the buyer's country's supply (as
    published, with its edition), the share of the requirement recycling could supply at that
    rate (the rate itself: a buyer sourcing like the country's average gets that much from
    recycled material) and that volume, and the recyclers offered. Unknown stays None."""
    rate = figure["rate"] if figure else None
    secondary = figure["secondary_quantity"] if figure else None
    return {
        "rate": rate,
        "year": figure["year"] if figure else None,
        "is_estimate": figure["is_estimate"] if figure else False,
        "basis": figure["basis"] if figure else "",
        "notes": figure["notes"] if figure else "",
        "secondary_quantity": _convert(secondary, figure["unit"], unit) if figure and secondary is not None else None,
        "source": ", ".join(x for x in (figure["source__title"], figure["source__edition"]) if x) if figure else "",
        "edition": figure["source__edition"] if figure else "",
        "source_url": figure["source__url"] if figure else "",
        "share_of_requirement": rate,
        "volume": risk.recycled_supply(rate, requirement),
        "unit": unit,
        "recyclers": list(recyclers),
    }


def levers(
    alternatives: Sequence[dict[str, Any]], *, destination: str, us_idle: Sequence[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The ranked alternatives split by lever, each in rank order: other countries and companies
    (diversification), U.S. production and projects (with federal support, plus U.S. facilities
    that cannot supply now, e.g. idle, listed for their support), recycling."""
    diversification: list[dict[str, Any]] = []
    domestic: list[dict[str, Any]] = []
    recycling: list[dict[str, Any]] = []
    for a in alternatives:  # the same dicts as in `alternatives` (read-only), not copies
        lever = recycling if a["kind"] == "recycling" else domestic if a["country"] == destination else diversification
        lever.append(a)
    return {"diversification": diversification, "us": domestic + list(us_idle), "recycling": recycling}


# What the end-of-life recycling candidate of a mineral needs besides the buyer's volume: the
# rate, and the governance and measures severity of the buyer's country (None: no rate).
_Secondary = tuple[float, float | None, float | None] | None


def _alternative_candidates(
    mineral_ids: Sequence[int],
    *,
    as_of: date,
    unit_of: Mapping[int, str],
    exposed_of: Mapping[int, float],
    stage_of: Mapping[int, str],
    slug_of: Mapping[int, str],
) -> dict[int, tuple[list[risk.AlternativeSource], dict[str, Any]]]:
    """Candidates per mineral, in seven queries whatever the number of minerals or facilities:
    supply rows, facilities (with their company), supply links (with their upstream facility),
    ownership stakes, company domiciles, WGI, EoL recycling input rates. The EoL recycling
    candidate (``_secondary_source``) depends on ``exposed_of``; the rest does not."""
    found = _volume_independent_candidates(
        mineral_ids, as_of=as_of, unit_of=unit_of, stage_of=stage_of, slug_of=slug_of
    )
    out = {}
    for mid, (candidates, info, secondary) in found.items():
        extra = _secondary_source(secondary, exposed_of.get(mid))
        out[mid] = ([*candidates, extra] if extra is not None else candidates, info)
    return out


def _secondary_source(secondary: _Secondary, exposed: float | None) -> risk.AlternativeSource | None:
    """Secondary supply: the part of the exposed volume the mineral's end-of-life recycling input
    rate says recycled material already covers (domestic scrap, buyer's country). None without a
    rate or an exposed volume."""
    if secondary is None or not exposed:
        return None
    rate, governance, severity = secondary
    return risk.AlternativeSource(
        key="recycling:eol-rir",
        kind="recycling",
        country=settings.LODESTONE_DEFAULT_DESTINATION,
        available_capacity=rate * exposed,
        status="operating",
        governance=governance,
        name=f"End-of-life recycling input rate {rate:.0%}",
        stage=Stage.RECYCLING,
        measure_severity=severity,
    )


def _volume_independent_candidates(
    mineral_ids: Sequence[int],
    *,
    as_of: date,
    unit_of: Mapping[int, str],
    stage_of: Mapping[int, str],
    slug_of: Mapping[int, str],
) -> dict[int, tuple[list[risk.AlternativeSource], dict[str, Any], _Secondary]]:
    """`_alternative_candidates` but the EoL recycling candidate, whose inputs come third."""
    wgi = {country: risk.wgi_score(estimates) for country, estimates in latest_wgi().items()}
    # Producing countries: the newest table up to as_of of the stage bought, else of the most
    # upstream stage with data, as stored by the recompute (newest edition already chosen);
    # output = share x world total.
    tables: dict[int, SupplyMetric] = {}
    newest: dict[tuple[int, str], SupplyMetric] = {}
    supply = SupplyMetric.objects.filter(mineral_id__in=mineral_ids, year__lte=as_of.year, unknown=False)
    for row in supply.order_by("mineral_id", "-year"):
        newest.setdefault((row.mineral_id, row.stage), row)
        best = tables.get(row.mineral_id)
        rank = STAGE_ORDER.index(row.stage) if row.stage in STAGE_ORDER else len(STAGE_ORDER)
        if best is None or (rank, -row.year) < (STAGE_ORDER.index(best.stage), -best.year):
            tables[row.mineral_id] = row
    for mid in mineral_ids:
        if (mid, stage_of[mid]) in newest:
            tables[mid] = newest[(mid, stage_of[mid])]
    controlled = feoc_controlled_companies()
    rates = dict(
        MineralParameter.objects.filter(mineral_id__in=mineral_ids, name=MineralParameter.Name.EOL_RIR).values_list(
            "mineral_id", "value"
        )
    )
    destination = settings.LODESTONE_DEFAULT_DESTINATION
    recycled = recycling_figures(mineral_ids, country=destination, year=as_of.year)
    supports = federal_support_by_facility(mineral_ids)
    out: dict[int, tuple[list[risk.AlternativeSource], dict[str, Any]]] = {
        mid: (
            [],
            {
                "production_year": None,
                "production_stage": None,
                "eol_rir": rates.get(mid),
                "recycling_figure": recycled.get(mid),
                "us_idle": [],
                # Per candidate key: federal support, and the source of an announced start year.
                "facility_info": {},
            },
        )
        for mid in mineral_ids
    }
    feoc = feoc_countries()
    for mid in mineral_ids:
        out[mid][1].update(
            stage=stage_of[mid], processing_where=_processing_where(newest.get((mid, stage_of[mid])), feoc)
        )
    for mid, row in tables.items():
        candidates, info = out[mid]
        info.update(production_year=row.year, production_stage=row.stage, sources=row.sources)
        for country, share in row.country_shares:
            # Withheld (or no world total): the output stays unknown, never guessed nor 0.
            known = share is not None and row.world_total is not None
            candidates.append(
                risk.AlternativeSource(
                    key=f"country:{country}",
                    kind="country",
                    country=country,
                    available_capacity=_convert(share * row.world_total, row.unit, unit_of[mid]) if known else None,
                    status="operating",
                    start_year=None,
                    governance=wgi.get(country),
                    feoc_controlled=False,
                    name=f"{country} {row.stage} output {row.year}",
                    stage=row.stage,
                )
            )
    upstream_of, flagged = _feoc_supply_links(mineral_ids, feoc=feoc, controlled=controlled)
    facilities = Facility.objects.filter(
        mineral_id__in=mineral_ids, status__in=(*_SUPPLYING_STATUSES, Facility.Status.IDLE)
    ).values_list(
        "mineral_id", "id", "key", "name", "country_id", "stage", "status", "start_year", "capacity", "capacity_unit",
        "company_id", "company__recorded_foreign_control", "source__title", "source_url",
    )  # fmt: skip
    # In the order they were recorded: without it the order followed the query plan, which differs
    # between one mineral's read (the scenarios') and all the buyer's (the stored set), and the
    # sources listed as "not an alternative" came out in another order on another page.
    rows = facilities.order_by("id")
    for mid, fid, key, name, country, stage, status, start, capacity, cap_unit, company, recorded, *src in rows:
        info, candidate_key = out[mid][1], f"facility:{key}"
        extra = {
            "federal_support": supports.get(fid, []),
            "start_year_source": (src[0] or src[1] or "") if start is not None else "",
        }
        if extra["federal_support"] or extra["start_year_source"]:  # most facilities have neither
            info["facility_info"][candidate_key] = extra
        if status == Facility.Status.IDLE:
            # Cannot supply now; a U.S. one is still listed on the U.S. lever for its support.
            if country == destination:
                info["us_idle"].append(
                    {"key": candidate_key, "name": name, "country": country, "status": status, "stage": stage} | extra
                )
            continue
        upstream = upstream_of.get(mid, {})
        kind: risk.AlternativeKind = "facility"
        if stage == Stage.RECYCLING:
            kind = "recycling"
        elif country == destination and status != "operating":
            kind = "us_project"
        out[mid][0].append(
            risk.AlternativeSource(
                key=candidate_key,
                kind=kind,
                country=country,
                available_capacity=_convert(capacity, cap_unit, unit_of[mid]) if capacity is not None else None,
                status=cast(risk.ProjectStatus, status),  # filtered on _SUPPLYING_STATUSES
                start_year=start,
                governance=wgi.get(country),
                feoc_controlled=recorded or str(company) in controlled,
                name=name,
                feoc_upstream=risk.feoc_upstream(str(fid), upstream, flagged) if str(fid) in upstream else "",
                stage=stage,
            )
        )
    # Exposure to measures in force: the severity of its country's measures on the mineral
    # towards the buyer's country (a ranking factor), once per (country, mineral): at scale
    # thousands of candidates share a few hundred countries.
    measures, severities = policy_measures(mineral_ids), severity_by_type()
    severity_of: dict[tuple[str, int], float | None] = {}

    def severity(country: str, mid: int) -> float | None:
        pair = (country, mid)
        if pair not in severity_of:
            severity_of[pair] = risk.country_severity(
                measures, country, slug_of[mid], destination, as_of, severity_by_type=severities
            )
        return severity_of[pair]

    for mid, (candidates, _) in out.items():
        for i, c in enumerate(candidates):
            if severity(c.country, mid) != c.measure_severity:
                candidates[i] = replace(c, measure_severity=severity(c.country, mid))
    return {
        mid: (
            candidates,
            info,
            (rates[mid], wgi.get(destination), severity(destination, mid)) if rates.get(mid) else None,
        )
        for mid, (candidates, info) in out.items()
    }


def alternative_sources(
    mineral_ids: Sequence[int],
    *,
    as_of: date,
    unit_of: Mapping[int, str],
    stage_of: Mapping[int, str],
    slug_of: Mapping[int, str],
    exposed_of: Mapping[int, float] | None = None,
) -> dict[int, list[risk.AlternativeSource]]:
    """The candidates `organization_alternatives` ranks, per mineral, for callers that rank them
    under other inputs (scenarios). Seven queries whatever the number of minerals."""
    found = _alternative_candidates(
        mineral_ids, as_of=as_of, unit_of=unit_of, exposed_of=exposed_of or {}, stage_of=stage_of, slug_of=slug_of
    )
    return {mid: candidates for mid, (candidates, _) in found.items()}


def _processing_where(table: SupplyMetric | None, feoc: frozenset[str]) -> str:
    """Where the stage bought is produced: its newest table's largest producer and share
    ("" without a table), saying so when that is a FEOC country."""
    known = [(share, iso3) for iso3, share in (table.country_shares if table else []) if share is not None]
    if table is None or not known:
        return ""
    share, iso3 = max(known)
    flag = " (a FEOC country)" if iso3 in feoc else ""
    return f"{table.stage} output {table.year}: {iso3} {share:.0%} of world{flag}"


def _feoc_supply_links(
    mineral_ids: Sequence[int], *, feoc: frozenset[str], controlled: frozenset[str]
) -> tuple[dict[int, dict[str, list[str]]], dict[str, str]]:
    """Per mineral, each facility's upstream facilities (ids as text), and the upstream
    facilities that are FEOC-located or FEOC-controlled, labelled "name (ISO3)". One query."""
    upstream_of: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    flagged: dict[str, str] = {}
    links = SupplyLink.objects.filter(mineral_id__in=mineral_ids).values_list(
        "mineral_id", "downstream_id", "upstream_id", "upstream__name", "upstream__country_id",
        "upstream__company_id", "upstream__company__recorded_foreign_control",
    )  # fmt: skip
    for mid, downstream, upstream, name, country, company, recorded in links.order_by():
        upstream_of[mid][str(downstream)].append(str(upstream))
        if country in feoc or recorded or str(company) in controlled:
            flagged[str(upstream)] = f"{name} ({country})"
    return upstream_of, flagged


def _not_alternative_out(excluded: risk.NotAlternative) -> dict[str, Any]:
    source = excluded.source
    return {
        "key": source.key,
        "kind": source.kind,
        "name": source.name,
        "country": source.country,
        "reason": excluded.reason,
    }


def _volume_text(volume: float, unit: str) -> str:
    return f"{volume:,.0f} {unit}" if volume >= 10 else f"{volume:.3g} {unit}"


def _gap_label(alternative: risk.Alternative, unit: str) -> str:
    """ "your gap is 0.2% of AUS mine output 2024 (88,000 t)": small means easy to absorb."""
    capacity = alternative.source.available_capacity
    if capacity is None:
        return "capacity unknown"
    if alternative.gap_share is None:
        return ""
    percent = alternative.gap_share * 100
    # Two significant digits when small (0.036), whole percents from 10, never scientific notation.
    shown = "<0.01" if percent < 0.01 else f"{percent:.2g}" if percent < 10 else f"{percent:,.0f}"
    return f"your gap is {shown}% of {alternative.source.name} ({_volume_text(capacity, unit)})"


def _alternative_out(alternative: risk.Alternative, unit: str, info: Mapping[str, Any]) -> dict[str, Any]:
    source = alternative.source
    processing = risk.processing_step(source.stage, info["stage"])
    return {
        "rank": alternative.rank,
        "key": source.key,
        "kind": source.kind,
        "name": source.name,
        "country": source.country,
        "status": source.status,
        "start_year": source.start_year,
        "available_capacity": source.available_capacity,
        "unit": unit,
        "governance": source.governance,
        "coverage_ratio": alternative.coverage_ratio,
        "coverage_share": alternative.coverage_share,
        "gap_share": alternative.gap_share,
        "gap_label": _gap_label(alternative, unit),
        "stage": source.stage,
        "stage_match": risk.stage_match(source.stage, info["stage"]),
        "available_from": alternative.available_from,
        "announced": alternative.announced,
        "score": alternative.score,
        "contributions": dict(alternative.contributions),
        "processing": processing,
        "processing_where": info["processing_where"] if processing.startswith("needs processing") else "",
        "score_upper": alternative.score_upper,
        "unknown_factors": list(alternative.unknown_factors),
        **info["facility_info"].get(source.key, {"federal_support": [], "start_year_source": ""}),
    }


def _ranked(
    volume: float, candidates: Sequence[risk.AlternativeSource], *, stage: str, as_of: date, feoc: frozenset[str]
) -> tuple[risk.Alternative, ...]:
    """risk.rank_alternatives with the configured weights, for the stage bought, in as_of's year."""
    return risk.rank_alternatives(
        volume,
        candidates,
        feoc=feoc,
        required_stage=stage,
        year=as_of.year,
        weights=settings.LODESTONE_ALTERNATIVE_WEIGHTS,
    )


# --------------------------------------------------------------------------------------------
# Stored candidate sets: a mineral's candidates, why some are not alternatives and the
# volume-independent part of each score, built once per data version and kept in the cache; a
# buyer's alternatives then only rank that list by its own gap (coverage is the one factor that
# depends on the buyer) and build the rows shown.

_SOURCE_FIELDS = tuple(f.name for f in fields(risk.AlternativeSource))
_KIND, _COUNTRY = _SOURCE_FIELDS.index("kind"), _SOURCE_FIELDS.index("country")


def _source_fields(source: risk.AlternativeSource) -> tuple[Any, ...]:
    # Plain tuples: unpickled several times faster than slotted dataclasses (the cache pickles).
    return tuple(getattr(source, name) for name in _SOURCE_FIELDS)


def _mineral_version(mineral: Mineral) -> tuple[Any, ...]:
    """What a mineral's candidates depend on that can change, but the policy history: its data
    version and last change (facilities, supply links, ownership, support, recycling figures,
    WGI, severities: their services mark the minerals they feed stale) and its metrics state
    (the stored production tables). ``mineral`` read with ``select_related("metrics_state")``."""
    state = getattr(mineral, "metrics_state", None)  # none before the first recompute
    return (
        mineral.data_version,
        mineral.data_changed_at,
        state.data_version if state else None,
        state.computed_at if state else None,
    )


def _stored_candidates(
    mineral_ids: Sequence[int],
    *,
    as_of: date,
    unit_of: Mapping[int, str],
    stage_of: Mapping[int, str],
    slug_of: Mapping[int, str],
    version_of: Mapping[int, tuple[Any, ...]],
) -> dict[int, dict[str, Any]]:
    """Per mineral, its stored candidate set for the stage bought, the unit and as_of's date:
    ``info`` (the report's context and the levers' inputs), ``eligible`` (the sources
    rank_alternatives ranks, as field tuples), ``rows`` (their risk.alternative_rank_row),
    ``excluded`` (the not-alternatives with the reason, in the candidates' order) and
    ``secondary`` (the EoL recycling candidate's inputs). Read from the cache under the minerals'
    versions (``version_of``: `_mineral_version`) and the policy history (a measure may name no
    mineral): one query and one cache read; the minerals missing are built
    (`_volume_independent_candidates`) and stored."""
    policy = tuple(PolicyMeasure.history.aggregate(n=Count("history_id"), last=Max("history_date")).values())
    feoc = feoc_countries()
    weights = settings.LODESTONE_ALTERNATIVE_WEIGHTS
    config = (
        sorted(feoc),
        settings.LODESTONE_CONTROL_THRESHOLD,
        settings.LODESTONE_DEFAULT_DESTINATION,
        sorted(weights.items()),
        policy,
        as_of,
    )
    keys = {
        mid: "lodestone:alternatives:"
        + hashlib.sha256(
            repr((mid, version_of[mid], stage_of[mid], unit_of[mid], slug_of[mid], config)).encode()
        ).hexdigest()[:32]
        for mid in mineral_ids
    }
    found = cache.get_many(list(keys.values()))
    out = {mid: found[key] for mid, key in keys.items() if key in found}
    missing = [mid for mid in mineral_ids if mid not in out]
    if not missing:
        return out
    built = _volume_independent_candidates(missing, as_of=as_of, unit_of=unit_of, stage_of=stage_of, slug_of=slug_of)
    for mid, (candidates, info, secondary) in built.items():
        eligible = [c for c in candidates if risk.is_rankable(c, feoc=feoc)]
        out[mid] = {
            "info": info,
            "eligible": [_source_fields(c) for c in eligible],
            "rows": [
                risk.alternative_rank_row(c, weights=weights, required_stage=stage_of[mid], year=as_of.year)
                for c in eligible
            ],
            "excluded": [
                (x.source.key, x.source.kind, x.source.name, x.source.country, x.reason)
                for x in risk.not_alternatives(candidates, feoc=feoc)
            ],
            "secondary": secondary,
        }
    cache.set_many({keys[mid]: out[mid] for mid in missing}, timeout=settings.LODESTONE_PAGE_CACHE_SECONDS)
    return out


def _report_from_store(
    stored: Mapping[str, Any],
    volume: float,
    *,
    stage: str,
    as_of: date,
    unit: str,
    requirement: float | None,
    limit: int | None = None,
    coverage_known: bool = True,
) -> dict[str, Any]:
    """The buyer-specific part: the stored candidates (plus the EoL recycling one, sized by the
    volume) ranked for ``volume`` (risk.rank_order, the rule of risk.rank_alternatives) and the
    report (``_alternatives_report``) of the alternatives shown (all, or with ``limit`` the best
    ``limit`` plus every U.S. and recycling one). ``coverage_known`` False: no volume to cover,
    every gap share None."""
    weights = settings.LODESTONE_ALTERNATIVE_WEIGHTS
    eligible, rows = stored["eligible"], stored["rows"]
    secondary = _secondary_source(stored["secondary"], volume)
    if secondary is not None and risk.is_rankable(secondary, feoc=feoc_countries()):
        eligible = [*eligible, _source_fields(secondary)]
        rows = [*rows, risk.alternative_rank_row(secondary, weights=weights, required_stage=stage, year=as_of.year)]
    destination = settings.LODESTONE_DEFAULT_DESTINATION
    shown = []
    for rank, i in enumerate(risk.rank_order(volume, rows, weights=weights), start=1):
        fields_ = eligible[i]
        if limit is not None and rank > limit and fields_[_KIND] != "recycling" and fields_[_COUNTRY] != destination:
            continue
        alternative = risk.ranked_alternative(
            risk.AlternativeSource(*fields_),
            rank=rank,
            exposed_volume=volume,
            weights=weights,
            required_stage=stage,
            year=as_of.year,
        )
        shown.append(alternative if coverage_known else replace(alternative, gap_share=None))
    return _alternatives_report(
        shown, len(rows), stored["excluded"], stored["info"], unit=unit, requirement=requirement, limit=limit
    )


def mineral_alternatives(
    mineral: Mineral | str,
    *,
    exposed_volume: float | None,
    unit: str = "t",
    stage: str = Stage.REFINERY,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Non-FEOC sources that could replace `exposed_volume` (in `unit`) of a mineral, ranked by
    risk.rank_alternatives, each with `coverage_ratio` = its available capacity / the volume.

    Candidates: producing countries with their output (the newest stored table up to `as_of`
    of the stage bought, `stage`, else of the most upstream stage with data; newest edition);
    facilities with a published capacity that are operating, under construction or planned
    (U.S. ones not yet operating are `us_project`,
    recycling-stage ones `recycling`); the end-of-life recycling input rate (`eol_rir`
    parameter) as secondary supply. FEOC-located and FEOC-controlled sources are excluded
    (ownership >= threshold through chains, or recorded control), and so are facilities whose
    supply links run back to such a facility: all of them are listed apart in
    `not_alternatives` with the reason. The candidates are stored per data version
    (`_stored_candidates`): two queries (the mineral with its version, the policy history),
    plus the candidates' own reads when not stored yet, whatever the number of candidates. `exposed_volume` None
    (the API without `volume`): ranked without the coverage factor, and every coverage and gap
    figure None (nothing to cover).
    """
    slug = mineral if isinstance(mineral, str) else mineral.slug
    mineral = Mineral.objects.select_related("metrics_state").get(slug=slug)  # fresh: its version
    as_of = as_of or timezone.localdate()
    volume = exposed_volume if exposed_volume is not None else 0.0
    stored = _stored_candidates(
        [mineral.pk],
        as_of=as_of,
        unit_of={mineral.pk: unit},
        stage_of={mineral.pk: stage},
        slug_of={mineral.pk: mineral.slug},
        version_of={mineral.pk: _mineral_version(mineral)},
    )[mineral.pk]
    return {
        "mineral": mineral.slug,
        "as_of": as_of.isoformat(),
        "exposed_volume": exposed_volume,
        "unit": unit,
        **_report_from_store(
            stored,
            volume,
            stage=stage,
            as_of=as_of,
            unit=unit,
            requirement=exposed_volume,
            coverage_known=exposed_volume is not None,
        ),
    }


# What _alternative_candidates returns per mineral that is internal to the levers.
_LEVER_INPUTS = ("recycling_figure", "us_idle", "facility_info")


def _alternatives_report(
    shown: Sequence[risk.Alternative],
    total: int,
    excluded: Sequence[tuple[str, str, str, str, str]],
    info: Mapping[str, Any],
    *,
    unit: str,
    requirement: float | None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The candidates' context, the alternatives shown (``shown``, in rank order, of ``total``
    ranked), the ones that are not (``excluded``: key, kind, name, country, reason), and the
    three levers side by side (``levers``: diversification, us, recycling). With ``limit``:
    the first ``limit`` not-alternatives, and the totals (``alternatives_total``,
    ``not_alternatives_total``)."""
    destination = settings.LODESTONE_DEFAULT_DESTINATION
    alternatives = [_alternative_out(a, unit, info) for a in shown]
    by_lever = levers(alternatives, destination=destination, us_idle=info["us_idle"])
    by_lever["recycling"] = recycling_lever(  # type: ignore[assignment]  # a dict, not a list: one per mineral
        info["recycling_figure"], requirement=requirement, unit=unit, recyclers=by_lever["recycling"]
    )
    return {
        **{key: value for key, value in info.items() if key not in _LEVER_INPUTS},
        "alternatives": alternatives,
        "alternatives_total": total,
        "not_alternatives": [
            {"key": key, "kind": kind, "name": name, "country": country, "reason": reason}
            for key, kind, name, country, reason in excluded[:limit]
        ],
        "not_alternatives_total": len(excluded),
        "levers": by_lever,
    }


def organization_alternatives(
    *, organization: Organization, as_of: date | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Per mineral the buyer holds: alternatives for its gap, `gap_volume` = the stored
    exposure's `china_exposed_volume` + `uncovered_volume` (the requirement no sourcing line
    covers; None without a requirement), all in the mineral's canonical unit, from the stage the
    requirement buys, and the three levers. The candidates come from the store
    (`_stored_candidates`): two queries and one cache read whatever the number of minerals and
    candidates, plus the candidates' own reads for the minerals not stored yet. ``limit``: see
    ``_report_from_store`` (the portfolio page shows the best few; ranking is always over every
    candidate)."""
    as_of = as_of or timezone.localdate()
    bought = Requirement.objects.filter(organization_id=OuterRef("organization_id"), mineral_id=OuterRef("mineral_id"))
    rows = list(
        ExposureMetric.objects.filter(organization=organization)
        .select_related("mineral__metrics_state")
        .annotate(required_stage=Subquery(bought.values("stage")[:1]))
    )
    # Every volume in the mineral's canonical unit; the gap = the China-exposed volume plus the
    # part of the requirement no sourcing line covers (unknown without a requirement).
    unit_of = {row.mineral_id: row.mineral.canonical_unit for row in rows}
    exposed_of, uncovered_of, requirement_of = {}, {}, {}
    for row in rows:
        to_unit = unit_of[row.mineral_id]
        uncovered = None
        requirement_of[row.mineral_id] = (
            _convert(row.requirement_quantity, row.unit, to_unit) if row.requirement_quantity is not None else None
        )
        if row.requirement_quantity is not None:
            uncovered = _convert(max(0.0, row.requirement_quantity - row.total_volume), row.unit, to_unit)
        uncovered_of[row.mineral_id] = uncovered
        exposed_of[row.mineral_id] = _convert(row.china_exposed_volume, row.unit, to_unit) + (uncovered or 0.0)
    stage_of = {row.mineral_id: row.required_stage or Stage.REFINERY for row in rows}
    stored = (
        _stored_candidates(
            list(unit_of),
            as_of=as_of,
            unit_of=unit_of,
            stage_of=stage_of,
            slug_of={row.mineral_id: row.mineral.slug for row in rows},
            version_of={row.mineral_id: _mineral_version(row.mineral) for row in rows},
        )
        if rows
        else {}
    )
    out = []
    for row in sorted(rows, key=lambda r: r.mineral.name):
        mid = row.mineral_id
        out.append(
            {
                "organization": organization.slug,
                "mineral": row.mineral.slug,
                "as_of": as_of.isoformat(),
                "exposure_as_of": row.as_of.isoformat(),
                "exposed_volume": _convert(row.china_exposed_volume, row.unit, unit_of[mid]),
                "uncovered_volume": uncovered_of[mid],
                "gap_volume": exposed_of[mid],
                "unit": unit_of[mid],
                "requirement_volume": requirement_of[mid],
                **_report_from_store(
                    stored[mid],
                    exposed_of[mid],
                    stage=stage_of[mid],
                    as_of=as_of,
                    unit=unit_of[mid],
                    requirement=requirement_of[mid],
                    limit=limit,
                ),
            }
        )
    return out


@dataclass(frozen=True)
class HeadlineTable:
    """What china_replacement_alternatives needs of a mineral's headline-stage table."""

    stage: str
    china_share: float | None
    world_total: float | None
    unit: str


def china_replacement_alternatives(
    *, minerals: Sequence[Mineral], heads: Mapping[int, HeadlineTable], as_of: date, top: int = 3
) -> dict[str, dict[str, Any]]:
    """Per mineral, the best `top` alternatives (risk.rank_alternatives) for replacing China's
    output at its headline stage: the public pages' first screen, which has no buyer volume.

    `heads`: mineral id -> the stored table of its headline stage (the stage China dominates).
    The volume to replace is China's share x that table's world total, in the mineral's
    canonical unit; a mineral whose China figure or world total is unknown gets no entry
    (nothing guessed). Seven queries whatever the number of minerals.
    """
    volume_of: dict[int, float] = {}
    for mineral in minerals:
        head = heads.get(mineral.pk)
        if head is None or head.china_share is None or head.world_total is None:
            continue
        volume_of[mineral.pk] = _convert(head.china_share * head.world_total, head.unit, mineral.canonical_unit)
    chosen = [m for m in minerals if m.pk in volume_of]
    if not chosen:
        return {}
    unit_of = {m.pk: m.canonical_unit for m in chosen}
    stage_of = {m.pk: heads[m.pk].stage for m in chosen}
    candidates = _alternative_candidates(
        list(volume_of),
        as_of=as_of,
        unit_of=unit_of,
        exposed_of=volume_of,
        stage_of=stage_of,
        slug_of={m.pk: m.slug for m in chosen},
    )
    feoc = feoc_countries()
    out = {}
    for mineral in chosen:
        sources, info = candidates[mineral.pk]
        ranked = _ranked(volume_of[mineral.pk], sources, stage=stage_of[mineral.pk], as_of=as_of, feoc=feoc)
        out[mineral.slug] = {
            "volume": volume_of[mineral.pk],
            "unit": unit_of[mineral.pk],
            "stage": stage_of[mineral.pk],
            "alternatives": [_alternative_out(a, unit_of[mineral.pk], info) for a in ranked[:top]],
        }
    return out
