"""CPU of one stored answer in process, against the static file (the bound), with no network.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone_bench_api \
        CACHE_REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python benchmarks/hit_path.py [--calls 3000] [--profile metrics] [--targets static,lists]

Runs against a database that benchmarks/api_load.py prepared (its `--database`: the demo data,
the generated trade flows and its `bench` application), never the development one: it makes a
`reference:read` token for the run and deletes it at the end. Production settings (DEBUG off,
Redis cache), throttles raised and the anonymous page limit off, as the load tests serve. Calls
the WSGI application directly, as gunicorn does, for the static file, the overview, the gallium
page and the API's metrics report and minerals list (every one a stored hit after the first
call), and the two uncached trade-flow pages of the load test (`lists`, with the static file:
`--targets static,lists`), and prints per call: CPU time (time.process_time, this process only: Redis's own work is
not in it), the wall-time median and p99, and the CPU as a multiple of the static file's. The
load tests' shares and tails follow from these costs plus HTTP and the load generator, which
share the two cores. `--profile NAME` then prints cProfile's top of that target. Not part of
the test run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGETS = {  # name: (path, with the bench token)
    "static": ("/static/css/lodestone.css", False),
    "overview": ("/", False),
    "mineral": ("/minerals/gallium/", False),
    "metrics": ("/api/v1/metrics/?mineral=gallium", True),
    "minerals": ("/api/v1/minerals/", True),
    # Uncached lists: the query, the filter and the rows on every call.
    "lists": ("/api/v1/trade-flows/?page_size=100", True),
    "lists-filtered": ("/api/v1/trade-flows/?commodity_code=811292&importer=AFG&page_size=100", True),
}


def caller(application: Callable[..., Any], path: str, token: str | None) -> Callable[[], str]:
    """One GET through the WSGI application, as gunicorn makes it (locust's Accept-Encoding)."""
    path_info, _, query = path.partition("?")

    def call() -> str:
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path_info, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_ACCEPT_ENCODING": "gzip, deflate, br", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
        }  # fmt: skip
        if token:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        statuses: list[str] = []
        body = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(body)
        body.close()
        return statuses[0]

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--profile", choices=sorted(TARGETS), help="print cProfile's top of this target")
    parser.add_argument("--top", type=int, default=30, help="rows of the profile table")
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help="comma-separated names (default: all); `lists` also selects lists-filtered",
    )
    args = parser.parse_args()
    names = [n for n in TARGETS for wanted in args.targets.split(",") if n == wanted or n == f"{wanted}-filtered"]
    if not names or names[0] != "static":
        sys.exit("--targets starts with static (the bound)")
    if args.profile and args.profile not in names:
        names.append(args.profile)
    if not (os.environ.get("CACHE_REDIS_URL") or os.environ.get("REDIS_URL")):
        sys.exit("set CACHE_REDIS_URL (production has Redis): the stored answers' costs are Redis's")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.update(
        {"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0", "LOG_LEVEL": "WARNING"}
    )
    os.environ.update({"ALLOWED_HOSTS": "127.0.0.1", "LODESTONE_ANONYMOUS_PAGE_VIEWS": "0"})
    os.environ.update({f"API_RATE_{s}": "100000000/min" for s in ("REFERENCE", "METRICS", "PORTFOLIO", "BULK")})
    subprocess.run([sys.executable, str(REPO / "manage.py"), "collectstatic", "--noinput", "-v0"], check=True, cwd=REPO)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    from benchmarks.bench_token import bench_read_token

    raw, token = bench_read_token()
    wsgi = get_wsgi_application()
    calls = {name: caller(wsgi, TARGETS[name][0], raw if TARGETS[name][1] else None) for name in names}
    try:
        bound = 0.0
        print("| target | path | CPU a call (us) | wall p50 (us) | wall p99 (us) | CPU vs static |")
        print("|---|---|---|---|---|---|")
        for name, call in calls.items():
            for _ in range(50):  # connections, imports, the stored answer, the kept token and generation
                if (status := call()) != "200 OK":
                    sys.exit(f"{TARGETS[name][0]}: {status}")
            walls = []
            cpu_started = time.process_time()
            for _ in range(args.calls):
                started = time.perf_counter()
                call()
                walls.append(time.perf_counter() - started)
            cpu = (time.process_time() - cpu_started) / args.calls
            bound = cpu if name == "static" else bound
            walls.sort()
            p50, p99 = walls[len(walls) // 2], walls[int(len(walls) * 0.99)]
            print(
                f"| {name} | {TARGETS[name][0]} | {cpu * 1e6:,.0f} | {p50 * 1e6:,.0f} | {p99 * 1e6:,.0f} "
                f"| {cpu / bound:.2f}x |"
            )
        load = os.getloadavg()
        print(f"\n{args.calls} calls a target; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.calls):
                calls[args.profile]()
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    finally:
        token.delete()


if __name__ == "__main__":
    main()
