"""Dashboard load benchmark (not a test): locust, headless, against gunicorn on 127.0.0.1.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone .venv/bin/python benchmarks/dashboard_load.py

Sets up its own PostgreSQL database (`lodestone_dashboard_bench`, dropped and re-created on the
server of DATABASE_URL; never the development one) with the demo dataset, a buyer login and
every metric computed; or, with `--existing URL`, uses a database as it is (for example the
2-million-flow `lodestone_bench` of benchmarks/recompute.py after adding a login with
`--create-login`). Then, for each target in turn, after a concurrent warm-up (each gunicorn
worker builds and caches the page once, as for any visitor after the first), N concurrent
users request it for a bounded time with no think time: the overview, a mineral page, the
portfolio and the transition plan (logged in; the plan page is computed on every request, not
cached), and a static file served by the same gunicorn (the bound). Prints requests per second,
p50/p95/p99 in ms, and each page's throughput as a share of the static file's in the same run.
`--users` may be repeated (e.g. `--users 8 --users 16`): every target is measured at each count.
The load generator is wrk by default (`--client wrk`, benchmarks/load_client.py: C, one thread,
one session cookie for every connection) or locust's FastHttpUser (`--client locust`, one session
per user): on a 2-core machine it shares the CPUs with the server, and the lighter it is, the more
it leaves to the server. Both send a browser's Accept-Encoding.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from load_client import BROWSER_ACCEPT_ENCODING, gunicorn_command, wrk

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BENCH_DB = "lodestone_dashboard_bench"
USERNAME, PASSWORD = "bench-buyer", "bench-buyer-password-1"

LOCUSTFILE = """
import itertools
import os
from locust import FastHttpUser, constant, task

TARGET = os.environ["BENCH_TARGET"]
PATHS = {
    "overview": "/",
    "mineral": "/minerals/{mineral}/",
    "portfolio": "/portfolio/",
    "plan": "/portfolio/plan/",
    "static": "/static/css/lodestone.css",
}
# One session per user, logged in before the measured window (a login hashes the password: 16
# of them inside the window would eat the CPU the pages are measured on). Secure cookies (DEBUG
# off) are not sent back over plain http by requests: they are passed by hand.
COOKIES = os.environ.get("BENCH_COOKIES", "").split(",")
NEXT = itertools.count()


class Visitor(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.headers = {"Cookie": COOKIES[next(NEXT) %% len(COOKIES)]} if TARGET in ("portfolio", "plan") else {}

    @task
    def page(self):
        path = PATHS[TARGET].format(mineral=os.environ.get("BENCH_MINERAL", "gallium"))
        headers = {**self.headers, "Accept-Encoding": "%(accept_encoding)s"}
        with self.client.get(path, headers=headers, name=TARGET, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
"""


def run(command: list[str], env: dict[str, str], check: bool = True, **kwargs: object) -> None:
    subprocess.run(command, env=env, cwd=REPO, check=check, **kwargs)  # type: ignore[call-overload]


def database_url(url: str, name: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("benchmarks/dashboard_load.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path=f"/{name}"))


def prepare(env: dict[str, str], admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    quiet = {"stdout": subprocess.DEVNULL}
    run([str(BIN / "python"), "manage.py", "migrate", "--noinput"], env, **quiet)
    run([str(BIN / "python"), "manage.py", "seed_demo"], env, **quiet)
    run([str(BIN / "python"), "manage.py", "recompute_metrics", "--all", "--sync"], env, **quiet)


def create_login(env: dict[str, str]) -> None:
    """A buyer login in the first organization (the demo buyer, or a synthetic one)."""
    code = (
        "from django.contrib.auth import get_user_model;"
        "from suppliers.models import Organization;"
        "from suppliers.services import membership_grant;"
        f"u, _ = get_user_model().objects.get_or_create(username='{USERNAME}');"
        f"u.set_password('{PASSWORD}'); u.save();"
        "o = Organization.objects.filter(requirements__isnull=False).order_by('name').first();"
        "membership_grant(user=u, organization=o, role='analyst'); print(o.name)"
    )
    run([str(BIN / "python"), "manage.py", "shell", "-c", code], env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own 127.0.0.1 server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"gunicorn did not answer {url} within {timeout} s")


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def login_cookie(port: int) -> str:
    """The bench buyer's session cookie (by hand: the cookies are Secure, the server plain http)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/accounts/login/")
    response = conn.getresponse()
    response.read()
    token = _cookies(response)["csrftoken"]
    body = urlencode({"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/portfolio/"})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={token}",
        "Referer": f"http://127.0.0.1:{port}/accounts/login/",
    }
    conn.request("POST", "/accounts/login/", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return f"sessionid={_cookies(response)['sessionid']}"


def warm_up(port: int, path: str, *, cookie: str, workers: int) -> None:
    """Concurrent requests until every gunicorn worker has most likely built the page once (each
    worker has its own in-process cache without REDIS_URL): like any visitor after the first."""

    def get(_: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status

    with ThreadPoolExecutor(max_workers=2 * workers) as pool:
        statuses = set(pool.map(get, range(8 * workers)))
    if statuses != {200}:
        sys.exit(f"warm-up of {path}: status {statuses}")


def locust(target: str, *, host: str, users: int, seconds: int, workdir: Path, env: dict[str, str]) -> dict[str, float]:
    prefix = workdir / target
    run(
        [
            str(BIN / "locust"),
            "-f",
            str(workdir / "locustfile.py"),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            str(prefix),
            "--loglevel",
            "ERROR",
        ],
        {**env, "BENCH_TARGET": target},
        check=False,  # locust exits 1 when a request failed: the failure count is reported below
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == target)
    return {
        "requests": float(row["Request Count"]),
        "failures": float(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50": float(row["50%"]),
        "p95": float(row["95%"]),
        "p99": float(row["99%"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, action="append", help="Concurrent users (repeatable); default 16.")
    parser.add_argument(
        "--targets",
        default="static,overview,mineral,portfolio,plan",
        help="Comma-separated targets, in order (static first: the bound).",
    )
    parser.add_argument("--seconds", type=int, default=20, help="Per target (the bound on the run time).")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn sync workers (default 2 x CPUs + 1, gunicorn's advice: a worker waiting on the database "
        "leaves its CPU to another).",
    )
    parser.add_argument("--mineral", default="gallium")
    parser.add_argument(
        "--client", choices=("wrk", "locust"), default="wrk", help="The load generator (default wrk: the lighter)."
    )
    parser.add_argument("--existing", metavar="URL", help="Use this database as it is (no reset, no seed).")
    parser.add_argument("--create-login", action="store_true", help="With --existing: add the bench buyer login.")
    options = parser.parse_args()
    user_counts = options.users or [16]

    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        "AXES_FAILURE_LIMIT": "1000",
        # Every simulated visitor comes from 127.0.0.1: the per-address limit would measure itself.
        "LODESTONE_ANONYMOUS_PAGE_VIEWS": "0",
    }
    if options.existing:
        env["DATABASE_URL"] = options.existing
        if options.create_login:
            create_login(env)
    else:
        admin_url, url = database_url(os.environ.get("DATABASE_URL", ""), BENCH_DB)
        env["DATABASE_URL"] = url
        print(f"preparing {BENCH_DB} (demo dataset, metrics) ...", flush=True)
        prepare(env, admin_url)
        create_login(env)
    run([str(BIN / "python"), "manage.py", "collectstatic", "--noinput"], env, stdout=subprocess.DEVNULL)

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        gunicorn_command(port, options.workers),
        cwd=REPO,
        env=env,
    )
    try:
        wait_until_up(f"{host}/static/css/lodestone.css")
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            (workdir / "locustfile.py").write_text(LOCUSTFILE % {"accept_encoding": BROWSER_ACCEPT_ENCODING})
            env_locust = {**env, "BENCH_MINERAL": options.mineral}
            results = {}
            paths = {"static": "/static/css/lodestone.css", "overview": "/", "portfolio": "/portfolio/"}
            paths["plan"] = "/portfolio/plan/"
            paths["mineral"] = f"/minerals/{options.mineral}/"
            targets = options.targets.split(",")
            logged_in = [t for t in targets if t in ("portfolio", "plan")]
            cookies = [login_cookie(port) for _ in range(max(user_counts))] if logged_in else [""]
            env_locust["BENCH_COOKIES"] = ",".join(cookies)
            for users in user_counts:
                for target in targets:
                    cookie = cookies[0] if target in logged_in else ""
                    warm_up(port, paths[target], cookie=cookie, workers=options.workers)
                    if options.client == "wrk":
                        headers = {"Accept-Encoding": BROWSER_ACCEPT_ENCODING, **({"Cookie": cookie} if cookie else {})}
                        results[(users, target)] = wrk(
                            host + paths[target], headers=headers, users=users, seconds=options.seconds
                        )
                    else:
                        results[(users, target)] = locust(
                            target, host=host, users=users, seconds=options.seconds, workdir=workdir, env=env_locust
                        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    load = os.getloadavg()
    cache = "redis" if env.get("REDIS_URL") or env.get("CACHE_REDIS_URL") else "in-process (locmem)"
    print(
        f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min)\n"
        f"{'/'.join(map(str, user_counts))} concurrent users, {options.seconds} s per target, "
        f"gunicorn {options.workers} workers, load generator {options.client}, "
        f"{os.cpu_count()} CPUs, DEBUG off, cache: {cache}"
    )
    print(
        f"{'users':>5} {'target':<12}{'requests':>10}{'failures':>10}{'req/s':>10}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'vs static':>11}"
    )
    for (users, target), r in results.items():
        static = results.get((users, "static"))
        share = f"{r['rps'] / static['rps']:>10.0%}" if static and static["rps"] else f"{'-':>10}"
        print(
            f"{users:>5} {target:<12}{r['requests']:>10.0f}{r['failures']:>10.0f}{r['rps']:>10.1f}{r['p50']:>9.0f}"
            f"{r['p95']:>9.1f}{r['p99']:>9.1f}{share}"
        )


if __name__ == "__main__":
    main()
