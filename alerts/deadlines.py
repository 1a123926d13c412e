"""Date-driven events: a suspension ending in 30, 7 and 1 days, and the day it lapses.

"Suspended until D" means the measure applies again from D + 1 (the lapse day), the reading of
dashboards/risk.py. A warning "ends in N days" is due on lapse - N. A daily task fires, for the
day it runs, every due date in the last CATCH_UP_DAYS (a missed day is caught up), warnings only
while the lapse is still ahead (a late warning after the fact is noise; the lapse event says it).
Each event is unique per (measure, lapse day, kind): running twice fires nothing twice.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.fanout import notify
from alerts.models import Event, EventKind
from minerals.models import PolicyMeasure

CATCH_UP_DAYS = 31
WARNINGS = (
    (EventKind.SUSPENSION_ENDS_IN_30, 30),
    (EventKind.SUSPENSION_ENDS_IN_7, 7),
    (EventKind.SUSPENSION_ENDS_IN_1, 1),
)


def lapse_day(suspended_until: dt.date) -> dt.date:
    return suspended_until + dt.timedelta(days=1)


def due_events(suspended_until: dt.date, today: dt.date) -> list[tuple[str, dt.date]]:
    """(kind, due date) of the events due by `today` within the catch-up window. Pure."""
    lapse = lapse_day(suspended_until)
    earliest = today - dt.timedelta(days=CATCH_UP_DAYS)
    due = [(kind, lapse - dt.timedelta(days=days)) for kind, days in WARNINGS if lapse > today]
    due.append((EventKind.SUSPENSION_LAPSED, lapse))
    return [(kind, on) for kind, on in due if earliest < on <= today]


def suspension_deadlines_fire(today: dt.date | None = None) -> int:
    """Create the due suspension events (and their notifications); returns how many were new."""
    today = today or timezone.localdate()
    window = Q(suspended_until__gte=today - dt.timedelta(days=CATCH_UP_DAYS + 1)) & Q(
        suspended_until__lte=today + dt.timedelta(days=30)
    )
    measures = list(PolicyMeasure.objects.filter(window).prefetch_related("minerals"))
    candidates: list[tuple[Event, list[int]]] = []
    for measure in measures:
        assert measure.suspended_until is not None
        lapse = lapse_day(measure.suspended_until)
        if measure.ended_on is not None and measure.ended_on <= lapse:
            continue  # ended before it could apply again: nothing lapses
        for kind, on in due_events(measure.suspended_until, today):
            label = EventKind(kind).label
            event = Event(
                kind=kind,
                occurred_at=timezone.make_aware(dt.datetime.combine(on, dt.time.min)),
                title=f"{label} (applies again from {lapse.isoformat()}): {measure.title}"[:400],
                measure=measure,
                measure_key=measure.key,
                measure_type=measure.measure_type,
                issuer_id=measure.issuer_id,
                due_on=lapse,
                dedupe_key=f"suspension:{measure.key}:{lapse.isoformat()}:{kind}",
                details={"suspended_until": measure.suspended_until.isoformat(), "due": on.isoformat()},
            )
            candidates.append((event, [m.pk for m in measure.minerals.all()]))
    if not candidates:
        return 0
    with transaction.atomic():
        keys = [event.dedupe_key for event, _ in candidates]
        done = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        fresh = [(event, minerals) for event, minerals in candidates if event.dedupe_key not in done]
        Event.objects.bulk_create([event for event, _ in fresh], ignore_conflicts=True)
        created = {e.dedupe_key: e for e in Event.objects.filter(dedupe_key__in=[e.dedupe_key for e, _ in fresh])}
        Event.minerals.through.objects.bulk_create(
            [
                Event.minerals.through(event_id=created[event.dedupe_key].pk, mineral_id=mineral_id)
                for event, minerals in fresh
                for mineral_id in minerals
            ],
            ignore_conflicts=True,
        )
        notify(created.values())
    return len(created)
