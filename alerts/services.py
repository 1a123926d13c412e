"""Writes of a user's watches (the inbox's fan-out and mark-read live in alerts.fanout)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from alerts.models import Watch
from minerals.models import Country, Mineral


def watch_add(
    *, user_id: int, mineral: Mineral | None = None, country: Country | None = None, measure_type: str = ""
) -> Watch:
    """Watch exactly one thing; watching it again returns the existing watch."""
    if sum(bool(target) for target in (mineral, country, measure_type)) != 1:
        raise ValidationError("Choose exactly one of a mineral, a country or a measure type.")
    watch, _ = Watch.objects.get_or_create(
        user_id=user_id, mineral=mineral, country=country, measure_type=measure_type or ""
    )
    return watch


def watch_remove(*, user_id: int, watch_id: int) -> bool:
    """Stop watching; False when the watch is not the user's (or is gone)."""
    deleted, _ = Watch.objects.filter(pk=watch_id, user_id=user_id).delete()
    return bool(deleted)
