"""Reads for the dashboard pages, built on dashboards.selectors; a fixed number of queries each.

The numbers come from the materialized metric rows. The as-of-dependent ones (restricted
shares, supply risk) are derived by dashboards.selectors (`as_of_inputs` read once for every
mineral, then `restriction_of` and `stored_supply_risk` per row), the same derivation as the
mineral page and the API: the overview needs every mineral at once, and calling
`mineral_metrics` per mineral would make the page's query count grow with the minerals.

Everything returned is plain data (dicts, lists, dates): the figure builders and the cache
take it as is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.http import Http404
from django.utils import timezone

from dashboards import risk, selectors
from dashboards.inputs import (
    KG_PER_UNIT,
    feoc_controlled_companies,
    feoc_countries,
    measure_for_risk,
    metrics_stale,
    mix_metric,
    policy_measures,
    severity_by_type,
)
from dashboards.models import ExposureMetric, ImportMetric, SupplyMetric
from minerals.models import (
    CommodityMineral,
    Country,
    DataSource,
    MeasureType,
    Mineral,
    MineralParameter,
    PolicyMeasure,
    ProductionRecord,
    TradeFlow,
)
from suppliers.models import Facility, Membership, Organization, Requirement, Sourcing
from suppliers.models import SupplyLink as SupplyLinkModel

# --------------------------------------------------------------------------------------------
# Data generation: the cache key of every page


def data_generation() -> str:
    """A string that changes whenever any number a public page shows may change. Two queries.

    Minerals' data versions move with every write to their inputs (services mark them stale),
    the metrics state moves when a recompute lands, and the policy history records every
    edit of a measure, including those naming no mineral (shown on the policy tracker).
    """
    minerals = Mineral.objects.aggregate(
        n=Count("id"),
        versions=Sum("data_version"),
        changed=Max("data_changed_at"),
        metrics=Sum("metrics_state__data_version"),
        computed=Max("metrics_state__computed_at"),
    )
    policy = PolicyMeasure.history.aggregate(n=Count("history_id"), last=Max("history_date"))
    parts = [minerals[k] for k in ("n", "versions", "changed", "metrics", "computed")]
    parts += [policy["n"], policy["last"]]
    return ":".join("" if p is None else str(p.timestamp() if hasattr(p, "timestamp") else p) for p in parts)


def organization_generation(organization: Organization, public: str) -> str:
    """The public generation (`public`: the caller's dashboards.generation, cached like every
    page's) plus the buyer's own data and exposure rows, as organization_for read them with the
    organization (no query of its own)."""
    rows, computed = organization.exposure_stamp  # type: ignore[attr-defined]
    return f"{public}:{organization.pk}.{organization.data_version}:{rows}:{computed or ''}"


# --------------------------------------------------------------------------------------------
# Shared pieces


def country_names() -> dict[str, str]:
    """ISO3 -> name for every country (one query; about 250 rows)."""
    return dict(Country.objects.values_list("iso3", "name"))


def headline_stage(latest: Mapping[str, SupplyMetric]) -> str | None:
    """The stage a mineral's headline numbers (top 3, HHI, restricted share, supply risk)
    describe and the overview ranks by: the one most dominated by China (risk.dominant_stage)."""
    return risk.dominant_stage({stage: row.china_share for stage, row in latest.items()})


def _measure_status(measure: risk.Measure, as_of: date) -> str:
    if risk.needs_review(measure, as_of):
        return "needs_review"
    if risk.in_force(measure, as_of):
        return "in_force"
    if risk.is_suspended(measure, as_of):
        return "suspended"
    if measure.ended_on is not None and measure.ended_on <= as_of:
        return "ended"
    return "not_yet"


# --------------------------------------------------------------------------------------------
# Overview: every mineral


def minerals_overview(*, as_of: date, destination: str | None = None) -> dict[str, Any]:
    """One row per mineral with its headline metrics on `as_of`. Eleven queries, any data size."""
    destination = destination or settings.LODESTONE_DEFAULT_DESTINATION
    # Whether a basket HS code (811292: Ga, Ge, In, Nb, V ...) carries some of the mineral's trade
    # rows: its import shares are then the basket's, labelled so (issue 11). An EXISTS, no query more:
    # over the mineral's basket codes, each probing the trade flows' code index for one row. Asked
    # the other way (the flows whose code is among the mineral's), PostgreSQL merged the whole code
    # index against the mapping: 27 s for the 17 minerals at 20 M flows, against milliseconds.
    traded = TradeFlow.objects.filter(commodity_code_id=OuterRef("commodity_code_id"))
    basket_traded = CommodityMineral.objects.filter(
        Exists(traded), mineral=OuterRef("pk"), commodity_code__is_basket=True
    )
    minerals = list(
        Mineral.objects.select_related("metrics_state").annotate(imports_basket=Exists(basket_traded)).order_by("name")
    )
    supply_rows: dict[int, list[SupplyMetric]] = defaultdict(list)
    for row in SupplyMetric.objects.order_by("mineral_id", "stage", "-year"):
        supply_rows[row.mineral_id].append(row)
    import_rows: dict[int, list[ImportMetric]] = defaultdict(list)
    for import_row in ImportMetric.objects.filter(destination_id=destination).order_by("mineral_id", "-year"):
        import_rows[import_row.mineral_id].append(import_row)
    inputs = selectors.as_of_inputs(None)
    now = timezone.now()

    rows = []
    heads: dict[int, selectors.HeadlineTable] = {}
    for mineral in minerals:
        latest: dict[str, SupplyMetric] = {}
        for row in supply_rows[mineral.pk]:
            latest.setdefault(row.stage, row)  # newest year first
        stage = headline_stage(latest)
        head = latest.get(stage) if stage else None
        if head is not None:
            heads[mineral.pk] = selectors.HeadlineTable(head.stage, head.china_share, head.world_total, head.unit)
        imports = import_rows[mineral.pk]
        with_partners = next((r for r in imports if r.import_china_share is not None), None)
        with_nir = next((r for r in imports if r.import_reliance is not None), None)
        restricted = None
        sr = None
        if head is not None:
            restricted = selectors.restriction_of(
                head.country_shares, mineral=mineral.slug, destination=destination, as_of=as_of, inputs=inputs
            )
            imported = next((r for r in imports if r.year == head.year), None)
            sr = selectors.stored_supply_risk(
                head, imported, mineral=mineral, destination=destination, as_of=as_of, inputs=inputs
            )
        state = getattr(mineral, "metrics_state", None)
        computed_at = state.computed_at if state else None
        rows.append(
            {
                "slug": mineral.slug,
                "name": mineral.name,
                "mine": _stage_summary(latest.get("mine")),
                "refinery": _stage_summary(latest.get("refinery")),
                "headline_stage": stage,
                "year": head.year if head else None,
                "unit": head.unit if head else "",
                "country_shares": [list(p) for p in head.country_shares] if head else [],
                "head": _stage_summary(head),
                "top3_share": head.top3_share if head else None,
                "hhi": head.hhi if head else None,
                "hhi_band": head.hhi_band if head else "",
                "complete": head.complete if head else None,
                "import_china_share": with_partners.import_china_share if with_partners else None,
                "imports_basket": mineral.imports_basket,
                "import_year": with_partners.year if with_partners else None,
                "nir": with_nir.import_reliance if with_nir else None,
                "nir_bound": with_nir.nir_published_bound if with_nir else "",
                "nir_estimate": with_nir.nir_published_estimate if with_nir else False,
                "nir_year": with_nir.year if with_nir else None,
                "restricted_supply_share": restricted.share if restricted else None,
                "measures_needing_review": list(restricted.review_measure_keys) if restricted else [],
                "supply_risk": sr.supply_risk if sr else None,
                "supply_risk_above_threshold": sr.above_threshold if sr else None,
                "sources": head.sources if head else [],
                "data_version": mineral.data_version,
                "metrics_version": state.data_version if state and computed_at else None,
                "stale": metrics_stale(mineral),
                "computed_at": computed_at,
                "age_seconds": (now - computed_at).total_seconds() if computed_at else None,
            }
        )
    alternatives = selectors.china_replacement_alternatives(minerals=minerals, heads=heads, as_of=as_of)
    for summary in rows:
        summary["replacement"] = alternatives.get(summary["slug"])
    return {
        "as_of": as_of,
        "destination": destination,
        "published": source_dates(),
        "countries": country_names(),
        "minerals": rows,
        "measures": _measures_panel(inputs.measures, as_of),
        "feoc": sorted(feoc_countries()),
    }


def source_dates() -> dict[str, str | None]:
    """Data source key -> its publication date (ISO), for the data's vintage. One query."""
    return {key: source["published_on"] for key, source in source_catalogue().items()}


def source_catalogue() -> dict[str, dict[str, Any]]:
    """Data source key -> what a page lists of it (publisher, title, edition, URL, publication
    date as ISO or None). One query."""
    rows = DataSource.objects.values("key", "publisher", "title", "edition", "url", "published_on")
    return {
        row["key"]: {**row, "published_on": row["published_on"].isoformat() if row["published_on"] else None}
        for row in rows
    }


def _stage_summary(row: SupplyMetric | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "stage": row.stage,
        "year": row.year,
        "china_share": row.china_share,
        "china_share_upper": row.china_share_upper,
        "feoc_share": row.feoc_share,
        "unknown": row.unknown,
        "withheld": "CHN" in (row.withheld_countries or []),
        "unpublished": "CHN" in (row.unpublished_countries or []),
        "estimate": "CHN" in (row.estimated_countries or []),
        "estimates": bool(row.estimated_countries),
    }


def _measures_panel(measures: Sequence[risk.Measure], as_of: date) -> dict[str, list[str]]:
    """Keys of the restrictions in force on `as_of` and of those needing a curator's review."""
    restrictions = [m for m in measures if m.measure_type != MeasureType.DOMESTIC_SUPPORT]
    return {
        "in_force": sorted(m.key for m in restrictions if risk.in_force(m, as_of)),
        "needs_review": sorted(m.key for m in restrictions if risk.needs_review(m, as_of)),
    }


# --------------------------------------------------------------------------------------------
# Policy measures (tracker, detail, panels)


def _measure_dict(m: PolicyMeasure, as_of: date) -> dict[str, Any]:
    minerals = sorted(m.minerals.all(), key=lambda x: x.name)
    targets = sorted(c.iso3 for c in m.targets.all())
    as_risk = measure_for_risk(m, minerals=(x.slug for x in minerals), targets=targets)
    return {
        "key": m.key,
        "title": m.title,
        "issuer": m.issuer_id,
        "issuer_name": m.issuer.name,
        "measure_type": m.measure_type,
        "measure_type_label": m.get_measure_type_display(),
        "is_restriction": m.measure_type != MeasureType.DOMESTIC_SUPPORT,
        "minerals": [(x.slug, x.name) for x in minerals],
        "targets": targets,
        "hs_codes": [(c.hs6, c.description) for c in sorted(m.commodity_codes.all(), key=lambda c: c.hs6)],
        "announced_on": m.announced_on,
        "effective_on": m.effective_on,
        "suspended_from": m.suspended_from,
        "suspended_until": m.suspended_until,
        # "Suspended until D" includes D: the measure applies again from D + 1 (dashboards.risk).
        "resumes_on": m.suspended_until + timedelta(days=1) if m.suspended_until else None,
        "ended_on": m.ended_on,
        "reviewed_on": m.reviewed_on,
        "instrument": m.instrument,
        "summary": m.summary,
        "source_url": m.source_url,
        "source": (
            {"key": m.source.key, "title": m.source.title, "edition": m.source.edition, "url": m.source.url}
            if m.source
            else None
        ),
        "is_partly_confirmed": m.is_partly_confirmed,
        "severity": _own_severity(as_risk),
        "status": _measure_status(as_risk, as_of),
    }


def _own_severity(measure: risk.Measure) -> float | None:
    try:
        return risk.measure_severity(measure, None)
    except ValueError:  # a type without a default severity (never guessed)
        return None


def _measure_queryset() -> Any:
    return PolicyMeasure.objects.select_related("issuer", "source").prefetch_related(
        "minerals", "targets", "commodity_codes"
    )


def policy_measures_list(*, as_of: date) -> list[dict[str, Any]]:
    """Every measure with its status on `as_of`. Four queries.

    Severities here are the measure's own (override, else the type default); the metrics use
    the curators' per-type table as well (see the mineral pages).
    """
    return [_measure_dict(m, as_of) for m in _measure_queryset().order_by("-effective_on", "key")]


def policy_measure(*, key: str, as_of: date) -> dict[str, Any]:
    """One measure, 404 if unknown. Four queries."""
    found = list(_measure_queryset().filter(key=key))
    if not found:
        raise Http404("No such policy measure.")
    return _measure_dict(found[0], as_of)


def policy_filter_choices() -> dict[str, list[tuple[str, str]]]:
    """Issuers, minerals and targets that occur in measures. Three queries."""
    issuers = Country.objects.filter(issued_measures__isnull=False).distinct().order_by("name")
    targets = Country.objects.filter(targeted_by__isnull=False).distinct().order_by("name")
    minerals = Mineral.objects.order_by("name")
    return {
        "issuer": [(c.iso3, c.name) for c in issuers],
        "target": [(c.iso3, c.name) for c in targets],
        "mineral": [(m.slug, m.name) for m in minerals],
    }


# --------------------------------------------------------------------------------------------
# Mineral page


def mineral_choices() -> list[tuple[str, str]]:
    """(slug, name) of every mineral, by name: the comparison's pickers. One query."""
    return list(Mineral.objects.order_by("name").values_list("slug", "name"))


def mineral_or_404(slug: str) -> Mineral:
    mineral = Mineral.objects.select_related("metrics_state").filter(slug=slug).first()
    if mineral is None:
        raise Http404("No such mineral.")
    return mineral


def mineral_page(
    *, mineral: Mineral, as_of: date, destination: str | None = None, edition: str | None = None
) -> dict[str, Any]:
    """Everything the mineral page shows. The selector's queries + the page's own (a few more with an
    ``edition``: its figures are computed on read, selectors.mineral_metrics)."""
    destination = destination or settings.LODESTONE_DEFAULT_DESTINATION
    metrics = selectors.mineral_metrics(mineral=mineral, as_of=as_of, destination=destination, edition=edition)
    china_rows = (
        ProductionRecord.objects.filter(mineral=mineral)
        .filter(Q(country_id="CHN") | Q(row_kind=ProductionRecord.RowKind.WORLD_TOTAL))
        .values(
            "stage",
            "year",
            "row_kind",
            "quantity",
            "unit",
            "is_estimate",
            "is_withheld",
            "bound",
            "source__key",
            "source__edition",
        )
        .order_by("stage", "year", "source__key", "row_kind")
    )
    editions: dict[tuple[str, int, str], dict[str, Any]] = {}
    for r in china_rows:
        entry = editions.setdefault(
            (r["stage"], r["year"], r["source__key"]),
            {"stage": r["stage"], "year": r["year"], "source": r["source__key"], "edition": r["source__edition"]},
        )
        prefix = "china" if r["row_kind"] == ProductionRecord.RowKind.COUNTRY else "world"
        entry[f"{prefix}_quantity"] = r["quantity"]
        entry[f"{prefix}_withheld"] = r["is_withheld"]
        entry[f"{prefix}_estimate"] = r["is_estimate"]
        entry["unit"] = r["unit"]
    supports = selectors.federal_support_by_facility([mineral.pk])
    facilities = [
        {
            "federal_support": supports.get(f.pk, []),
            "start_year_source": (f.source.title if f.source else f.source_url) if f.start_year else "",
            "key": f.key,
            "name": f.name,
            "company": f.company.name,
            "country": f.country_id,
            "stage": f.stage,
            "stage_label": f.get_stage_display(),
            "capacity": f.capacity,
            "capacity_unit": f.capacity_unit,
            "capacity_basis": f.capacity_basis,
            "status": f.status,
            "start_year": f.start_year,
            "is_fictional": f.is_fictional,
            "source_url": f.source_url,
        }
        for f in Facility.objects.filter(mineral=mineral).select_related("company", "source").order_by("stage", "name")
    ]
    measure_details = {
        m["key"]: m for m in (_measure_dict(x, as_of) for x in _measure_queryset().filter(minerals=mineral))
    }
    source_keys = {s["key"] for row in metrics["supply"] + metrics["imports"] for s in row["sources"]}
    source_keys |= {m["source"]["key"] for m in measure_details.values() if m["source"]}
    sources = list(
        DataSource.objects.filter(key__in=source_keys)
        .order_by("publisher", "key")
        .values("key", "publisher", "title", "edition", "url", "published_on", "licence")
    )
    parameters = list(
        MineralParameter.objects.filter(mineral=mineral)
        .select_related("source")
        .values("name", "value", "source__key", "source__edition", "notes")
    )
    latest: dict[str, Mapping[str, Any]] = {}
    for row in metrics["supply"]:  # newest year first per stage
        latest.setdefault(row["stage"], row)
    stage = risk.dominant_stage({s: row["china_share"] for s, row in latest.items()})
    replacement = None
    if stage:
        head = latest[stage]
        heads = {mineral.pk: selectors.HeadlineTable(stage, head["china_share"], head["world_total"], head["unit"])}
        replacement = selectors.china_replacement_alternatives(minerals=[mineral], heads=heads, as_of=as_of)
    return {
        "replacement": (replacement or {}).get(mineral.slug),
        "mineral": {"slug": mineral.slug, "name": mineral.name, "symbol": mineral.symbol, "notes": mineral.notes},
        # The mineral's HS codes (basket? trade rows?): the imports table names baskets and gaps.
        "trade_codes": metrics["trade_codes"],
        "metrics": metrics,
        "china_by_edition": sorted(editions.values(), key=lambda e: (e["stage"], e["year"], e["source"])),
        "facilities": facilities,
        "measures": measure_details,
        "sources": sources,
        "parameters": parameters,
        "recycling": selectors.recycling_figures([mineral.pk], country=destination, year=as_of.year).get(mineral.pk),
        "countries": country_names(),
        "feoc": sorted(feoc_countries()),
    }


# --------------------------------------------------------------------------------------------
# Portfolio


def organization_for(*, user: Any, slug: str | None = None) -> tuple[Organization, str]:
    """The user's organization (by slug, else the first by name) and the user's role. One query,
    which also reads the organization's exposure rows (count, last computed) that its pages'
    cache key holds (organization_generation).

    Hand-written SQL: the same query through the ORM (a membership with its organization and two
    aggregate subqueries) took 1.8-3 ms of Python to build and compile, against 0.2 ms for
    PostgreSQL to run it; every logged-in page starts here.

    Another organization's slug answers 404 exactly like a missing one: membership is the
    only way in, and its absence is not disclosed.
    """
    by_slug = "AND o.slug = %s" if slug is not None else ""
    rows = Organization.objects.raw(
        f"""SELECT o.*, m.role AS member_role,
                (SELECT COUNT(*) FROM {ExposureMetric._meta.db_table} e WHERE e.organization_id = o.id)
                    AS exposure_rows,
                (SELECT MAX(e.computed_at) FROM {ExposureMetric._meta.db_table} e WHERE e.organization_id = o.id)
                    AS exposure_computed
            FROM {Organization._meta.db_table} o
            JOIN {Membership._meta.db_table} m ON m.organization_id = o.id
            WHERE m.user_id = %s {by_slug}
            ORDER BY o.name
            LIMIT 1""",  # noqa: S608 (table names from the models; values are parameters)
        [user.pk] if slug is None else [user.pk, slug],
    )
    organization = next(iter(rows), None)
    if organization is None:
        raise Http404("No such portfolio.")
    # The last computation as the database returns it (a datetime, or text on SQLite): a key part.
    organization.exposure_stamp = (organization.exposure_rows, organization.exposure_computed)  # type: ignore[attr-defined]
    return organization, organization.member_role  # type: ignore[attr-defined]


# Alternatives and not-alternatives listed per mineral on the portfolio (ranked over all; the
# levers still list every U.S. and recycling source). At 10,000 facilities a mineral has
# hundreds of each: the page shows the best, the API has them all.
PORTFOLIO_ALTERNATIVES_LIMIT = 25


def portfolio(*, organization: Organization, as_of: date) -> dict[str, Any]:
    """Exposure rows, portfolio lines, supply chains, measures and alternatives (the risk
    engine's `organization_alternatives`). A fixed number of queries (pinned in the tests)."""
    exposure = selectors.organization_exposure(organization=organization, today=as_of)
    requirements: list[dict[str, Any]] = [
        {
            "id": r.pk,
            "mineral": r.mineral.slug,
            "mineral_name": r.mineral.name,
            "annual_quantity": r.annual_quantity,
            "unit": r.unit,
            "notes": r.notes,
        }
        for r in Requirement.objects.filter(organization=organization).select_related("mineral")
    ]
    sourcing: list[dict[str, Any]] = [
        {
            "id": s.pk,
            "mineral": s.mineral.slug,
            "mineral_name": s.mineral.name,
            "facility": s.facility.key if s.facility else "",
            "facility_id": s.facility_id,
            "facility_name": s.facility.name if s.facility else "",
            "country": s.country_id,
            "annual_quantity": s.annual_quantity,
            "share": s.share,
            "notes": s.notes,
        }
        for s in Sourcing.objects.filter(organization=organization)
        .select_related("mineral", "facility")
        .order_by("mineral__name", "-annual_quantity", "country_id")
    ]
    held = sorted({r["mineral"] for r in requirements} | {s["mineral"] for s in sourcing})
    mineral_ids = dict(Mineral.objects.filter(slug__in=held).values_list("slug", "id"))
    facility_rows = list(
        Facility.objects.filter(mineral_id__in=mineral_ids.values())
        .select_related("company", "mineral")
        .order_by("mineral__name", "name")
    )
    controlled = feoc_controlled_companies()
    facilities = {
        f.pk: {
            "id": f.pk,
            "key": f.key,
            "name": f.name,
            "company": f.company.name,
            "country": f.country_id,
            "mineral": f.mineral.slug,
            "stage": f.stage,
            "capacity": f.capacity,
            "capacity_unit": f.capacity_unit,
            "status": f.status,
            "start_year": f.start_year,
            "china_controlled": f.country_id == "CHN"
            or f.company.recorded_foreign_control
            or str(f.company_id) in controlled,
        }
        for f in facility_rows
    }
    links = [
        {"upstream": up, "downstream": down, "share": share, "mineral": slug}
        for up, down, share, slug in SupplyLinkModel.objects.filter(mineral_id__in=mineral_ids.values()).values_list(
            "upstream_id", "downstream_id", "share", "mineral__slug"
        )
    ]
    supply: dict[str, dict[str, Any]] = {}
    supply_rows: dict[str, list[SupplyMetric]] = defaultdict(list)
    for row in (
        SupplyMetric.objects.filter(mineral_id__in=mineral_ids.values())
        .select_related("mineral")
        .order_by("mineral_id", "stage", "-year")
    ):
        supply_rows[row.mineral.slug].append(row)
        by_stage = supply.setdefault(row.mineral.slug, {})
        by_stage.setdefault(
            row.stage,
            {
                "year": row.year,
                "unit": row.unit,
                "world_total": row.world_total,
                "country_shares": [list(p) for p in row.country_shares],
            },
        )
    measures = policy_measures(list(mineral_ids.values()))
    severities = severity_by_type()
    hitting = []
    for measure in measures:
        if measure.measure_type == MeasureType.DOMESTIC_SUPPORT:
            continue
        minerals_hit = sorted(slug for slug in held if risk.measure_applies(measure, slug, organization.country_id))
        if not minerals_hit:
            continue
        status = _measure_status(measure, as_of)
        if status not in ("in_force", "needs_review"):
            continue
        hitting.append(
            {
                "key": measure.key,
                "issuer": measure.issuer,
                "measure_type": measure.measure_type,
                "minerals": minerals_hit,
                "severity": risk.measure_severity(measure, severities),
                "status": status,
                "targets": sorted(measure.targets),
            }
        )
    sources = source_catalogue()
    data = {
        "organization": {"name": str(organization), "slug": organization.slug, "country": organization.country_id},
        "as_of": as_of,
        "exposure": exposure,
        "exposure_vintage": {slug: _mix_vintage(rows) for slug, rows in supply_rows.items()},
        "requirements": requirements,
        "sourcing": sourcing,
        "facilities": facilities,
        "links": links,
        "supply": supply,
        "measures": hitting,
        "governance": {iso3: risk.wgi_score(scores) for iso3, scores in selectors.latest_wgi().items()},
        "countries": country_names(),
        "feoc": sorted(feoc_countries()),
        "published": {key: source["published_on"] for key, source in sources.items()},
        "sources": sources,
    }
    # Ranked alternatives come from the risk engine's selector (the same numbers as the API).
    alternatives = selectors.organization_alternatives(
        organization=organization, as_of=as_of, limit=PORTFOLIO_ALTERNATIVES_LIMIT
    )
    data["alternatives"] = {row["mineral"]: row["alternatives"] for row in alternatives}
    data["not_alternatives"] = {row["mineral"]: row["not_alternatives"] for row in alternatives}
    data["levers"] = {row["mineral"]: row["levers"] for row in alternatives}
    data["alternative_gaps"] = [
        {
            **{
                key: row[key]
                for key in ("mineral", "stage", "exposed_volume", "uncovered_volume", "gap_volume", "unit")
            },
            # The first screen adds the minerals up in tonnes (volumes are in each mineral's own unit).
            "tonnes_per_unit": KG_PER_UNIT.get(row["unit"], 1000.0) / KG_PER_UNIT["t"],
        }
        for row in alternatives
    ]
    return data


def _mix_vintage(rows: Sequence[SupplyMetric]) -> dict[str, Any] | None:
    """The production table a buyer's exposure of one mineral falls back on (the recompute's
    choice, inputs.mix_metric) as the data's vintage: its stage, data year, sources and whether
    it holds estimates. The exposure row itself stores only the sources."""
    row = mix_metric(rows)
    if row is None:
        return None
    return {"stage": row.stage, "year": row.year, "sources": row.sources, "estimates": bool(row.estimated_countries)}


def requirement_quantities(*, organization: Organization) -> dict[str, tuple[float, str]]:
    """The organization's requirements now: mineral slug -> (annual quantity, unit). One query."""
    rows = Requirement.objects.filter(organization=organization).values_list("mineral__slug", "annual_quantity", "unit")
    return {slug: (quantity, unit) for slug, quantity, unit in rows}


def requirement_defaults(
    requirements: Sequence[Mapping[str, Any]], canonical_units: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """What picking a mineral fills in on the requirement form: its current quantity and unit,
    or for a mineral not yet required no quantity and the mineral's canonical unit."""
    defaults: dict[str, dict[str, Any]] = {
        slug: {"annual_quantity": None, "unit": unit} for slug, unit in canonical_units.items()
    }
    for r in requirements:
        defaults[r["mineral"]] = {"annual_quantity": r["annual_quantity"], "unit": r["unit"]}
    return defaults


def portfolio_form_choices() -> dict[str, Any]:
    """Minerals, countries and facilities for the portfolio forms. Three queries."""
    minerals = list(Mineral.objects.order_by("name").values_list("slug", "name", "canonical_unit"))
    return {
        "minerals": [(slug, name) for slug, name, _ in minerals],
        "canonical_units": {slug: unit for slug, _, unit in minerals},
        "countries": list(Country.objects.order_by("name").values_list("iso3", "name")),
        "facilities": list(
            Facility.objects.select_related("mineral").order_by("mineral__name", "name").values_list("key", "name")
        ),
    }
