"""First-view benchmark (not a test): Debian Chromium through Playwright against a server on 127.0.0.1.

    .venv/bin/python benchmarks/page_speed.py [--runs 5] [--server gunicorn|runserver]

Builds its own database (SQLite in a temporary folder: migrate, the demo dataset, every metric,
a buyer login; `--sqlite PATH` keeps it for the next run; or `--existing URL`), runs
`collectstatic`, starts the server itself and measures, per page (overview, a mineral page, the
policy tracker, the portfolio signed in), cold (a new browser context: empty HTTP cache) then
warm (the same page again in that context):

* navigation timing: time to the first byte of the HTML, DOMContentLoaded, load;
* time to the first drawn chart and to every chart drawn (a chart counts as drawn when
  static/js/charts.js marks it `is-drawn`, after Plotly's newPlot resolved), from navigation start;
* bytes transferred (headers and bodies as they crossed the wire, so compressed when the server
  compressed them), JavaScript separately, and the number of requests.

`--server gunicorn` (default) is the production configuration: DEBUG off, whitenoise serving the
collected, hashed and compressed files. `--server runserver` is what `make run` starts (DEBUG on,
`runserver --nostatic`). Each page is measured `--runs` times; the table shows medians (the
machine is shared: other processes make single samples noisy). The server's page cache is warmed
before the browser runs, so the figures are the front end's, not a first rendering's.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dashboard_load import create_login, free_port, login_cookie, wait_until_up, warm_up
from load_client import gunicorn_command

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - the browser tests' launch settings

BIN = Path(sys.executable).parent
WORKERS = 2
PAGES = {
    "overview": "/",
    "mineral": "/minerals/{mineral}/",
    "policies": "/policies/",
    "portfolio": "/portfolio/",
}

# Records, in page time (ms since navigation start), when the first chart and the last chart were
# marked drawn. Installed before any page script runs.
WATCH_CHARTS = """
(() => {
  window.__charts = {first: null, all: null};
  const check = () => {
    const charts = document.querySelectorAll('.js-chart');
    const drawn = document.querySelectorAll('.js-chart.is-drawn').length;
    if (drawn > 0 && window.__charts.first === null) { window.__charts.first = performance.now(); }
    if (charts.length > 0 && drawn === charts.length && window.__charts.all === null) {
      window.__charts.all = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, attributes: true, attributeFilter: ['class']});
})();
"""

NAVIGATION = """
() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
          charts: document.querySelectorAll('.js-chart').length};
}
"""


class Transfer:
    """Bytes on the wire per resource type, from the DevTools protocol (encodedDataLength: headers
    plus the body as sent, i.e. compressed when the server compressed it; 0 for a cache hit)."""

    def __init__(self, page: Any) -> None:
        self.types: dict[str, str] = {}
        self.bytes: dict[str, int] = {}
        self.session = page.context.new_cdp_session(page)
        self.session.on("Network.responseReceived", self._response)
        self.session.on("Network.loadingFinished", self._finished)
        self.session.send("Network.enable")

    def reset(self) -> None:
        self.types.clear()
        self.bytes.clear()

    def _response(self, event: dict[str, Any]) -> None:
        self.types[event["requestId"]] = event["type"]

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes[event["requestId"]] = int(event["encodedDataLength"])

    def totals(self) -> dict[str, float]:
        script = sum(size for rid, size in self.bytes.items() if self.types.get(rid) == "Script")
        return {"kb": sum(self.bytes.values()) / 1024, "js_kb": script / 1024, "requests": len(self.bytes)}


def measure(context: Any, url: str) -> tuple[dict[str, float], dict[str, float]]:
    """One cold view of `url` in a fresh context, then a warm one in the same context."""
    page = context.new_page()
    page.add_init_script(WATCH_CHARTS)
    transfer = Transfer(page)
    samples = []
    for _ in ("cold", "warm"):
        transfer.reset()
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            sys.exit(f"{url}: status {response.status if response else 'none'}")
        page.wait_for_function(
            # A function, not an expression: Playwright evals an expression when it polls again (CSP: no eval).
            "() => document.querySelectorAll('.js-chart').length === 0 || window.__charts.all !== null",
            timeout=60_000,
        )
        page.wait_for_load_state("networkidle")
        timing = page.evaluate(NAVIGATION)
        charts = page.evaluate("window.__charts")
        samples.append({**timing, "first_chart": charts["first"], "all_charts": charts["all"], **transfer.totals()})
    page.close()
    return samples[0], samples[1]


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def prepare(env: dict[str, str]) -> None:
    quiet = {"stdout": subprocess.DEVNULL}
    for command in (["migrate", "--noinput"], ["seed_demo"], ["recompute_metrics", "--all", "--sync"]):
        subprocess.run([str(BIN / "python"), "manage.py", *command], env=env, cwd=REPO, check=True, **quiet)  # type: ignore[call-overload]
    create_login(env)


def start_server(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    if kind == "gunicorn":
        command = gunicorn_command(port, WORKERS)
    else:
        command = [str(BIN / "python"), "manage.py", "runserver", "--nostatic", "--noreload", f"127.0.0.1:{port}"]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="Cold + warm views per page (medians are printed).")
    parser.add_argument("--server", choices=("gunicorn", "runserver"), default="gunicorn")
    parser.add_argument("--mineral", default="gallium")
    parser.add_argument("--existing", metavar="URL", help="Use this database as it is (it needs the bench login).")
    parser.add_argument(
        "--sqlite", metavar="PATH", help="Keep the prepared SQLite database here and reuse it when it exists."
    )
    options = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="lodestone-page-speed-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": options.existing or f"sqlite:///{Path(options.sqlite or f'{tmp}/bench.sqlite3').resolve()}",
            "LOG_LEVEL": "WARNING",
            "AXES_FAILURE_LIMIT": "1000",
        }
        if options.server == "gunicorn":
            env.update(
                DEBUG="false",
                SECRET_KEY=secrets.token_urlsafe(48),
                ALLOWED_HOSTS="127.0.0.1",
                SECURE_SSL_REDIRECT="false",
                SECURE_HSTS_SECONDS="0",
            )
        else:
            env["DEBUG"] = "true"
        if not options.existing and not (options.sqlite and Path(options.sqlite).exists()):
            print("preparing a SQLite database (demo dataset, metrics, a buyer login) ...", flush=True)
            prepare(env)
        subprocess.run(
            [str(BIN / "python"), "manage.py", "collectstatic", "--noinput"],
            env=env,
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(options.server, port, env)
        results: dict[str, dict[str, list[dict[str, float]]]] = {}
        try:
            wait_until_up(f"{base}/", timeout=180)
            cookie = login_cookie(port)
            paths = {name: path.format(mineral=options.mineral) for name, path in PAGES.items()}
            for name, path in paths.items():  # every worker builds each page once in its cache
                warm_up(port, path, cookie=cookie if name == "portfolio" else "", workers=WORKERS)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for run in range(options.runs):
                    for name, path in paths.items():
                        context = browser.new_context(viewport={"width": 1440, "height": 900})
                        if name == "portfolio":
                            key, value = cookie.split("=", 1)
                            context.add_cookies([{"name": key, "value": value, "url": base}])
                        cold, warm = measure(context, base + path)
                        context.close()
                        results.setdefault(name, {"cold": [], "warm": []})
                        results[name]["cold"].append(cold)
                        results[name]["warm"].append(warm)
                    print(f"run {run + 1}/{options.runs} done", flush=True)
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    load = os.getloadavg()
    print(
        f"\n{options.server}, {'DEBUG off' if options.server == 'gunicorn' else 'DEBUG on'}, Chromium "
        f"{CHROMIUM}, {os.cpu_count()} CPUs, load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"medians of {options.runs} runs; times in ms from navigation start"
    )
    header = (
        f"{'page':<11}{'cache':<6}{'TTFB':>7}{'DCL':>7}{'load':>7}{'1st chart':>10}{'all charts':>11}"
        f"{'charts':>7}{'requests':>9}{'kB':>8}{'JS kB':>8}{'1st chart samples':>30}"
    )
    print(header)
    for name, by_cache in results.items():
        for cache, samples in by_cache.items():

            def m(key: str, samples: list[dict[str, float]] = samples) -> float | None:
                return median([s[key] for s in samples])

            def ms(value: float | None) -> str:
                return "-" if value is None else f"{value:.0f}"

            spread = " ".join(ms(s["first_chart"]) for s in samples)
            print(
                f"{name:<11}{cache:<6}{ms(m('ttfb')):>7}{ms(m('dcl')):>7}{ms(m('load')):>7}"
                f"{ms(m('first_chart')):>10}{ms(m('all_charts')):>11}{ms(m('charts')):>7}{ms(m('requests')):>9}"
                f"{m('kb') or 0:>8.0f}{m('js_kb') or 0:>8.0f}   {spread}"
            )


if __name__ == "__main__":
    main()
