"""1,000 events to 100 subscribers through a real Celery worker and a local webhook receiver:
zero loss, zero duplicates after deduplication by idempotency key, with the broker down while
the first half is written (PostgreSQL and Redis; skipped elsewhere, required in CI)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

import alerts.tasks
from alerts.fanout import notify
from alerts.models import DeliveryStatus, Event, EventKind, Notification, Watch, WebhookDelivery, WebhookEndpoint
from config.celery import app
from minerals.models import Country, Mineral
from suppliers.models import Membership, Organization
from tests.alerts.receiver import webhook_receiver
from tests.dashboards.conftest import use_broker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SUBSCRIBERS = 100
EVENTS = 1000
CHUNK = 500  # events per fan-out transaction: each half is one (a dead broker now fails a publish in 10-40 ms)


def _subscribers(url: str) -> Mineral:
    country = Country.objects.create(iso3="QZZ", iso2="QZ", name="Testland")
    mineral = Mineral.objects.create(slug="testium", name="Testium")
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"subscriber-{i}") for i in range(SUBSCRIBERS)]
    )
    orgs = Organization.objects.bulk_create(
        [Organization(name=f"Subscriber {i} (fictional)", slug=f"subscriber-{i}", country=country, is_fictional=True)
         for i in range(SUBSCRIBERS)]
    )  # fmt: skip
    Membership.objects.bulk_create([Membership(user=u, organization=o) for u, o in zip(users, orgs, strict=True)])
    Watch.objects.bulk_create([Watch(user=u, mineral=mineral) for u in users])
    WebhookEndpoint.objects.bulk_create(
        [WebhookEndpoint(organization=o, url=f"{url}/s{o.pk}", secret=f"whsec_{o.pk}") for o in orgs]
    )
    return mineral


def _events(mineral: Mineral, start: int, stop: int) -> None:
    for first in range(start, stop, CHUNK):
        with transaction.atomic():
            batch = [
                Event(kind=EventKind.POLICY_CHANGED, occurred_at=timezone.now(), title=f"Change {i}",
                      dedupe_key=f"integration:{i}")
                for i in range(first, min(first + CHUNK, stop))
            ]  # fmt: skip
            Event.objects.bulk_create(batch)
            created = list(Event.objects.filter(dedupe_key__in=[e.dedupe_key for e in batch]))
            Event.minerals.through.objects.bulk_create(
                [Event.minerals.through(event_id=e.pk, mineral_id=mineral.pk) for e in created]
            )
            notify(created)


def test_a_thousand_events_reach_a_hundred_subscribers_once_each_despite_a_dead_broker(
    celery_worker: Any, test_redis_url: str, wait_until: Any, settings: Any
) -> None:
    settings.LODESTONE_WEBHOOK_BATCH = 500  # two POSTs per subscriber and half (the setting's ceiling in docs)
    started = time.monotonic()
    with webhook_receiver() as receiver:
        mineral = _subscribers(receiver.url)
        use_broker(app, "redis://127.0.0.1:1/0")  # nothing listens on port 1: publishing fails fast
        try:
            _events(mineral, 0, EVENTS // 2)
        finally:
            use_broker(app, test_redis_url)
        assert receiver.received == []  # nothing could be enqueued...
        assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == SUBSCRIBERS * EVENTS // 2
        _events(mineral, EVENTS // 2, EVENTS)  # ...and the broker is back for the second half
        alerts.tasks.sweep_deliveries.delay()  # the beat's job: what the dead broker held back

        expected = SUBSCRIBERS * EVENTS
        sent_at = time.monotonic()
        try:
            wait_until(lambda: len(receiver.unique) >= expected, timeout=60, what="every delivery")
        finally:
            print(
                f"\nwritten in {sent_at - started:.1f} s; received {len(receiver.unique)} in"
                f" {time.monotonic() - sent_at:.1f} s; POSTs {len(receiver.received)}; raw {receiver.total};"
                f" delivered rows {WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count()}"
            )
        keys = _received(receiver)
        per_subscriber = Counter(path for path, _ in set(keys))
        assert len(per_subscriber) == SUBSCRIBERS
        assert set(per_subscriber.values()) == {EVENTS}
        event_keys = {f"lodestone-event-{pk}" for pk in Event.objects.values_list("pk", flat=True)}
        assert {key for _, key in keys} == event_keys
        duplicates = len(keys) - len(set(keys))  # at least once: dedup by (subscriber, key) leaves none
        assert Notification.objects.count() == expected
        assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == expected
    elapsed = time.monotonic() - started
    print(f"\n{expected} deliveries in {elapsed:.1f} s; {duplicates} raw duplicates before dedup")
    # Speed is the benchmark's business (benchmarks/alerts.py, docs/performance.md), not an assertion here.


def _received(receiver: Any) -> list[tuple[str, str]]:
    with receiver.lock:
        return [(r.path, e["idempotency_key"]) for r in receiver.received for e in r.events]
