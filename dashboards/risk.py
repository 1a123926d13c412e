"""Lodestone's risk engine: the metrics of docs/metrics.md as pure functions.

Frozen dataclasses in, frozen dataclasses out; standard library only, no Django, no I/O, so
every number on a dashboard can be reproduced from its inputs in a plain Python shell.

Conventions used throughout:

* Countries are ISO 3166-1 alpha-3 codes (``"CHN"``); the caller maps names before calling.
* Shares are fractions in [0, 1], never percent. HHI values use the US DOJ 0..10,000 scale.
* A share that cannot be known (withheld value, empty portfolio, zero denominator) is
  ``None``, never ``0.0``; each result says why through its flags.
* Quantities are in the caller's base unit (kg, t or USD); only ratios are computed here, so
  every input to one call must share a unit.

Sections follow the metric definitions of the design (docs/metrics.md says what is implemented
and decided): 1 supply concentration, 2 import dependence, 3 policy exposure, 4 EU-method
supply risk, 5 buyer exposure and alternatives, 6 staleness.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from statistics import median
from types import MappingProxyType
from typing import Any, Final, Literal

from minerals.policy_terms import DEFAULT_SEVERITY, MeasureType

__all__ = [
    "ALTERNATIVE_WEIGHTS",
    "CHINA",
    "CHINA_GROUP",
    "CONTROL_THRESHOLD",
    "DEFAULT_DESTINATION",
    "DEFAULT_SEVERITY",
    "FEOC",
    "LEVER_NODE_IDS",
    "ORIGIN_CLASSES",
    "PLAN_YEARS",
    "PRIMARY_STAGES",
    "SUPPLY_RISK_THRESHOLD",
    "Alternative",
    "AlternativeSource",
    "Concentration",
    "Exposure",
    "FacilityNode",
    "ImportDependence",
    "ImportFlow",
    "Link",
    "Measure",
    "MeasureType",
    "NotAlternative",
    "OriginYear",
    "PlanMove",
    "ProductionFigure",
    "RankRow",
    "Restriction",
    "RestrictionContribution",
    "SourcingLine",
    "Stake",
    "SupplyRisk",
    "alternative_factors",
    "alternative_rank_row",
    "available_from",
    "buyer_exposure",
    "controlled_companies",
    "country_severity",
    "effective_ownership",
    "feoc_upstream",
    "hhi_band",
    "hhi_wgi_t",
    "import_dependence",
    "in_force",
    "is_rankable",
    "is_stale",
    "is_suspended",
    "lever_node",
    "line_passthroughs",
    "measure_applies",
    "measure_severity",
    "needs_review",
    "net_import_reliance",
    "not_alternative_reason",
    "not_alternatives",
    "origin_volumes",
    "planned_lines",
    "processing_step",
    "rank_alternatives",
    "rank_order",
    "ranked_alternative",
    "recycled_supply",
    "restricted_import_share",
    "restricted_share",
    "restricted_supply_share",
    "restriction_breakdown",
    "stage_match",
    "supply_concentration",
    "supply_risk",
    "trade_factor",
    "transition_plan",
    "wgi_score",
]

CHINA: Final = "CHN"
"""ISO3 code of the People's Republic of China (mainland)."""

FEOC: Final[frozenset[str]] = frozenset({"CHN", "RUS", "PRK", "IRN"})
"""Foreign entities of concern (U.S. usage): China, Russia, North Korea, Iran."""

CHINA_GROUP: Final[frozenset[str]] = frozenset({"CHN", "HKG", "MAC"})
"""Exporters counted as China in import shares (as USGS does): mainland, Hong Kong, Macao."""

DEFAULT_DESTINATION: Final = "USA"
CONTROL_THRESHOLD: Final = 0.25
"""FEOC ownership at or above which a company is China-controlled (U.S. FEOC rule)."""

SUPPLY_RISK_THRESHOLD: Final = 1.0
"""EU criticality threshold on supply risk (SR >= 1.0)."""

HHI_MODERATE_FROM: Final = 1500.0
HHI_HIGH_ABOVE: Final = 2500.0

IMPORT_HHI_MIN_COVERAGE: Final = 0.9
"""Import HHI (and its band) only when named partners hold at least 90 % of the total: the
unnamed rest r could be one partner (HHI up to known + 10,000 r^2) or many, so with 2.5 % named
the HHI says nothing and "low" would be a guess. At 90 % the rest adds at most 100 points."""

QUANTITY_COMPLETE_TOLERANCE: Final = 1e-9
"""One flow with a value but no quantity makes every quantity share unknown (``import_dependence``
checks each flow). The set-based statement (``metric_sql``) sees sums only: quantities are known
there when the flows reporting one hold the whole value to this relative tolerance (summation
order), so the two differ only for a flow worth less than 1e-9 of the total."""

PRIMARY_STAGES: Final[frozenset[str]] = frozenset({"mine", "recycling"})
"""Facility stages that create material rather than transform inputs: no upstream fallback."""

_EPSILON: Final = 1e-9

HhiBand = Literal["low", "moderate", "high"]
WorldTotalSource = Literal["published", "sum_of_countries", "none"]
AlternativeKind = Literal["country", "facility", "us_project", "recycling"]
ProjectStatus = Literal["operating", "construction", "planned", ""]


# --------------------------------------------------------------------------------------------
# shared checks


def _require_fraction(name: str, value: float) -> None:
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")


def _require_non_negative(name: str, value: float) -> None:
    if math.isnan(value) or value < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _known_shares(shares: Mapping[str, float | None]) -> dict[str, float]:
    """The shares whose value is known, validated as fractions."""
    known: dict[str, float] = {}
    for country, share in shares.items():
        if share is None:
            continue
        _require_fraction(f"share of {country}", share)
        known[country] = share
    return known


def _ranked(shares: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """Shares sorted largest first, ties broken by country code (deterministic)."""
    return tuple(sorted(shares.items(), key=lambda item: (-item[1], item[0])))


def hhi_band(hhi: float) -> HhiBand:
    """US DOJ concentration band of an HHI on the 0..10,000 scale.

    ``hhi < 1,500`` -> ``"low"``; ``1,500 <= hhi <= 2,500`` -> ``"moderate"``;
    ``hhi > 2,500`` -> ``"high"`` (both boundaries belong to "moderate").
    """
    if hhi < HHI_MODERATE_FROM:
        return "low"
    if hhi <= HHI_HIGH_ABOVE:
        return "moderate"
    return "high"


def _hhi(shares: Iterable[float]) -> float:
    """``10,000 * sum s^2`` for shares given as fractions."""
    return 10_000.0 * math.fsum(share * share for share in shares)


# --------------------------------------------------------------------------------------------
# 1. Supply concentration, per (mineral, stage, year)


@dataclass(frozen=True, slots=True)
class ProductionFigure:
    """One country row of a production table (never an "Other countries" or world row).

    ``quantity`` in the table's unit; ``None`` when not available. ``withheld`` marks a value
    withheld to avoid disclosing company data (USGS "W"): its share is unknown, never zero.
    ``bound`` keeps a published qualifier such as ``">"`` or ``"<"``; the quantity is then
    used as given and the country is listed in ``Concentration.bounded_countries``.
    """

    country: str
    quantity: float | None
    withheld: bool = False
    bound: str = ""
    estimate: bool = False

    @property
    def known(self) -> bool:
        """True when the row carries a usable quantity."""
        return not self.withheld and self.quantity is not None


@dataclass(frozen=True, slots=True)
class Concentration:
    """Supply concentration of one (mineral, stage, year); see ``supply_concentration``.

    ``country_shares`` lists every country row, largest share first, ``None`` when unknown.
    ``withheld_countries`` (USGS ``W``) and ``unpublished_countries`` (``NA`` or empty) are
    both unknown, told apart for display. China absent from the table: ``china_share`` is
    ``None`` and ``china_share_upper`` the "Other countries" share when that row is published.
    ``complete`` is False when some country's value is unknown or China is absent: ``feoc_share``,
    ``top3_share`` and ``hhi`` are then computed over the known rows only (lower bounds).
    ``unknown`` is True when no world total can be established (every share is ``None``).
    """

    world_total: float | None
    world_total_source: WorldTotalSource
    coverage: float | None
    residual_share: float | None
    country_shares: tuple[tuple[str, float | None], ...]
    china_share: float | None
    feoc_share: float | None
    top3_share: float | None
    hhi: float | None
    hhi_band: HhiBand | None
    withheld_countries: tuple[str, ...]
    bounded_countries: tuple[str, ...]
    complete: bool
    unknown: bool
    unpublished_countries: tuple[str, ...] = ()
    china_share_upper: float | None = None
    estimated_countries: tuple[str, ...] = ()

    @property
    def shares(self) -> Mapping[str, float | None]:
        """Country -> share, for ``restricted_share`` and ``supply_risk``."""
        return dict(self.country_shares)


def supply_concentration(
    figures: Sequence[ProductionFigure],
    world_total: float | None = None,
    *,
    residual: float | None = None,
    feoc: frozenset[str] = FEOC,
) -> Concentration:
    """Shares, FEOC share, top-3 share and HHI of world production (section 1).

    ``W`` = ``world_total`` as published (same unit as the rows) when given and > 0, else the
    sum of the known country rows plus ``residual``. ``residual`` is the "Other countries"
    row, passed separately because it is not a country: it counts in ``W`` when ``W`` is
    summed, never in shares, top 3 or HHI.

    * ``p_c = P_c / W`` (fraction); a withheld or missing value gives ``p_c = None``.
    * ``coverage = sum(known country rows) / W`` (fraction; may exceed 1 by rounding of W).
    * ``china_share = p_CHN`` (``None`` if China's value is unknown or China is not listed:
      USGS lists the main producers and folds the rest into "Other countries", so absent is
      unknown, at most the residual, never 0). ``feoc_share = sum p_c over feoc``; ``top3_share`` = sum of the three
      largest known shares; ``hhi = 10,000 * sum p_c^2`` over known country rows (0..10,000).
    """
    seen: set[str] = set()
    for figure in figures:
        if figure.country in seen:
            raise ValueError(f"duplicate production row for {figure.country}")
        seen.add(figure.country)
        if figure.quantity is not None:
            _require_non_negative(f"production of {figure.country}", figure.quantity)
    if world_total is not None:
        _require_non_negative("world_total", world_total)
    if residual is not None:
        _require_non_negative("residual", residual)

    known = {f.country: f.quantity for f in figures if f.known and f.quantity is not None}
    unknown_rows = tuple(sorted(f.country for f in figures if not f.known))
    withheld = tuple(sorted(f.country for f in figures if f.withheld))
    unpublished = tuple(c for c in unknown_rows if c not in withheld)
    bounded = tuple(sorted(f.country for f in figures if f.known and f.bound))
    estimated = tuple(sorted(f.country for f in figures if f.known and f.estimate))
    china_listed = CHINA in seen
    complete = not unknown_rows and china_listed

    total: float | None
    source: WorldTotalSource
    if world_total is not None and world_total > 0:
        total, source = world_total, "published"
    else:
        summed = math.fsum(known.values()) + (residual or 0.0)
        total, source = (summed, "sum_of_countries") if summed > 0 else (None, "none")

    if total is None:
        return Concentration(
            world_total=None,
            world_total_source="none",
            coverage=None,
            residual_share=None,
            country_shares=tuple((f.country, None) for f in figures),
            china_share=None,
            feoc_share=None,
            top3_share=None,
            hhi=None,
            hhi_band=None,
            withheld_countries=withheld,
            bounded_countries=bounded,
            complete=complete,
            unknown=True,
            unpublished_countries=unpublished,
            estimated_countries=estimated,
        )

    shares = {country: quantity / total for country, quantity in known.items()}
    ranked: list[tuple[str, float | None]] = list(_ranked(shares))
    ranked.extend((country, None) for country in unknown_rows)

    china_share = shares.get(CHINA)
    china_upper = residual / total if residual is not None and not china_listed else None

    feoc_share = top3_share = hhi = None
    band: HhiBand | None = None
    if shares:
        feoc_share = math.fsum(s for c, s in shares.items() if c in feoc)
        top3_share = math.fsum(sorted(shares.values(), reverse=True)[:3])
        hhi = _hhi(shares.values())
        band = hhi_band(hhi)

    return Concentration(
        world_total=total,
        world_total_source=source,
        coverage=math.fsum(known.values()) / total,
        residual_share=None if residual is None else residual / total,
        country_shares=tuple(ranked),
        china_share=china_share,
        feoc_share=feoc_share,
        top3_share=top3_share,
        hhi=hhi,
        hhi_band=band,
        withheld_countries=withheld,
        bounded_countries=bounded,
        complete=complete,
        unknown=False,
        unpublished_countries=unpublished,
        china_share_upper=china_upper,
        estimated_countries=estimated,
    )


STAGE_ORDER: Final = ("refinery", "mine", "component", "recycling")
"""Tie order of ``dominant_stage``: processing first (where China's hold is usually strongest)."""


def dominant_stage(china_share_by_stage: Mapping[str, float | None]) -> str | None:
    """The stage a mineral is ranked and coloured by: the one most dominated by China among
    those with a known China share (cobalt: refining ~75 % over mining ~0 %), ties and the
    all-unknown case in ``STAGE_ORDER``. ``None`` when no stage is given."""
    if not china_share_by_stage:
        return None
    rank = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    stages = sorted(china_share_by_stage, key=lambda s: rank.get(s, len(rank)))
    known = [s for s in stages if china_share_by_stage[s] is not None]
    if not known:
        return stages[0]
    return max(known, key=lambda s: (china_share_by_stage[s], -rank.get(s, len(rank))))


# --------------------------------------------------------------------------------------------
# 2. Import dependence, per (mineral, destination, year)


@dataclass(frozen=True, slots=True)
class ImportFlow:
    """One trade flow into the destination: value in USD, quantity in kg when reported.

    ``exporter`` is ``None`` for an unknown partner ("Areas, nes", confidential). A "World"
    aggregate row is a total, not a flow: never pass it.
    """

    exporter: str | None
    value_usd: float
    quantity_kg: float | None = None


@dataclass(frozen=True, slots=True)
class ImportDependence:
    """Import shares of one (mineral, destination, year); see ``import_dependence``.

    Partner shares merge the China group into ``"CHN"`` and are ranked largest first; their
    denominator includes flows from unknown partners, so they sum to ``import_coverage``.
    The ``*_by_quantity`` fields use only flows that report a quantity. ``partners`` holds
    the amounts behind the shares, ``(iso3, value_usd, quantity_kg or None)`` largest value
    first (ties by code): what is stored, the shares follow from it (``ranked_partner_shares``).
    """

    total_value_usd: float
    import_coverage: float | None
    partners: tuple[tuple[str, float, float | None], ...]
    partner_shares: tuple[tuple[str, float], ...]
    import_china_share: float | None
    import_feoc_share: float | None
    import_hhi: float | None
    import_hhi_band: HhiBand | None
    top_import_sources: tuple[tuple[str, float], ...]
    total_quantity_kg: float | None
    quantity_coverage: float | None
    partner_shares_by_quantity: tuple[tuple[str, float], ...]
    import_china_share_by_quantity: float | None
    import_feoc_share_by_quantity: float | None
    import_hhi_by_quantity: float | None
    top_import_sources_by_quantity: tuple[tuple[str, float], ...]

    @property
    def shares(self) -> Mapping[str, float | None]:
        """Partner -> value share, for ``restricted_import_share`` and ``supply_risk``."""
        return dict(self.partner_shares)


@dataclass(frozen=True, slots=True)
class _ShareSummary:
    ranked: tuple[tuple[str, float], ...]
    china: float | None
    feoc: float | None
    hhi: float | None


def ranked_partner_amounts(
    value_by_partner: Mapping[str, float], quantity_by_partner: Mapping[str, float]
) -> tuple[tuple[str, float, float | None], ...]:
    """``(iso3, value_usd, quantity_kg or None)`` largest value first, ties by code."""
    return tuple(
        (partner, value, quantity_by_partner.get(partner))
        for partner, value in sorted(value_by_partner.items(), key=lambda item: (-item[1], item[0]))
    )


def ranked_partner_shares(
    partners: Iterable[Sequence[Any]], total: float | None, *, by_quantity: bool = False
) -> tuple[tuple[str, float], ...]:
    """Partner shares ``amount / total`` ranked largest first (ties by code) from the
    ``(iso3, value_usd, quantity_kg or None)`` amounts; by quantity, partners without one are
    left out. Empty when the total is unknown or not positive (every share unknown)."""
    if total is None or total <= 0:
        return ()
    column = 2 if by_quantity else 1
    return _ranked({p[0]: p[column] / total for p in partners if p[column] is not None})


def _summarise(totals: Mapping[str, float], denominator: float, feoc_keys: frozenset[str]) -> _ShareSummary:
    if denominator <= 0:
        return _ShareSummary(ranked=(), china=None, feoc=None, hhi=None)
    shares = {partner: amount / denominator for partner, amount in totals.items()}
    return _ShareSummary(
        ranked=_ranked(shares),
        china=shares.get(CHINA, 0.0),
        feoc=math.fsum(s for p, s in shares.items() if p in feoc_keys),
        hhi=_hhi(shares.values()),
    )


def import_dependence(
    flows: Sequence[ImportFlow],
    *,
    china_group: frozenset[str] = CHINA_GROUP,
    feoc: frozenset[str] = FEOC,
    top_n: int = 5,
) -> ImportDependence:
    """Who supplies the destination's imports (section 2).

    Exporters in ``china_group`` (default CHN, HKG, MAC) are merged into ``"CHN"``.
    ``i_c = V_c / V`` with ``V`` the total value (USD) of all flows, unknown partners
    included. ``import_coverage = V_known / V``. ``import_china_share = i_CHN``;
    ``import_feoc_share = sum i_c over feoc`` (China group included when CHN is in feoc);
    ``import_hhi = 10,000 * sum i_c^2`` over known partners (0..10,000);
    ``top_import_sources`` = the ``top_n`` largest ``(iso3, i_c)``. The same by quantity
    (kg) over flows that report one; ``quantity_coverage`` = value share of such flows.
    With no value at all every share is ``None``.
    """
    value_by_partner: dict[str, float] = {}
    quantity_by_partner: dict[str, float] = {}
    total_value = 0.0
    total_quantity = 0.0
    value_with_quantity = 0.0
    has_quantity = False
    for flow in flows:
        _require_non_negative("value_usd", flow.value_usd)
        partner: str | None = flow.exporter
        if partner is not None and partner in china_group:
            partner = CHINA
        total_value += flow.value_usd
        if partner is not None:
            value_by_partner[partner] = value_by_partner.get(partner, 0.0) + flow.value_usd
        if flow.quantity_kg is not None:
            _require_non_negative("quantity_kg", flow.quantity_kg)
            has_quantity = True
            total_quantity += flow.quantity_kg
            value_with_quantity += flow.value_usd
            if partner is not None:
                quantity_by_partner[partner] = quantity_by_partner.get(partner, 0.0) + flow.quantity_kg

    feoc_keys = frozenset(CHINA if c in china_group else c for c in feoc)
    # A flow without quantity (a World total without one, too) leaves the total quantity
    # unknown: shares over the flows that report one would be shares of a part (100 % China).
    quantity_known = has_quantity and not any(f.quantity_kg is None and f.value_usd > 0 for f in flows)
    by_value = _summarise(value_by_partner, total_value, feoc_keys)
    by_quantity = _summarise(quantity_by_partner, total_quantity if quantity_known else 0.0, feoc_keys)
    known_value = math.fsum(value_by_partner.values())
    known_quantity = math.fsum(quantity_by_partner.values())
    value_hhi = by_value.hhi if known_value >= IMPORT_HHI_MIN_COVERAGE * total_value else None
    quantity_hhi = by_quantity.hhi if known_quantity >= IMPORT_HHI_MIN_COVERAGE * total_quantity else None
    return ImportDependence(
        total_value_usd=total_value,
        import_coverage=known_value / total_value if total_value > 0 else None,
        partners=ranked_partner_amounts(value_by_partner, quantity_by_partner),
        partner_shares=by_value.ranked,
        import_china_share=by_value.china,
        import_feoc_share=by_value.feoc,
        import_hhi=value_hhi,
        import_hhi_band=None if value_hhi is None else hhi_band(value_hhi),
        top_import_sources=by_value.ranked[:top_n],
        total_quantity_kg=total_quantity if quantity_known else None,
        quantity_coverage=value_with_quantity / total_value if total_value > 0 else None,
        partner_shares_by_quantity=by_quantity.ranked,
        import_china_share_by_quantity=by_quantity.china,
        import_feoc_share_by_quantity=by_quantity.feoc,
        import_hhi_by_quantity=quantity_hhi,
        top_import_sources_by_quantity=by_quantity.ranked[:top_n],
    )


def published_import_reliance(
    value_percent: float | None, *, bound: str, withheld: bool, net_exporter: bool
) -> float | None:
    """The published NIR as a fraction: the headline figure and the ``IR`` of ``supply_risk``.

    USGS ``E`` (net exporter) is 0 for the formula; a bound (``>50``) keeps its number, the
    bound is shown beside it; withheld or not published is ``None``, never 0.
    """
    if withheld:
        return None
    if value_percent is None:
        return 0.0 if net_exporter else None
    _require_non_negative("net import reliance", value_percent)
    return min(1.0, value_percent / 100.0)


# Why trade quantities cannot be set against production (ImportMetric.nir_note, 100 characters).
NIR_BASKET = "a basket HS code among the imports: quantities are not this mineral's alone"
NIR_GROSS_WEIGHT = "trade in gross product weight, production in content: not comparable"


def nir_comparability(mapped_codes: Iterable[tuple[bool, str]]) -> str:
    """Why the computed NIR of a mineral is not sound, from its mapped codes as
    ``(is_basket, quantity_basis)`` pairs ("" when it is).

    ``imports - exports`` is set against production, so every code must weigh what production
    counts: a basket code (811292: Ga, Ge, In, Nb, V) weighs other products too, and a code in
    gross product weight (ores, oxides, compounds) is not contained metal. No mapped code at
    all gives "" (then there are no trade figures, which ``nir_unknown_reason`` says).
    """
    codes = list(mapped_codes)
    if any(is_basket for is_basket, _ in codes):
        return NIR_BASKET
    if any(basis != "content" for _, basis in codes):
        return NIR_GROSS_WEIGHT
    return ""


def nir_unknown_reason(
    production: float | None,
    imports: float | None,
    exports: float | None,
    *,
    has_trade: bool,
    not_comparable: str = "",
) -> str:
    """Why the computed NIR is ``None`` for these inputs ("" when it is a number);
    ``not_comparable`` is ``nir_comparability``'s reason."""
    if not has_trade:
        return "no trade figures"
    if not_comparable:
        return not_comparable
    if imports is None:
        return "import quantities unknown (a flow or World total without quantity)"
    if exports is None:
        return "no export records: exports unknown"
    if production is None:
        return "production unknown (withheld or no production table)"
    if production + imports - exports <= 0:
        return "apparent consumption not positive"
    return ""


def net_import_reliance(production: float | None, imports: float | None, exports: float | None) -> float | None:
    """Net import reliance ``(imports - exports) / (production + imports - exports)``.

    All three in the same unit; the result is a fraction clamped to [0, 1] (net exporters
    give 0, re-export artefacts above 1 give 1). ``None`` when any input is unknown or the
    apparent consumption ``production + imports - exports`` is <= 0.
    """
    if production is None or imports is None or exports is None:
        return None
    consumption = production + imports - exports
    if consumption <= 0:
        return None
    return min(1.0, max(0.0, (imports - exports) / consumption))


# --------------------------------------------------------------------------------------------
# 3. Policy exposure, per (mineral, destination, as_of)


@dataclass(frozen=True, slots=True)
class Measure:
    """A policy measure by ``issuer`` on ``minerals`` (mineral keys, at least one).

    ``targets`` are the destinations it applies to; empty means every destination.
    ``effective_on`` ``None`` means announced but not yet effective (not in force).
    The suspension window is ``[suspended_from, suspended_until]``, both days included: the
    announcements say "suspended until 27 November 2026", so the measure applies again from the
    day after ``suspended_until``. A missing start means "since effective", a missing end means
    "until further notice". ``reviewed_on`` records
    that a curator confirmed the measure after its suspension ran out.
    """

    key: str
    issuer: str
    measure_type: str
    minerals: frozenset[str]
    targets: frozenset[str] = frozenset()
    effective_on: date | None = None
    suspended_from: date | None = None
    suspended_until: date | None = None
    ended_on: date | None = None
    severity_override: float | None = None
    reviewed_on: date | None = None


def is_suspended(measure: Measure, as_of: date) -> bool:
    """True when ``as_of`` falls inside ``[suspended_from, suspended_until]`` (both days included)."""
    if measure.suspended_from is None and measure.suspended_until is None:
        return False
    after_start = measure.suspended_from is None or measure.suspended_from <= as_of
    before_end = measure.suspended_until is None or as_of <= measure.suspended_until
    return after_start and before_end


def _ended(measure: Measure, as_of: date) -> bool:
    return measure.ended_on is not None and measure.ended_on <= as_of


def in_force(measure: Measure, as_of: date) -> bool:
    """``effective_on <= as_of`` and not ended (``ended_on <= as_of``) and not suspended.

    A suspension that has run out puts the measure back in force (see ``needs_review``).
    """
    if measure.effective_on is None or measure.effective_on > as_of:
        return False
    return not _ended(measure, as_of) and not is_suspended(measure, as_of)


def needs_review(measure: Measure, as_of: date) -> bool:
    """True when a suspension ran out (``suspended_until < as_of``) on a measure not ended.

    The measure is back in force; a curator should confirm it or record an end or a new
    suspension. Recording ``reviewed_on >= suspended_until`` clears the flag.
    """
    if measure.suspended_until is None or measure.suspended_until >= as_of:
        return False
    if _ended(measure, as_of):
        return False
    return measure.reviewed_on is None or measure.reviewed_on < measure.suspended_until


def measure_applies(measure: Measure, mineral: str, destination: str) -> bool:
    """True when the measure covers ``mineral`` and targets ``destination`` (empty = all)."""
    if mineral not in measure.minerals:
        return False
    return not measure.targets or destination in measure.targets


def measure_severity(measure: Measure, severity_by_type: Mapping[str, float] | None = None) -> float:
    """Severity in [0, 1]: the measure's override, else ``severity_by_type``, else default.

    Raises ``ValueError`` for a type with no severity anywhere (never guessed).
    """
    if measure.severity_override is not None:
        severity = measure.severity_override
    elif severity_by_type is not None and measure.measure_type in severity_by_type:
        severity = severity_by_type[measure.measure_type]
    elif measure.measure_type in DEFAULT_SEVERITY:
        severity = DEFAULT_SEVERITY[measure.measure_type]
    else:
        raise ValueError(f"no severity for measure type {measure.measure_type!r}")
    _require_fraction(f"severity of {measure.key}", severity)
    return severity


def _relevant_measures(
    measures: Iterable[Measure], issuer: str, mineral: str, destination: str, as_of: date
) -> list[Measure]:
    if issuer == destination:
        return []  # a country's export measures never apply to its own market
    return [
        m for m in measures if m.issuer == issuer and in_force(m, as_of) and measure_applies(m, mineral, destination)
    ]


def country_severity(
    measures: Iterable[Measure],
    issuer: str,
    mineral: str,
    destination: str,
    as_of: date,
    severity_by_type: Mapping[str, float] | None = None,
) -> float:
    """Max severity (0..1) of measures in force by ``issuer`` on ``mineral`` targeting
    ``destination``; 0.0 when none, and 0.0 when ``issuer == destination``."""
    relevant = _relevant_measures(measures, issuer, mineral, destination, as_of)
    return max((measure_severity(m, severity_by_type) for m in relevant), default=0.0)


@dataclass(frozen=True, slots=True)
class RestrictionContribution:
    """One country's part of a restricted share: ``share * severity``."""

    country: str
    share: float
    severity: float
    restricted: float
    measure_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Restriction:
    """Breakdown of ``restricted_share``; ``partial`` when some shares were unknown."""

    share: float | None
    contributions: tuple[RestrictionContribution, ...]
    review_measure_keys: tuple[str, ...]
    partial: bool


def restriction_breakdown(
    shares: Mapping[str, float | None],
    measures: Sequence[Measure],
    *,
    mineral: str,
    destination: str = DEFAULT_DESTINATION,
    as_of: date,
    severity_by_type: Mapping[str, float] | None = None,
) -> Restriction:
    """``restricted_share`` with each country's contribution and the measures behind it.

    ``share = sum_c p_c * severity_c`` (fraction) over known shares, where ``severity_c`` is
    ``country_severity``. ``None`` when no share is known. ``review_measure_keys`` lists
    measures by the listed countries on the mineral that ``needs_review`` on ``as_of``.
    """
    known = _known_shares(shares)
    contributions: list[RestrictionContribution] = []
    for country, share in _ranked(known):
        relevant = _relevant_measures(measures, country, mineral, destination, as_of)
        if not relevant:
            continue
        severity = max(measure_severity(m, severity_by_type) for m in relevant)
        if severity <= 0:
            continue
        keys = tuple(sorted(m.key for m in relevant if measure_severity(m, severity_by_type) == severity))
        contributions.append(RestrictionContribution(country, share, severity, share * severity, keys))
    review = tuple(
        sorted(m.key for m in measures if m.issuer in shares and mineral in m.minerals and needs_review(m, as_of))
    )
    return Restriction(
        share=math.fsum(c.restricted for c in contributions) if known else None,
        contributions=tuple(contributions),
        review_measure_keys=review,
        partial=len(known) < len(shares),
    )


def restricted_share(
    shares: Mapping[str, float | None],
    measures: Sequence[Measure],
    *,
    mineral: str,
    destination: str = DEFAULT_DESTINATION,
    as_of: date,
    severity_by_type: Mapping[str, float] | None = None,
) -> float | None:
    """``sum_c p_c * max severity of measures in force by c on mineral targeting destination``.

    A fraction in [0, 1]. Pass production shares for ``restricted_supply_share`` or import
    shares for ``restricted_import_share``. Unknown (``None``) shares are skipped; ``None``
    when no share is known. See ``restriction_breakdown`` for the detail.
    """
    return restriction_breakdown(
        shares,
        measures,
        mineral=mineral,
        destination=destination,
        as_of=as_of,
        severity_by_type=severity_by_type,
    ).share


restricted_supply_share = restricted_share
"""``restricted_share`` over production shares p_c (``Concentration.shares``)."""

restricted_import_share = restricted_share
"""``restricted_share`` over import shares i_c (``ImportDependence.shares``)."""


# --------------------------------------------------------------------------------------------
# 4. EU-method supply risk, per (mineral, stage, destination, year)


def wgi_score(estimates: Iterable[float]) -> float:
    """Governance score 0..10 (10 worst) ``= (2.5 - mean of the WGI estimates) * 2``.

    ``estimates`` are the World Bank WGI estimates (each about -2.5..2.5), normally six;
    the mean of those given is used (a stored mean may be passed alone). Not clamped.
    """
    values = list(estimates)
    if not values:
        raise ValueError("wgi_score needs at least one estimate")
    return (2.5 - math.fsum(values) / len(values)) * 2.0


def trade_factor(severity: float) -> float:
    """EU trade-restriction factor ``t = 1 + 0.5 * severity`` (ban 1.5, licence 1.1)."""
    _require_fraction("severity", severity)
    return 1.0 + 0.5 * severity


def hhi_wgi_t(shares: Mapping[str, float], scores: Mapping[str, float], factors: Mapping[str, float]) -> float:
    """``HHI_WGI,t = sum_c S_c^2 * WGI_c * t_c`` (S fraction, WGI 0..10, t ~0.8..1.5).

    Every country with a share needs a score; ``t_c`` defaults to 1.0.
    """
    return math.fsum(share * share * scores[country] * factors.get(country, 1.0) for country, share in shares.items())


@dataclass(frozen=True, slots=True)
class SupplyRisk:
    """Breakdown of the EU supply risk; ``supply_risk`` is ``None`` when IR or WGI is missing.

    ``flags`` name every default or imputation used: ``wgi_imputed``, ``no_wgi``,
    ``import_reliance_unknown``, ``eol_rir_default``, ``substitution_index_default``,
    ``shares_partial``.
    """

    hhi_wgi_t_global: float | None
    hhi_wgi_t_sourcing: float | None
    import_reliance: float | None
    eol_rir: float
    substitution_index: float
    supply_risk: float | None
    above_threshold: bool | None
    wgi_scores: tuple[tuple[str, float], ...]
    wgi_imputed: tuple[str, ...]
    wgi_median: float | None
    trade_factors: tuple[tuple[str, float], ...]
    flags: tuple[str, ...]


def supply_risk(
    *,
    global_shares: Mapping[str, float | None],
    sourcing_shares: Mapping[str, float | None],
    wgi_estimates: Mapping[str, Sequence[float]],
    import_reliance: float | None,
    mineral: str,
    destination: str = DEFAULT_DESTINATION,
    as_of: date,
    measures: Sequence[Measure] = (),
    eol_rir: float | None = None,
    substitution_index: float | None = None,
    t_overrides: Mapping[str, float] | None = None,
    severity_by_type: Mapping[str, float] | None = None,
) -> SupplyRisk:
    """EU (2017) supply risk, dimensionless:

    ``SR = [HHI_WGI,t(global) * IR/2 + HHI_WGI,t(sourcing) * (1 - IR/2)] * (1 - EoL_RIR) * SI``

    * ``global_shares``: world production shares of the stage; ``sourcing_shares``: the
      destination's sourcing (import shares, or its actual supply mix), fractions.
    * ``WGI_c = wgi_score(wgi_estimates[c])``; a country without estimates gets the median
      score of all countries in ``wgi_estimates`` and is listed in ``wgi_imputed``.
    * ``t_c = 1 + 0.5 * country_severity(c -> destination)``, or ``t_overrides[c]``.
    * ``IR`` = net import reliance (fraction); ``EoL_RIR`` defaults to 0 and ``SI`` to 1
      when ``None`` (flagged). ``above_threshold`` = ``SR >= 1.0``.
    """
    flags: list[str] = []
    if import_reliance is not None:
        _require_fraction("import_reliance", import_reliance)
    if eol_rir is None:
        flags.append("eol_rir_default")
        eol_rir = 0.0
    _require_fraction("eol_rir", eol_rir)
    if substitution_index is None:
        flags.append("substitution_index_default")
        substitution_index = 1.0
    _require_fraction("substitution_index", substitution_index)

    global_known = _known_shares(global_shares)
    sourcing_known = _known_shares(sourcing_shares)
    if len(global_known) < len(global_shares) or len(sourcing_known) < len(sourcing_shares):
        flags.append("shares_partial")

    scores_all = {c: wgi_score(e) for c, e in wgi_estimates.items()}
    countries = sorted(set(global_known) | set(sourcing_known))
    wgi_med = median(scores_all.values()) if scores_all else None
    imputed = tuple(c for c in countries if c not in scores_all)
    if imputed:
        flags.append("wgi_imputed" if wgi_med is not None else "no_wgi")

    overrides = t_overrides or {}
    factors = {
        c: overrides[c]
        if c in overrides
        else trade_factor(country_severity(measures, c, mineral, destination, as_of, severity_by_type))
        for c in countries
    }

    global_part = sourcing_part = sr = None
    above: bool | None = None
    if not global_known:
        # Every producer withheld (germanium): the concentration is unknown, so is the risk, never 0.
        flags.append("no_known_shares")
    elif wgi_med is not None or not imputed:
        scores = {c: scores_all.get(c, wgi_med or 0.0) for c in countries}
        global_part = hhi_wgi_t(global_known, scores, factors)
        sourcing_part = hhi_wgi_t(sourcing_known, scores, factors)
        if import_reliance is not None:
            half = import_reliance / 2.0
            sr = (global_part * half + sourcing_part * (1.0 - half)) * (1.0 - eol_rir) * substitution_index
            above = sr >= SUPPLY_RISK_THRESHOLD
    if import_reliance is None:
        flags.append("import_reliance_unknown")

    return SupplyRisk(
        hhi_wgi_t_global=global_part,
        hhi_wgi_t_sourcing=sourcing_part,
        import_reliance=import_reliance,
        eol_rir=eol_rir,
        substitution_index=substitution_index,
        supply_risk=sr,
        above_threshold=above,
        wgi_scores=tuple((c, scores_all[c]) for c in countries if c in scores_all),
        wgi_imputed=imputed,
        wgi_median=wgi_med,
        trade_factors=tuple(sorted(factors.items())),
        flags=tuple(flags),
    )


# --------------------------------------------------------------------------------------------
# 5. Buyer exposure, per (organization, mineral, as_of)


@dataclass(frozen=True, slots=True)
class Stake:
    """``owner_company`` holds ``fraction`` (0..1) of ``owned_company``."""

    owner_company: str
    owned_company: str
    fraction: float


def effective_ownership(
    stakes: Sequence[Stake],
    company_country: Mapping[str, str],
    *,
    feoc: frozenset[str] = FEOC,
    max_rounds: int = 1000,
    tolerance: float = 1e-12,
) -> dict[str, float]:
    """Fraction (0..1) of each company owned by FEOC-domiciled entities, through chains.

    ``F(x) = 1`` when x is domiciled in a FEOC country, else
    ``F(x) = min(1, sum over stakes (o owns f of x) of f * F(o))``: multiplied along chains
    (60 % of 50 % = 30 %), summed over parallel paths. Solved by fixed-point iteration from
    ``F = 0``, which terminates on ownership cycles (monotone, capped at 1; at most
    ``max_rounds`` rounds). Every company named in stakes or domiciles is in the result.
    """
    owners_of: dict[str, list[tuple[str, float]]] = {}
    companies: set[str] = set(company_country)
    for stake in stakes:
        _require_fraction(f"stake {stake.owner_company}->{stake.owned_company}", stake.fraction)
        owners_of.setdefault(stake.owned_company, []).append((stake.owner_company, stake.fraction))
        companies.update((stake.owner_company, stake.owned_company))

    domiciled = {c for c in companies if company_country.get(c) in feoc}
    owned = {c: 1.0 if c in domiciled else 0.0 for c in companies}
    # Only companies with owners and not domiciled in a FEOC country can change (the others
    # stay 1 or 0): iterating over them alone keeps large company tables cheap.
    variable = [c for c in companies if c in owners_of and c not in domiciled]
    for _ in range(max_rounds):
        updated = {c: min(1.0, math.fsum(f * owned[o] for o, f in owners_of[c])) for c in variable}
        delta = max((abs(updated[c] - owned[c]) for c in variable), default=0.0)
        owned.update(updated)
        if delta <= tolerance:
            break
    return owned


def controlled_companies(
    stakes: Sequence[Stake],
    company_country: Mapping[str, str],
    *,
    feoc: frozenset[str] = FEOC,
    threshold: float = CONTROL_THRESHOLD,
) -> frozenset[str]:
    """Companies domiciled in a FEOC country or with ``effective_ownership >= threshold``."""
    ownership = effective_ownership(stakes, company_country, feoc=feoc)
    return frozenset(c for c, f in ownership.items() if f >= threshold - _EPSILON)


@dataclass(frozen=True, slots=True)
class SourcingLine:
    """A buyer's purchase: ``volume`` from a facility, or from ``country`` when the facility
    is unknown (``facility_id`` ``None``)."""

    volume: float
    facility_id: int | None
    country: str


@dataclass(frozen=True, slots=True)
class FacilityNode:
    """A facility: location, operator ``company`` (for ownership), recorded China control,
    and ``stage`` (``"mine"``/``"recycling"`` create material; others transform inputs)."""

    id: int
    country: str
    china_controlled: bool = False
    company: str | None = None
    stage: str = ""


@dataclass(frozen=True, slots=True)
class Link:
    """``upstream_id`` supplies ``share`` (0..1) of ``downstream_id``'s inputs."""

    upstream_id: int
    downstream_id: int
    share: float


@dataclass(frozen=True, slots=True)
class SupplyNetwork:
    """One mineral's facilities by id and the links into each facility, validated once and
    shared by every buyer of the mineral (``supply_network``; ``buyer_exposure`` builds it
    from ``facilities`` and ``links`` when not given)."""

    facilities: Mapping[int, FacilityNode]
    inputs: Mapping[int, Sequence[Link]]


def supply_network(facilities: Iterable[FacilityNode], links: Iterable[Link]) -> SupplyNetwork:
    """Index the facilities by id and the links by downstream facility; shares must be fractions."""
    inputs: dict[int, list[Link]] = {}
    for link in links:
        _require_fraction(f"link {link.upstream_id}->{link.downstream_id}", link.share)
        inputs.setdefault(link.downstream_id, []).append(link)
    return SupplyNetwork(facilities={f.id: f for f in facilities}, inputs=inputs)


@dataclass(frozen=True, slots=True)
class Exposure:
    """A buyer's exposure for one mineral; shares of ``total_volume``, ``None`` when empty.

    ``china_exposed_volume`` = ``upstream_china_share * total_volume`` (input to
    ``rank_alternatives``). The tuples list what could not be resolved: supply-link cycles
    (facility ids in link order, cut where found), unknown facility ids, countries without
    a fallback mix, and facilities whose link shares summed above 1 (scaled down).
    """

    total_volume: float
    direct_china_share: float | None
    china_controlled_share: float | None
    upstream_china_share: float | None
    unmapped_share: float | None
    restricted_share: float | None
    china_exposed_volume: float
    cycles: tuple[tuple[int, ...], ...]
    unknown_facility_ids: tuple[int, ...]
    countries_without_mix: tuple[str, ...]
    overallocated_facilities: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Trace:
    china: float  # fraction of output whose chain touches China or a controlled facility
    unmapped: float  # fraction of output resting on a country fallback
    passthrough: float  # fraction of output not blocked by any stage's measures
    # The same before the output leaves its own country: a downstream stage in that country
    # takes this, since one country's export controls apply once, where the material leaves it.
    domestic: float


class _ChainTracer:
    """Depth-first walk of supply links with memo and cycle cutting (internal)."""

    def __init__(
        self,
        *,
        network: SupplyNetwork,
        controlled: frozenset[str],
        fallback_mix: Mapping[str, Mapping[str, float]],
        measures: Sequence[Measure],
        mineral: str,
        destination: str,
        as_of: date,
        severity_by_type: Mapping[str, float] | None,
        memo: dict[int, Any] | None = None,
    ) -> None:
        self.facilities = network.facilities
        self.inputs = network.inputs
        self.controlled = controlled
        self.fallback_mix = fallback_mix
        self.severity_cache: dict[str, float] = {}
        self.mix_cache: dict[str, tuple[float, float]] = {}
        self.measures = measures
        self.mineral = mineral
        self.destination = destination
        self.as_of = as_of
        self.severity_by_type = severity_by_type
        self.memo: dict[int, _Trace] = memo if memo is not None else {}
        self.stack: list[int] = []
        self.cycles: list[tuple[int, ...]] = []
        self.unknown_ids: set[int] = set()
        self.missing_mix: set[str] = set()
        self.overallocated: set[int] = set()

    def severity(self, country: str) -> float:
        if country not in self.severity_cache:
            self.severity_cache[country] = country_severity(
                self.measures,
                country,
                self.mineral,
                self.destination,
                self.as_of,
                self.severity_by_type,
            )
        return self.severity_cache[country]

    def is_controlled(self, facility: FacilityNode) -> bool:
        return (
            facility.china_controlled
            or facility.country == CHINA
            or (facility.company is not None and facility.company in self.controlled)
        )

    def mix(self, country: str) -> tuple[float, float]:
        """(China share, unblocked share) of the inputs assumed for ``country``'s output; kept per
        country (a world mix has a share per producer, and every facility of the country asks)."""
        if country in self.mix_cache:
            return self.mix_cache[country]
        mix = self.fallback_mix.get(country)
        if mix is None:
            self.missing_mix.add(country)
            return 0.0, 1.0
        for origin, share in mix.items():
            _require_fraction(f"fallback share {country}<-{origin}", share)
        total = math.fsum(mix.values())
        scale = 1.0 / total if total > 1.0 + _EPSILON else 1.0
        china = mix.get(CHINA, 0.0) * scale
        # Inputs from the country itself cross no border before its output does: its own
        # measures are applied once, to that output (country_line, trace).
        blocked = math.fsum(s * scale * self.severity(o) for o, s in mix.items() if o != country)
        self.mix_cache[country] = (china, 1.0 - blocked)
        return china, 1.0 - blocked

    def country_line(self, country: str, *, controlled: bool) -> _Trace:
        """Material bought from ``country`` with unknown facility: a fallback all the way."""
        china, unblocked = self.mix(country)
        return _Trace(
            china=1.0 if controlled or country == CHINA else china,
            unmapped=1.0,
            passthrough=(1.0 - self.severity(country)) * unblocked,
            domestic=unblocked,
        )

    def line(self, line: SourcingLine) -> tuple[_Trace, FacilityNode | None]:
        """A sourcing line's trace, and its facility (None: a country line, or an unknown
        facility, which is traced as a country line and reported)."""
        facility = self.facilities.get(line.facility_id) if line.facility_id is not None else None
        if line.facility_id is not None and facility is None:
            self.unknown_ids.add(line.facility_id)
        if facility is not None:
            return self.trace(facility.id), facility
        return self.country_line(line.country, controlled=line.country == CHINA), None

    def trace(self, facility_id: int) -> _Trace:
        if facility_id in self.memo:
            return self.memo[facility_id]
        facility = self.facilities[facility_id]
        self.stack.append(facility_id)
        inputs = self.inputs.get(facility_id, [])
        linked = math.fsum(link.share for link in inputs)
        scale = 1.0
        if linked > 1.0 + _EPSILON:
            self.overallocated.add(facility_id)
            scale = 1.0 / linked
        china = unmapped = passthrough = 0.0
        for link in inputs:
            weight = link.share * scale
            upstream = self.facilities.get(link.upstream_id)
            if upstream is None:
                self.unknown_ids.add(link.upstream_id)
                part = _Trace(china=0.0, unmapped=1.0, passthrough=1.0, domestic=1.0)
            elif link.upstream_id in self.stack:
                start = self.stack.index(link.upstream_id)
                self.cycles.append((*self.stack[start:], link.upstream_id))
                part = self.country_line(upstream.country, controlled=self.is_controlled(upstream))
            else:
                part = self.trace(link.upstream_id)
            china += weight * part.china
            unmapped += weight * part.unmapped
            same_country = upstream is not None and upstream.country == facility.country
            passthrough += weight * (part.domestic if same_country else part.passthrough)
        remainder = max(0.0, 1.0 - linked * scale)
        if remainder > _EPSILON:
            if facility.stage in PRIMARY_STAGES:
                passthrough += remainder  # own extraction or scrap: no upstream
            else:
                mix_china, mix_unblocked = self.mix(facility.country)
                china += remainder * mix_china
                unmapped += remainder
                passthrough += remainder * mix_unblocked
        result = _Trace(
            china=1.0 if self.is_controlled(facility) else min(1.0, china),
            unmapped=min(1.0, unmapped),
            passthrough=(1.0 - self.severity(facility.country)) * passthrough,
            domestic=passthrough,
        )
        self.stack.pop()
        self.memo[facility_id] = result
        return result


def buyer_exposure(
    lines: Sequence[SourcingLine],
    *,
    mineral: str,
    as_of: date,
    buyer_country: str = DEFAULT_DESTINATION,
    facilities: Sequence[FacilityNode] = (),
    links: Sequence[Link] = (),
    network: SupplyNetwork | None = None,
    stakes: Sequence[Stake] = (),
    company_country: Mapping[str, str] | None = None,
    fallback_mix: Mapping[str, Mapping[str, float]] | None = None,
    measures: Sequence[Measure] = (),
    feoc: frozenset[str] = FEOC,
    control_threshold: float = CONTROL_THRESHOLD,
    severity_by_type: Mapping[str, float] | None = None,
    trace_memo: dict[int, Any] | None = None,
) -> Exposure:
    """A buyer's China exposure for one mineral (section 5); shares of volume.

    With ``w_l = volume_l / total_volume``:

    * ``direct_china_share = sum w_l`` over lines from facilities located in CHN (or
      country lines from CHN).
    * ``china_controlled_share``: the same, plus facilities recorded as controlled or whose
      operator is in ``controlled_companies`` (FEOC domicile or ownership >= threshold).
    * ``upstream_china_share = sum w_l * u(f)`` with ``u(f) = 1`` for a China-located or
      controlled facility, else ``sum_links share * u(upstream)`` plus the unlinked
      remainder ``(1 - sum shares) * fallback_mix[country][CHN]`` (none for mines and
      recycling). Country lines use ``fallback_mix`` of their country directly.
    * ``unmapped_share``: volume resting on a fallback (unlinked remainders, country lines,
      links closing a cycle, unknown upstream facilities), weighted the same way.
    * ``restricted_share = 1 - sum w_l * prod over stages (1 - s_c)``: expected share
      blocked anywhere along the chain, ``s_c = country_severity(c -> buyer_country)``,
      stages assumed independent.

    ``network`` (``supply_network(facilities, links)``) replaces ``facilities`` and ``links``
    when one network serves many buyers. A supply-link cycle is cut at the link that closes
    it (that link is treated as a country line from the upstream facility's country) and
    reported in ``cycles``.
    An empty portfolio (total volume 0) gives every share ``None``.

    ``trace_memo`` (a dict the caller keeps) reuses facility traces across calls that share
    every input but the lines (many buyers of one mineral, one date, one country: scenarios);
    the issue lists (cycles, unknown ids, ...) then name only what this call traced first.
    """
    for line in lines:
        _require_non_negative("sourcing volume", line.volume)
    total = math.fsum(line.volume for line in lines)
    controlled = controlled_companies(stakes, company_country or {}, feoc=feoc, threshold=control_threshold)
    tracer = _ChainTracer(
        network=network or supply_network(facilities, links),
        controlled=controlled,
        fallback_mix=fallback_mix or {},
        measures=measures,
        mineral=mineral,
        destination=buyer_country,
        as_of=as_of,
        severity_by_type=severity_by_type,
        memo=trace_memo,
    )
    if total <= 0:
        return Exposure(
            total_volume=0.0,
            direct_china_share=None,
            china_controlled_share=None,
            upstream_china_share=None,
            unmapped_share=None,
            restricted_share=None,
            china_exposed_volume=0.0,
            cycles=(),
            unknown_facility_ids=(),
            countries_without_mix=(),
            overallocated_facilities=(),
        )

    direct = controlled_share = upstream = unmapped = unblocked = 0.0
    for line in lines:
        weight = line.volume / total
        part, facility = tracer.line(line)
        if facility is not None:
            located_in_china = facility.country == CHINA
            is_controlled = tracer.is_controlled(facility)
        else:
            located_in_china = is_controlled = line.country == CHINA
        if located_in_china:
            direct += weight
        if is_controlled:
            controlled_share += weight
        upstream += weight * part.china
        unmapped += weight * part.unmapped
        unblocked += weight * part.passthrough

    upstream = min(1.0, upstream)
    return Exposure(
        total_volume=total,
        direct_china_share=direct,
        china_controlled_share=controlled_share,
        upstream_china_share=upstream,
        unmapped_share=min(1.0, unmapped),
        restricted_share=min(1.0, max(0.0, 1.0 - unblocked)),
        china_exposed_volume=upstream * total,
        cycles=tuple(tracer.cycles),
        unknown_facility_ids=tuple(sorted(tracer.unknown_ids)),
        countries_without_mix=tuple(sorted(tracer.missing_mix)),
        overallocated_facilities=tuple(sorted(tracer.overallocated)),
    )


def line_passthroughs(
    lines: Sequence[SourcingLine],
    *,
    mineral: str,
    as_of: date,
    buyer_country: str = DEFAULT_DESTINATION,
    network: SupplyNetwork,
    fallback_mix: Mapping[str, Mapping[str, float]] | None = None,
    measures: Sequence[Measure] = (),
    severity_by_type: Mapping[str, float] | None = None,
    trace_memo: dict[int, Any] | None = None,
) -> tuple[float, ...]:
    """Per line, the share of its volume that no stage's measures block: the ``prod (1 - s_c)``
    along its chain of ``buyer_exposure``, whose ``restricted_share = 1 - sum_l w_l *
    passthrough_l``. Volumes do not matter, so the lines of many buyers of one mineral in one
    country are traced in one pass (scenarios). Ownership control does not enter the passthrough
    (only China's shares), so no stakes are taken; ``trace_memo`` as in ``buyer_exposure``, shared
    only with calls that pass no stakes either."""
    tracer = _ChainTracer(
        network=network, controlled=frozenset(), fallback_mix=fallback_mix or {}, measures=measures, mineral=mineral,
        destination=buyer_country, as_of=as_of, severity_by_type=severity_by_type, memo=trace_memo,
    )  # fmt: skip
    return tuple(tracer.line(line)[0].passthrough for line in lines)


@dataclass(frozen=True, slots=True)
class AlternativeSource:
    """A candidate non-FEOC source: a producing country, a facility, a U.S. project or
    recycling. ``available_capacity`` in the buyer's volume unit (spare output or capacity
    the buyer could contract); ``governance`` is the ``wgi_score`` (0..10, 10 worst)."""

    key: str
    kind: AlternativeKind
    country: str
    available_capacity: float | None  # None: not published (withheld, unknown), never 0
    status: ProjectStatus = "operating"
    start_year: int | None = None
    governance: float | None = None
    feoc_controlled: bool = False
    name: str = ""
    # The first FEOC-located or FEOC-controlled facility its supply links run back to, as
    # "name (ISO3)" ("" when none): such a source is China in disguise, not an alternative.
    feoc_upstream: str = ""
    stage: str = ""
    # Max severity (0..1) of the measures in force by its country on the mineral towards the
    # buyer's country; None when not known.
    measure_severity: float | None = 0.0


@dataclass(frozen=True, slots=True)
class NotAlternative:
    """A candidate that is never offered, with why (shown apart: "not an alternative: why")."""

    source: AlternativeSource
    reason: str


@dataclass(frozen=True, slots=True)
class Alternative:
    """A ranked alternative: ``coverage_ratio = available_capacity / exposed_volume``;
    ``coverage_share = min(1, coverage_ratio)`` (the part of the gap it could fill, at most
    all of it); ``gap_share = exposed_volume / available_capacity`` (the gap as a share of the
    source: small means easy to absorb). Each is None when its denominator is 0 or the
    capacity unknown."""

    rank: int
    source: AlternativeSource
    coverage_ratio: float | None
    coverage_share: float | None = None
    gap_share: float | None = None
    score: float = 0.0
    contributions: Mapping[str, float] = field(default_factory=dict)
    available_from: int | None = None
    announced: bool = False
    # The score if every unknown factor turned out best (1): ``score`` is the worst bound.
    score_upper: float = 0.0
    unknown_factors: tuple[str, ...] = ()


ALTERNATIVE_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {"stage": 0.30, "availability": 0.25, "coverage": 0.20, "governance": 0.15, "measures": 0.10}
)
"""Default weights of the ranking factors (settings.LODESTONE_ALTERNATIVE_WEIGHTS overrides)."""
AVAILABILITY_HORIZON_YEARS: Final = 10
"""An alternative available this many years from now or later adds nothing for availability."""


def available_from(source: AlternativeSource, year: int | None) -> tuple[int | None, bool]:
    """The year from which a source can supply and whether that year is only announced: an
    operating source now (``year``); one under construction or planned from its announced
    start year (never before ``year``); None when not known."""
    if source.status == "operating":
        return year, False
    if source.start_year is None:
        return None, False
    return (max(source.start_year, year) if year is not None else source.start_year), True


def alternative_factors(
    source: AlternativeSource, *, coverage_share: float | None, required_stage: str, year: int | None
) -> dict[str, float | None]:
    """Each ranking factor in 0..1 (1 best), None when its input is unknown: stage (1 the
    stage bought, 0 another), availability (1 now, falling linearly to 0 at
    AVAILABILITY_HORIZON_YEARS), coverage (the part of the gap it can fill), governance
    (1 - wgi_score / 10) and measures (1 - the severity of measures in force by its country)."""
    match = stage_match(source.stage, required_stage)
    start, _ = available_from(source, year)
    availability = None
    if start is not None and year is not None:
        availability = max(0.0, 1.0 - (start - year) / AVAILABILITY_HORIZON_YEARS)
    elif source.status == "operating":
        availability = 1.0
    return {
        "stage": None if match is None else float(match),
        "availability": availability,
        "coverage": coverage_share,
        "governance": 1.0 - source.governance / 10.0 if source.governance is not None else None,
        "measures": 1.0 - source.measure_severity if source.measure_severity is not None else None,
    }


def _normalized_weights(weights: Mapping[str, float] | None) -> Mapping[str, float]:
    # Ranking calls this per source: the same weights normalize once.
    return _normalized(tuple((ALTERNATIVE_WEIGHTS if weights is None else weights).items()))


@lru_cache(maxsize=32)
def _normalized(items: tuple[tuple[str, float], ...]) -> Mapping[str, float]:
    chosen = dict(items)
    unknown = set(chosen) - set(ALTERNATIVE_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown ranking factor(s) {sorted(unknown)}; expected some of {sorted(ALTERNATIVE_WEIGHTS)}")
    for name, weight in chosen.items():
        _require_non_negative(f"weight {name}", weight)
    total = sum(chosen.values())
    if total <= 0:
        raise ValueError("the ranking weights must not all be 0")
    # A factor left out of the configured weights is a choice not to rank by it (weight 0); this
    # is a setting, not a figure, so 0 here never stands for an unknown value.
    return MappingProxyType({name: chosen.get(name, 0.0) / total for name in ALTERNATIVE_WEIGHTS})


# Supply-chain level of each stage: recycled material re-enters at the refined level.
_STAGE_LEVEL: Final[Mapping[str, int]] = MappingProxyType({"mine": 0, "refinery": 1, "recycling": 1, "component": 2})
_PROCESSING_STEPS: Final = ("refining", "component manufacture")


def stage_match(source_stage: str, required_stage: str) -> bool | None:
    """Whether a source supplies the stage bought (recycling counts as refined); None when
    either stage is unknown."""
    if source_stage not in _STAGE_LEVEL or required_stage not in _STAGE_LEVEL:
        return None
    return _STAGE_LEVEL[source_stage] == _STAGE_LEVEL[required_stage]


def processing_step(source_stage: str, required_stage: str) -> str:
    """What a source's material still needs before it is the stage bought: "" when it is that
    stage (or a stage is unknown), the processing steps when it is upstream, and a note when it
    is a downstream product."""
    if stage_match(source_stage, required_stage) is not False:
        return ""
    have, want = _STAGE_LEVEL[source_stage], _STAGE_LEVEL[required_stage]
    if have > want:
        return f"a downstream product ({source_stage}), not the stage bought ({required_stage})"
    steps = ", then ".join(_PROCESSING_STEPS[have:want])
    return f"needs processing: {steps} ({source_stage} to {required_stage})"


def not_alternative_reason(source: AlternativeSource, *, feoc: frozenset[str] = FEOC) -> str | None:
    """Why a candidate is China (or another FEOC) in disguise, or None when it is not: located
    in a FEOC country; controlled by a FEOC company (ownership chain at or above the threshold,
    or recorded control); or its supply links run back to a FEOC facility."""
    if source.country in feoc:
        return f"located in {source.country}, a FEOC country"
    if source.feoc_controlled:
        return "controlled by a FEOC company (ownership at or above the control threshold, or recorded control)"
    if source.feoc_upstream:
        return f"supply runs back to China: {source.feoc_upstream}"
    return None


def not_alternatives(
    candidates: Sequence[AlternativeSource], *, feoc: frozenset[str] = FEOC
) -> tuple[NotAlternative, ...]:
    """The candidates ``rank_alternatives`` never offers because of FEOC ties, with the reason,
    in the candidates' order."""
    out = []
    for source in candidates:
        reason = not_alternative_reason(source, feoc=feoc)
        if reason is not None:
            out.append(NotAlternative(source=source, reason=reason))
    return tuple(out)


def feoc_upstream(start: str, upstream_of: Mapping[str, Sequence[str]], flagged: Mapping[str, str]) -> str:
    """The first flagged facility (FEOC-located or FEOC-controlled; value: its label) reached by
    walking supply links upstream from ``start`` (breadth first, cycles safe), or "" when none.
    ``start`` itself is not checked: its own location and control are separate reasons."""
    seen = {start}
    queue = list(upstream_of.get(start, ()))
    while queue:
        node = queue.pop(0)
        if node in seen:
            continue
        seen.add(node)
        if node in flagged:
            return flagged[node]
        queue.extend(upstream_of.get(node, ()))
    return ""


def recycled_supply(rate: float | None, requirement: float | None) -> float | None:
    """The part of a requirement recycled material could supply at a recycled share of supply
    ``rate`` (0..1): ``rate x requirement``; None when either is unknown (never 0)."""
    if rate is None or requirement is None:
        return None
    _require_fraction("rate", rate)
    _require_non_negative("requirement", requirement)
    return rate * requirement


RankRow = tuple[float, float, float, int, float | None, str]
"""What ranking needs of an eligible source, the part that does not depend on the buyer's volume
(``alternative_rank_row``): stage + availability contributions, governance contribution,
measures contribution, the number of unknown factors but coverage, capacity, key."""


def is_rankable(source: AlternativeSource, *, feoc: frozenset[str] = FEOC) -> bool:
    """Whether ``rank_alternatives`` ranks a source: no ``not_alternative_reason`` and an
    available capacity that is unknown (None) or above 0."""
    capacity = source.available_capacity
    return not_alternative_reason(source, feoc=feoc) is None and (capacity is None or capacity > 0)


def alternative_rank_row(
    source: AlternativeSource, *, weights: Mapping[str, float] | None = None, required_stage: str = "", year: int | None
) -> RankRow:
    """The volume-independent part of a source's score (``rank_alternatives``), computed once per
    data version and stored: every factor but coverage is the same for every buyer."""
    normalized = _normalized_weights(weights)
    factors = alternative_factors(source, coverage_share=None, required_stage=required_stage, year=year)
    part = {name: normalized[name] * (factors[name] or 0.0) for name in ALTERNATIVE_WEIGHTS}
    unknown = sum(
        1 for name in ALTERNATIVE_WEIGHTS if name != "coverage" and factors[name] is None and normalized[name] > 0
    )
    # The sum in ALTERNATIVE_WEIGHTS order, as ``_assess`` adds: the same float, bit for bit.
    return (
        part["stage"] + part["availability"],
        part["governance"],
        part["measures"],
        unknown,
        source.available_capacity,
        source.key,
    )


def rank_order(
    exposed_volume: float, rows: Sequence[RankRow], *, weights: Mapping[str, float] | None = None
) -> list[int]:
    """The indices of ``rows`` best first, by the rule of ``rank_alternatives`` (worst-bound score,
    then fewer unknowns, known capacity, larger capacity, key; then the rows' order)."""
    _require_non_negative("exposed_volume", exposed_volume)
    weight = _normalized_weights(weights)["coverage"]
    keyed = []
    for i, (stage_availability, governance, measures, unknown, capacity, key) in enumerate(rows):
        if capacity is not None and exposed_volume > 0:
            coverage = weight * min(1.0, capacity / exposed_volume)
        else:
            coverage = weight * 0.0
            unknown += weight > 0
        score = stage_availability + coverage + governance + measures
        keyed.append((-round(score, 12), unknown, capacity is None, -(capacity or 0.0), key, i))
    keyed.sort()
    return [k[-1] for k in keyed]


def ranked_alternative(
    source: AlternativeSource,
    *,
    rank: int,
    exposed_volume: float,
    weights: Mapping[str, float] | None = None,
    required_stage: str = "",
    year: int | None = None,
) -> Alternative:
    """One source's Alternative at ``rank`` (from ``rank_order``): its factors, contributions,
    coverage and gap figures for ``exposed_volume``."""
    normalized = _normalized_weights(weights)
    capacity = source.available_capacity
    ratio = capacity / exposed_volume if capacity is not None and exposed_volume > 0 else None
    share = min(1.0, ratio) if ratio is not None else None
    factors = alternative_factors(source, coverage_share=share, required_stage=required_stage, year=year)
    contributions = {name: normalized[name] * (factors[name] or 0.0) for name in ALTERNATIVE_WEIGHTS}
    unknown = tuple(name for name in ALTERNATIVE_WEIGHTS if factors[name] is None and normalized[name] > 0)
    start, announced = available_from(source, year)
    score = sum(contributions.values())
    return Alternative(
        rank=rank,
        source=source,
        coverage_ratio=ratio,
        coverage_share=share,
        gap_share=exposed_volume / capacity if capacity else None,
        score=score,
        contributions=MappingProxyType(contributions),
        available_from=start,
        announced=announced,
        score_upper=score + sum(normalized[name] for name in unknown),
        unknown_factors=unknown,
    )


def rank_alternatives(
    exposed_volume: float,
    candidates: Sequence[AlternativeSource],
    *,
    feoc: frozenset[str] = FEOC,
    required_stage: str = "",
    year: int | None = None,
    weights: Mapping[str, float] | None = None,
) -> tuple[Alternative, ...]:
    """Non-FEOC sources that could replace ``exposed_volume``, best first, with why.

    Excluded: sources with a ``not_alternative_reason`` (located in ``feoc``, FEOC-controlled,
    supply running back to a FEOC facility) and those with no available capacity (0; an
    unknown capacity, None, is kept).

    ``score = sum over factors of weight x factor`` (``alternative_factors``), the weights
    normalized to sum 1 (``ALTERNATIVE_WEIGHTS`` by default); each factor's ``weight x factor`` is
    returned in ``contributions``. An unknown factor (capacity not published, no governance
    score, no announced year) contributes its worst bound, 0: ``score`` is what the source is
    worth at least, ``score_upper`` what it would be worth were every unknown factor the best
    (1), and ``unknown_factors`` names them. The rank follows the worst bound, so an unknown
    can never lift a source above one known to be better; at an equal worst bound the source
    with fewer unknowns comes first, then known capacity, larger capacity, key.
    ``coverage_ratio = available_capacity / exposed_volume`` (``None``
    when the exposed volume is 0 or the capacity unknown), ``coverage_share`` = it capped at 1,
    ``gap_share = exposed_volume / available_capacity``.

    Built from ``alternative_rank_row`` (the volume-independent part, which the selectors store
    per data version), ``rank_order`` and ``ranked_alternative``: one rule for both paths.
    """
    _require_non_negative("exposed_volume", exposed_volume)
    _normalized_weights(weights)  # a bad setting fails here, even without candidates
    eligible = [c for c in candidates if is_rankable(c, feoc=feoc)]
    rows = [alternative_rank_row(c, weights=weights, required_stage=required_stage, year=year) for c in eligible]
    return tuple(
        ranked_alternative(
            eligible[i],
            rank=rank,
            exposed_volume=exposed_volume,
            weights=weights,
            required_stage=required_stage,
            year=year,
        )
        for rank, i in enumerate(rank_order(exposed_volume, rows, weights=weights), start=1)
    )


# --------------------------------------------------------------------------------------------
# 5b. Transition plan: the requirement by origin, year by year, today and under a plan

PLAN_YEARS: Final = (2026, 2027, 2028, 2029, 2030)
"""The years the transition plan page and API show."""

ORIGIN_CLASSES: Final = ("china_direct", "china_controlled", "china_upstream", "unaffected", "uncovered")
"""Where each unit of a requirement comes from, one class each (``origin_volumes``)."""

LEVER_NODE_IDS: Final[Mapping[str, int]] = MappingProxyType({"recycling": -1, "us_production": -2})
"""Ids of the synthetic facilities standing for a lever named without a facility."""


def lever_node(lever: str, country: str) -> FacilityNode:
    """A lever named without a facility (recycling, or U.S. production): material of its own
    making (scrap, or domestic primary supply) in ``country``, with no upstream assumed. Name the
    facility in the plan to trace its real chain."""
    stage = "recycling" if lever == "recycling" else "mine"
    return FacilityNode(id=LEVER_NODE_IDS[lever], country=country, stage=stage)


@dataclass(frozen=True, slots=True)
class PlanMove:
    """From ``year`` on, move ``share`` of the requirement (or ``volume``, in the lines' unit)
    from the sourcing line (``from_facility_id``, or ``from_country`` without facility) to
    (``to_facility_id``, or ``to_country`` without facility)."""

    year: int
    from_facility_id: int | None
    from_country: str
    to_facility_id: int | None
    to_country: str
    share: float | None = None
    volume: float | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class OriginYear:
    """A mineral's requirement in one year split by origin (``ORIGIN_CLASSES``), in the lines'
    unit, and the volume and share (of the volume sourced) restricted by measures in force.
    A figure is None when an input it needs is missing (no requirement: ``uncovered``; a plan
    step that cannot be placed: every figure), never 0."""

    year: int
    requirement: float | None
    sourced: float | None
    china_direct: float | None
    china_controlled: float | None
    china_upstream: float | None
    unaffected: float | None
    uncovered: float | None
    restricted_volume: float | None
    restricted_share: float | None
    issues: tuple[str, ...] = ()


def origin_volumes(exposure: Exposure, *, year: int, requirement: float | None) -> OriginYear:
    """Split a year's ``buyer_exposure`` into exclusive origin classes, with ``T`` the volume
    sourced and ``R`` the requirement:

    * ``china_direct = direct_china_share * T`` (bought from facilities located in China);
    * ``china_controlled = (china_controlled_share - direct_china_share) * T`` (outside China,
      under FEOC control);
    * ``china_upstream = (upstream_china_share - china_controlled_share) * T`` (neither, but the
      supply chain touches China);
    * ``unaffected = (1 - upstream_china_share) * T``;
    * ``uncovered = max(0, R - T)`` (None without a requirement);
    * ``restricted_volume = restricted_share * T``.

    The exposure's classes are nested (direct within controlled within upstream), so the
    differences are the exclusive parts. Nothing sourced (``T = 0``) is a known zero for every
    class and an unknown restricted share.
    """
    total = exposure.total_volume
    uncovered = max(0.0, requirement - total) if requirement is not None else None
    if total <= 0:
        return OriginYear(year, requirement, 0.0, 0.0, 0.0, 0.0, 0.0, uncovered, 0.0, None)
    direct = exposure.direct_china_share or 0.0  # never None once something is sourced
    controlled = max(direct, exposure.china_controlled_share or 0.0)
    upstream = max(controlled, exposure.upstream_china_share or 0.0)
    restricted = exposure.restricted_share
    return OriginYear(
        year=year,
        requirement=requirement,
        sourced=total,
        china_direct=direct * total,
        china_controlled=(controlled - direct) * total,
        china_upstream=(upstream - controlled) * total,
        unaffected=(1.0 - upstream) * total,
        uncovered=uncovered,
        restricted_volume=restricted * total if restricted is not None else None,
        restricted_share=restricted,
    )


def _line_key(facility_id: int | None, country: str) -> tuple[int | None, str]:
    return (facility_id, "" if facility_id is not None else country)


def planned_lines(
    lines: Sequence[SourcingLine], moves: Sequence[PlanMove], *, year: int, requirement: float | None
) -> tuple[tuple[SourcingLine, ...] | None, tuple[str, ...]]:
    """The sourcing lines of ``year`` under a plan: every move due by then (``move.year <=
    year``, in year order) takes its volume from its source line and adds it to its target line.

    A move larger than what is left on its source moves what is left (reported). None, with
    the reason, when a due move cannot be placed: its source is not among the lines, or it is a
    share of an unknown requirement.
    """
    volumes: dict[tuple[int | None, str], float] = {}
    countries: dict[tuple[int | None, str], str] = {}
    for line in lines:
        _require_non_negative("sourcing volume", line.volume)
        key = _line_key(line.facility_id, line.country)
        volumes[key] = volumes.get(key, 0.0) + line.volume
        countries[key] = line.country
    issues: list[str] = []
    for move in sorted((m for m in moves if m.year <= year), key=lambda m: m.year):
        source = _line_key(move.from_facility_id, move.from_country)
        label = (
            move.label or f"{move.from_facility_id or move.from_country} -> {move.to_facility_id or move.to_country}"
        )
        if source not in volumes:
            return None, (f"{label}: the source is not in today's sourcing",)
        if move.share is not None:
            _require_fraction("plan share", move.share)
            if requirement is None:
                return None, (f"{label}: a share of the requirement, and the requirement is not known",)
            wanted = move.share * requirement
        elif move.volume is not None:
            _require_non_negative("plan volume", move.volume)
            wanted = move.volume
        else:
            return None, (f"{label}: neither a share nor a volume",)
        moved = min(wanted, volumes[source])
        if wanted > moved + _EPSILON * max(1.0, wanted):
            issues.append(f"{label}: asks {wanted:g}, the source has {moved:g} left; moves {moved:g}")
        volumes[source] -= moved
        target = _line_key(move.to_facility_id, move.to_country)
        volumes[target] = volumes.get(target, 0.0) + moved
        countries.setdefault(target, move.to_country)
    out = tuple(SourcingLine(v, fid, countries[(fid, c)]) for (fid, c), v in volumes.items() if v > 0)
    return out, tuple(issues)


def transition_plan(
    lines: Sequence[SourcingLine],
    moves: Sequence[PlanMove],
    *,
    requirement: float | None,
    exposure_in: Callable[[Sequence[SourcingLine], int], Exposure],
    years: Sequence[int] = PLAN_YEARS,
) -> tuple[tuple[OriginYear, ...], tuple[OriginYear, ...]]:
    """A mineral's requirement by origin per year, under today's sourcing and under the plan.

    ``exposure_in(lines, year)`` is ``buyer_exposure`` with the mineral's supply chain and the
    measures in force in that year (the caller binds them), so today and the plan run through
    the same maths and differ only in their lines: a plan is a transformation of the inputs.
    A year whose plan cannot be placed (``planned_lines`` None) has every figure None.
    """
    today, planned = [], []
    for year in years:
        today.append(origin_volumes(exposure_in(lines, year), year=year, requirement=requirement))
        moved, issues = planned_lines(lines, moves, year=year, requirement=requirement)
        if moved is None:
            planned.append(OriginYear(year, requirement, None, None, None, None, None, None, None, None, issues))
            continue
        result = origin_volumes(exposure_in(moved, year), year=year, requirement=requirement)
        planned.append(replace(result, issues=issues))
    return tuple(today), tuple(planned)


# --------------------------------------------------------------------------------------------
# 6. Staleness


def is_stale(metrics_version: int | None, data_version: int) -> bool:
    """Numbers computed from `metrics_version` of the data (None: never computed) are stale
    once the data moved past it: the one staleness rule of the metrics (version-based, so a
    clock never decides it)."""
    return metrics_version is None or metrics_version < data_version
