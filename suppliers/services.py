"""Writes to companies, facilities, supply chains and buyers' portfolios.

The same contract as minerals.services (validate, attribute, mark stale in the transaction),
plus the organization stale marker: a buyer's exposure is recomputed when its requirements or
sourcing change, and when any mineral it depends on changes (its metric rows record both).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from minerals import services as reference
from minerals.services import WriteResult
from suppliers.models import (
    Company,
    Facility,
    FederalSupport,
    Membership,
    Organization,
    OwnershipStake,
    Requirement,
    Sourcing,
    SupplyLink,
)

ModelT = TypeVar("ModelT", bound=models.Model)

# Sent after commit with `organization_ids`: the buyers whose portfolio changed (mirrors
# minerals.services.minerals_changed; the risk engine listens, this app never imports it).
organizations_changed = Signal()


def organizations_mark_stale(*, organization_ids: Iterable[int]) -> None:
    ids = sorted(set(organization_ids))
    if ids:
        Organization.objects.filter(id__in=ids).update(
            data_version=F("data_version") + 1, data_changed_at=timezone.now()
        )
        transaction.on_commit(
            lambda: organizations_changed.send(sender=Organization, organization_ids=ids), robust=True
        )


def controlled_company_ids(company_id: int) -> set[int]:
    """The company and every company it owns a stake in, directly or down a chain (cycle-safe)."""
    seen = {company_id}
    frontier = {company_id}
    while frontier:
        frontier = set(OwnershipStake.objects.filter(owner_id__in=frontier).values_list("owned_id", flat=True)) - seen
        seen |= frontier
    return seen


def affected_mineral_ids(instance: models.Model) -> set[int]:
    """The minerals whose metrics depend on this row (suppliers' models, then the reference ones)."""
    match instance:
        case Facility() | SupplyLink() | Requirement() | Sourcing():
            return {instance.mineral_id}
        case FederalSupport():
            return (
                _minerals_of_companies({instance.company_id})
                if instance.facility_id is None
                else {Facility.objects.values_list("mineral_id", flat=True).get(pk=instance.facility_id)}
            )
        case Company():
            return _minerals_of_companies(controlled_company_ids(instance.pk)) if instance.pk else set()
        case OwnershipStake():
            return _minerals_of_companies(controlled_company_ids(instance.owned_id))
        case Organization() | Membership():
            return set()
    return reference.affected_mineral_ids(instance)


def _minerals_of_companies(company_ids: set[int]) -> set[int]:
    return set(Facility.objects.filter(company_id__in=company_ids).values_list("mineral_id", flat=True))


def affected_organization_ids(instance: models.Model) -> set[int]:
    match instance:
        case Requirement() | Sourcing():
            return {instance.organization_id}
        case Organization():
            return {instance.pk}
    return set()


@transaction.atomic
def record_save(*, instance: ModelT, user: AbstractBaseUser | None = None) -> ModelT:
    saved = reference.record_save(instance=instance, user=user, scope=affected_mineral_ids)
    organizations_mark_stale(organization_ids=affected_organization_ids(saved))
    return saved


@transaction.atomic
def record_related_saved(*, instance: models.Model) -> None:
    reference.record_related_saved(instance=instance, scope=affected_mineral_ids)


@transaction.atomic
def record_delete(*, instance: models.Model, user: AbstractBaseUser | None = None) -> None:
    organizations = affected_organization_ids(instance)
    reference.record_delete(instance=instance, user=user, scope=affected_mineral_ids)
    organizations_mark_stale(organization_ids=organizations)


@transaction.atomic
def records_delete(*, queryset: models.QuerySet[Any], user: AbstractBaseUser | None = None) -> int:
    organizations: set[int] = set()
    for instance in queryset:
        organizations |= affected_organization_ids(instance)
    count = reference.records_delete(queryset=queryset, user=user, scope=affected_mineral_ids)
    organizations_mark_stale(organization_ids=organizations)
    return count


@transaction.atomic
def record_upsert(
    *, model: type[ModelT], lookup: dict[str, Any], values: dict[str, Any], user: AbstractBaseUser | None = None
) -> tuple[ModelT, WriteResult]:
    instance, result = reference.record_upsert(
        model=model, lookup=lookup, values=values, user=user, scope=affected_mineral_ids
    )
    if result is not WriteResult.UNCHANGED:
        organizations_mark_stale(organization_ids=affected_organization_ids(instance))
    return instance, result


@transaction.atomic
def membership_grant(*, user: AbstractBaseUser, organization: Organization, role: str) -> Membership:
    membership, _ = record_upsert(
        model=Membership, lookup={"user": user, "organization": organization}, values={"role": role}
    )
    return membership
