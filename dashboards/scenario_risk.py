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
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
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
    * ``widen``: the measure is replaced from ``on`` (default: the window's start) by its widened
      self (``widened``): its minerals plus ``minerals``, its targets plus ``targets``, its type
      replaced by ``measure_type`` when given (licence to ban); same key, suspension and end.
      Before ``on`` it applies as recorded. Never a copy beside it, so the narrower original
      never stays in force next to the wider one.
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


def widened(measure: risk.Measure, shock: PolicyShock, on: date) -> tuple[risk.Measure, ...]:
    """What replaces ``measure`` when ``shock`` widens it from ``on`` (same key throughout):

    * the widened measure ``W``: minerals ``M + A``, targets ``T + T+`` (a measure on every
      destination stays on every destination: a widening never narrows), type ``measure_type``
      when given (a per-measure severity override is kept only with the type), the measure's
      suspension and end date;
    * in force from ``on`` (from its own effective date when that is later; a measure announced
      but not yet effective takes effect on ``on``). When the measure was in force before ``on``,
      it stays as recorded until then and ends there (``ended_on = on``), so exactly one of the
      two is in force on any day. A measure ended by ``on`` has nothing left to widen.
    * One exception, because a measure cannot say "every destination but these": a measure on
      every destination whose type is raised for named targets only ("China bans every
      controlled item to the United States") keeps applying everywhere, and the named targets
      get the widened measure from ``on``. Severities of one issuer's measures combine by their
      maximum (risk.country_severity), never by a sum, so for those targets the stricter one
      counts, once.
    """
    measure_type = shock.measure_type or measure.measure_type
    override = measure.severity_override if measure_type == measure.measure_type else None
    if measure.ended_on is not None and measure.ended_on <= on:
        return (measure,)
    start = measure.effective_on
    from_on = on if start is None or start < on else start
    split = not measure.targets and bool(shock.targets) and measure_type != measure.measure_type
    wide = replace(
        measure,
        measure_type=measure_type,
        minerals=measure.minerals | shock.minerals,
        targets=shock.targets if split else (measure.targets | shock.targets if measure.targets else frozenset()),
        effective_on=from_on,
        severity_override=override,
    )
    if split:
        return (measure, wide)
    if start is None or start >= on:
        return (wide,)
    return (replace(measure, ended_on=on), wide)


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
            chosen = set(matched)
            out = [piece for i, m in enumerate(out) for piece in (widened(m, shock, on) if i in chosen else (m,))]
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
    if len(values) == 1:
        return values[0][1]
    if not values or any(v is None for _, v in values):
        return None
    days = sum(s.days for s, _ in values)
    return math.fsum(s.days * v for s, v in values if v is not None) / days


def _in_force_signature(measures: Sequence[risk.Measure], day: date) -> tuple[int, ...]:
    # Positions, not keys: a widened measure and what it replaced share a key (``widened``).
    return tuple(i for i, m in enumerate(measures) if risk.in_force(m, day))


def evaluate_segments(
    window: Window, measures: Sequence[risk.Measure], value_on: Callable[[date], float | None]
) -> list[tuple[Segment, float | None]]:
    """``value_on`` evaluated once per distinct set of measures in force (segments with the same
    set reuse the value: the figures depend on the date only through that set)."""
    cache: dict[tuple[int, ...], float | None] = {}
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


def shocked_mix(
    mix: Mapping[str, float], cuts: Mapping[str, float], world: Mapping[str, float] | None
) -> dict[str, float] | None:
    """A fallback mix (origin -> share of a country's inputs) under output cuts: each origin
    ``o`` delivers ``1 - x_o`` of its part and the part lost, ``L = sum_o m_o x_o``, is bought on
    the world market after the cuts (``world``, ``shocked_shares`` of the world mix):
    ``m'_o = m_o (1 - x_o) + L w'_o``.

    On the world mix itself this gives ``w'`` (``w_o (1 - x_o) + L w'_o = w'_o``); a producer's
    own mix ``{c: 1}`` with c cut by x becomes ``(1 - x) c + x w'``. So when a non-Chinese
    producer is lost, China's share rises in every mix that drew on it. None (no mix known) when
    something is lost and the world after the cuts is unknown.
    """
    lost = math.fsum(share * cuts.get(origin, 0.0) for origin, share in mix.items())
    if lost <= 0:
        return dict(mix)
    if world is None:
        return None
    out = {origin: share * (1.0 - cuts.get(origin, 0.0)) for origin, share in mix.items()}
    for origin, share in world.items():
        out[origin] = out.get(origin, 0.0) + lost * share
    return out


class ShockedFallbackMix(Mapping[str, Mapping[str, float]]):
    """The risk engine's fallback mixes (``base``: country -> assumed origin of inputs whose
    facility or supplier is unknown, dashboards.inputs.FallbackMix) under output cuts: each
    country's mix through ``shocked_mix``, with the world mix ``world`` (known shares) cut by
    ``shocked_shares``. A country without a mix (KeyError) stays without one."""

    def __init__(
        self, base: Mapping[str, Mapping[str, float]], world: Mapping[str, float], cuts: Mapping[str, float]
    ) -> None:
        self.base = base
        self.cuts = dict(cuts)
        after = shocked_shares(world, self.cuts)
        self.world: dict[str, float] | None = (
            None if not after or any(v is None for v in after.values()) else {c: v for c, v in after.items() if v}
        )
        self._memo: dict[str, dict[str, float] | None] = {}

    def __getitem__(self, country: str) -> Mapping[str, float]:
        if country not in self._memo:
            self._memo[country] = shocked_mix(self.base[country], self.cuts, self.world)
        mix = self._memo[country]
        if mix is None:
            raise KeyError(country)
        return mix

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


def fallback_mix_after(
    base: Mapping[str, Mapping[str, float]], world: Mapping[str, float], cuts: Mapping[str, float]
) -> Mapping[str, Mapping[str, float]]:
    """``base`` itself without a cut, else ``ShockedFallbackMix``."""
    return ShockedFallbackMix(base, world, cuts) if any(cuts.values()) else base


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
    issues: tuple[str, ...] = ()


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


def _flowing(lines: Sequence[risk.SourcingLine], losses: Sequence[float]) -> list[float]:
    return [line.volume * (1.0 - loss) for line, loss in zip(lines, losses, strict=True)]


def _not_delivered(total: float, flowing: Sequence[float], passthroughs: Sequence[float]) -> float | None:
    """Share of the sourced volume (``total``) not delivered: lost to supply shocks, or blocked by
    measures anywhere along its chain (``flowing``: per line what the shocks leave, ``v_l (1 -
    loss_l)``; ``passthroughs``: risk.line_passthroughs): ``1 - sum_l v_l (1 - loss_l) p_l /
    sum_l v_l``, i.e. risk.buyer_exposure's restricted share of what still flows, applied to
    what flows. None without sourcing."""
    if total <= 0:
        return None
    return 1.0 - math.fsum(f * p for f, p in zip(flowing, passthroughs, strict=True)) / total


LineKey = tuple[int | None, str]
LEVER_IDS: Final = frozenset(risk.LEVER_NODE_IDS.values())


def line_key(line: risk.SourcingLine) -> LineKey:
    # A facility's line traces the facility (an unknown one: its line's country), a country line
    # the country's fallback mix: the passthrough depends on nothing else but the buyer's country.
    return (line.facility_id, line.country)


def with_levers(network: risk.SupplyNetwork, country: str) -> risk.SupplyNetwork:
    """``network`` plus the transition plan's generic levers (risk.lever_node) in ``country``,
    without copying the facilities."""
    levers = {node.id: node for node in (risk.lever_node(lever, country) for lever in risk.LEVER_NODE_IDS)}
    return risk.SupplyNetwork(facilities=ChainMap(levers, _read_only(network.facilities)), inputs=network.inputs)


def _read_only(facilities: Mapping[int, risk.FacilityNode]) -> MutableMapping[int, risk.FacilityNode]:
    return facilities  # type: ignore[return-value]  # ChainMap's typing wants mutable maps; never written


class ChainEvaluator:
    """One mineral under one set of policy inputs (baseline or scenario) over a window: its
    segments and the set of measures in force on each (the same for every buyer), and each
    sourcing line's passthrough per set of measures in force and buyer country.

    The figures depend on the date only through the set in force, so a line is traced once per
    set and country (risk.line_passthroughs) and kept; ``prefetch`` traces every buyer's lines in
    one pass per set and country, after which a buyer's at-risk share is a sum over its lines.
    Lines to the plan's generic levers are traced on the network plus the levers in the buyer's
    country (``with_levers``); the traces of the other facilities are the same on both."""

    def __init__(
        self,
        *,
        mineral: str,
        policy: PolicyInputs,
        window: Window,
        network: risk.SupplyNetwork,
        fallback_mix: Mapping[str, Mapping[str, float]],
    ) -> None:
        self.mineral = mineral
        self.measures = _for_mineral(policy.measures, mineral)
        self.severity_by_type = policy.severity_by_type
        self.network = network
        self.fallback_mix = fallback_mix
        by_year: dict[int, list[tuple[Segment, tuple[int, ...]]]] = {}
        self.day_of: dict[tuple[int, ...], date] = {}
        for segment in segments(window, self.measures):
            signature = _in_force_signature(self.measures, segment.start)
            by_year.setdefault(segment.year, []).append((segment, signature))
            self.day_of.setdefault(signature, segment.start)
        # Per year of the window: its segments, its days in the window and the year's days.
        self.years = [
            (year, parts, sum(p.days for p, _ in parts), (date(year + 1, 1, 1) - date(year, 1, 1)).days)
            for year, parts in sorted(by_year.items())
        ]
        self._facility_shocks: tuple[tuple[FacilityShock, ...], dict[int, FacilityShock]] | None = None
        self._networks: dict[str, risk.SupplyNetwork] = {}
        self._memos: dict[tuple[tuple[int, ...], str], dict[int, Any]] = {}
        self._known: dict[tuple[tuple[int, ...], str], dict[LineKey, float]] = {}

    def _traced(
        self, signature: tuple[int, ...], country: str, lines: Iterable[risk.SourcingLine]
    ) -> dict[LineKey, float]:
        known = self._known.setdefault((signature, country), {})
        missing = {line_key(line): line for line in lines if line_key(line) not in known}
        if missing:
            network = self.network
            if any(key[0] in LEVER_IDS for key in missing):
                if country not in self._networks:
                    self._networks[country] = with_levers(self.network, country)
                network = self._networks[country]
            values = risk.line_passthroughs(
                list(missing.values()),
                mineral=self.mineral,
                as_of=self.day_of[signature],
                buyer_country=country,
                network=network,
                fallback_mix=self.fallback_mix,
                measures=self.measures,
                severity_by_type=self.severity_by_type,
                trace_memo=self._memos.setdefault((signature, country), {}),
            )
            known.update(zip(missing, values, strict=True))
        return known

    def prefetch(self, holdings: Iterable[tuple[str, Sequence[risk.SourcingLine]]]) -> None:
        """Trace the lines of many buyers (their country, their lines) in one pass per set of
        measures in force and country."""
        by_country: dict[str, list[risk.SourcingLine]] = {}
        for country, lines in holdings:
            by_country.setdefault(country, []).extend(lines)
        for signature in self.day_of:
            for country, lines in by_country.items():
                self._traced(signature, country, lines)

    def facility_shocks(self, shocks: tuple[FacilityShock, ...]) -> dict[int, FacilityShock]:
        """The shocks by facility id (indexed once for every buyer of the side)."""
        if self._facility_shocks is None or self._facility_shocks[0] is not shocks:
            self._facility_shocks = (shocks, {s.facility_id: s for s in shocks})
        return self._facility_shocks[1]

    def passthroughs(
        self, signature: tuple[int, ...], country: str, lines: Sequence[risk.SourcingLine], keys: Sequence[LineKey]
    ) -> list[float]:
        """Each line's passthrough (``keys``: the lines' ``line_key``), traced when not yet known."""
        known = self._known.get((signature, country))
        if known is None or any(key not in known for key in keys):
            known = self._traced(signature, country, lines)
        return [known[key] for key in keys]


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
    plan: Sequence[risk.PlanMove] | None = None,
    evaluator: ChainEvaluator | None = None,
) -> BuyerOutcome:
    """Volume at risk per year of the window (requirement x day-weighted at-risk share x the
    year's days in the window / the year's days), the part ``alternatives`` (ranked by
    risk.rank_alternatives over the shocked candidates) cover, what stays uncovered, and the first
    year from which everything at risk is covered.

    ``plan``: the moves of the buyer's active transition plan still to apply; each year's lines
    are then ``risk.planned_lines`` of that year (moves due by then, shares of the requirement
    before any demand shock, like the lines), run through the same maths. A year whose plan
    cannot be placed has its volumes None and the reason in ``issues``.

    ``evaluator``: the mineral's ``ChainEvaluator`` for ``policy`` and ``window``, shared by its
    buyers (built from ``inputs`` when not given)."""
    if evaluator is None:
        evaluator = ChainEvaluator(
            mineral=inputs.mineral, policy=policy, window=window, network=inputs.network,
            fallback_mix=inputs.fallback_mix,
        )  # fmt: skip
    required = requirement_after(inputs, shocks.demand)
    if capacity is None:
        capacity = capacity_by_year(
            [a.source for a in alternatives], window.years, first_year=window.start.year, feoc=inputs.feoc
        )
    facility_shocks = evaluator.facility_shocks(shocks.facilities)
    first_year = window.start.year
    # Without a plan or a facility shock on its lines, a buyer's lines and losses are the same
    # every year: computed once, and each set of measures in force evaluated once for the window.
    static = not plan and not any(line.facility_id in facility_shocks for line in inputs.lines)
    prepared: tuple[tuple[risk.SourcingLine, ...], list[LineKey], float, list[float]] | None = None
    shares: dict[tuple[int, ...], float | None] = {}
    years = []
    issues: list[str] = []
    for year, year_segments, days, year_days in evaluator.years:
        year_required = required * days / year_days
        if prepared is None or not static:
            lines: tuple[risk.SourcingLine, ...] | None = inputs.lines
            if plan:
                lines, year_issues = risk.planned_lines(inputs.lines, plan, year=year, requirement=inputs.requirement)
                issues.extend(f"{year}: {issue}" for issue in year_issues)
            if lines is None:
                years.append(YearOutcome(year, days, year_required, None, None, None))
                continue
            keys = [line_key(line) for line in lines]
            losses = [_line_loss(line, inputs.network, cuts, facility_shocks, year, first_year) for line in lines]
            prepared = (lines, keys, math.fsum(line.volume for line in lines), _flowing(lines, losses))
            shares = {}
        lines, keys, total, flowing = prepared
        values = []
        for segment, signature in year_segments:
            if signature not in shares:
                passthroughs = evaluator.passthroughs(signature, inputs.country, lines, keys)
                shares[signature] = _not_delivered(total, flowing, passthroughs)
            values.append((segment, shares[signature]))
        share = window_mean(values)
        at_risk = None if share is None else year_required * share
        covered = None if at_risk is None else covered_volume(at_risk, capacity.get(year, 0.0))
        uncovered = None if at_risk is None or covered is None else max(0.0, at_risk - covered)
        years.append(YearOutcome(year, days, year_required, at_risk, covered, uncovered))
    covered_from = next(
        (y.year for y in years if y.uncovered is not None and y.uncovered <= 1e-9 * max(1.0, y.required)), None
    )
    return BuyerOutcome(inputs.organization, inputs.mineral, tuple(years), covered_from, tuple(dict.fromkeys(issues)))
