"""Reads for transition plans: a buyer's plans and steps, and the plan's projection 2026-2030.

The projection runs the exposure maths of the recompute (dashboards.risk.buyer_exposure over
the same inputs, dashboards.inputs) per year on today's sourcing and on the sourcing the plan
would give (risk.transition_plan), computed on read (a plan is a draft, changed often, and is
never materialized); the page caches its content under the organization's generation and
`plans_version` (the API under `plan_version`). A fixed number of queries whatever the number of
minerals, steps or facilities (pinned in tests/dashboards/test_plan_pages.py).

Plain data out (dicts, lists), like dashboards.page_selectors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date
from functools import partial
from typing import Any

from django.db.models import Case, Count, Max, When
from django.http import Http404
from django.utils import timezone

from dashboards import risk
from dashboards.inputs import (
    FallbackMix,
    data_sources,
    feoc_countries,
    mix_table,
    policy_measures,
    severity_by_type,
    sourcing_lines,
    supply_networks,
    supply_tables,
)
from minerals.models import Mineral, convert_quantity
from suppliers.models import Organization, PlanStep, Requirement, Sourcing, TransitionPlan

TARGET_LABELS = dict(PlanStep.Target.choices)


def reference_date(year: int, today: date) -> date:
    """The date whose measures in force a year of the plan uses: today for the current year (the
    rest of it is what a plan can still change), else 1 July (mid-year) of that year. Only the
    measures known today count, with their announced dates and suspension ends; none is guessed."""
    return today if year == today.year else date(year, 7, 1)


def _step_out(step: PlanStep) -> dict[str, Any]:
    source = step.from_facility.name if step.from_facility else f"{step.from_country_id} (facility not known)"
    if step.to_facility is not None:
        target = f"{step.to_facility.name} ({step.to_facility.country_id})"
    elif step.target == PlanStep.Target.COUNTRY:
        target = f"{step.to_country_id} (any supplier)"
    else:
        target = f"{TARGET_LABELS[step.target]} (no facility named)"
    return {
        "id": step.pk,
        "mineral": step.mineral.slug,
        "mineral_name": step.mineral.name,
        "from_facility": step.from_facility.key if step.from_facility else "",
        "from_country": step.from_country_id,
        "from_label": source,
        "share": step.share,
        "quantity": step.quantity,
        "unit": step.mineral.canonical_unit,
        "target": step.target,
        "target_label": TARGET_LABELS[step.target],
        "to_facility": step.to_facility.key if step.to_facility else "",
        "to_country": step.to_country_id or "",
        "to_label": target,
        "from_year": step.from_year,
        "notes": step.notes,
    }


def _plan_out(plan: TransitionPlan, steps: Sequence[PlanStep]) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "name": plan.name,
        "status": plan.status,
        "is_example": plan.is_example,
        "author": plan.author.get_username() if plan.author else "",
        "notes": plan.notes,
        "created_at": plan.created_at.isoformat(),
        "updated_at": plan.updated_at.isoformat(),
        "applied_at": plan.applied_at.isoformat() if plan.applied_at else None,
        "applied_through_year": plan.applied_through_year,
        "steps": [_step_out(s) for s in steps],
    }


def _steps_query() -> Any:
    return PlanStep.objects.select_related("mineral", "from_facility", "to_facility").order_by(
        "mineral__name", "from_year", "id"
    )


def organization_plans(*, organization: Organization) -> list[dict[str, Any]]:
    """The organization's plans, the active one first, each with its steps. Two queries."""
    plans = list(
        TransitionPlan.objects.filter(organization=organization)
        .select_related("author")
        # "-status" would put "draft" before "active": the active plan first, explicitly.
        .order_by(Case(When(status=TransitionPlan.Status.ACTIVE, then=0), default=1), "name")
    )
    steps: dict[int, list[PlanStep]] = defaultdict(list)
    for step in _steps_query().filter(plan__in=[p.pk for p in plans]):
        steps[step.plan_id].append(step)
    return [_plan_out(plan, steps[plan.pk]) for plan in plans]


def plan_of(*, organization: Organization, plan_id: int | str) -> TransitionPlan:
    """One of the organization's plans; another organization's (or a missing one) is a 404. One query."""
    plan_key = str(plan_id)
    plan = None
    if plan_key.isascii() and plan_key.isdigit() and len(plan_key) <= 18:
        plan = (
            TransitionPlan.objects.select_related("author").filter(organization=organization, pk=int(plan_key)).first()
        )
    if plan is None:
        raise Http404("No such plan.")
    return plan


def plan_version(plan: TransitionPlan | None) -> str:
    """A string that changes with any edit of the plan or its steps (the page's cache key with
    the organization's generation). One query (the steps' history), none without a plan."""
    if plan is None:
        return ""
    steps = PlanStep.history.filter(plan_id=plan.pk).aggregate(n=Count("history_id"), last=Max("history_date"))
    last = steps["last"].isoformat() if steps["last"] else ""
    return f"{plan.pk}:{plan.updated_at.isoformat()}:{plan.status}:{plan.applied_through_year}:{steps['n']}:{last}"


def plans_version(organization: Organization) -> str:
    """A string that changes with any edit of any of the organization's plans or their steps
    (created, renamed, activated, applied, deleted): the read-only plan page's cache key with
    the organization's generation (its plans list shows every plan and its steps). Two
    queries (the plans' and the steps' history)."""
    plans = TransitionPlan.history.filter(organization_id=organization.pk)
    ever = plans.values("id")
    versions = [
        query.aggregate(n=Count("history_id"), last=Max("history_date"))
        for query in (plans, PlanStep.history.filter(plan_id__in=ever))
    ]
    return ":".join(f"{v['n']}.{v['last'].isoformat() if v['last'] else ''}" for v in versions)


def plan_projection(
    *, organization: Organization, plan: TransitionPlan | None, today: date | None = None
) -> dict[str, Any]:
    """Per mineral the buyer holds (a requirement or sourcing), the requirement by origin class
    (risk.ORIGIN_CLASSES) for each of risk.PLAN_YEARS under today's sourcing and under `plan`
    (None: today only), in the mineral's canonical unit, with the plan's steps and what could
    not be placed. Thirteen queries (twelve without a plan) whatever the number of minerals, steps and facilities."""
    today = today or timezone.localdate()
    requirements = list(Requirement.objects.filter(organization=organization).select_related("mineral"))
    sourcing = list(
        Sourcing.objects.filter(organization=organization).select_related("mineral").order_by("mineral__name", "id")
    )
    steps = list(_steps_query().filter(plan=plan)) if plan is not None else []
    minerals: dict[int, Mineral] = {r.mineral_id: r.mineral for r in requirements}
    minerals.update({s.mineral_id: s.mineral for s in sourcing if s.mineral_id not in minerals})
    mineral_ids = sorted(minerals)
    required = {(organization.pk, r.mineral_id): (r.annual_quantity, r.unit) for r in requirements}
    stage_of = {r.mineral_id: r.stage for r in requirements}
    lines = sourcing_lines(
        [(organization.pk, s.mineral_id, s.facility_id, s.country_id, s.annual_quantity, s.share) for s in sourcing],
        required,
    )
    levers = [risk.lever_node(lever, organization.country_id) for lever in risk.LEVER_NODE_IDS]
    networks = supply_networks(mineral_ids, extra_nodes=levers)
    sources = data_sources()
    tables = supply_tables(mineral_ids, sources)
    measures = policy_measures(mineral_ids)
    severities = severity_by_type()
    feoc = feoc_countries()
    applied = plan.applied_through_year if plan is not None else None
    steps_of: dict[int, list[PlanStep]] = defaultdict(list)
    for step in steps:
        steps_of[step.mineral_id].append(step)

    out = []
    for mid in sorted(mineral_ids, key=lambda m: minerals[m].name):
        mineral = minerals[mid]
        unit = mineral.canonical_unit
        quantity, from_unit = required.get((organization.pk, mid), (None, unit))
        factor = convert_quantity(1.0, from_unit, unit)  # lines are in the requirement's unit
        mix_source = mix_table([t for t in tables if t.mineral_id == mid])
        exposure_on = partial(
            risk.buyer_exposure,
            mineral=mineral.slug,
            buyer_country=organization.country_id,
            network=networks[mid],
            fallback_mix=FallbackMix(mix_source),
            measures=measures,
            feoc=feoc,
            severity_by_type=severities,
        )

        def exposure_in(year_lines: Sequence[risk.SourcingLine], year: int, run: Any = exposure_on) -> risk.Exposure:
            return run(year_lines, as_of=reference_date(year, today))

        moves = plan_moves(steps_of[mid], organization_country=organization.country_id, applied_through_year=applied)
        today_years, plan_years = risk.transition_plan(
            [
                risk.SourcingLine(line.volume * factor, line.facility_id, line.country)
                for line in lines[(organization.pk, mid)]
            ],
            moves,
            requirement=quantity * factor if quantity is not None else None,
            exposure_in=exposure_in,
        )
        out.append(
            {
                "mineral": mineral.slug,
                "mineral_name": mineral.name,
                "unit": unit,
                "stage": stage_of.get(mid, ""),
                "requirement": quantity * factor if quantity is not None else None,
                "today": [asdict(y) for y in today_years],
                "plan": [asdict(y) for y in plan_years] if plan is not None else None,
                "steps": [_step_out(s) for s in steps_of[mid]],
                "sources": [sources[mix_source.source_id].as_json()]
                if mix_source and mix_source.source_id in sources
                else [],
                "data_version": mineral.data_version,
            }
        )
    return {
        "organization": {"name": str(organization), "slug": organization.slug, "country": organization.country_id},
        "plan": _plan_out(plan, steps) if plan is not None else None,
        "years": list(risk.PLAN_YEARS),
        "reference_dates": {str(y): reference_date(y, today).isoformat() for y in risk.PLAN_YEARS},
        "computed_at": timezone.now().isoformat(),
        "organization_data_version": organization.data_version,
        "minerals": out,
    }


def plan_moves(
    steps: Iterable[PlanStep], *, organization_country: str, applied_through_year: int | None
) -> list[risk.PlanMove]:
    """A plan's steps still to apply as risk.PlanMove (the input of risk.planned_lines); the
    steps need their target facility loaded. Steps already applied (``from_year`` up to
    ``applied_through_year``) are in today's sourcing: moving them again would count them twice."""
    return [
        risk.PlanMove(
            year=s.from_year,
            from_facility_id=s.from_facility_id,
            from_country=s.from_country_id,
            to_facility_id=_target_node(s),
            to_country=_target_country(s, organization_country),
            share=s.share,
            volume=s.quantity,
            label=str(s),
        )
        for s in steps
        if applied_through_year is None or s.from_year > applied_through_year
    ]


def _target_node(step: PlanStep) -> int | None:
    if step.to_facility_id is not None:
        return step.to_facility_id
    if step.target in risk.LEVER_NODE_IDS:
        return risk.LEVER_NODE_IDS[step.target]
    return None


def _target_country(step: PlanStep, organization_country: str) -> str:
    if step.to_facility is not None:
        return step.to_facility.country_id
    return step.to_country_id or organization_country
