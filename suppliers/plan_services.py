"""Writes to buyers' transition plans: create and edit plans and steps, activate one, apply it.

A plan is an intention: saving, editing, activating or deleting it never touches the sourcing
(so it marks nothing stale). Only `plan_apply` changes the sourcing, when the buyer asks, and
it goes through `suppliers.portfolio_services.sourcing_save` like the portfolio form: the same
validation, history and stale markers.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from minerals.models import convert_quantity
from suppliers.models import Organization, PlanStep, Requirement, Sourcing, TransitionPlan
from suppliers.portfolio_services import sourcing_save
from suppliers.services import record_delete, record_save, record_upsert

# Shares and quantities this close to a line's volume move all of it (float noise).
_TOLERANCE = 1e-9


@transaction.atomic
def plan_save(
    *,
    organization: Organization,
    name: str,
    notes: str = "",
    plan: TransitionPlan | None = None,
    is_example: bool = False,
    user: AbstractBaseUser | None = None,
) -> TransitionPlan:
    """Create a draft plan (its author: `user`), or rename / re-note `plan` of the organization."""
    if plan is None:
        plan = TransitionPlan(organization=organization, is_example=is_example)
        if user is not None and user.is_authenticated:
            plan.author_id = user.pk
    elif plan.organization_id != organization.pk:
        raise ValidationError("The plan belongs to another organization.")
    plan.name, plan.notes = name, notes
    return record_save(instance=plan, user=user)


@transaction.atomic
def plan_activate(*, plan: TransitionPlan, user: AbstractBaseUser | None = None) -> TransitionPlan:
    """Make `plan` the organization's active plan; the one active before becomes a draft."""
    others = TransitionPlan.objects.select_for_update().filter(
        organization_id=plan.organization_id, status=TransitionPlan.Status.ACTIVE
    )
    for other in others.exclude(pk=plan.pk):
        record_upsert(model=TransitionPlan, lookup={"pk": other.pk}, values={"status": "draft"}, user=user)
    saved, _ = record_upsert(model=TransitionPlan, lookup={"pk": plan.pk}, values={"status": "active"}, user=user)
    return saved


@transaction.atomic
def plan_deactivate(*, plan: TransitionPlan, user: AbstractBaseUser | None = None) -> TransitionPlan:
    saved, _ = record_upsert(model=TransitionPlan, lookup={"pk": plan.pk}, values={"status": "draft"}, user=user)
    return saved


@transaction.atomic
def plan_delete(*, plan: TransitionPlan, user: AbstractBaseUser | None = None) -> None:
    for step in plan.steps.all():
        record_delete(instance=step, user=user)
    record_delete(instance=plan, user=user)


@transaction.atomic
def plan_step_save(
    *, plan: TransitionPlan, values: dict[str, Any], step: PlanStep | None = None, user: AbstractBaseUser | None = None
) -> PlanStep:
    """Add (or change) a step. Its source must be one of the buyer's sourcing lines of the
    mineral today: a facility line, or a country line without facility."""
    source = Sourcing.objects.filter(organization_id=plan.organization_id, mineral=values["mineral"])
    if values.get("from_facility") is not None:
        source = source.filter(facility=values["from_facility"])
    else:
        source = source.filter(facility__isnull=True, country=values["from_country"])
    if not source.exists():
        raise ValidationError("The source is not one of your sourcing lines of this mineral.")
    if step is None:
        step = PlanStep(plan=plan)
    elif step.plan_id != plan.pk:
        raise ValidationError("The step belongs to another plan.")
    for name, value in values.items():
        setattr(step, name, value)
    return record_save(instance=step, user=user)


@transaction.atomic
def plan_step_delete(*, step: PlanStep, user: AbstractBaseUser | None = None) -> None:
    record_delete(instance=step, user=user)


def _line_volume(line: Sourcing, requirement: Requirement | None) -> float | None:
    """A sourcing line's volume in the requirement's unit (a share needs the requirement)."""
    if line.annual_quantity is not None:
        return line.annual_quantity
    if line.share is not None and requirement is not None:
        return line.share * requirement.annual_quantity
    return None


@transaction.atomic
def plan_apply(*, plan: TransitionPlan, through_year: int, user: AbstractBaseUser | None = None) -> int:
    """Apply the steps due by `through_year` (not applied before) to the buyer's sourcing: the
    moved volume leaves the source line and is added to the target's line (a facility line, or
    a country line). All or nothing: a step whose source line is gone or too small, whose share
    has no requirement to apply to, or whose lever names no facility (a generic "recycling" or
    "U.S. production" cannot become a sourcing line) stops it with every reason, and nothing is
    written. Returns the number of steps applied."""
    plan = TransitionPlan.objects.select_for_update().get(pk=plan.pk)
    done = plan.applied_through_year
    steps = list(
        plan.steps.select_related("mineral", "from_facility", "to_facility", "to_facility__country")
        .filter(from_year__lte=through_year)
        .order_by("from_year", "id")
    )
    if done is not None:
        steps = [s for s in steps if s.from_year > done]
    organization = plan.organization
    requirements = {r.mineral_id: r for r in Requirement.objects.filter(organization=organization)}
    errors: list[str] = []
    for step in steps:
        try:
            _apply_step(step, organization, requirements.get(step.mineral_id), user)
        except ValidationError as error:
            errors.append(f"{step}: {'; '.join(error.messages)}")
    if errors:
        transaction.set_rollback(True)
        raise ValidationError(errors)
    plan.applied_at = timezone.now()
    plan.applied_through_year = max(through_year, done or through_year)
    record_save(instance=plan, user=user)
    return len(steps)


def _apply_step(step: PlanStep, organization: Organization, requirement: Requirement | None, user: Any) -> None:
    lines = Sourcing.objects.filter(organization=organization, mineral=step.mineral)
    if step.from_facility_id is not None:
        line = lines.filter(facility_id=step.from_facility_id).first()
    else:
        line = lines.filter(facility__isnull=True, country_id=step.from_country_id).first()
    if line is None:
        raise ValidationError("the source is no longer in the sourcing")
    unit = requirement.unit if requirement is not None else step.mineral.canonical_unit
    if step.share is not None:
        if requirement is None:
            raise ValidationError("a share of the requirement needs a requirement")
        moved = step.share * requirement.annual_quantity
    else:
        assert step.quantity is not None  # the check constraint: a share or a quantity
        moved = convert_quantity(step.quantity, step.mineral.canonical_unit, unit)
    available = _line_volume(line, requirement)
    if available is None or moved > available * (1 + _TOLERANCE) + _TOLERANCE:
        raise ValidationError(f"moves {moved:g} {unit} but the source supplies {available or 0:g} {unit}")
    if step.target in (PlanStep.Target.RECYCLING, PlanStep.Target.US_PRODUCTION) and step.to_facility is None:
        raise ValidationError("name the facility of this lever to apply it")
    remaining = max(0.0, available - moved)
    if line.annual_quantity is not None:
        record_upsert(model=Sourcing, lookup={"pk": line.pk}, values={"annual_quantity": remaining}, user=user)
    else:
        assert requirement is not None  # a share-only line has a volume only with a requirement
        share = remaining / requirement.annual_quantity if requirement.annual_quantity else 0.0
        record_upsert(model=Sourcing, lookup={"pk": line.pk}, values={"share": share}, user=user)
    facility = step.to_facility
    target = Sourcing.objects.filter(organization=organization, mineral=step.mineral)
    if facility is not None:
        target = target.filter(facility=facility)
        country = facility.country_id
    else:
        country = step.to_country_id or organization.country_id
        target = target.filter(facility__isnull=True, country_id=country)
    existing = target.first()
    before = _line_volume(existing, requirement) if existing is not None else 0.0
    sourcing_save(
        organization=organization,
        mineral=step.mineral.slug,
        facility=facility.key if facility else "",
        country=country,
        annual_quantity=(before or 0.0) + moved,
        share=None,
        notes=(existing.notes if existing is not None and existing.notes else f"from plan '{step.plan.name}'"),
        user=user,
    )
