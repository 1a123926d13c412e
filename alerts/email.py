"""Alerts by e-mail through Django's e-mail backend: instant (one e-mail per alert) or a daily digest.

The backend is the deployment's (settings.EMAIL_BACKEND: console on the embedded default, SMTP
from the environment; docs/operations.md). A notification is e-mailed once: `emailed_at` is set in
the transaction that claims it, before sending, so a crash after the claim loses one e-mail rather
than sending a duplicate the next run (an inbox copy always remains).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import DeliveryPreference, EmailMode, Notification
from suppliers.models import Membership

BATCH = 500
EAGERNESS: list[str] = [EmailMode.INSTANT, EmailMode.DAILY, EmailMode.OFF]


def email_modes(user_ids: set[int]) -> dict[int, str]:
    """Each user's e-mail mode: their own preference, else their organization's, else off."""
    own = dict(DeliveryPreference.objects.filter(user_id__in=user_ids).values_list("user_id", "email"))
    inherited: dict[int, str] = {}
    for user_id, mode in Membership.objects.filter(
        user_id__in=user_ids - set(own), organization__alert_preference__isnull=False
    ).values_list("user_id", "organization__alert_preference__email"):
        # Several organizations: the most eager mode wins (instant, then daily, then off).
        inherited[user_id] = min(inherited.get(user_id, EmailMode.OFF), mode, key=EAGERNESS.index)
    return {u: own.get(u) or inherited.get(u) or EmailMode.OFF for u in user_ids}


def _claim(mode: str, *, older_than: timedelta | None = None) -> dict[int, list[Notification]]:
    with transaction.atomic():
        # Only the users who may want this mode (own preference, or an organization's default
        # without one of their own): the many users without e-mail never crowd the batch.
        own = DeliveryPreference.objects.filter(user__isnull=False, email=mode).values("user_id")
        inherited = (
            Membership.objects.filter(organization__alert_preference__email=mode)
            .exclude(user__alert_preference__isnull=False)
            .values("user_id")
        )
        unsent = Notification.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            Q(user_id__in=own) | Q(user_id__in=inherited),
            emailed_at__isnull=True,
            read_at__isnull=True,
            user__is_active=True,
        )
        if older_than is not None:
            unsent = unsent.filter(created_at__lte=timezone.now() - older_than)
        candidates = list(unsent.exclude(user__email="").values_list("id", "user_id")[: BATCH * 10])
        modes = email_modes({u for _, u in candidates})
        ids = [i for i, u in candidates if modes[u] == mode]
        Notification.objects.filter(pk__in=ids).update(emailed_at=timezone.now())
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for n in Notification.objects.filter(pk__in=ids).select_related("event", "user").order_by("id"):
        by_user[n.user_id].append(n)
    return by_user


def _line(n: Notification) -> str:
    return f"- {n.event.occurred_at:%Y-%m-%d} {n.event.title}"


def _inbox_url() -> str:
    return f"{settings.LODESTONE_SITE_URL.rstrip('/')}/inbox/"


def _send(messages: list[EmailMessage]) -> int:
    if not messages:
        return 0
    return get_connection().send_messages(messages) or 0


def instant_emails_send() -> int:
    """One e-mail per new alert for the users who chose instant; returns how many were sent."""
    messages = [
        EmailMessage(
            subject=f"[Lodestone] {n.event.title}"[:200],
            body=f"{_line(n)}\n\nYour inbox: {_inbox_url()}\n",
            to=[n.user.email],
        )
        for notes in _claim(EmailMode.INSTANT).values()
        for n in notes
    ]
    return _send(messages)


def daily_digests_send() -> int:
    """One e-mail per user who chose the daily digest, with every alert not yet e-mailed."""
    messages = []
    for notes in _claim(EmailMode.DAILY).values():
        body = "\n".join(_line(n) for n in notes)
        messages.append(
            EmailMessage(
                subject=f"[Lodestone] {len(notes)} alert{'s' if len(notes) != 1 else ''} today",
                body=f"{body}\n\nYour inbox: {_inbox_url()}\n",
                to=[notes[0].user.email],
            )
        )
    return _send(messages)


def preference_set(*, user_id: int | None = None, organization_id: int | None = None, email: str) -> None:
    owner = Q(user_id=user_id) if user_id is not None else Q(organization_id=organization_id)
    if email not in EmailMode.values:
        raise ValueError(f"unknown e-mail mode {email!r}")
    updated = DeliveryPreference.objects.filter(owner).update(email=email)
    if not updated:
        DeliveryPreference.objects.create(user_id=user_id, organization_id=organization_id, email=email)
