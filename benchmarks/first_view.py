"""The first view of every page after a data change: each page built from the database, in process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone_api20m \
        .venv/bin/python benchmarks/first_view.py [--logged-in] [--slow-ms 1000]

A stored page is built once per data generation: the first visitor after an import or a
recompute waits for the build, and a build longer than gunicorn's 30 s timeout never gets
stored (every visitor's worker is killed). The load tests measure the stored answers; this
measures the build. For every page (the overview, every mineral page and its briefing, compare,
policies; with `--logged-in` the first organization's portfolio, plan and scenarios as one of
its members) it empties the cache, asks for the page once, and prints the total, the number of
queries, their time and the slowest query (its first 160 characters). The bound is the SQL: a
page whose total is far above its SQL time spends it in Python. Runs against a database a load
test prepared (benchmarks/api_load.py's `--database`, for example `--flows 20000000 --database
lodestone_api20m`), with the development settings and the in-process cache (nothing else's
cache is emptied). Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logged-in", action="store_true", help="also the first organization's pages, as a member")
    parser.add_argument("--slow-ms", type=float, default=1000.0, help="mark a page slower than this (default 1000)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update({"DEBUG": "true", "LOG_LEVEL": "ERROR"})
    os.environ.pop("CACHE_REDIS_URL", None)  # the in-process cache: emptied per page, nobody else's
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from minerals.models import Mineral
    from suppliers.models import Membership

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages name hashed static files
    paths = ["/", "/compare/", "/policies/"]
    for slug in Mineral.objects.order_by("slug").values_list("slug", flat=True):
        paths += [f"/minerals/{slug}/", f"/minerals/{slug}/briefing/"]
    client = Client()
    member = Membership.objects.select_related("user").order_by("organization__name").first()
    if args.logged_in and member is not None:
        client.force_login(member.user)
        paths += ["/portfolio/", "/portfolio/plan/", "/scenarios/"]

    queries: list[tuple[float, str]] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - started, sql))

    print(f"{'page':<40}{'status':>7}{'total ms':>10}{'queries':>8}{'SQL ms':>9}{'slowest ms':>11}  slowest query")
    slow = []
    for path in paths:
        caches["default"].clear()
        queries.clear()
        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            status = client.get(path).status_code
        total = (time.perf_counter() - started) * 1000
        sql = sum(q[0] for q in queries) * 1000
        worst = max(queries, default=(0.0, ""))
        mark = "  SLOW" if total > args.slow_ms else ""
        print(
            f"{path:<40}{status:>7}{total:>10.0f}{len(queries):>8}{sql:>9.0f}{worst[0] * 1000:>11.0f}  "
            f"{' '.join(worst[1].split())[:160]}{mark}"
        )
        if mark:
            slow.append(path)
    flows = "?"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'minerals_tradeflow'")
        row = cursor.fetchone()
        flows = f"{row[0]:,}" if row else flows
    load = os.getloadavg()
    print(f"\nabout {flows} trade flows (the planner's estimate); load {load[0]:.2f} {load[1]:.2f}")
    print(f"pages over {args.slow_ms:.0f} ms: {', '.join(slow) or 'none'}")


if __name__ == "__main__":
    main()
