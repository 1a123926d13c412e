"""Threshold crossings: fire once, re-arm only after falling back, told to the right members."""

from __future__ import annotations

import pytest

from alerts.models import Event, EventKind, Notification, Threshold, ThresholdMetric
from alerts.thresholds import crossed, thresholds_evaluate
from dashboards.models import ExposureMetric
from suppliers.models import Membership, Organization


def test_crossed_is_pure_and_fires_only_from_below() -> None:
    assert crossed(None, 0.7, 0.6) == (True, True)  # first seen above: told
    assert crossed(True, 0.7, 0.6) == (True, False)  # still above: not again
    assert crossed(True, 0.6, 0.6) == (False, False)  # back to the level: re-armed, silent
    assert crossed(False, 0.61, 0.6) == (True, True)
    assert crossed(True, None, 0.6) == (True, False)  # unknown changes nothing


def _china_events(level: float) -> list[Event]:
    return [
        e
        for e in Event.objects.filter(kind=EventKind.THRESHOLD_CROSSED).order_by("id")
        if e.details["metric"] == ThresholdMetric.CHINA_SHARE and e.details["level"] == level
    ]


@pytest.mark.django_db
def test_a_crossing_fires_once_and_rearms_only_after_falling_back(buyer, django_user_model) -> None:  # type: ignore[no-untyped-def]
    org = Organization.objects.get(name="Demo Buyer Inc.")
    colleague = django_user_model.objects.create_user("alert-colleague", password="pw-alert-colleague-123")
    Membership.objects.create(user=colleague, organization=org)
    row = ExposureMetric.objects.filter(organization=org).select_related("mineral").order_by("mineral__slug").first()
    assert row is not None
    mineral = row.mineral
    # The buyer's own threshold on this mineral; the colleague keeps the built-in 50 %.
    Threshold.objects.create(
        organization=org, user=buyer, metric=ThresholdMetric.CHINA_SHARE, level=0.6, mineral=mineral
    )

    def at(share: float | None) -> None:
        ExposureMetric.objects.filter(pk=row.pk).update(direct_china_share=share)  # what a recompute writes
        thresholds_evaluate(organization_ids=[org.pk])

    at(0.5)  # below both levels (50 % is not above 50 %)
    assert _china_events(0.6) == []
    assert [e for e in _china_events(0.5) if e.details["mineral_id"] == mineral.pk] == []
    at(0.7)
    at(0.7)  # the beat runs again: nothing new
    at(0.65)  # still above
    [first] = _china_events(0.6)
    assert first.organization_id == org.pk
    assert first.details["value"] == 0.7
    assert list(first.minerals.values_list("pk", flat=True)) == [mineral.pk]
    assert set(Notification.objects.filter(event=first).values_list("user_id", flat=True)) == {buyer.pk}
    colleague_events = [e for e in _china_events(0.5) if e.details["mineral_id"] == mineral.pk]
    assert len(colleague_events) == 1
    assert set(Notification.objects.filter(event=colleague_events[0]).values_list("user_id", flat=True)) == {
        colleague.pk
    }
    at(None)  # unknown after a recompute: still armed-off, no event
    at(0.9)
    assert len(_china_events(0.6)) == 1
    at(0.6)  # back to the level: re-armed
    assert len(_china_events(0.6)) == 1
    at(0.61)
    second = _china_events(0.6)[1]
    assert second.details["value"] == 0.61
    assert second.dedupe_key.endswith(":2")


@pytest.mark.django_db
def test_organization_defaults_replace_the_built_in_levels(buyer) -> None:  # type: ignore[no-untyped-def]
    org = Organization.objects.get(name="Demo Buyer Inc.")
    row = ExposureMetric.objects.filter(organization=org).order_by("mineral__slug").first()
    assert row is not None
    Threshold.objects.create(organization=org, metric=ThresholdMetric.RESTRICTED_SHARE, level=0.3)
    ExposureMetric.objects.filter(pk=row.pk).update(restricted_share=0.4)
    thresholds_evaluate(organization_ids=[org.pk])
    restricted = [
        e
        for e in Event.objects.filter(kind=EventKind.THRESHOLD_CROSSED)
        if e.details["metric"] == ThresholdMetric.RESTRICTED_SHARE and e.details["mineral_id"] == row.mineral_id
    ]
    assert [e.details["level"] for e in restricted] == [0.3]  # not the built-in 0.5
    assert Notification.objects.filter(event=restricted[0], user=buyer).exists()
