"""Alerts benchmark (not a test): fan-out and webhook delivery rates, beside the Celery round trip.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/alerts.py [--events 1000] [--subscribers 100] [--redis-db 10]

Uses its own database (`lodestone_bench_alerts`, dropped and re-created on the server of
DATABASE_URL) and one Redis database (`--redis-db`, flushed before and after) as the broker.
Subscribers: one organization each, with a member watching the benchmark mineral and one webhook
endpoint on a local receiver (127.0.0.1, tests/alerts/receiver.py). Prints, in one run:

* the Celery round trip (publish -> worker runs an empty task -> the publisher sees it) on an
  empty queue, the bound on any per-task pipeline here, and the deliveries per second that bound
  allows at the batch size (one POST of up to LODESTONE_WEBHOOK_BATCH events per task step);
* fan-out: events per second written with their notifications and webhook deliveries (the
  outbox), in transactions of --chunk events, as the capture tasks write them;
* delivery: webhook deliveries (events received by the endpoints) per second through a real
  Celery worker (solo pool, in-process thread) POSTing signed batches to the receiver.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.recompute import bench_url, create_database  # noqa: E402

BENCH_DB = "lodestone_bench_alerts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=100, help="Events per fan-out transaction.")
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument("--round-trips", type=int, default=200)
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lodestone")
    admin_url, url = bench_url(url, BENCH_DB)
    create_database(admin_url, BENCH_DB)
    redis_base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    broker = f"{redis_base}/{options.redis_db}"
    os.environ.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL=broker,
        REDIS_URL=broker,
        CACHE_REDIS_URL=f"{redis_base}/{options.redis_db - 1}",
        CELERY_TASK_ALWAYS_EAGER="false",
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="true",  # loopback webhooks (the local receiver) are allowed in development only
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    client = redis.Redis.from_url(broker)
    client.flushdb()
    try:
        run(options)
    finally:
        client.flushdb()


def run(options: argparse.Namespace) -> None:
    from celery import shared_task
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    import alerts.tasks  # noqa: F401  (registers the tasks)
    from alerts.fanout import notify
    from alerts.models import DeliveryStatus, Event, EventKind, Watch, WebhookDelivery, WebhookEndpoint
    from config.celery import app
    from minerals.models import Country, Mineral
    from suppliers.models import Membership, Organization
    from tests.alerts.receiver import webhook_receiver

    @shared_task(name="benchmarks.alerts.empty", ignore_result=True)
    def empty() -> None:
        return None

    n_sub, n_events = options.subscribers, options.events
    expected = n_sub * n_events
    with webhook_receiver() as receiver:
        country = Country.objects.create(iso3="QZZ", iso2="QZ", name="Benchland")
        mineral = Mineral.objects.create(slug="benchium", name="Benchium")
        User = get_user_model()
        users = User.objects.bulk_create([User(username=f"bench-{i}") for i in range(n_sub)])
        orgs = Organization.objects.bulk_create(
            [Organization(name=f"Bench {i} (fictional)", slug=f"bench-{i}", country=country, is_fictional=True)
             for i in range(n_sub)]
        )  # fmt: skip
        Membership.objects.bulk_create([Membership(user=u, organization=o) for u, o in zip(users, orgs, strict=True)])
        Watch.objects.bulk_create([Watch(user=u, mineral=mineral) for u in users])
        WebhookEndpoint.objects.bulk_create(
            [WebhookEndpoint(organization=o, url=f"{receiver.url}/s{o.pk}", secret=f"whsec_{o.pk}") for o in orgs]
        )

        # 1. The Celery round trip, on an empty queue: publish an empty task, wait until the worker ran it.
        done = threading.Event()
        finished: list[float] = []
        task_postrun.connect(lambda **kw: (finished.append(time.perf_counter()), done.set()), weak=False)
        trips = []
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            for _ in range(options.round_trips):
                done.clear()
                sent = time.perf_counter()
                empty.delay()
                done.wait(10)
                trips.append(finished[-1] - sent)

        # 2. Fan-out, no worker consuming (the delivery tasks wait in the queue).
        started = time.perf_counter()
        for first in range(0, n_events, options.chunk):
            with transaction.atomic():
                batch = [
                    Event(kind=EventKind.POLICY_CHANGED, occurred_at=timezone.now(), title=f"Bench {i}",
                          dedupe_key=f"bench:{i}")
                    for i in range(first, min(first + options.chunk, n_events))
                ]  # fmt: skip
                Event.objects.bulk_create(batch)
                created = list(Event.objects.filter(dedupe_key__in=[e.dedupe_key for e in batch]))
                Event.minerals.through.objects.bulk_create(
                    [Event.minerals.through(event_id=e.pk, mineral_id=mineral.pk) for e in created]
                )
                notify(created)
        fanout = time.perf_counter() - started

        # 3. Delivery through a real worker.
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            started = time.perf_counter()
            while len(receiver.unique) < expected:
                if time.perf_counter() - started > 600:
                    sys.exit(f"only {len(receiver.unique)} of {expected} deliveries in 600 s")
                time.sleep(0.01)
            delivery = time.perf_counter() - started

        delivered = WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
    batch = settings.LODESTONE_WEBHOOK_BATCH
    trip = median(trips)
    print(f"subscribers {n_sub}, events {n_events}, deliveries {expected} (batch {batch} events per POST)")
    print(f"{'fan-out (events + notifications + deliveries written)':<58} {n_events / fanout:10.0f} events/s"
          f"  ({expected / fanout:.0f} deliveries queued/s, {fanout:.2f} s)")  # fmt: skip
    print(f"{'webhook delivery through the worker to 127.0.0.1':<58} {expected / delivery:10.0f} deliveries/s"
          f"  ({len(receiver.received)} POSTs, {delivery:.2f} s; {receiver.total - len(receiver.unique)} duplicates,"
          f" {delivered} rows delivered)")  # fmt: skip
    print(f"{'Celery round trip (median of ' + str(len(trips)) + ' empty tasks)':<58} {trip * 1000:10.2f} ms"
          f"  (bound {1 / trip:.0f} tasks/s, {batch / trip:.0f} deliveries/s at {batch} per task)")  # fmt: skip
    print(f"{'delivery rate / round-trip bound':<58} {(expected / delivery) / (batch / trip):10.2f}")


if __name__ == "__main__":
    main()
