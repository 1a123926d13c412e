"""One API list request in process: milliseconds a call, then where the time goes (cProfile).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone_api15_after \
        CACHE_REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python benchmarks/api_list_profile.py [--url /api/v1/trade-flows/?page_size=100] [--calls 200]

Runs against a database that benchmarks/api_load.py prepared (its `--database`: the demo data,
the generated trade flows and its `bench` application), never the development one: it makes a
`reference:read` token for the run and deletes it at the end. DEBUG off, throttles raised, as the
load test serves. Prints the mean and median of `--calls` calls with Django's test client, then the
cumulative and own-time tops of the same number of calls under cProfile. Not part of the test run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="/api/v1/trade-flows/?page_size=100")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--top", type=int, default=30, help="rows of each profile table")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.update({"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING"})
    os.environ.update({f"API_RATE_{s}": "100000000/min" for s in ("REFERENCE", "METRICS", "PORTFOLIO", "BULK")})
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from benchmarks.bench_token import bench_read_token

    settings.ALLOWED_HOSTS = ["testserver"]
    raw, token = bench_read_token()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    try:
        for _ in range(20):  # connections, imports, the kept token
            response = client.get(args.url)
            if response.status_code != 200:
                sys.exit(f"{args.url}: {response.status_code} {response.content[:300]!r}")
        times = []
        for _ in range(args.calls):
            started = time.perf_counter()
            client.get(args.url)
            times.append(time.perf_counter() - started)
        load = os.getloadavg()
        mean, median = statistics.mean(times) * 1000, statistics.median(times) * 1000
        calls = f"{args.calls} calls; load {load[0]:.2f} {load[1]:.2f}"
        print(f"{args.url}: {mean:.1f} ms a call, median {median:.1f} ms ({calls})")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.calls):
            client.get(args.url)
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    finally:
        token.delete()


if __name__ == "__main__":
    main()
