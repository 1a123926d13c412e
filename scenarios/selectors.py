"""Reads of scenarios: who sees which, their shocks as the pure maths' inputs, runs and results.

A buyer sees the built-in scenarios and its own organization's; anything else is "not found".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.http import Http404

from dashboards import risk
from dashboards import scenario_risk as sr
from dashboards.models import ImportMetric, SupplyMetric
from dashboards.page_selectors import headline_stage
from dashboards.plan_selectors import plan_moves
from minerals.models import Mineral
from scenarios.models import PolicyShock, Scenario, ScenarioBuyerResult, ScenarioRun
from suppliers.models import Organization, PlanStep, TransitionPlan


def visible_scenarios(organization: Organization | None) -> QuerySet[Scenario]:
    """Built-ins plus the organization's own (built-ins only without an organization)."""
    scope = Q(organization__isnull=True)
    if organization is not None:
        scope |= Q(organization=organization)
    return Scenario.objects.filter(scope).order_by("-organization_id", "name")


def scenario_for(organization: Organization | None, pk: Any) -> Scenario:
    """A visible scenario, else 404 (another organization's is indistinguishable from none)."""
    try:
        return visible_scenarios(organization).get(pk=int(pk))
    except (Scenario.DoesNotExist, ValueError, TypeError):
        raise Http404("No such scenario.") from None


def scenarios_with_latest_run(organization: Organization | None) -> list[tuple[Scenario, ScenarioRun | None]]:
    """The list page: each visible scenario with its latest run. Two queries."""
    scenarios = list(visible_scenarios(organization))
    latest: dict[int, ScenarioRun] = {}
    for run in ScenarioRun.objects.filter(scenario__in=scenarios).order_by("scenario_id", "-id"):
        latest.setdefault(run.scenario_id, run)
    return [(s, latest.get(s.pk)) for s in scenarios]


def scenario_shocks(scenario: Scenario) -> tuple[sr.Window, sr.Shocks]:
    """The saved rows as dashboards.scenario_risk inputs. Four queries (policy rows with their
    minerals and targets, supply rows, demand rows)."""
    policy_rows = scenario.policy_shocks.select_related("measure").prefetch_related(
        Prefetch("minerals", queryset=Mineral.objects.only("slug")), "targets"
    )
    policy = tuple(
        sr.PolicyShock(
            kind=cast(sr.PolicyShockKind, row.kind),  # the model's check constraint
            measure_key=row.measure.key if row.measure else "",
            issuer=row.issuer_id or "",
            on=row.on,
            until=row.until,
            measure_type=row.measure_type,
            minerals=frozenset(m.slug for m in row.minerals.all()),
            targets=frozenset(c.pk for c in row.targets.all()),
        )
        for row in policy_rows
    )
    cuts, facilities = [], []
    for row in scenario.supply_shocks.select_related("mineral", "facility"):
        if row.kind == "country_output":
            cuts.append(
                sr.OutputCut(
                    fraction=(row.cut_percent if row.cut_percent is not None else 100.0) / 100.0,
                    country=row.country_id or "",
                    mineral=row.mineral.slug if row.mineral else "",
                )
            )
        elif row.facility is not None:
            facilities.append(
                sr.FacilityShock(
                    facility_id=row.facility.pk,
                    facility_key=row.facility.key,
                    offline=row.kind == "facility_offline",
                    delay_years=row.delay_years or 0 if row.kind == "facility_delay" else 0,
                )
            )
    demand = tuple(
        sr.DemandShock(row.mineral.slug, row.change_percent / 100.0, organization=scenario.organization_id)
        for row in scenario.demand_shocks.select_related("mineral")
    )
    shocks = sr.Shocks(
        policy=policy,
        licence_approval_rate=scenario.licence_approval_rate,
        output_cuts=tuple(cuts),
        facilities=tuple(facilities),
        demand=demand,
    )
    return sr.Window(scenario.window_start, scenario.window_end), shocks


def _micros(moment: Any) -> int:
    return int(moment.timestamp() * 1_000_000) if moment is not None else 0


def data_version(scenario: Scenario) -> str:
    """What a run's numbers depend on: every mineral's data version (measures, severities,
    production, trade and facilities bump it), the buyers' portfolios (the organization's, or
    every one's for a built-in), their active transition plans (which plan, its edits and its
    steps' history) and the scenario's own revision. Four queries."""
    minerals = Mineral.objects.aggregate(total=Sum("data_version"), newest=Max("data_version"))
    organizations = Organization.objects.all()
    plans = TransitionPlan.objects.filter(status=TransitionPlan.Status.ACTIVE)
    if scenario.organization_id is not None:
        organizations = organizations.filter(pk=scenario.organization_id)
        plans = plans.filter(organization_id=scenario.organization_id)
    orgs = organizations.aggregate(total=Sum("data_version"), count=Max("id"))
    plan = plans.aggregate(n=Count("id"), ids=Sum("id"), last=Max("updated_at"))
    steps = PlanStep.history.filter(plan_id__in=plans.values("id")).aggregate(
        n=Count("history_id"), last=Max("history_date")
    )
    return (
        f"minerals={minerals['total'] or 0}/{minerals['newest'] or 0};"
        f"organizations={orgs['total'] or 0}/{orgs['count'] or 0};"
        f"plans={plan['n']}/{plan['ids'] or 0}/{_micros(plan['last'])}/{steps['n']}/{_micros(steps['last'])};"
        f"scenario={scenario.revision}"
    )


@dataclass(frozen=True)
class ActivePlan:
    """An organization's active transition plan as the scenario maths take it: the moves still
    to apply per mineral id (dashboards.plan_selectors.plan_moves)."""

    id: int
    name: str
    moves: dict[int, list[risk.PlanMove]]


def active_plans(organization_ids: Sequence[int] | None) -> dict[int, ActivePlan]:
    """Organization id -> its active plan (at most one: a database constraint), for the given
    organizations or every one. Two queries."""
    plans = TransitionPlan.objects.filter(status=TransitionPlan.Status.ACTIVE).select_related("organization")
    if organization_ids is not None:
        plans = plans.filter(organization_id__in=organization_ids)
    by_id = {plan.pk: plan for plan in plans}
    steps: dict[int, dict[int, list[PlanStep]]] = defaultdict(lambda: defaultdict(list))
    rows = PlanStep.objects.filter(plan_id__in=list(by_id)).select_related("mineral", "from_facility", "to_facility")
    for step in rows.order_by("plan_id", "mineral_id", "from_year", "id"):
        steps[step.plan_id][step.mineral_id].append(step)
    return {
        plan.organization_id: ActivePlan(
            plan.pk,
            plan.name,
            {
                mid: plan_moves(
                    mineral_steps,
                    organization_country=plan.organization.country_id,
                    applied_through_year=plan.applied_through_year,
                )
                for mid, mineral_steps in steps[plan.pk].items()
            },
        )
        for plan in by_id.values()
    }


def latest_run(scenario: Scenario) -> ScenarioRun | None:
    return scenario.runs.order_by("-id").first()


def latest_done_run(scenario: Scenario) -> ScenarioRun | None:
    return scenario.runs.filter(status=ScenarioRun.Status.DONE).order_by("-id").first()


def buyer_result(run: ScenarioRun | None, organization: Organization | None) -> list[dict[str, Any]]:
    if run is None or organization is None:
        return []
    row = ScenarioBuyerResult.objects.filter(run=run, organization=organization).first()
    return list(row.minerals) if row else []


def stale_scenario_ids() -> list[int]:
    """Scenarios whose latest finished run used older data than today's (the sweep re-runs them)."""
    out = []
    runs = ScenarioRun.objects.filter(status=ScenarioRun.Status.DONE).select_related("scenario").order_by("-id")
    seen: set[int] = set()
    for run in runs:
        if run.scenario_id in seen:
            continue
        seen.add(run.scenario_id)
        if run.data_version != data_version(run.scenario):
            out.append(run.scenario_id)
    return sorted(out)


def shares_as_of(
    mineral_ids: Sequence[int], *, year: int, destination: str
) -> tuple[dict[int, dict[str, float | None]], dict[int, dict[str, float | None]]]:
    """Per mineral, world production shares (the headline stage's newest stored table up to
    ``year``) and the destination's import shares by value (newest stored year up to ``year``
    with named partners). Two queries."""
    # Only each (mineral, stage)'s newest row, and only the columns used: the shares are JSON.
    newest_supply = SupplyMetric.objects.filter(
        mineral_id=OuterRef("mineral_id"), stage=OuterRef("stage"), year__lte=year
    ).order_by("-year")
    latest: dict[int, dict[str, SupplyMetric]] = defaultdict(dict)
    supply_rows = SupplyMetric.objects.filter(
        mineral_id__in=mineral_ids, year=Subquery(newest_supply.values("year")[:1])
    ).only("mineral_id", "stage", "year", "china_share", "country_shares")
    for row in supply_rows:
        latest[row.mineral_id][row.stage] = row
    supply: dict[int, dict[str, float | None]] = {}
    for mid, by_stage in latest.items():
        stage = headline_stage(by_stage)
        if stage is not None:
            supply[mid] = dict(by_stage[stage].country_shares)
    imports: dict[int, dict[str, float | None]] = {}
    rows = ImportMetric.objects.filter(destination_id=destination, year__lte=year).exclude(import_china_share=None)
    newest_imports = rows.filter(mineral_id=OuterRef("mineral_id")).order_by("-year").values("year")[:1]
    chosen = rows.filter(mineral_id__in=mineral_ids, year=Subquery(newest_imports))
    for import_row in chosen.only("mineral_id", "year", "partners_json", "total_value_usd").order_by("-year"):
        imports.setdefault(import_row.mineral_id, dict(import_row.partner_shares))
    return supply, imports


def policy_shock_rows(scenario: Scenario) -> QuerySet[PolicyShock]:
    return scenario.policy_shocks.prefetch_related("minerals", "targets").select_related("measure", "issuer")
