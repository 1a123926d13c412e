"""API load benchmark: requests/s, p95 and p99 of the API's hot endpoints, against a static file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone .venv/bin/python benchmarks/api_load.py \
        --flows 10000 [--flows 2000000] [--seconds 15] [--users 8] [--users 16]
    ... benchmarks/api_load.py --existing postgres://postgres@127.0.0.1:5432/lodestone_api20m [--seconds 15] ...

Runs on its own database `lodestone_bench_api` (`--database NAME` for another, e.g. to run two
checkouts side by side; dropped and re-created on the server of DATABASE_URL; never the
development database): migrate, the demo dataset, then N trade flows
COPY-generated (psycopg 3 `cursor.copy`) for HS 811292 (gallium/germanium) across countries and
years. Serves it with gunicorn on 127.0.0.1 (DEBUG off, persistent connections) and runs wrk
(`--client wrk`, the default: benchmarks/load_client.py) or locust headless (`--client locust`)
with N concurrent clients per endpoint (each `--users`, default 16), bounded in time,
authenticated with a client-credentials token. Throttles are raised for the run (the benchmark
measures serving, not rate limiting). The bound is a static file served by the same gunicorn
(whitenoise, as the pages' benchmark): each endpoint's throughput is printed as a share of the
static file's in the same run. Prints one table row per (flows, users, endpoint). `--existing`
serves a database an earlier run kept (20 M flows take minutes to load) as it is. Not part of
the test run.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from load_client import BROWSER_ACCEPT_ENCODING, gunicorn_command, wrk

REPO = Path(__file__).resolve().parent.parent
BENCH_DB = "lodestone_bench_api"
WARM_UP_SECONDS = 5
BIN = REPO / ".venv" / "bin"

LOCUSTFILE = """
import os
from locust import FastHttpUser, constant, task

PATH = os.environ["BENCH_PATH"]
HEADERS = {} if PATH.startswith("/static/") else {"Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}
if HEADERS and os.environ.get("BENCH_ACCEPT_ENCODING"):
    HEADERS["Accept-Encoding"] = os.environ["BENCH_ACCEPT_ENCODING"]


class ApiClient(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get(PATH, headers=HEADERS, name=PATH)
"""

STATIC = "static file (the bound)"
ENDPOINTS = {
    STATIC: "/static/css/lodestone.css",
    "metrics (gallium, full report)": "/api/v1/metrics/?mineral=gallium",
    "minerals list": "/api/v1/minerals/",
    "trade-flow page (100 rows)": "/api/v1/trade-flows/?page_size=100",
    # Filtered page, walked on the (commodity_code, importer, id) index. Afghanistan is among the
    # first importers filled (countries in ISO3 order), so the page holds 100 flows at 10 k as at
    # 20 M; it filtered on USA until 2026-12-06, which has no flow below ~60 k: an empty page.
    "trade-flow page (100 rows, hs6+importer)": "/api/v1/trade-flows/?commodity_code=811292&importer=AFG&page_size=100",
}


def bench_url(url: str, database: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("benchmarks/api_load.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path=f"/{database}"))


def create_database(admin_url: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")


def prepare(flows: int) -> str:
    """Schema, demo data, N trade flows; returns a curator token."""
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, Application, set_token_value

    from dashboards.services import all_metrics_recompute
    from minerals.models import CommodityCode, Country, DataSource, TradeFlow
    from suppliers.demo_dataset import demo_dataset_load

    call_command("migrate", verbosity=0)
    demo_dataset_load()
    source = DataSource.objects.get(key="usgs-mcs-2025")
    # HS 811292 first, back a year per ~62,000 flows to 1900 (the trade-flow table's lowest year:
    # 7.7 M flows), then the next code from 2024 again.
    codes = ["811292", *CommodityCode.objects.exclude(hs6="811292").order_by("hs6").values_list("hs6", flat=True)]
    countries = list(Country.objects.order_by("iso3").values_list("iso3", flat=True))
    started = time.monotonic()
    columns = "year, exporter_id, importer_id, commodity_code_id, basis, value_usd, quantity_kg, source_id"
    written = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {TradeFlow._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        year, code = 2024, iter(codes)
        hs6 = next(code)
        while written < flows:
            if year < 1900:
                year, hs6 = 2024, next(code)
            for importer in countries:
                for exporter in countries:
                    if exporter == importer:
                        continue
                    copy.write_row((year, exporter, importer, hs6, "import", 1000.0 + written, 10.0, source.pk))
                    written += 1
                    if written >= flows:
                        break
                if written >= flows:
                    break
            year -= 1
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TradeFlow._meta.db_table}")
    print(f"  {flows:,} trade flows COPY-loaded in {time.monotonic() - started:.1f} s", flush=True)
    started = time.monotonic()
    list(all_metrics_recompute())
    print(f"  metrics recomputed in {time.monotonic() - started:.1f} s", flush=True)
    owner = (
        __import__("django.contrib.auth", fromlist=["get_user_model"])
        .get_user_model()
        .objects.create_user("bench-curator", is_staff=True, is_superuser=True)
    )
    app = Application.objects.create(
        name="bench",
        user=owner,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    raw = secrets.token_urlsafe(30)
    token = AccessToken(application=app, scope="reference:read", expires=timezone.now() + timedelta(hours=2))
    set_token_value(token, raw)
    token.save()
    return raw


def existing_flows_and_token() -> tuple[int, str]:
    """The trade flows of an existing benchmark database and a token of its `bench` application
    (kept: it expires within the hour)."""
    import django

    django.setup()
    from benchmarks.bench_token import bench_read_token
    from minerals.models import TradeFlow

    return TradeFlow.objects.count(), bench_read_token()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        gunicorn_command(port, workers),
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    # The master listens at once; its workers import Django afterwards (seconds on a loaded
    # machine). Wait until the static file has answered from every worker's share of 4 x workers
    # concurrent requests, so the first target (the bound) is not measured against booting workers.
    started = time.monotonic()
    while time.monotonic() - started < 120:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = set(pool.map(_static_status, [port] * (4 * workers)))
        if statuses == {200}:
            return server
        time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    sys.exit("gunicorn did not start")


def _static_status(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{ENDPOINTS[STATIC]}", timeout=10) as response:
            return int(response.status)
    except OSError:
        return 0


def run_locust(
    env: dict[str, str], port: int, path: str, users: int, seconds: int
) -> tuple[float, float, float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        locustfile = Path(tmp) / "locustfile.py"
        locustfile.write_text(LOCUSTFILE)
        prefix = str(Path(tmp) / "stats")
        done = subprocess.run(
            [str(BIN / "locust"), "-f", str(locustfile), "--headless", "--only-summary", "-u", str(users),
             "-r", str(users), "-t", f"{seconds}s", "-H", f"http://127.0.0.1:{port}", "--csv", prefix],
            cwd=REPO, env={**env, "BENCH_PATH": path}, check=False, capture_output=True, timeout=seconds + 60,
        )  # fmt: skip
        with open(f"{prefix}_stats.csv", newline="") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    if not int(row["Request Count"]) and seconds > WARM_UP_SECONDS:
        sys.exit(f"locust made no request:\n{done.stderr.decode()[-2000:]}")
    if not int(row["Request Count"]):
        return 0.0, 0.0, 0.0, 0, 0
    counts = int(row["Request Count"]), int(row["Failure Count"])
    return float(row["Requests/s"]), float(row["95%"]), float(row["99%"]), *counts


def run_wrk(
    env: dict[str, str], port: int, path: str, users: int, seconds: int
) -> tuple[float, float, float, int, int]:
    if path.startswith("/static/"):
        headers = {"Accept-Encoding": BROWSER_ACCEPT_ENCODING}
    else:
        encoding = env["BENCH_ACCEPT_ENCODING"] or BROWSER_ACCEPT_ENCODING
        headers = {"Accept-Encoding": encoding, "Authorization": f"Bearer {env['BENCH_TOKEN']}"}
    r = wrk(f"http://127.0.0.1:{port}{path}", headers=headers, users=users, seconds=seconds)
    return r["rps"], r["p95"], r["p99"], int(r["requests"]), int(r["failures"])


def database_name(value: str) -> str:
    """A plain identifier (it is put into DROP DATABASE / CREATE DATABASE as it is)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
        raise argparse.ArgumentTypeError("a lowercase identifier: letters, digits, underscores")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, action="append", help="trade flows (repeatable); default 10000")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, action="append", help="concurrent clients (repeatable); default 16")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn sync workers (default 2 x CPUs + 1, as benchmarks/dashboard_load.py: a worker waiting on "
        "the database or Redis leaves its CPU to another).",
    )
    parser.add_argument(
        "--accept-encoding",
        default="",
        help="Accept-Encoding of the API calls (not the static file's), e.g. identity: the answers then cross "
        "uncompressed and the load generator, on the same CPUs, does not decompress them (default: a browser's "
        f"{BROWSER_ACCEPT_ENCODING})",
    )
    parser.add_argument(
        "--client", choices=("wrk", "locust"), default="wrk", help="the load generator (default wrk: the lighter)"
    )
    parser.add_argument(
        "--existing",
        metavar="URL",
        help="serve this database as it is, one that an earlier run prepared (its `bench` application; for "
        "example a 20 M one kept from `--database`): no reset, no load; instead of --flows",
    )
    parser.add_argument(
        "--database",
        default=BENCH_DB,
        type=database_name,
        help=f"the benchmark's database, dropped and re-created (default {BENCH_DB}); never the development one",
    )
    args = parser.parse_args()
    if args.database == urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/"):
        sys.exit("--database names the development database of DATABASE_URL: the benchmark drops it; pick another")
    admin_url, url = bench_url(os.environ.get("DATABASE_URL", ""), args.database)
    results = []
    for flows in [0] if args.existing else args.flows or [10_000]:
        if not args.existing:
            print(f"== {flows:,} trade flows (database {args.database})", flush=True)
        if results:
            from django.db import connections

            connections.close_all()
        if not args.existing:
            create_database(admin_url, args.database)
        env = {
            **os.environ,
            "DATABASE_URL": args.existing or url,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LOG_LEVEL": "WARNING",
            **{f"API_RATE_{s}": "100000000/min" for s in ("REFERENCE", "METRICS", "PORTFOLIO", "BULK")},
        }
        os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "LOG_LEVEL")})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ.setdefault("DEBUG", "true")  # in-process setup: the development defaults, as ever
        sys.path.insert(0, str(REPO))
        if args.existing:
            flows, token = existing_flows_and_token()
            name = urlsplit(args.existing).path.lstrip("/")
            print(f"== {flows:,} trade flows (existing database {name})", flush=True)
        else:
            token = prepare(flows)
        env["BENCH_TOKEN"] = token
        env["BENCH_ACCEPT_ENCODING"] = args.accept_encoding
        subprocess.run(
            [str(BIN / "python"), "manage.py", "collectstatic", "--noinput"],
            cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        port = free_port()
        server = serve(env, port, args.workers)
        try:
            for users in args.users or [16]:
                bound = 0.0
                for label, path in ENDPOINTS.items():
                    measure = run_wrk if args.client == "wrk" else run_locust
                    measure(env, port, path, users, WARM_UP_SECONDS)  # connections, imports, caches
                    rps, p95, p99, count, failures = measure(env, port, path, users, args.seconds)
                    bound = rps if label == STATIC else bound
                    share = rps / bound if bound else 0.0
                    results.append((flows, users, label, rps, p95, p99, share, count, failures))
                    print(
                        f"  {users} clients, {label}: {rps:,.0f} req/s, p95 {p95:,.0f} ms, p99 {p99:,.0f} ms, "
                        f"{share:.0%} of static ({count:,} requests, {failures} failures)",
                        flush=True,
                    )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    load = os.getloadavg()
    cache = "redis" if os.environ.get("REDIS_URL") or os.environ.get("CACHE_REDIS_URL") else "in-process (locmem)"
    print(
        f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min); "
        f"gunicorn {args.workers} workers, load generator {args.client}, {os.cpu_count()} CPUs, DEBUG off, "
        f"cache: {cache}"
    )
    print(
        "| trade flows | clients | endpoint | req/s | p95 (ms) | p99 (ms) | vs static | requests | failures |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    for flows, users, label, rps, p95, p99, share, count, failures in results:
        print(
            f"| {flows:,} | {users} | {label} | {rps:,.0f} | {p95:,.1f} | {p99:,.1f} | {share:.0%} | {count:,} "
            f"| {failures} |"
        )


if __name__ == "__main__":
    main()
