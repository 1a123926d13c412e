"""The outbox: policy history -> events (change data capture) and the suspension deadlines."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.capture import policy_changes_capture
from alerts.deadlines import due_events, suspension_deadlines_fire
from alerts.models import Event, EventKind, Notification, Watch
from minerals import services as reference
from minerals.models import Country, Mineral, PolicyMeasure

REE_FIVE = "cn-2025-10-ree-five"  # suspended until 2026-11-10: applies again from 2026-11-11


def _measure_events(key: str, kind: str | None = None):  # type: ignore[no-untyped-def]
    events = Event.objects.filter(measure_key=key)
    return events.filter(kind=kind) if kind else events


@pytest.mark.django_db
def test_each_history_row_becomes_one_event_and_rereading_adds_nothing(buyer) -> None:  # type: ignore[no-untyped-def]
    policy_changes_capture()
    before = Event.objects.count()
    # The seeded measures: one "created" each (their many-to-many rows written with the creation
    # are part of it, not a change).
    assert Event.objects.filter(kind=EventKind.POLICY_CREATED).count() == PolicyMeasure.objects.count()
    assert not Event.objects.filter(kind=EventKind.POLICY_CHANGED).exists()
    assert policy_changes_capture() == 0  # the re-read window holds only rows already captured
    assert Event.objects.count() == before

    measure = PolicyMeasure.objects.get(key=REE_FIVE)
    measure.suspended_until = dt.date(2027, 11, 10)
    reference.record_save(instance=measure)
    measure.title = measure.title + " (renewed)"
    reference.record_save(instance=measure)
    measure.ended_on = dt.date(2027, 12, 31)
    reference.record_save(instance=measure)

    assert policy_changes_capture() == 3
    assert policy_changes_capture() == 0
    new = list(_measure_events(REE_FIVE).order_by("id"))[-3:]
    assert [e.kind for e in new] == [EventKind.POLICY_SUSPENDED, EventKind.POLICY_CHANGED, EventKind.POLICY_ENDED]
    assert new[0].title.startswith("Policy measure suspended until 2027-11-10")
    assert new[1].details["changed"] == ["title"]
    assert {m.slug for m in new[0].minerals.all()} == {"rare-earths"}
    # The buyer requires rare earths: told once per event, even after another capture run.
    assert Notification.objects.filter(user=buyer, event__in=new).count() == 3

    measure.minerals.add(Mineral.objects.get(slug="gallium"))
    assert policy_changes_capture() == 1
    assert _measure_events(REE_FIVE).order_by("id").last().details["changed"] == ["minerals"]


@pytest.mark.django_db
def test_a_removed_measure_keeps_its_key_and_reaches_watchers_of_its_issuer(outsider) -> None:  # type: ignore[no-untyped-def]
    policy_changes_capture()
    Watch.objects.create(user=outsider, country=Country.objects.get(iso3="CHN"))
    measure = PolicyMeasure.objects.get(key=REE_FIVE)
    reference.record_delete(instance=measure)
    assert policy_changes_capture() == 1
    removed = _measure_events(REE_FIVE, EventKind.POLICY_REMOVED).get()
    assert removed.measure is None
    assert removed.issuer_id == "CHN"
    assert Notification.objects.filter(user=outsider, event=removed).exists()


def test_due_events_read_suspended_until_as_the_last_suspended_day() -> None:
    until = dt.date(2026, 11, 10)  # applies again from 2026-11-11
    assert due_events(until, dt.date(2026, 10, 12)) == [(EventKind.SUSPENSION_ENDS_IN_30, dt.date(2026, 10, 12))]
    assert due_events(until, dt.date(2026, 11, 10)) == [
        (EventKind.SUSPENSION_ENDS_IN_30, dt.date(2026, 10, 12)),
        (EventKind.SUSPENSION_ENDS_IN_7, dt.date(2026, 11, 4)),
        (EventKind.SUSPENSION_ENDS_IN_1, dt.date(2026, 11, 10)),
    ]
    # On the lapse day the warnings are history; only the lapse is due.
    assert due_events(until, dt.date(2026, 11, 11)) == [(EventKind.SUSPENSION_LAPSED, dt.date(2026, 11, 11))]
    assert due_events(until, dt.date(2026, 11, 9))[-1] == (EventKind.SUSPENSION_ENDS_IN_7, dt.date(2026, 11, 4))


@pytest.mark.django_db
def test_the_lapse_fires_exactly_once_per_subscriber_even_run_twice_or_a_day_late(buyer, outsider) -> None:  # type: ignore[no-untyped-def]
    Watch.objects.create(user=outsider, measure_type="export_licence")  # the REE measure's type
    # On time, and again the same day.
    for today in (dt.date(2026, 10, 12), dt.date(2026, 10, 12), dt.date(2026, 11, 4), dt.date(2026, 11, 10)):
        suspension_deadlines_fire(today)
    suspension_deadlines_fire(dt.date(2026, 11, 10))
    # The lapse day (2026-11-11) is missed: the next day catches it up, twice.
    suspension_deadlines_fire(dt.date(2026, 11, 12))
    suspension_deadlines_fire(dt.date(2026, 11, 12))

    kinds = sorted(_measure_events(REE_FIVE).values_list("kind", flat=True))
    assert kinds == sorted(
        [
            EventKind.SUSPENSION_ENDS_IN_30,
            EventKind.SUSPENSION_ENDS_IN_7,
            EventKind.SUSPENSION_ENDS_IN_1,
            EventKind.SUSPENSION_LAPSED,
        ]
    )
    lapse = _measure_events(REE_FIVE, EventKind.SUSPENSION_LAPSED).get()
    assert lapse.due_on == dt.date(2026, 11, 11)
    for user in (buyer, outsider):
        assert Notification.objects.filter(user=user, event__measure_key=REE_FIVE).count() == 4
        assert Notification.objects.filter(user=user, event=lapse).count() == 1


@pytest.mark.django_db
def test_a_missed_warning_is_not_sent_after_the_lapse_but_the_lapse_is(buyer) -> None:  # type: ignore[no-untyped-def]
    # First run ever on 2026-12-04: both November lapses are caught up, no stale warnings.
    suspension_deadlines_fire(dt.date(2026, 12, 4))
    lapses = Event.objects.filter(kind=EventKind.SUSPENSION_LAPSED)
    assert {(e.measure_key, e.due_on) for e in lapses} >= {
        (REE_FIVE, dt.date(2026, 11, 11)),
        ("cn-2024-46-us-ban", dt.date(2026, 11, 28)),
    }
    assert not Event.objects.exclude(kind=EventKind.SUSPENSION_LAPSED).exists()
    assert Notification.objects.filter(user=buyer, event__in=lapses).count() == lapses.count()
