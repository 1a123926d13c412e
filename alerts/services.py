"""Writes of what users and organizations watch, their thresholds (the inbox's fan-out and
mark-read live in alerts.fanout, webhooks in alerts.webhooks, e-mail preferences in alerts.email)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from alerts.models import Threshold, ThresholdMetric, Watch, owned_by
from minerals.models import Country, Mineral


def watch_add(
    *,
    user_id: int | None = None,
    organization_id: int | None = None,
    mineral: Mineral | None = None,
    country: Country | None = None,
    measure_type: str = "",
) -> Watch:
    """Watch exactly one thing (a user, or an organization for all its members); watching it
    again returns the existing watch."""
    if sum(bool(target) for target in (mineral, country, measure_type)) != 1:
        raise ValidationError("Choose exactly one of a mineral, a country or a measure type.")
    if (user_id is None) == (organization_id is None):
        raise ValidationError("A watch belongs to a user or to an organization.")
    owner = owned_by(user_id=user_id, organization_id=organization_id)
    watch = Watch.objects.filter(owner, mineral=mineral, country=country, measure_type=measure_type or "").first()
    if watch is None:
        watch = Watch(user_id=user_id, organization_id=organization_id, mineral=mineral, country=country,
                      measure_type=measure_type or "")  # fmt: skip
        watch.full_clean(validate_unique=False)
        watch.save()
    return watch


def watch_remove(*, watch_id: int, user_id: int | None = None, organization_id: int | None = None) -> bool:
    """Stop watching; False when the watch is not the owner's (or is gone)."""
    deleted, _ = Watch.objects.filter(owned_by(user_id=user_id, organization_id=organization_id), pk=watch_id).delete()
    return bool(deleted)


def threshold_set(
    *, organization_id: int, user_id: int | None, metric: str, level: float, mineral: Mineral | None = None
) -> Threshold:
    """A user's threshold (user_id) or the organization's default (None); the same one twice is one."""
    if metric not in ThresholdMetric.values or level < 0:
        raise ValidationError("Unknown metric or negative level.")
    same = Threshold.objects.filter(
        owned_by(user_id=user_id), organization_id=organization_id, metric=metric, level=level, mineral=mineral
    ).first()
    return same or Threshold.objects.create(
        organization_id=organization_id, user_id=user_id, metric=metric, level=level, mineral=mineral
    )


def threshold_remove(*, threshold_id: int, organization_id: int, user_id: int | None) -> bool:
    deleted, _ = Threshold.objects.filter(
        owned_by(user_id=user_id), pk=threshold_id, organization_id=organization_id
    ).delete()
    return bool(deleted)
