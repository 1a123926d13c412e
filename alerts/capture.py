"""Change data capture: policy measures' history rows -> events, past a stored cursor.

django-simple-history writes a history row in the same transaction as every change a service
commits (admin, API, seed), so the history table is already an outbox: nothing here edits the
services of the other apps. A history row becomes exactly one event (dedupe key
`policy-history:<history_id>`). Ids are handed out at insert, not at commit, so a transaction that
commits late can hold an id below the cursor: each run also re-reads the last RESCAN window, and
the dedupe key makes the re-read harmless.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.fanout import notify
from alerts.models import CaptureCursor, Event, EventKind
from minerals.models import PolicyMeasure

CURSOR_NAME = "minerals.HistoricalPolicyMeasure"
RESCAN = timedelta(minutes=15)  # above the task time limit: no committing writer is older
# The fields whose change is news (the bookkeeping ones are not).
TRACKED_FIELDS = (
    "key",
    "issuer_id",
    "measure_type",
    "title",
    "announced_on",
    "effective_on",
    "suspended_from",
    "suspended_until",
    "ended_on",
    "instrument",
    "summary",
    "source_url",
    "source_id",
    "severity_override",
    "is_partly_confirmed",
)


M2M_FIELDS = ("minerals", "targets")
# A save and its many-to-many writes are several history rows; rows of the same user this close
# after the creation are the creation itself (one event, not "created" then "changed").
CREATION_SETTLES = timedelta(seconds=2)


def classify(
    row: Any, previous: Any | None, m2m_changed: list[str] | None = None, creation: Any | None = None
) -> tuple[str | None, list[str]]:
    """(event kind, changed fields) of one history row given the measure's row before it; no kind
    when nothing worth telling changed."""
    if row.history_type == "+" or previous is None:
        return EventKind.POLICY_CREATED, []
    if row.history_type == "-":
        return EventKind.POLICY_REMOVED, []
    changed = [f for f in TRACKED_FIELDS if getattr(row, f) != getattr(previous, f)] + (m2m_changed or [])
    if not changed:
        return None, []
    if (
        creation is not None
        and creation.history_user_id == row.history_user_id
        and row.history_date - creation.history_date <= CREATION_SETTLES
        and set(changed) <= set(M2M_FIELDS)
    ):
        return None, []
    if "ended_on" in changed and row.ended_on is not None:
        return EventKind.POLICY_ENDED, changed
    suspension_changed = "suspended_from" in changed or "suspended_until" in changed
    if suspension_changed and (row.suspended_from is not None or row.suspended_until is not None):
        return EventKind.POLICY_SUSPENDED, changed
    return EventKind.POLICY_CHANGED, changed


def _title(kind: str, row: Any, changed: list[str]) -> str:
    label = EventKind(kind).label
    if kind == EventKind.POLICY_SUSPENDED and row.suspended_until:
        return f"{label} until {row.suspended_until.isoformat()}: {row.title}"
    if kind == EventKind.POLICY_ENDED:
        return f"{label} on {row.ended_on.isoformat()}: {row.title}"
    if changed:
        return f"{label} ({', '.join(f.removesuffix('_id') for f in changed)}): {row.title}"
    return f"{label}: {row.title}"


def _m2m_snapshots(history_ids: set[int]) -> dict[str, dict[int, set[Any]]]:
    """The minerals and targets each history row recorded: one query per relation."""
    snapshots: dict[str, dict[int, set[Any]]] = {}
    for field, column in (("minerals", "mineral_id"), ("targets", "country_id")):
        through = apps.get_model("minerals", f"HistoricalPolicyMeasure_{field}")
        rows: dict[int, set[Any]] = {}
        for history_id, value in through.objects.filter(history_id__in=history_ids).values_list("history_id", column):
            rows.setdefault(history_id, set()).add(value)
        snapshots[field] = rows
    return snapshots


def policy_changes_capture(batch_size: int = 1000) -> int:
    """Turn new policy-measure history rows into events and notifications; returns events created."""
    history = PolicyMeasure.history.model
    with transaction.atomic():
        cursor, _ = CaptureCursor.objects.select_for_update().get_or_create(name=CURSOR_NAME)
        window = Q(history_id__gt=cursor.position) | Q(history_date__gte=timezone.now() - RESCAN)
        rows = list(history.objects.filter(window).order_by("history_id")[:batch_size])
        if not rows:
            return 0
        keys = {f"policy-history:{row.history_id}": row for row in rows}
        done = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        new_rows = [row for key, row in keys.items() if key not in done]
        # The row before each new one, for the diff: one query for the whole batch.
        measure_ids = {row.id for row in new_rows}
        earlier: dict[int, list[Any]] = {}
        if new_rows:
            for old in history.objects.filter(
                id__in=measure_ids, history_id__lt=max(r.history_id for r in new_rows)
            ).order_by("history_id"):
                earlier.setdefault(old.id, []).append(old)
        existing = set(PolicyMeasure.objects.filter(pk__in=measure_ids).values_list("pk", flat=True))
        minerals: dict[int, list[int]] = {}
        for measure_id, mineral_id in PolicyMeasure.minerals.through.objects.filter(
            policymeasure_id__in=measure_ids
        ).values_list("policymeasure_id", "mineral_id"):
            minerals.setdefault(measure_id, []).append(mineral_id)
        previous_of = {
            row.history_id: next((o for o in reversed(earlier.get(row.id, [])) if o.history_id < row.history_id), None)
            for row in new_rows
        }
        snapshots = _m2m_snapshots(
            {row.history_id for row in new_rows} | {p.history_id for p in previous_of.values() if p is not None}
        )
        events = []
        for row in new_rows:
            previous = previous_of[row.history_id]
            m2m_changed = [
                field
                for field in M2M_FIELDS
                if previous is not None
                and snapshots[field].get(row.history_id, set()) != snapshots[field].get(previous.history_id, set())
            ]
            before = [o for o in earlier.get(row.id, []) if o.history_id < row.history_id]
            creation = next((o for o in reversed(before) if o.history_type == "+"), None)
            if creation is not None and any(
                getattr(o, f) != getattr(creation, f)
                for o in before
                if o.history_id > creation.history_id
                for f in TRACKED_FIELDS
            ):
                creation = None  # edited since: no longer part of the creation
            kind, changed = classify(row, previous, m2m_changed, creation)
            if kind is None:
                continue
            events.append(
                Event(
                    kind=kind,
                    occurred_at=row.history_date,
                    title=_title(kind, row, changed)[:400],
                    measure_id=row.id if row.id in existing else None,
                    measure_key=row.key,
                    measure_type=row.measure_type,
                    issuer_id=row.issuer_id,
                    dedupe_key=f"policy-history:{row.history_id}",
                    details={"changed": [f.removesuffix("_id") for f in changed], "history_id": row.history_id},
                )
            )
        Event.objects.bulk_create(events)
        created = list(Event.objects.filter(dedupe_key__in=[e.dedupe_key for e in events]))
        links = [
            Event.minerals.through(event_id=event.pk, mineral_id=mineral_id)
            for event in created
            if event.measure_id
            for mineral_id in minerals.get(event.measure_id, [])
        ]
        Event.minerals.through.objects.bulk_create(links, ignore_conflicts=True)
        notify(created)
        cursor.position = max(cursor.position, rows[-1].history_id)
        cursor.save(update_fields=["position", "updated_at"])
        return len(created)
