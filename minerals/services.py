"""Writes to reference data, one row at a time: the admin, the API and seed_demo come through here.

The bulk loaders (minerals.imports, minerals.bulk_services) write set-based SQL instead, by
design, and call `minerals_mark_stale` themselves once per file or request.

Every write validates (full_clean plus the database constraints), records who made it (for
django-simple-history) and marks the affected minerals stale in the same transaction. The
stale marker is `Mineral.data_version`; once the transaction commits, `minerals_changed` is
sent so the risk engine can enqueue a recompute (the lower app never imports the higher one).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from minerals.models import (
    CommodityCode,
    CommodityMineral,
    Country,
    CriticalMineralList,
    DataSource,
    MeasureTypeSeverity,
    Mineral,
    MineralParameter,
    PolicyMeasure,
    ProductionRecord,
    RecyclingFigure,
    SalientStatistic,
    TradeFlow,
    TradeRestrictionFactor,
    WgiScore,
)

ModelT = TypeVar("ModelT", bound=models.Model)
StaleScope = Callable[[models.Model], set[int]]

# Sent after commit with `mineral_ids`: the minerals whose inputs changed.
minerals_changed = Signal()


class WriteResult(enum.StrEnum):
    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def minerals_mark_stale(*, mineral_ids: Iterable[int]) -> None:
    """Bump the data version of these minerals; announce the change once the data commits."""
    ids = sorted(set(mineral_ids))
    if not ids:
        return
    Mineral.objects.filter(id__in=ids).update(data_version=F("data_version") + 1, data_changed_at=timezone.now())
    _announce_after_commit(ids)


def _announce_after_commit(mineral_ids: list[int]) -> None:
    """One `minerals_changed` per transaction, with every mineral it touched.

    A bulk load marks minerals thousands of times; the listeners should hear once. The ids
    collect on the connection until the single registered on_commit callback sends them.
    """
    connection = transaction.get_connection()
    pending: set[int] | None = getattr(connection, "lodestone_stale_minerals", None)
    if pending is not None and any(func is _send_pending for _, func, _ in connection.run_on_commit):
        pending.update(mineral_ids)
        return
    connection.lodestone_stale_minerals = set(mineral_ids)  # type: ignore[attr-defined]
    transaction.on_commit(_send_pending, robust=True)


def _send_pending() -> None:
    connection = transaction.get_connection()
    ids = sorted(getattr(connection, "lodestone_stale_minerals", set()))
    connection.lodestone_stale_minerals = None  # type: ignore[attr-defined]
    if ids:
        minerals_changed.send(sender=Mineral, mineral_ids=ids)


@transaction.atomic
def minerals_recompute_request(*, mineral_ids: Iterable[int]) -> None:
    """A curator asks for fresh metrics: mark the minerals stale, which enqueues the recompute."""
    minerals_mark_stale(mineral_ids=mineral_ids)


def all_mineral_ids() -> list[int]:
    return list(Mineral.objects.values_list("id", flat=True))


def affected_mineral_ids(instance: models.Model) -> set[int]:
    """The minerals whose metrics depend on this reference row."""
    match instance:
        case Mineral():
            return {instance.pk} if instance.pk else set()
        case (
            ProductionRecord()
            | SalientStatistic()
            | MineralParameter()
            | RecyclingFigure()
            | TradeRestrictionFactor()
            | CommodityMineral()
        ):
            return {instance.mineral_id}
        case TradeFlow():
            return set(
                CommodityMineral.objects.filter(commodity_code_id=instance.commodity_code_id).values_list(
                    "mineral_id", flat=True
                )
            )
        case CommodityCode():
            return set(instance.mappings.values_list("mineral_id", flat=True)) if instance.pk else set()
        case PolicyMeasure():
            return set(instance.minerals.values_list("id", flat=True)) if instance.pk else set()
        case Country() | WgiScore() | MeasureTypeSeverity() | DataSource() | CriticalMineralList():
            # Governance scores, FEOC flags, severities and source metadata feed every mineral.
            return set(all_mineral_ids())
    return set()


def _attribute_to(instance: models.Model, user: AbstractBaseUser | None) -> None:
    if user is not None:
        instance._history_user = user  # type: ignore[attr-defined]  # read by simple_history


@transaction.atomic
def record_save(
    *,
    instance: ModelT,
    user: AbstractBaseUser | None = None,
    scope: StaleScope | None = None,
    validate_constraints: bool = True,
) -> ModelT:
    """Validate and save one row, marking the minerals it feeds stale (before and after the change).

    `scope` maps a row to the minerals it feeds; higher apps pass their own for their models.
    `validate_constraints=False` leaves the model's check and unique constraints to the database
    (which enforces every one of them) instead of a query each in Python: for the repository's own
    demo files, loaded in bulk, where the constraint queries were half the load's time.
    """
    scope = scope or affected_mineral_ids
    # A generic model is typed without `objects`; _default_manager is that same manager on every model here.
    stored = type(instance)._default_manager.filter(pk=instance.pk).first() if not instance._state.adding else None
    before = scope(stored) if stored is not None else set()
    instance.full_clean(validate_constraints=validate_constraints)
    _attribute_to(instance, user)
    instance.save()
    minerals_mark_stale(mineral_ids=before | scope(instance))
    return instance


@transaction.atomic
def record_related_saved(*, instance: models.Model, scope: StaleScope | None = None) -> None:
    """Many-to-many fields (a measure's minerals) changed: mark what they now point at stale."""
    if not instance._meta.many_to_many:
        return  # nothing related can have changed; record_save already marked the row's minerals
    minerals_mark_stale(mineral_ids=(scope or affected_mineral_ids)(instance))


@transaction.atomic
def record_delete(
    *, instance: models.Model, user: AbstractBaseUser | None = None, scope: StaleScope | None = None
) -> None:
    affected = (scope or affected_mineral_ids)(instance)
    _attribute_to(instance, user)
    instance.delete()
    minerals_mark_stale(mineral_ids=affected)


@transaction.atomic
def records_delete(
    *, queryset: models.QuerySet[Any], user: AbstractBaseUser | None = None, scope: StaleScope | None = None
) -> int:
    scope = scope or affected_mineral_ids
    affected: set[int] = set()
    count = 0
    for instance in queryset:
        affected |= scope(instance)
        _attribute_to(instance, user)
        instance.delete()
        count += 1
    minerals_mark_stale(mineral_ids=affected)
    return count


def record_upsert(
    *,
    model: type[ModelT],
    lookup: Mapping[str, Any],
    values: Mapping[str, Any],
    user: AbstractBaseUser | None = None,
    scope: StaleScope | None = None,
    validate_constraints: bool = True,
) -> tuple[ModelT, WriteResult]:
    """Insert or update the row with this natural key; leave it untouched when nothing differs.

    Unchanged rows are not saved, so re-running an idempotent load writes no history.
    """
    instance = model._default_manager.filter(**lookup).first()
    if instance is None:
        inserted = record_save(
            instance=model(**lookup, **values), user=user, scope=scope, validate_constraints=validate_constraints
        )
        return inserted, WriteResult.INSERTED
    changed = {name: value for name, value in values.items() if _field_value(instance, name) != _comparable(value)}
    if not changed:
        return instance, WriteResult.UNCHANGED
    for name, value in changed.items():
        setattr(instance, name, value)
    updated = record_save(instance=instance, user=user, scope=scope, validate_constraints=validate_constraints)
    return updated, WriteResult.UPDATED


def _field_value(instance: models.Model, name: str) -> Any:
    field = instance._meta.get_field(name)
    if field.is_relation and not name.endswith("_id"):
        # `values` name the model's own fields, never a reverse relation (which has no attname).
        assert isinstance(field, models.Field)
        # Compare foreign keys by id, so passing a model instance never fetches the old one.
        return getattr(instance, field.attname)
    return getattr(instance, name)


def _comparable(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


def relation_set(*, instance: models.Model, field: str, values: Iterable[Any]) -> bool:
    """Set a many-to-many field to exactly these values; True when it changed."""
    manager = getattr(instance, field)
    wanted = {_comparable(v) for v in values}
    current = set(manager.values_list("pk", flat=True))
    if wanted == current:
        return False
    manager.set(list(wanted))
    return True
