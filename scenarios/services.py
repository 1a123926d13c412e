"""Writes of scenarios (save, run, built-ins) and the run itself: read the inputs once, run the
baseline and the scenario through dashboards.scenario_risk, store the result with the data version.

Forms, the API and the admin all save through `scenario_save`; a run is requested
(`scenario_run_request`, enqueued after the commit) and executed by the Celery task
(`scenario_run_execute`): claimed with a conditional UPDATE so two deliveries compute once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboards import risk
from dashboards import scenario_risk as sr
from dashboards import selectors as dashboard_selectors
from dashboards.inputs import KG_PER_UNIT, FallbackMix, exposure_inputs, feoc_countries
from minerals.models import Country, Mineral, Stage
from scenarios import selectors
from scenarios.models import DemandShock, PolicyShock, Scenario, ScenarioBuyerResult, ScenarioRun, SupplyShock
from suppliers.models import Organization

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Saving


@dataclass(frozen=True)
class PolicyShockData:
    kind: str
    measure_id: int | None = None
    issuer_id: str | None = None
    on: date | None = None
    until: date | None = None
    measure_type: str = ""
    mineral_ids: Sequence[int] = ()
    target_ids: Sequence[str] = ()


@dataclass(frozen=True)
class SupplyShockData:
    kind: str
    mineral_id: int | None = None
    country_id: str | None = None
    cut_percent: float | None = None
    facility_id: int | None = None
    delay_years: int | None = None


@dataclass(frozen=True)
class DemandShockData:
    mineral_id: int
    change_percent: float


@dataclass(frozen=True)
class ScenarioData:
    name: str
    as_of: date
    window_start: date
    window_end: date
    assumptions: str = ""
    licence_approval_rate: float | None = None
    policy: Sequence[PolicyShockData] = field(default_factory=tuple)
    supply: Sequence[SupplyShockData] = field(default_factory=tuple)
    demand: Sequence[DemandShockData] = field(default_factory=tuple)


def _pk(value: Any) -> Any:
    return value.pk if value is not None else None


def scenario_data(
    head: dict[str, Any],
    policy: Iterable[dict[str, Any]],
    supply: Iterable[dict[str, Any]],
    demand: Iterable[dict[str, Any]],
) -> ScenarioData:
    """Validated input (the form and formsets' cleaned data, or the API's) as the service's
    input: related rows as model instances (measure, issuer, minerals, targets, mineral,
    country, facility), the rest as typed values."""
    return ScenarioData(
        name=head["name"],
        assumptions=head.get("assumptions") or "",
        as_of=head["as_of"],
        window_start=head["window_start"],
        window_end=head["window_end"],
        licence_approval_rate=head.get("licence_approval_rate"),
        policy=[
            PolicyShockData(
                kind=d["kind"],
                measure_id=_pk(d.get("measure")),
                issuer_id=_pk(d.get("issuer")),
                on=d.get("on"),
                until=d.get("until"),
                measure_type=d.get("measure_type") or "",
                mineral_ids=[m.pk for m in d.get("minerals") or []],
                target_ids=[c.pk for c in d.get("targets") or []],
            )
            for d in policy
        ],
        supply=[
            SupplyShockData(
                kind=d["kind"],
                mineral_id=_pk(d.get("mineral")),
                country_id=_pk(d.get("country")),
                cut_percent=d.get("cut_percent"),
                facility_id=_pk(d.get("facility")),
                delay_years=d.get("delay_years"),
            )
            for d in supply
        ],
        demand=[DemandShockData(mineral_id=d["mineral"].pk, change_percent=d["change_percent"]) for d in demand],
    )


@transaction.atomic
def scenario_save(
    *,
    data: ScenarioData,
    organization: Organization | None,
    user: Any = None,
    scenario: Scenario | None = None,
    key: str = "",
) -> Scenario:
    """Create or replace a scenario and its shock rows (validated: full_clean and the database
    constraints); every save bumps the revision, so earlier runs read as stale."""
    if scenario is None:
        scenario = Scenario(organization=organization, created_by=user if getattr(user, "pk", None) else None, key=key)
    for name in ("name", "as_of", "window_start", "window_end", "assumptions", "licence_approval_rate"):
        setattr(scenario, name, getattr(data, name))
    scenario.revision = (scenario.revision or 0) + 1
    scenario.full_clean()
    scenario.save()
    scenario.policy_shocks.all().delete()
    scenario.supply_shocks.all().delete()
    scenario.demand_shocks.all().delete()
    for p in data.policy:
        row = PolicyShock(
            scenario=scenario,
            kind=p.kind,
            measure_id=p.measure_id,
            issuer_id=p.issuer_id,
            on=p.on,
            until=p.until,
            measure_type=p.measure_type,
        )
        row.full_clean()
        row.save()
        row.minerals.set(p.mineral_ids)
        row.targets.set(Country.objects.filter(pk__in=list(p.target_ids)))
    for s in data.supply:
        supply_row = SupplyShock(scenario=scenario, **s.__dict__)
        supply_row.full_clean()
        supply_row.save()
    for d in data.demand:
        demand_row = DemandShock(scenario=scenario, **d.__dict__)
        demand_row.full_clean()
        demand_row.save()
    return scenario


@transaction.atomic
def scenario_delete(*, scenario: Scenario) -> None:
    scenario.delete()


# --------------------------------------------------------------------------------------------
# Running


def scenario_run_request(*, scenario: Scenario, force: bool = False) -> ScenarioRun:
    """A run for the current data: the latest finished one when it already used this data (and
    not ``force``), the pending one when one waits, else a new run enqueued after the commit."""
    version = selectors.data_version(scenario)
    done = selectors.latest_done_run(scenario)
    if done is not None and done.data_version == version and not force:
        return done
    pending = scenario.runs.filter(status__in=[ScenarioRun.Status.QUEUED, ScenarioRun.Status.RUNNING]).first()
    if pending is not None:
        return pending
    run = ScenarioRun.objects.create(scenario=scenario)
    from scenarios.tasks import run_scenario  # the task module imports these services

    transaction.on_commit(lambda: run_scenario.delay(run.pk), robust=True)
    return run


def _claim(run_id: int) -> bool:
    """queued -> running for exactly one caller (a duplicate delivery claims nothing)."""
    claimed = ScenarioRun.objects.filter(pk=run_id, status=ScenarioRun.Status.QUEUED).update(
        status=ScenarioRun.Status.RUNNING, started_at=timezone.now(), progress=0
    )
    return claimed == 1


def scenario_run_execute(*, run_id: int) -> ScenarioRun:
    """Compute a claimed run and store its result (per mineral on the run, per buyer in its own
    rows), all in one transaction; the progress is written as minerals complete."""
    if not _claim(run_id):
        return ScenarioRun.objects.get(pk=run_id)
    run = ScenarioRun.objects.select_related("scenario").get(pk=run_id)

    def progress(done: int, total: int) -> None:
        ScenarioRun.objects.filter(pk=run_id).update(progress=min(99, int(100 * done / max(total, 1))))

    try:
        version = selectors.data_version(run.scenario)
        result = scenario_compute(run.scenario, progress=progress)
    except Exception as error:
        logger.exception("scenario run %s failed", run_id)
        ScenarioRun.objects.filter(pk=run_id).update(
            status=ScenarioRun.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    with transaction.atomic():
        ScenarioBuyerResult.objects.bulk_create(
            ScenarioBuyerResult(run_id=run_id, organization_id=org_id, minerals=rows)
            for org_id, rows in sorted(result.buyers.items())
        )
        ScenarioRun.objects.filter(pk=run_id).update(
            status=ScenarioRun.Status.DONE,
            progress=100,
            data_version=version,
            minerals=result.minerals,
            finished_at=timezone.now(),
        )
    run.refresh_from_db()
    return run


def stale_scenarios_rerun() -> int:
    """Request a run of every scenario whose last result used older data (the beat sweep)."""
    count = 0
    for scenario in Scenario.objects.filter(pk__in=selectors.stale_scenario_ids()):
        scenario_run_request(scenario=scenario)
        count += 1
    return count


# --------------------------------------------------------------------------------------------
# The computation


@dataclass(frozen=True)
class ScenarioResult:
    minerals: list[dict[str, Any]]
    buyers: dict[int, list[dict[str, Any]]]


def _factor(unit: str, to_unit: str) -> float:
    return KG_PER_UNIT.get(unit or to_unit, 1.0) / KG_PER_UNIT.get(to_unit, 1.0)


def _outcome(o: sr.MineralOutcome) -> dict[str, Any]:
    return {
        "china_supply_share": o.china_supply_share,
        "restricted_supply_share": o.restricted_supply_share,
        "restricted_import_share": o.restricted_import_share,
    }


def _with_severity(
    candidates: Iterable[risk.AlternativeSource], policy: sr.PolicyInputs, mineral: str, destination: str, day: date
) -> list[risk.AlternativeSource]:
    """The candidates with the severity of the measures they face under ``policy`` (one per country)."""
    measures = [m for m in policy.measures if mineral in m.minerals]
    severity: dict[str, float] = {}
    out = []
    for c in candidates:
        if c.country not in severity:
            severity[c.country] = risk.country_severity(
                measures, c.country, mineral, destination, day, policy.severity_by_type
            )
        out.append(c if c.measure_severity == severity[c.country] else replace(c, measure_severity=severity[c.country]))
    return out


def _years(
    base: sr.BuyerOutcome,
    shocked: sr.BuyerOutcome,
    plan_base: sr.BuyerOutcome | None,
    plan_shocked: sr.BuyerOutcome | None,
) -> list[dict[str, Any]]:
    """Per year: the volumes without the buyer's plan, and with it (None without an active plan)."""
    out = []
    for i, (b, s) in enumerate(zip(base.years, shocked.years, strict=True)):
        pb = plan_base.years[i] if plan_base is not None else None
        ps = plan_shocked.years[i] if plan_shocked is not None else None
        out.append(
            {
                "year": s.year,
                "days": s.days,
                "baseline_required": b.required,
                "required": s.required,
                "baseline_at_risk": b.at_risk,
                "at_risk": s.at_risk,
                "baseline_uncovered": b.uncovered,
                "covered": s.covered,
                "uncovered": s.uncovered,
                "plan_baseline_at_risk": pb.at_risk if pb is not None else None,
                "plan_at_risk": ps.at_risk if ps is not None else None,
                "plan_covered": ps.covered if ps is not None else None,
                "plan_uncovered": ps.uncovered if ps is not None else None,
            }
        )
    return out


def scenario_compute(scenario: Scenario, *, progress: Callable[[int, int], None] | None = None) -> ScenarioResult:
    """Baseline and scenario, per mineral and per buyer (the scenario's organization, or every
    buyer for a built-in). A fixed number of queries whatever the number of buyers."""
    window, shocks = selectors.scenario_shocks(scenario)
    destination = settings.LODESTONE_DEFAULT_DESTINATION
    feoc = feoc_countries()
    china_group = frozenset(settings.LODESTONE_CHINA_GROUP)
    minerals = list(Mineral.objects.order_by("name").values_list("id", "slug", "name", "canonical_unit"))
    ids = [m[0] for m in minerals]
    read = exposure_inputs(
        organization_ids=[scenario.organization_id] if scenario.organization_id else None, mineral_ids=ids
    )
    if read.pairs:  # every mineral's measures and the severities, read once with the portfolios
        measures, severities = read.measures, read.severities
    else:
        as_of_data = dashboard_selectors.as_of_inputs(ids)
        measures, severities = as_of_data.measures, as_of_data.severities
    supply, imports = selectors.shares_as_of(ids, year=scenario.as_of.year, destination=destination)
    candidates = dashboard_selectors.alternative_sources(
        ids,
        as_of=scenario.as_of,
        unit_of={m[0]: m[3] for m in minerals},
        stage_of=dict.fromkeys(ids, Stage.REFINERY),
        slug_of={m[0]: m[1] for m in minerals},
    )
    baseline = sr.PolicyInputs(tuple(measures), severities)
    shocked = sr.scenario_policy(measures, severities, shocks, window=window)
    plans = selectors.active_plans([scenario.organization_id] if scenario.organization_id else None)
    holders: dict[int, list[int]] = defaultdict(list)
    for org_id, mid in sorted(read.pairs):
        holders[mid].append(org_id)

    mineral_rows: list[dict[str, Any]] = []
    buyers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for done, (mid, slug, name, unit) in enumerate(minerals, start=1):
        inputs = sr.MineralInputs(slug, supply.get(mid, {}), imports.get(mid, {}))
        base = sr.mineral_outcome(inputs, baseline, (), window=window, destination=destination, china_group=china_group)
        after = sr.mineral_outcome(
            inputs, shocked, shocks.output_cuts, window=window, destination=destination, china_group=china_group
        )
        cuts = dict(after.cut_countries)
        offered = {
            "baseline": _with_severity(candidates.get(mid, []), baseline, slug, destination, window.start),
            "scenario": _with_severity(
                sr.shocked_candidates(
                    candidates.get(mid, []), cuts=cuts, facilities=shocks.facilities, first_year=window.start.year
                ),
                shocked,
                slug,
                destination,
                window.start,
            ),
        }
        capacity = {
            side: sr.capacity_by_year(sources, window.years, first_year=window.start.year, feoc=feoc)
            for side, sources in offered.items()
        }
        # The scenario's ranked alternatives, the first three shown (risk.rank_alternatives).
        ranked = risk.rank_alternatives(
            1.0,
            offered["scenario"],
            feoc=feoc,
            required_stage=Stage.REFINERY,
            year=window.start.year,
            weights=settings.LODESTONE_ALTERNATIVE_WEIGHTS,
        )
        fallback_mix = FallbackMix(read.mix_tables.get(mid))
        # The scenario's output cuts reach the mixes assumed where inputs are unknown (China's
        # share in them rises when another producer is lost): scenario_risk.shocked_mix.
        mixes = {"baseline": fallback_mix, "scenario": sr.fallback_mix_after(fallback_mix, fallback_mix.world, cuts)}
        # Buyers of one mineral share its network and the window's sets of measures in force:
        # every buyer's lines are traced in one pass per side, set and buyer country.
        evaluators = {
            side: sr.ChainEvaluator(
                mineral=slug, policy=policy, window=window, network=read.networks[mid], fallback_mix=mixes[side]
            )
            for side, policy in (("baseline", baseline), ("scenario", shocked))
        }
        holdings = [
            (read.organizations[org_id][1], read.lines.get((org_id, mid), [])) for org_id in holders.get(mid, [])
        ]
        for evaluator in evaluators.values():
            evaluator.prefetch(holdings)
        mineral_rows.append(
            {
                "mineral": slug,
                "name": name,
                "unit": unit,
                "baseline": _outcome(base),
                "scenario": _outcome(after),
                "cut_countries": [list(c) for c in after.cut_countries],
                "alternatives": [
                    {"name": a.source.name, "country": a.source.country, "available_from": a.available_from}
                    for a in ranked[:3]
                ],
            }
        )
        for org_id in holders.get(mid, []):
            required, required_unit = read.requirements.get((org_id, mid), (None, unit))
            factor = _factor(required_unit, unit)
            lines = tuple(
                replace(line, volume=line.volume * factor) if factor != 1.0 else line
                for line in read.lines.get((org_id, mid), [])
            )
            country = read.organizations[org_id][1]
            buyer = sr.BuyerInputs(
                organization=org_id,
                mineral=slug,
                country=country,
                requirement=required * factor if required is not None else None,
                lines=lines,
                network=read.networks[mid],
                fallback_mix=mixes["baseline"],
                feoc=feoc,
            )
            sides = {
                "baseline": (buyer, baseline, sr.BASELINE, {}),
                "scenario": (replace(buyer, fallback_mix=mixes["scenario"]), shocked, shocks, cuts),
            }
            plan = plans.get(org_id)
            moves = plan.moves.get(mid, []) if plan is not None else []
            out: dict[str, sr.BuyerOutcome] = {}
            planned: dict[str, sr.BuyerOutcome] = {}
            for side, (side_buyer, policy, side_shocks, side_cuts) in sides.items():
                run = partial(
                    sr.buyer_outcome, side_buyer, policy, side_shocks, window=window, cuts=side_cuts,
                    capacity=capacity[side], evaluator=evaluators[side],
                )  # fmt: skip
                out[side] = run()
                if plan is not None:
                    # Nothing planned for this mineral: the plan changes nothing.
                    planned[side] = run(plan=moves) if moves else out[side]
            buyers[org_id].append(
                {
                    "mineral": slug,
                    "name": name,
                    "unit": unit,
                    "baseline_covered_from": out["baseline"].covered_from,
                    "covered_from": out["scenario"].covered_from,
                    "plan": {"id": plan.id, "name": plan.name} if plan is not None else None,
                    "plan_covered_from": planned["scenario"].covered_from if planned else None,
                    "plan_issues": list(planned["scenario"].issues) if planned else [],
                    "years": _years(out["baseline"], out["scenario"], planned.get("baseline"), planned.get("scenario")),
                }
            )
        if progress is not None:
            progress(done, len(minerals))
    return ScenarioResult(minerals=mineral_rows, buyers=dict(buyers))


# --------------------------------------------------------------------------------------------
# Built-in scenarios (the demo's; `manage.py seed_scenarios`)

BUILTIN_WINDOW = (date(2026, 1, 1), date(2027, 12, 31))
BUILTIN_AS_OF = date(2026, 1, 1)


def _builtins() -> list[tuple[str, ScenarioData]]:
    start, end = BUILTIN_WINDOW
    common: dict[str, Any] = {"as_of": BUILTIN_AS_OF, "window_start": start, "window_end": end}
    return [
        (
            "every-suspension-lapses",
            ScenarioData(
                name="Every suspension lapses",
                assumptions=(
                    "Every suspended export measure applies again from the window's start (2026-01-01), as if "
                    "the suspensions announced in November 2025 had never been granted. Without an extension "
                    "this is today's reality after 2026-11-27 (the rare-earth package's suspension ran to "
                    "2026-11-10, Ann. 46 clause 2's to 2026-11-27); the baseline keeps the suspensions as "
                    "recorded. Severities from the curators' table."
                ),
                policy=[PolicyShockData(kind="lapse")],
                **common,
            ),
        ),
        (
            "china-bans-controlled-items-to-us",
            ScenarioData(
                name="China bans every controlled item to the United States",
                assumptions=(
                    "Every restrictive Chinese measure (licence, ban, quota, extraterritorial rule) becomes a "
                    "ban on exports to the United States from 2026-01-01 on the same minerals, whatever its "
                    "suspension (China's suspensions lapse on 2026-01-01, then each measure is widened to a U.S. "
                    "ban; a measure on every destination keeps applying to the others as recorded). Severity of "
                    "a ban: 1.0 (all of the flow blocked). Other issuers unchanged."
                ),
                policy=[
                    PolicyShockData(kind="lapse", issuer_id="CHN"),
                    PolicyShockData(kind="widen", issuer_id="CHN", measure_type="export_ban", target_ids=["USA"]),
                ],
                **common,
            ),
        ),
        (
            "largest-non-chinese-supplier-lost",
            ScenarioData(
                name="The largest non-Chinese supplier of each mineral is lost for a year",
                assumptions=(
                    "For each mineral, the country with the largest share of world production outside China "
                    "(mainland, Hong Kong, Macao) in the newest table up to 2026 (the stage the headline metrics "
                    "use) produces nothing in 2026: world shares are recomputed without it (China's rises), "
                    "U.S. imports from it stop, purchases from it are lost and its output is no alternative. "
                    "One-year window (2026)."
                ),
                supply=[SupplyShockData(kind="country_output", cut_percent=100.0)],
                as_of=BUILTIN_AS_OF,
                window_start=start,
                window_end=date(2026, 12, 31),
            ),
        ),
        (
            "licences-approved-at-50",
            ScenarioData(
                name="Licences approved at 50 %",
                assumptions=(
                    "Half of the exports that need a licence still flow: every export-licence measure blocks "
                    "50 % of its flow instead of the severity table's 20 % (an approval rate of 80 %). Dates "
                    "and suspensions as recorded."
                ),
                licence_approval_rate=0.5,
                **common,
            ),
        ),
    ]


def builtin_scenarios_ensure() -> list[Scenario]:
    """Create the four built-in scenarios when missing, update one whose definition changed
    (idempotent; keyed by `key`)."""
    if Country.objects.filter(pk__in=["CHN", "USA"]).count() != 2:
        return []  # no reference data yet (a fresh database before seed_demo)
    out = []
    for key, data in _builtins():
        existing = Scenario.objects.filter(key=key).first()
        # Unchanged ones are left alone: a save bumps the revision and makes their runs stale. A
        # built-in whose definition changed (its assumptions are the definition in words) is
        # saved again, so a database seeded before the change runs the new definition.
        if existing is None or existing.assumptions != data.assumptions:
            existing = scenario_save(data=data, organization=None, scenario=existing, key=key)
        out.append(existing)
    return out
