"""Scenarios as pure functions: shocks applied to the risk engine's inputs, then the same maths.

A scenario is a transformation of the frozen inputs of dashboards.risk (docs/architecture.md,
"Growing the house"): measures lapsed, extended, widened or added; licence severities replaced
by an approval rate; a country's output cut; a facility offline or late; a buyer's requirement
scaled. The baseline and the scenario run through the same functions and differ only in their
inputs. Standard library and dashboards.risk only: no Django (import-linter's "pure cores").

Time: a scenario covers a window of days. Policy status changes inside it (a suspension lapsing
on a date), so the window is cut into segments on which every measure keeps its status, and
each figure is the day-weighted mean over the segments (``window_mean``); per calendar year the
same over the year's days inside the window. Supply and demand shocks hold for the whole window
(a facility delay moves its start year, so it acts per year).

Conventions of dashboards.risk hold: shares are fractions, an unknown input gives None, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Final, Literal

from dashboards import risk
from minerals.policy_terms import DEFAULT_SEVERITY, MeasureType

PolicyShockKind = Literal["lapse", "extend", "widen", "new"]
LICENCE_TYPES: Final[frozenset[str]] = frozenset({MeasureType.EXPORT_LICENCE})
"""Measure types whose severity the licence approval rate replaces."""
ONE_DAY: Final = timedelta(days=1)


def default_licence_approval_rate(severity_by_type: Mapping[str, float] | None = None) -> float:
    """The approval rate the severity table implies: ``1 - severity(export_licence)`` (0.8 by default)."""
    table = severity_by_type or {}
    return 1.0 - table.get(MeasureType.EXPORT_LICENCE, DEFAULT_SEVERITY[MeasureType.EXPORT_LICENCE])


# --------------------------------------------------------------------------------------------
# Shocks (what a saved scenario's rows become)


@dataclass(frozen=True, slots=True)
class Window:
    """The days a scenario covers, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(range(self.start.year, self.end.year + 1))


@dataclass(frozen=True, slots=True)
class PolicyShock:
    """One change to the measures. Which measures: ``measure_key`` (one), else every measure by
    ``issuer`` ("" = any issuer) that restricts (a type with a default severity above 0).

    * ``lapse``: the suspension ends; the measure applies again from ``on`` (default: the
      window's start), i.e. ``suspended_until = on - 1 day`` (no suspension at all when ``on`` is
      at or before the suspension's start). Measures without a suspension are unchanged.
    * ``extend``: suspended until ``until`` (included); a measure not suspended becomes so from
      ``on`` (default: the window's start).
    * ``widen``: a widened copy of the measure takes effect on ``on`` (default: the window's
      start) beside the original, which keeps its dates: the original's minerals plus
      ``minerals``, its targets plus ``targets`` (a measure on every destination stays so unless
      the widening names targets, which then become the copy's), its type replaced by
      ``measure_type`` when given (licence to ban).
    * ``new``: a new measure by ``issuer`` of ``measure_type`` on ``minerals`` targeting
      ``targets`` (empty = every destination), in force from ``on`` (default: the window's
      start) through ``until`` (default: open-ended).
    """

    kind: PolicyShockKind
    measure_key: str = ""
    issuer: str = ""
    on: date | None = None
    until: date | None = None
    measure_type: str = ""
    minerals: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OutputCut:
    """A country's output of a mineral cut by ``fraction`` (1.0 = removed) for the window.
    ``country`` "" means the largest producer outside China's group (``largest_non_china``);
    ``mineral`` "" means every mineral."""

    fraction: float
    country: str = ""
    mineral: str = ""


@dataclass(frozen=True, slots=True)
class FacilityShock:
    """A facility offline for the window, or its start delayed by ``delay_years`` (an operating
    facility then supplies again from the window's first year + the delay)."""

    facility_id: int
    facility_key: str
    offline: bool = False
    delay_years: int = 0


@dataclass(frozen=True, slots=True)
class DemandShock:
    """A buyer's requirement of ``mineral`` scaled by ``1 + change`` (-0.2 = 20 % less).
    ``organization`` None: every buyer."""

    mineral: str
    change: float
    organization: int | None = None


@dataclass(frozen=True, slots=True)
class Shocks:
    policy: tuple[PolicyShock, ...] = ()
    licence_approval_rate: float | None = None
    output_cuts: tuple[OutputCut, ...] = ()
    facilities: tuple[FacilityShock, ...] = ()
    demand: tuple[DemandShock, ...] = ()


BASELINE: Final = Shocks()


# --------------------------------------------------------------------------------------------
# Policy shocks


def _restricts(measure: risk.Measure) -> bool:
    # Every measure type has a default severity (minerals.policy_terms); an unknown type is an
    # error, never silently "does not restrict".
    return DEFAULT_SEVERITY[measure.measure_type] > 0


def _matches(shock: PolicyShock, measure: risk.Measure) -> bool:
    if shock.measure_key:
        return measure.key == shock.measure_key
    return (not shock.issuer or measure.issuer == shock.issuer) and _restricts(measure)


def _suspended(measure: risk.Measure) -> bool:
    return measure.suspended_from is not None or measure.suspended_until is not None


def _lapsed(measure: risk.Measure, on: date) -> risk.Measure:
    if not _suspended(measure):
        return measure
    start = measure.suspended_from or measure.effective_on
    if start is not None and on <= start:
        return replace(measure, suspended_from=None, suspended_until=None)
    return replace(measure, suspended_until=on - ONE_DAY)


def _extended(measure: risk.Measure, on: date, until: date) -> risk.Measure:
    start = measure.suspended_from if _suspended(measure) else on
    return replace(measure, suspended_from=start, suspended_until=until)


def _widened(measure: risk.Measure, shock: PolicyShock, on: date, index: int) -> risk.Measure:
    targets = measure.targets | shock.targets if measure.targets else shock.targets
    measure_type = shock.measure_type or measure.measure_type
    return risk.Measure(
        key=f"{measure.key}+widened-{index}",
        issuer=measure.issuer,
        measure_type=measure_type,
        minerals=measure.minerals | shock.minerals,
        targets=frozenset(targets),
        effective_on=max(on, measure.effective_on) if measure.effective_on else on,
        severity_override=measure.severity_override if measure_type == measure.measure_type else None,
    )


def apply_policy_shocks(
    measures: Sequence[risk.Measure], shocks: Sequence[PolicyShock], *, window: Window
) -> tuple[risk.Measure, ...]:
    """The measures with the shocks applied in order (see ``PolicyShock``). Pure: new Measures."""
    out = list(measures)
    for index, shock in enumerate(shocks, start=1):
        on = shock.on or window.start
        if shock.kind == "new":
            if not shock.issuer or not shock.measure_type:
                raise ValueError("a new measure needs an issuer and a type")
            out.append(
                risk.Measure(
                    key=f"scenario-new-{index}",
                    issuer=shock.issuer,
                    measure_type=shock.measure_type,
                    minerals=shock.minerals,
                    targets=shock.targets,
                    effective_on=on,
                    ended_on=shock.until + ONE_DAY if shock.until else None,
                )
            )
            continue
        matched = [i for i, m in enumerate(out) if _matches(shock, m)]
        if shock.kind == "lapse":
            for i in matched:
                out[i] = _lapsed(out[i], on)
        elif shock.kind == "extend":
            if shock.until is None:
                raise ValueError("an extension needs the date the suspension runs until")
            for i in matched:
                out[i] = _extended(out[i], on, shock.until)
        elif shock.kind == "widen":
            out.extend(_widened(out[i], shock, on, index) for i in matched)
        else:
            raise ValueError(f"unknown policy shock {shock.kind!r}")
    return tuple(out)


def apply_licence_approval(
    measures: Sequence[risk.Measure], severity_by_type: Mapping[str, float], rate: float | None
) -> tuple[tuple[risk.Measure, ...], dict[str, float]]:
    """Licence measures block ``1 - rate`` of their flow (a per-measure override too): the
    approval rate replaces the licence severity. ``rate`` None: unchanged."""
    if rate is None:
        return tuple(measures), dict(severity_by_type)
    if math.isnan(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"licence approval rate must be a fraction in [0, 1], got {rate!r}")
    severity = 1.0 - rate
    table = {**severity_by_type, **dict.fromkeys(LICENCE_TYPES, severity)}
    shocked = tuple(replace(m, severity_override=severity) if m.measure_type in LICENCE_TYPES else m for m in measures)
    return shocked, table


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """Measures and the severity table one side (baseline or scenario) runs on."""

    measures: tuple[risk.Measure, ...]
    severity_by_type: Mapping[str, float]


def scenario_policy(
    measures: Sequence[risk.Measure], severity_by_type: Mapping[str, float], shocks: Shocks, *, window: Window
) -> PolicyInputs:
    shocked = apply_policy_shocks(measures, shocks.policy, window=window)
    shocked, table = apply_licence_approval(shocked, severity_by_type, shocks.licence_approval_rate)
    return PolicyInputs(shocked, table)


# --------------------------------------------------------------------------------------------
# Time: segments of the window on which every measure keeps its status


@dataclass(frozen=True, slots=True)
class Segment:
    start: date
    days: int

    @property
    def year(self) -> int:
        return self.start.year


def _status_dates(measure: risk.Measure) -> Iterable[date]:
    for day in (measure.effective_on, measure.suspended_from, measure.ended_on):
        if day is not None:
            yield day
    if measure.suspended_until is not None:
        yield measure.suspended_until + ONE_DAY


def segments(window: Window, measures: Iterable[risk.Measure] = ()) -> tuple[Segment, ...]:
    """The window cut at every day a measure's status may change and at each 1 January."""
    cuts = {window.start}
    cuts.update(date(year, 1, 1) for year in window.years[1:])
    for measure in measures:
        cuts.update(d for d in _status_dates(measure) if window.start < d <= window.end)
    ordered = sorted(cuts)
    ends = [*ordered[1:], window.end + ONE_DAY]
    return tuple(Segment(start, (end - start).days) for start, end in zip(ordered, ends, strict=True))


def window_mean(values: Sequence[tuple[Segment, float | None]]) -> float | None:
    """Day-weighted mean over segments; None when any segment's value is unknown."""
    if not values or any(v is None for _, v in values):
        return None
    days = sum(s.days for s, _ in values)
    return math.fsum(s.days * v for s, v in values if v is not None) / days


def _in_force_signature(measures: Sequence[risk.Measure], day: date) -> tuple[str, ...]:
    return tuple(m.key for m in measures if risk.in_force(m, day))


def evaluate_segments(
    window: Window, measures: Sequence[risk.Measure], value_on: Callable[[date], float | None]
) -> list[tuple[Segment, float | None]]:
    """``value_on`` evaluated once per distinct set of measures in force (segments with the same
    set reuse the value: the figures depend on the date only through that set)."""
    cache: dict[tuple[str, ...], float | None] = {}
    out = []
    for segment in segments(window, measures):
        signature = _in_force_signature(measures, segment.start)
        if signature not in cache:
            cache[signature] = value_on(segment.start)
        out.append((segment, cache[signature]))
    return out


def _for_mineral(measures: Iterable[risk.Measure], mineral: str) -> tuple[risk.Measure, ...]:
    return tuple(m for m in measures if mineral in m.minerals)


# --------------------------------------------------------------------------------------------
# Supply shocks


def largest_non_china(shares: Mapping[str, float | None], china_group: frozenset[str]) -> str | None:
    """The country with the largest known share outside China's group (ties: by code); None when none."""
    known = [(share, country) for country, share in shares.items() if share is not None and country not in china_group]
    if not known:
        return None
    return min(known, key=lambda item: (-item[0], item[1]))[1]


def cuts_for(
    cuts: Sequence[OutputCut], *, mineral: str, supply_shares: Mapping[str, float | None], china_group: frozenset[str]
) -> dict[str, float]:
    """Country -> fraction of its output cut for one mineral (the largest cut where several apply)."""
    out: dict[str, float] = {}
    for cut in cuts:
        if math.isnan(cut.fraction) or not 0.0 <= cut.fraction <= 1.0:
            raise ValueError(f"an output cut must be a fraction in [0, 1], got {cut.fraction!r}")
        if cut.mineral and cut.mineral != mineral:
            continue
        country = cut.country or largest_non_china(supply_shares, china_group)
        if country is not None:
            out[country] = max(out.get(country, 0.0), cut.fraction)
    return out


def shocked_shares(shares: Mapping[str, float | None], cuts: Mapping[str, float]) -> dict[str, float | None]:
    """Shares after cutting country c's quantity by x_c: ``p'_c = p_c (1 - x_c) / (1 - sum_k p_k x_k)``.

    The others keep their quantities, so every other share grows (China's when its largest
    rival is lost). A cut on a country whose share is unknown leaves every share unknown; all
    of the supply cut leaves them unknown too (nothing left to share).
    """
    if not cuts:
        return dict(shares)
    if any(c in shares and shares[c] is None for c in cuts):
        return dict.fromkeys(shares)
    lost = math.fsum((shares.get(c) or 0.0) * x for c, x in cuts.items())
    remaining = 1.0 - lost
    if remaining <= 1e-12:
        return dict.fromkeys(shares)
    return {
        country: None if share is None else share * (1.0 - cuts.get(country, 0.0)) / remaining
        for country, share in shares.items()
    }


def shocked_candidates(
    candidates: Sequence[risk.AlternativeSource],
    *,
    cuts: Mapping[str, float],
    facilities: Sequence[FacilityShock],
    first_year: int,
) -> list[risk.AlternativeSource]:
    """Alternatives under the supply shocks: a cut country's output shrinks (its facilities too),
    an offline facility drops out, a delayed one starts ``delay_years`` later (an operating one
    from ``first_year + delay_years``)."""
    by_key = {f"facility:{s.facility_key}": s for s in facilities}
    out = []
    for source in candidates:
        shock = by_key.get(source.key)
        cut = cuts.get(source.country, 0.0)
        if shock is None and not (cut and source.available_capacity):
            out.append(source)  # untouched (most candidates): no copy
            continue
        if shock is not None and shock.offline:
            continue
        changed = source
        if source.available_capacity is not None and cut:
            changed = replace(changed, available_capacity=source.available_capacity * (1.0 - cut))
        if shock is not None and shock.delay_years:
            if source.status == "operating" or source.start_year is None:
                changed = replace(changed, status="construction", start_year=first_year + shock.delay_years)
            else:
                changed = replace(changed, start_year=source.start_year + shock.delay_years)
        out.append(changed)
    return out


# --------------------------------------------------------------------------------------------
# Per mineral: restricted shares, baseline vs scenario


@dataclass(frozen=True, slots=True)
class MineralInputs:
    """One mineral's as-of inputs: world production shares (the headline stage's newest table
    up to the as-of year) and import shares of the destination (newest year)."""

    mineral: str
    supply_shares: Mapping[str, float | None]
    import_shares: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class MineralOutcome:
    china_supply_share: float | None
    restricted_supply_share: float | None
    restricted_import_share: float | None
    cut_countries: tuple[tuple[str, float], ...]


def mineral_outcome(
    inputs: MineralInputs,
    policy: PolicyInputs,
    cuts: Sequence[OutputCut],
    *,
    window: Window,
    destination: str,
    china_group: frozenset[str],
) -> MineralOutcome:
    """China's share of world supply after the cuts, and the restricted shares of world supply and
    of the destination's imports (window means). Imports from a cut country shrink like its output."""
    cut = cuts_for(cuts, mineral=inputs.mineral, supply_shares=inputs.supply_shares, china_group=china_group)
    supply = shocked_shares(inputs.supply_shares, cut)
    imports = shocked_shares(inputs.import_shares, cut)
    measures = _for_mineral(policy.measures, inputs.mineral)

    def restricted(shares: Mapping[str, float | None]) -> float | None:
        if not shares:
            return None
        values = evaluate_segments(
            window,
            measures,
            lambda day: risk.restricted_share(
                shares,
                measures,
                mineral=inputs.mineral,
                destination=destination,
                as_of=day,
                severity_by_type=policy.severity_by_type,
            ),
        )
        return window_mean(values)

    return MineralOutcome(
        china_supply_share=supply.get(risk.CHINA),
        restricted_supply_share=restricted(supply),
        restricted_import_share=restricted(imports),
        cut_countries=tuple(sorted(cut.items())),
    )


# --------------------------------------------------------------------------------------------
# Per buyer: volume at risk per year, what the alternatives cover


@dataclass(frozen=True, slots=True)
class BuyerInputs:
    """A buyer's holding of one mineral: its annual requirement (None: the sourced total),
    sourcing lines (volumes in the mineral's unit), its country, and the context
    dashboards.risk.buyer_exposure needs (network, fallback mix, control)."""

    organization: int
    mineral: str
    country: str
    requirement: float | None
    lines: tuple[risk.SourcingLine, ...]
    network: risk.SupplyNetwork
    fallback_mix: Mapping[str, Mapping[str, float]]
    feoc: frozenset[str] = risk.FEOC


@dataclass(frozen=True, slots=True)
class YearOutcome:
    year: int
    days: int
    required: float
    at_risk: float | None
    covered: float | None
    uncovered: float | None


@dataclass(frozen=True, slots=True)
class BuyerOutcome:
    organization: int
    mineral: str
    years: tuple[YearOutcome, ...]
    covered_from: int | None


def _line_loss(
    line: risk.SourcingLine,
    network: risk.SupplyNetwork,
    cuts: Mapping[str, float],
    facilities: Mapping[int, FacilityShock],
    year: int,
    first_year: int,
) -> float:
    """Fraction of a sourcing line lost to the supply shocks in ``year`` (0..1)."""
    shock = facilities.get(line.facility_id) if line.facility_id is not None else None
    if shock is not None and (shock.offline or year < first_year + shock.delay_years):
        return 1.0
    node = network.facilities.get(line.facility_id) if line.facility_id is not None else None
    country = node.country if node is not None else line.country
    return cuts.get(country, 0.0)


def requirement_after(inputs: BuyerInputs, demand: Sequence[DemandShock]) -> float:
    """The annual requirement (the sourced total without one) scaled by the demand shocks."""
    base = inputs.requirement if inputs.requirement is not None else math.fsum(line.volume for line in inputs.lines)
    factor = 1.0
    for shock in demand:
        if shock.mineral == inputs.mineral and shock.organization in (None, inputs.organization):
            factor *= 1.0 + shock.change
    return max(0.0, base * factor)


def at_risk_share(
    inputs: BuyerInputs,
    policy: PolicyInputs,
    *,
    day: date,
    losses: Sequence[float],
    trace_memo: dict[int, Any] | None = None,
) -> float | None:
    """Share of the sourced volume not delivered on ``day``: lost to supply shocks, or blocked by
    measures anywhere along its chain (risk.buyer_exposure's restricted share of what still
    flows): ``1 - sum_l v_l (1 - loss_l) (1 - r) / sum_l v_l``. None without sourcing."""
    total = math.fsum(line.volume for line in inputs.lines)
    if total <= 0:
        return None
    flowing = [
        replace(line, volume=line.volume * (1.0 - loss)) for line, loss in zip(inputs.lines, losses, strict=True)
    ]
    remaining = math.fsum(line.volume for line in flowing)
    if remaining <= 0:
        return 1.0
    exposure = risk.buyer_exposure(
        flowing,
        mineral=inputs.mineral,
        as_of=day,
        buyer_country=inputs.country,
        network=inputs.network,
        fallback_mix=inputs.fallback_mix,
        measures=policy.measures,
        feoc=inputs.feoc,
        severity_by_type=policy.severity_by_type,
        trace_memo=trace_memo,
    )
    if exposure.restricted_share is None:
        return None
    return 1.0 - remaining * (1.0 - exposure.restricted_share) / total


def capacity_by_year(
    candidates: Sequence[risk.AlternativeSource], years: Iterable[int], *, first_year: int, feoc: frozenset[str]
) -> dict[int, float]:
    """Per year, the known capacity of the sources risk.rank_alternatives would offer (no FEOC
    tie, capacity above 0) that are available that year (``risk.available_from``, reference year
    ``first_year``), net of the measures they face (``capacity x (1 - measure_severity)``);
    unknown capacities add nothing. The ranking's order does not change the sum, so it is not run."""
    offered = []
    for source in candidates:
        if risk.not_alternative_reason(source, feoc=feoc) is not None or not source.available_capacity:
            continue
        start, _ = risk.available_from(source, first_year)
        if start is not None:
            offered.append((start, source.available_capacity * (1.0 - (source.measure_severity or 0.0))))
    return {year: math.fsum(c for start, c in offered if start <= year) for year in years}


def covered_volume(at_risk: float, capacity: float) -> float:
    """The part of ``at_risk`` the alternatives' capacity (``capacity_by_year``) can cover."""
    return min(at_risk, capacity)


def buyer_outcome(
    inputs: BuyerInputs,
    policy: PolicyInputs,
    shocks: Shocks,
    *,
    window: Window,
    alternatives: Sequence[risk.Alternative] = (),
    cuts: Mapping[str, float],
    capacity: Mapping[int, float] | None = None,
    trace_memos: dict[Any, dict[int, Any]] | None = None,
) -> BuyerOutcome:
    """Volume at risk per year of the window (requirement x day-weighted at-risk share x the
    year's days in the window / the year's days), the part ``alternatives`` (ranked by
    risk.rank_alternatives over the shocked candidates) cover, what stays uncovered, and the first
    year from which everything at risk is covered."""
    required = requirement_after(inputs, shocks.demand)
    measures = _for_mineral(policy.measures, inputs.mineral)
    policy = PolicyInputs(measures, policy.severity_by_type)  # the others never apply to this mineral
    if capacity is None:
        capacity = capacity_by_year(
            [a.source for a in alternatives], window.years, first_year=window.start.year, feoc=inputs.feoc
        )
    facility_shocks = {s.facility_id: s for s in shocks.facilities}
    first_year = window.start.year
    by_year: dict[int, list[Segment]] = {}
    for segment in segments(window, measures):
        by_year.setdefault(segment.year, []).append(segment)
    share_cache: dict[tuple[tuple[str, ...], tuple[float, ...]], float | None] = {}
    years = []
    for year, year_segments in sorted(by_year.items()):
        losses = tuple(
            _line_loss(line, inputs.network, cuts, facility_shocks, year, first_year) for line in inputs.lines
        )
        values = []
        for segment in year_segments:
            key = (_in_force_signature(measures, segment.start), losses)
            if key not in share_cache:
                memo = None
                if trace_memos is not None:
                    memo = trace_memos.setdefault((key[0], inputs.country), {})
                share_cache[key] = at_risk_share(inputs, policy, day=segment.start, losses=losses, trace_memo=memo)
            values.append((segment, share_cache[key]))
        days = sum(s.days for s in year_segments)
        year_days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
        share = window_mean(values)
        year_required = required * days / year_days
        at_risk = None if share is None else year_required * share
        covered = None if at_risk is None else covered_volume(at_risk, capacity.get(year, 0.0))
        uncovered = None if at_risk is None or covered is None else max(0.0, at_risk - covered)
        years.append(YearOutcome(year, days, year_required, at_risk, covered, uncovered))
    covered_from = next(
        (y.year for y in years if y.uncovered is not None and y.uncovered <= 1e-9 * max(1.0, y.required)), None
    )
    return BuyerOutcome(inputs.organization, inputs.mineral, tuple(years), covered_from)
