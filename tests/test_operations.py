"""What an operator relies on: seeding is explicit and safe, the commands say what they do, and
each fault of docs/operations.md behaves as that page says."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_seed_demo_with_logins_is_refused_unless_debug_is_on(demo: None) -> None:
    # pytest-django runs tests with DEBUG off, as production is.
    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("seed_demo", "--with-logins")
    assert not get_user_model().objects.filter(username__in=["demo", "curator"]).exists()


@override_settings(DEBUG=True)
def test_seed_demo_with_logins_under_debug_on_sqlite(demo: None, capsys: pytest.CaptureFixture[str]) -> None:
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        with pytest.raises(CommandError, match="embedded default"):
            call_command("seed_demo", "--with-logins")
        return
    call_command("seed_demo", "--with-logins")
    assert "demo login: demo / lodestone-demo" in capsys.readouterr().out
    assert get_user_model().objects.filter(username="demo").exists()


def test_beat_health_check_follows_the_minute_sweep(demo: None) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from config.healthcheck import SWEEP_TASK, beat_problem, main

    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task=SWEEP_TASK).delete()
    assert "has not run" in (beat_problem() or "")
    sweep = PeriodicTask.objects.create(name="sweep", task=SWEEP_TASK, interval=every_minute)
    sweep.last_run_at = timezone.now() - timedelta(seconds=90)
    sweep.save()
    assert beat_problem() is None
    assert main(["healthcheck", "beat"]) == 0
    PeriodicTask.objects.filter(pk=sweep.pk).update(last_run_at=timezone.now() - timedelta(minutes=30))
    assert "last ran" in (beat_problem() or "")
    assert main(["healthcheck", "beat"]) == 1


def test_seeding_recomputes_each_organization_and_mineral_once(demo: None, django_capture_on_commit_callbacks) -> None:
    """`make run` printed 43 "Task succeeded" lines: 26 recomputes of the one demo buyer."""
    from minerals.services import minerals_changed
    from suppliers.demo_dataset import demo_dataset_load
    from suppliers.models import Organization, Requirement, Sourcing
    from suppliers.services import organizations_changed

    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    Sourcing.objects.filter(organization=buyer).delete()
    Requirement.objects.filter(organization=buyer).delete()
    announced: dict[str, list[int]] = {"organizations": [], "minerals": []}

    def on_organizations(organization_ids: list[int], **kwargs: object) -> None:
        announced["organizations"] += organization_ids

    def on_minerals(mineral_ids: list[int], **kwargs: object) -> None:
        announced["minerals"] += mineral_ids

    organizations_changed.connect(on_organizations, dispatch_uid="test-seeding-organizations")
    minerals_changed.connect(on_minerals, dispatch_uid="test-seeding-minerals")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = demo_dataset_load()
    finally:
        organizations_changed.disconnect(dispatch_uid="test-seeding-organizations")
        minerals_changed.disconnect(dispatch_uid="test-seeding-minerals")
    assert report.changed > 10  # the buyer's requirements and sourcing rows were written again
    assert announced["organizations"] == [buyer.pk]
    assert sorted(announced["minerals"]) == sorted(set(announced["minerals"]))


def test_show_metrics_prints_text_and_json_only_with_the_flag(demo: None) -> None:
    import json
    from io import StringIO

    from dashboards import services
    from minerals.models import Mineral

    services.mineral_metrics_recompute(mineral_id=Mineral.objects.get(slug="gallium").pk)
    args = ["show_metrics", "--mineral", "gallium", "--year", "2024", "--stage", "refinery", "--as-of", "2026-11-30"]
    text, as_json = StringIO(), StringIO()
    call_command(*args, stdout=text)
    call_command(*args, "--json", stdout=as_json)
    report = json.loads(as_json.getvalue())
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.getvalue())
    printed = text.getvalue()
    assert f"supply ({len(report['supply'])}):" in printed
    assert f"china_share={report['supply'][0]['china_share']:.4g}" in printed


# --- Faults (docs/operations.md, "When something fails") ---------------------------------------

WORLD = (
    "SOURCE,COMMODITY,COUNTRY,TYPE,UNIT_MEAS,PROD_2023,PROD_EST_ 2024,PROD_NOTES\n"
    'MCS2025,Gallium,China,Primary production,kilograms,"722,000","751,000",\n'
    'MCS2025,Gallium,World total (rounded),Primary production,kilograms,"730,000","760,000",\n'
)


def test_disk_full_for_uploads_records_nothing(demo: None, curator, settings, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No space left where uploads are kept (the write fails half way): the curator gets a clear
    error (507, no server error), no batch is recorded, the partly written file and its folder
    are removed, nothing is imported, and the data already there is untouched."""
    import errno
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from minerals.models import ImportBatch, ProductionRecord

    uploads = tmp_path / "uploads"
    settings.LODESTONE_IMPORT_UPLOAD_DIR = uploads
    written: list[Path] = []

    class FullDisk:
        """A real file on disk whose first write stores half its bytes, then the disk is full."""

        def __init__(self, path: Path, mode: str) -> None:
            self.file = Path(path).open(mode)  # noqa: SIM115 - closed in __exit__
            written.append(Path(path))

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def write(self, data: bytes) -> int:
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    # Only the upload's file writes hit the full disk (the database is elsewhere).
    monkeypatch.setattr("minerals.admin.open", FullDisk, raising=False)
    before = list(ProductionRecord.objects.order_by("pk").values_list("pk", "quantity"))
    client = Client(raise_request_exception=False)
    client.force_login(curator)
    response = client.post(
        reverse("admin:minerals_importbatch_upload"),
        {"importer": "usgs_mcs", "file": SimpleUploadedFile("MCS2025_World_Data.csv", WORLD.encode())},
    )
    assert response.status_code == 507
    assert "could not be stored on the server (No space left on device)" in response.content.decode()
    assert written  # the write was attempted, and half a file reached the disk
    assert not ImportBatch.objects.exists()
    assert list(uploads.iterdir()) == []  # neither the partial file nor its folder is kept
    assert list(ProductionRecord.objects.order_by("pk").values_list("pk", "quantity")) == before


@pytest.mark.django_db(transaction=True)
def test_database_restart_costs_the_request_in_flight_and_the_next_one_reconnects(demo: None, postgresql: None) -> None:
    """The server drops the app's connection (restart, failover): a query in flight fails; the
    next request through the real WSGI handler (request_started closes unusable connections,
    CONN_HEALTH_CHECKS probes the persistent one) opens a new connection and answers 200;
    committed data is there."""
    from django.db import OperationalError, connection
    from django.test import RequestFactory

    from config.wsgi import application
    from minerals.models import Country

    def page(path: str) -> str:
        statuses: list[str] = []
        environ = RequestFactory()._base_environ(PATH_INFO=path, REQUEST_METHOD="GET")
        body = b"".join(application(environ, lambda status, headers, *_: statuses.append(status)))
        assert body
        return statuses[0]

    def terminate_the_apps_connection() -> int:
        backend = connection.connection.info.backend_pid
        _terminate_and_wait(backend)
        return int(backend)

    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    Country.objects.create(iso3="ZZR", name="Restartland")  # committed (autocommit)
    assert page("/policies/") == "200 OK"  # a persistent connection, kept after the request
    backend = terminate_the_apps_connection()
    assert page("/policies/") == "200 OK"  # the next request reconnects
    assert connection.connection.info.backend_pid != backend

    backend = terminate_the_apps_connection()
    with pytest.raises(OperationalError):  # what a request in flight sees: its query fails (500)
        Country.objects.filter(iso3="ZZR").exists()
    assert page("/policies/") == "200 OK"
    assert Country.objects.get(iso3="ZZR").name == "Restartland"
    assert connection.connection.info.backend_pid != backend


def _terminate_and_wait(backend_pid: int) -> None:
    """Drop a connection from the server's side, as a restart does, and wait until its server
    process has exited (so its socket is closed)."""
    import psycopg
    from django.db import connection

    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with psycopg.connect(**params, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", [backend_pid]).fetchone() == (True,)


@pytest.mark.django_db(transaction=True)
def test_the_per_request_health_check_sends_nothing_and_finds_a_dropped_connection(postgresql: None) -> None:
    """config.postgresql: a live persistent connection passes the check without a message to
    the server (libpq's trace of the check is empty; Django's own sent SELECT 1 and read four
    replies); one the server dropped is closed by the check, and the next query reconnects."""
    import tempfile

    from django.db import connection

    assert connection.settings_dict["ENGINE"] == "config.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    connection.ensure_connection()

    def check_traced() -> bytes:
        connection.health_check_done = False
        with tempfile.TemporaryFile() as trace:
            pgconn = connection.connection.pgconn
            pgconn.trace(trace.fileno())
            try:
                connection.close_if_health_check_failed()
            finally:
                pgconn.untrace()
            trace.seek(0)
            return trace.read()

    live = connection.connection
    assert check_traced() == b""
    assert connection.connection is live  # kept
    assert connection.health_check_done

    backend = connection.connection.info.backend_pid
    _terminate_and_wait(backend)
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert connection.connection is None  # closed by the check
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != backend


def test_ci_run_tests_in_databases_of_its_own_and_drops_what_it_created(postgresql: None) -> None:
    """`.ci/run` used a fixed test database name (two runs collided) and left a `lodestone`
    database behind (issue 16, deployment 8). Its own naming and clean-up code, run here against
    the real server: each run gets a new name, and on exit the run's databases (one per xdist
    worker) and the app database it created are dropped, whatever the exit status."""
    import re
    import subprocess
    from pathlib import Path

    script = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    psql = re.search(r"^PSQL=\(.*\)$", script, re.MULTILINE)
    naming = re.search(r"^TEST_DATABASE_NAME=.*$", script, re.MULTILINE)
    cleanup = re.search(r"^drop_what_this_run_created\(\) \{\n.*?^\}$", script, re.MULTILINE | re.DOTALL)
    assert psql
    assert naming
    assert cleanup
    assert re.search(r"^trap drop_what_this_run_created EXIT$", script, re.MULTILINE)
    probe = "\n".join(
        [
            "set -euo pipefail",
            psql.group(0),
            naming.group(0),
            'CREATED_APP_DATABASE="${TEST_DATABASE_NAME}_app"',
            cleanup.group(0),
            'for suffix in _gw0 _gw1 _app; do createdb -h 127.0.0.1 -U postgres "${TEST_DATABASE_NAME}${suffix}"; done',
            'echo "$TEST_DATABASE_NAME"',
            "trap drop_what_this_run_created EXIT",
            "exit 3",  # a failed run cleans up too, and keeps its status
        ]
    )
    run = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=False)
    assert run.returncode == 3, run.stderr
    another = subprocess.run(["bash", "-c", f'{naming.group(0)}; echo "$TEST_DATABASE_NAME"'], capture_output=True,
                             text=True, check=True)  # fmt: skip
    names = [run.stdout.strip(), another.stdout.strip()]
    assert names[0] != names[1]  # two runs, even in the same second, never share a name
    assert all(re.fullmatch(r"test_lodestone_ci_\d{14}_\d+", name) for name in names)
    listed = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc", "SELECT datname FROM pg_database"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert [name for name in listed if name.startswith(tuple(names))] == []
