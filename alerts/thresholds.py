"""Threshold crossings after a recompute: a buyer's metric rising above a level someone set.

The metrics are the stored ones (dashboards' recompute writes them): China's share and the
restricted share of a buyer's supply per mineral (ExposureMetric), and each mineral's supply risk
(derived on read from the stored rows, as the overview shows it). The recompute sits in a lower
app that cannot import this one, so the evaluation reads the committed rows after it (beat, every
minute, and `alerts_catch_up`), and writes each crossing's state and its event in one transaction:
a crossing is never lost (the rows stay), never told twice (the state says "above"), and fires
again only after the value has fallen back to the level or below (re-armed).

Who is told: the members of the buyer whose thresholds (their own for a metric, else their
organization's defaults, else BUILT_IN) include the level, for the minerals they watch (the
portfolio, their watches and their organization's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.fanout import notify
from alerts.models import Event, EventKind, Threshold, ThresholdMetric, ThresholdState, Watch
from dashboards.models import ExposureMetric
from dashboards.page_selectors import minerals_overview
from minerals.models import Mineral
from suppliers.models import Membership, Organization, Requirement

# Defaults when neither the user nor the organization set any for a metric: supply risk above 1.0
# (the EU method's criticality threshold) and a majority of the supply from China or restricted.
# A starting point chosen by the product, not a published figure; admins change it.
BUILT_IN: Mapping[str, tuple[float, ...]] = {
    ThresholdMetric.CHINA_SHARE: (0.5,),
    ThresholdMetric.RESTRICTED_SHARE: (0.5,),
    ThresholdMetric.SUPPLY_RISK: (1.0,),
}

Key = tuple[int, int, str, float]  # organization, mineral, metric, level


def crossed(previous_above: bool | None, value: float | None, level: float) -> tuple[bool | None, bool]:
    """(above now, fires): fires only when the value rises above the level from below or unseen;
    an unknown value changes nothing. Pure."""
    if value is None:
        return previous_above, False
    above = value > level
    return above, above and not previous_above


def _fmt(metric: str, value: float) -> str:
    return f"{value:.2f}" if metric == ThresholdMetric.SUPPLY_RISK else f"{value:.1%}"


def audiences(organization_ids: list[int] | None = None) -> dict[Key, set[int]]:
    """Each (organization, mineral, metric, level) someone wants and the users who want it."""
    memberships = Membership.objects.filter(user__is_active=True)
    if organization_ids is not None:
        memberships = memberships.filter(organization_id__in=organization_ids)
    members: dict[int, list[int]] = defaultdict(list)
    for org_id, user_id in memberships.values_list("organization_id", "user_id"):
        members[org_id].append(user_id)
    if not members:
        return {}
    portfolio: dict[int, set[int]] = defaultdict(set)
    for org_id, mineral_id in Requirement.objects.filter(organization_id__in=members).values_list(
        "organization_id", "mineral_id"
    ):
        portfolio[org_id].add(mineral_id)
    user_ids = {u for users in members.values() for u in users}
    org_watch: dict[int, set[int]] = defaultdict(set)
    user_watch: dict[int, set[int]] = defaultdict(set)
    owners = Q(user_id__in=user_ids) | Q(organization_id__in=list(members))
    for user_id, org_id, mineral_id in Watch.objects.filter(owners, mineral__isnull=False).values_list(
        "user_id", "organization_id", "mineral_id"
    ):
        (user_watch[user_id] if user_id else org_watch[org_id]).add(mineral_id)
    rules: dict[tuple[int, int | None], dict[str, list[tuple[float, int | None]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for org_id, user_id, metric, level, mineral_id in Threshold.objects.filter(organization_id__in=members).values_list(
        "organization_id", "user_id", "metric", "level", "mineral_id"
    ):
        rules[(org_id, user_id)][metric].append((level, mineral_id))
    wanted: dict[Key, set[int]] = defaultdict(set)
    for org_id, users in members.items():
        defaults = rules.get((org_id, None), {})
        for user_id in users:
            watched = portfolio[org_id] | org_watch[org_id] | user_watch[user_id]
            own = rules.get((org_id, user_id), {})
            for metric in ThresholdMetric.values:
                chosen = own.get(metric) or defaults.get(metric) or [(level, None) for level in BUILT_IN[metric]]
                for level, only in chosen:
                    for mineral_id in watched if only is None else watched & {only}:
                        wanted[(org_id, mineral_id, metric, level)].add(user_id)
    return wanted


def current_values(keys: set[Key]) -> dict[Key, float | None]:
    """The stored value of each key's metric (None: unknown, or no row yet)."""
    pairs = {(org, mineral) for org, mineral, metric, _ in keys if metric != ThresholdMetric.SUPPLY_RISK}
    exposure: dict[tuple[int, int], tuple[float | None, float | None]] = {}
    if pairs:
        for org, mineral, china, restricted in ExposureMetric.objects.filter(
            organization_id__in={o for o, _ in pairs}, mineral_id__in={m for _, m in pairs}
        ).values_list("organization_id", "mineral_id", "direct_china_share", "restricted_share"):
            exposure[(org, mineral)] = (china, restricted)
    risk: dict[int, float | None] = {}
    if any(metric == ThresholdMetric.SUPPLY_RISK for _, _, metric, _ in keys):
        slugs = dict(Mineral.objects.values_list("slug", "id"))
        for row in minerals_overview(as_of=timezone.localdate())["minerals"]:
            risk[slugs[row["slug"]]] = row["supply_risk"]
    values: dict[Key, float | None] = {}
    for key in keys:
        org, mineral, metric, _ = key
        if metric == ThresholdMetric.SUPPLY_RISK:
            values[key] = risk.get(mineral)
        else:
            china, restricted = exposure.get((org, mineral), (None, None))
            values[key] = china if metric == ThresholdMetric.CHINA_SHARE else restricted
    return values


def thresholds_evaluate(*, organization_ids: list[int] | None = None) -> int:
    """Record the new crossings (state, event, notifications in one transaction); returns how many."""
    wanted = audiences(organization_ids)
    if not wanted:
        return 0
    values = current_values(set(wanted))
    now = timezone.now()
    names = dict(Mineral.objects.values_list("id", "name"))
    org_names = dict(Organization.objects.filter(pk__in={k[0] for k in wanted}).values_list("id", "name"))
    with transaction.atomic():
        states = {
            (s.organization_id, s.mineral_id, s.metric, s.level): s
            for s in ThresholdState.objects.select_for_update().filter(organization_id__in={k[0] for k in wanted})
        }
        new_states, changed, fired = [], [], []
        for key in sorted(wanted):
            org_id, mineral_id, metric, level = key
            value = values[key]
            state = states.get(key)
            above, fires = crossed(state.above if state else None, value, level)
            if above is None or value is None:
                continue
            if state is None:
                state = ThresholdState(
                    organization_id=org_id, mineral_id=mineral_id, metric=metric, level=level,
                    above=above, value=value, crossings=0, changed_at=now,
                )  # fmt: skip
                new_states.append(state)
            elif state.above != above or state.value != value:
                state.above, state.value, state.changed_at = above, value, now
                changed.append(state)
            if not fires:
                continue
            state.crossings += 1
            label = ThresholdMetric(metric).label
            event = Event(
                kind=EventKind.THRESHOLD_CROSSED,
                occurred_at=now,
                title=(
                    f"{label} of {names[mineral_id]} is above {_fmt(metric, level)}: {_fmt(metric, value)}"
                    f" ({org_names[org_id]})"
                )[:400],
                organization_id=org_id,
                details={"metric": metric, "level": level, "value": value, "mineral_id": mineral_id},
                dedupe_key=f"threshold:{org_id}:{mineral_id}:{metric}:{level:g}:{state.crossings}",
            )
            fired.append((event, mineral_id, key))
        ThresholdState.objects.bulk_create(new_states)
        ThresholdState.objects.bulk_update(changed, ["above", "value", "changed_at", "crossings"])
        if not fired:
            return 0
        Event.objects.bulk_create([event for event, _, _ in fired], ignore_conflicts=True)
        created = {e.dedupe_key: e for e in Event.objects.filter(dedupe_key__in=[e.dedupe_key for e, _, _ in fired])}
        Event.minerals.through.objects.bulk_create(
            [Event.minerals.through(event_id=created[e.dedupe_key].pk, mineral_id=m) for e, m, _ in fired],
            ignore_conflicts=True,
        )
        notify(created.values(), audience={created[e.dedupe_key].pk: wanted[key] for e, _, key in fired})
    return len(fired)
