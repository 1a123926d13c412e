"""Browser tests: pytest-playwright driving Debian's Chromium (never `playwright install`)."""

from __future__ import annotations

import base64
import fcntl
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.browser.static_storage import QuickCompressionStaticFilesStorage
from tests.conftest import REPO, TEST_RUN, require

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium headless, as docs/architecture.md "Browser tests" says (also benchmarks/page_speed.py).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "var" / "screenshots"
# Collected once per test run for every xdist worker (the first worker collects under a lock, the
# others find the run's stamp and serve the same files), and kept between runs.
COLLECTED_STATIC = REPO / "var" / "test-staticfiles"
# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# (fixtures, assertions against the stored metrics) are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    require(Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is not None, f"Chromium at {CHROMIUM}")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):  # type: ignore[no-untyped-def]
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "accept_downloads": True}


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def full_page_screenshot(page: Any, path: Path) -> None:
    """The whole page as a PNG, as `page.screenshot(full_page=True)` takes it (the same CDP
    capture beyond the viewport), but with Chromium's PNG encoder set for speed: the same pixels
    in a file about 30 % larger, written in about half the time (a tall page at 1440 px took
    1.1 s with Playwright's default encoding, 0.6 s so, load average 6-7)."""
    session = page.context.new_cdp_session(page)
    try:
        size = session.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": math.ceil(size["width"]), "height": math.ceil(size["height"]), "scale": 1}
        shot = session.send(
            "Page.captureScreenshot",
            {"format": "png", "optimizeForSpeed": True, "captureBeyondViewport": True, "clip": clip},
        )
    finally:
        session.detach()
    path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture(scope="session")
def production_static(django_db_blocker: Any) -> Iterator[Path]:
    """The static files as production serves them: collected with the production storage (hashed
    names, gzip and brotli copies), served by whitenoise with its cache headers. The rest of the
    test run renders plain names without collecting (config/settings.py). One collectstatic per
    run: a second one would rewrite the hashed files another worker's server is sending."""
    from django.conf import settings as django_settings

    backend = f"{QuickCompressionStaticFilesStorage.__module__}.{QuickCompressionStaticFilesStorage.__qualname__}"
    storages = {**django_settings.STORAGES, "staticfiles": {"BACKEND": backend}}
    override = override_settings(STATIC_ROOT=COLLECTED_STATIC, STORAGES=storages)
    override.enable()
    COLLECTED_STATIC.mkdir(parents=True, exist_ok=True)
    stamp = COLLECTED_STATIC.parent / "test-staticfiles.run"
    with open(COLLECTED_STATIC.parent / "test-staticfiles.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != TEST_RUN:
            with django_db_blocker.unblock():
                call_command("collectstatic", interactive=False, verbosity=0)
            stamp.write_text(TEST_RUN)
        fcntl.flock(lock, fcntl.LOCK_UN)
    yield COLLECTED_STATIC
    override.disable()


@pytest.fixture(scope="session")
def live_server(request, production_static):  # type: ignore[no-untyped-def]
    """pytest-django's live server, except that /static/ reaches the application, where whitenoise
    serves the collected files (pytest-django would serve the source files, uncompressed)."""
    from pytest_django.live_server_helper import LiveServer

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(addr, start=False)
    server.thread.static_handler = lambda application: application
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(pytestconfig):  # type: ignore[no-untyped-def]
    """The same as pytest-playwright's fallback, which pytest 9 warns about (a fixture defined as an
    instance method); the pages are opened on the live server's URL anyway."""
    return pytestconfig.getoption("--base-url") or pytestconfig.getini("base_url") or None


# --------------------------------------------------------------------------------------------
# The demo site, a watched page and the helpers every browser test uses

PASSWORD = "pw-browser-buyer-1"


@dataclass
class Watch:
    base: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.errors, self.errors
        assert not self.blocked, f"requests left 127.0.0.1: {self.blocked}"


@pytest.fixture(autouse=True)
def page_cache(settings):  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "browser"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site(live_server, demo, django_user_model):  # type: ignore[no-untyped-def]
    """The demo dataset (reloaded after the previous flush), every metric current, one buyer."""
    from dashboards import services
    from suppliers import services as supplier_services
    from suppliers.models import Organization

    list(services.all_metrics_recompute())
    user = django_user_model.objects.create_user("browser-buyer", password=PASSWORD)
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    supplier_services.membership_grant(user=user, organization=organization, role="analyst")
    return live_server


def watch_page(page: Any, base: str) -> Watch:
    """Record every request of `page`; anything not to the live server is aborted."""
    watch = Watch(base=base)

    def route(r: Any) -> None:
        url = r.request.url
        watch.requests.append(url)
        if url.startswith(base) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            watch.blocked.append(url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: watch.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(f"pageerror: {e}"))
    return watch


@pytest.fixture
def watched(page, site):  # type: ignore[no-untyped-def]
    """The page with every request recorded; anything not to the live server is aborted."""
    return page, watch_page(page, site.url)


def wait_for_charts(page: Any) -> None:
    """Until charts.js has drawn every chart of the page (none left without its is-drawn class)."""
    page.wait_for_function("() => !document.querySelector('.js-chart:not(.is-drawn)')", timeout=30_000)


def open_page(page: Any, watch: Watch, path: str, *, status: int = 200) -> None:
    """The page loaded (its scripts and plotly.js bundle too: charts.js adds the bundle's script
    before the load event) and its charts drawn. Not an idle network: that waits half a second of
    silence after every page, and nothing fetched after the charts are drawn is read by a test."""
    response = page.goto(watch.base + path, wait_until="load")
    assert response.status == status, f"{path}: {response.status}"
    wait_for_charts(page)


def log_in(page: Any, watch: Watch) -> None:
    open_page(page, watch, "/accounts/login/?next=/portfolio/")
    page.fill("#id_username", "browser-buyer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/portfolio/")
