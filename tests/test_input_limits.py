"""Input limits (issue 16, probing 3, 4, 8, 11): finite numbers in a documented range everywhere a
number comes in, bounded sizes before anything is parsed, batches that always end."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from minerals.importers.numbers import MAX_AMOUNT
from minerals.models import CommodityCode, Country, DataSource, Mineral, ProductionRecord, SalientStatistic, TradeFlow
from tests.api.conftest import clear_throttles, fast_hashers, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

NOT_FINITE = [math.nan, math.inf, -math.inf, 1e306]


def _flow(**overrides: Any) -> TradeFlow:
    values: dict[str, Any] = {
        "year": 2024,
        "exporter": Country.objects.get(iso3="CHN"),
        "importer": Country.objects.get(iso3="USA"),
        "commodity_code": CommodityCode.objects.get(hs6="811292"),
        "basis": TradeFlow.Basis.IMPORT_REPORTED,
        "value_usd": 10.0,
        "quantity_kg": 1.0,
        "source": DataSource.objects.get_or_create(key="limits-test", defaults={"publisher": "T", "title": "T"})[0],
    }
    values.update(overrides)
    return TradeFlow(**values)


# ---------------------------------------------------------------------------- the database


@pytest.mark.parametrize("field", ["value_usd", "quantity_kg"])
@pytest.mark.parametrize("number", [*NOT_FINITE, MAX_AMOUNT * 10])
def test_database_refuses_trade_amounts_not_finite_or_too_large(field: str, number: float) -> None:
    # SQLite stores NaN as NULL (refused as NOT NULL for value_usd, allowed as "no quantity"):
    # on PostgreSQL the `<= 1e15` bound refuses NaN too (NaN sorts above every number).
    if math.isnan(number) and field == "quantity_kg" and transaction.get_connection().vendor == "sqlite":
        pytest.skip("SQLite turns NaN into NULL, a valid 'no quantity'")
    with pytest.raises(IntegrityError), transaction.atomic():
        _flow(**{field: number}).save()


@pytest.mark.parametrize("number", [math.nan, math.inf, 1e306])
def test_database_refuses_production_and_salient_values_not_finite(number: float) -> None:
    gallium = Mineral.objects.get(slug="gallium")
    source = DataSource.objects.create(key="limits-prod", publisher="T", title="T")
    if math.isnan(number) and transaction.get_connection().vendor == "sqlite":
        pytest.skip("SQLite turns NaN into NULL")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductionRecord(
            mineral=gallium, stage="refinery", country_id="JPN", year=2030, quantity=number, unit="kg", source=source
        ).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        SalientStatistic(
            mineral=gallium, country_id="USA", year=2030, statistic="imports", value=number, unit="kg", source=source
        ).save()


def test_database_keeps_the_largest_amount() -> None:
    _flow(value_usd=MAX_AMOUNT, quantity_kg=MAX_AMOUNT).save()


# ---------------------------------------------------------------------------- model validation (admin)


@pytest.mark.parametrize("number", NOT_FINITE)
def test_model_validation_refuses_amounts_not_finite(number: float) -> None:
    flow = _flow(value_usd=number)
    with pytest.raises(ValidationError) as raised:
        flow.full_clean()
    assert "value_usd" in raised.value.message_dict


@pytest.mark.parametrize("text", ["nan", "inf", "1e306"])
def test_admin_form_refuses_amounts_not_finite(curator: Any, text: str) -> None:
    request = RequestFactory().get("/")
    request.user = curator
    form_class = admin.site._registry[TradeFlow].get_form(request)
    flow = _flow()
    data = {
        "year": 2024, "exporter": "CHN", "importer": "USA", "commodity_code": "811292", "basis": "import",
        "value_usd": text, "quantity_kg": "1", "source": flow.source.pk,
    }  # fmt: skip
    form = form_class(data=data)
    assert not form.is_valid()
    assert "value_usd" in form.errors


# ---------------------------------------------------------------------------- the API


BULK_URL = "/api/v1/trade-flows/bulk/"


def _bulk_row(value: Any) -> dict[str, Any]:
    return {
        "year": 2023, "exporter": "CHN", "importer": "USA", "commodity_code": "811292", "basis": "import",
        "value_usd": value, "quantity_kg": 1.0, "source": "usgs-mcs-2025",
    }  # fmt: skip


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e306", 2e15])
def test_api_bulk_refuses_amounts_not_finite_or_too_large(world: Any, value: Any) -> None:  # noqa: F811
    before = TradeFlow.objects.count()
    response = world.clients["curator_token"].post(BULK_URL, [_bulk_row(value)], format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"] == [
        {"row": 1, "field": "value_usd", "value": value, "expected": "a finite number from 0 to 1e+15"}
    ]
    assert TradeFlow.objects.count() == before


def test_api_bulk_csv_refuses_nan(world: Any) -> None:  # noqa: F811
    body = "year,exporter,importer,commodity_code,basis,value_usd,quantity_kg,source\n"
    body += "2023,CHN,USA,811292,import,12,nan,usgs-mcs-2025\n"
    response = world.clients["curator_token"].generic("POST", BULK_URL, body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "quantity_kg"


# ---------------------------------------------------------------------------- recompute failures


@pytest.fixture
def failing_gallium(monkeypatch: Any) -> dict[int, int]:
    """mineral_metrics_recompute fails deterministically for gallium (a numeric overflow), works for
    the others; returns the calls per mineral id."""
    from dashboards import services

    real = services.mineral_metrics_recompute
    real_stale = services.stale_mineral_ids
    gallium_id = Mineral.objects.get(slug="gallium").pk
    calls: dict[int, int] = {}

    def recompute(*, mineral_id: int, force: bool = False) -> Any:
        calls[mineral_id] = calls.get(mineral_id, 0) + 1
        if mineral_id == gallium_id:
            raise OverflowError("(34, 'Numerical result out of range')")
        return real(mineral_id=mineral_id, force=force)

    monkeypatch.setattr(services, "mineral_metrics_recompute", recompute)
    ids = [gallium_id, Mineral.objects.get(slug="germanium").pk]
    # the sweep's query, narrowed to the two minerals of the test (the others are never computed here)
    monkeypatch.setattr(services, "stale_mineral_ids", lambda: [i for i in ids if i in real_stale()])
    monkeypatch.setattr(services, "stale_organization_ids", lambda **kwargs: [])
    return calls


def test_a_failing_mineral_does_not_stop_the_others_and_is_not_retried_forever(failing_gallium: dict[int, int]) -> None:
    from dashboards import tasks
    from dashboards.models import MineralMetricsState
    from minerals.services import minerals_mark_stale

    gallium, germanium = (Mineral.objects.get(slug=s).pk for s in ("gallium", "germanium"))
    minerals_mark_stale(mineral_ids=[gallium, germanium])  # on commit: enqueue both (eager here)
    tasks.recompute_minerals_enqueue([gallium, germanium])
    assert failing_gallium[gallium] >= 1
    germanium_state = MineralMetricsState.objects.get(mineral_id=germanium)
    assert germanium_state.data_version == Mineral.objects.get(pk=germanium).data_version  # the other one ran
    failure = tasks.recorded_failure("mineral", gallium)
    assert failure is not None
    assert "OverflowError" in failure["error"]

    calls = failing_gallium[gallium]
    for _ in range(3):  # three beat sweeps: the same data is not recomputed again
        tasks.sweep_stale.apply()
    assert failing_gallium[gallium] == calls

    minerals_mark_stale(mineral_ids=[gallium])  # new data: one more attempt
    assert tasks.recorded_failure("mineral", gallium) is None
    tasks.sweep_stale.apply()
    assert failing_gallium[gallium] > calls


def test_a_transient_database_error_is_retried_and_not_recorded(monkeypatch: Any) -> None:
    from celery.exceptions import Retry
    from django.db import OperationalError

    from dashboards import services, tasks

    gallium = Mineral.objects.get(slug="gallium").pk

    def recompute(*, mineral_id: int, force: bool = False) -> Any:
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(services, "mineral_metrics_recompute", recompute)
    with pytest.raises((OperationalError, Retry)):
        tasks.recompute_mineral.apply(args=(gallium,), throw=True)
    assert tasks.recorded_failure("mineral", gallium) is None  # not deterministic: the sweep tries again
    assert tasks.recompute_mineral.max_retries == 5


# ---------------------------------------------------------------------------- memory: bodies, workbooks, rows


def _zip_bomb(path: Any, *, part: str = "xl/sharedStrings.xml", megabytes: int) -> Any:
    """A tiny zip whose shared strings expand to hundreds of MB (written in chunks, never whole)."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(part, "w", force_zip64=True) as member:
            chunk = b"<si><t>x</t></si>" * 60_000
            for _ in range(megabytes):
                member.write(chunk[: 1 << 20])
    return path


def test_wgi_zip_bomb_is_refused_from_the_zip_directory(tmp_path: Any) -> None:
    import tracemalloc

    from minerals.importers.errors import ParseError
    from minerals.importers.wgi import parse_wgi

    path = _zip_bomb(tmp_path / "wgidataset.xlsx", megabytes=150)
    assert path.stat().st_size < 2 * 1024 * 1024
    tracemalloc.start()
    items = list(parse_wgi(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(items) == 1
    assert isinstance(items[0], ParseError)
    assert re.search(r"is refused: it expands to [\d,]{11} bytes of XML \(at most 104,857,600\)", str(items[0]))
    assert peak < 5 * 1024 * 1024


def test_real_wgi_workbook_is_within_the_limits(shared_data: Any) -> None:
    from minerals.importers.wgi import MAX_XLSX_BYTES, MAX_XLSX_PART_BYTES
    from minerals.importers.workbook import check_xlsx_sizes

    check_xlsx_sizes(shared_data / "wgi" / "wgidataset.xlsx", max_total=MAX_XLSX_BYTES, max_part=MAX_XLSX_PART_BYTES)


def test_supplier_list_zip_bomb_is_refused_before_openpyxl(tmp_path: Any) -> None:
    from suppliers.sourcing_upload import read_table

    content = _zip_bomb(tmp_path / "bomb.xlsx", part="xl/worksheets/sheet1.xml", megabytes=60).read_bytes()
    assert len(content) < 1024 * 1024
    with pytest.raises(ValueError, match=r"The workbook is refused: it expands to [\d,]+ bytes of XML"):
        read_table("suppliers.xlsx", content)


def test_supplier_list_rows_are_counted_while_reading(tmp_path: Any) -> None:
    import io

    from openpyxl import Workbook

    from suppliers.sourcing_upload import MAX_PHYSICAL_ROWS, read_table

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["mineral", "country", "annual_quantity"])
    for i in range(MAX_PHYSICAL_ROWS + 5_000):
        sheet.append(["gallium", "JPN", i])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(ValueError, match=f"more than {MAX_PHYSICAL_ROWS:,} rows"):
        read_table("suppliers.xlsx", buffer.getvalue())
    csv_text = "mineral,country,annual_quantity\n" + "gallium,JPN,1\n" * (MAX_PHYSICAL_ROWS + 1)
    with pytest.raises(ValueError, match=f"more than {MAX_PHYSICAL_ROWS:,} rows"):
        read_table("suppliers.csv", csv_text.encode())


BODY = "year,exporter,importer,commodity_code,basis,value_usd,quantity_kg,source\n"


def test_api_csv_body_over_the_limit_is_refused_before_parsing(world: Any, settings: Any) -> None:  # noqa: F811
    settings.LODESTONE_API_MAX_BODY_BYTES = 10_000
    body = BODY + "2023,CHN,USA,811292,import,12,1,usgs-mcs-2025\n" * 400  # about 19 kB
    response = world.clients["curator_token"].generic("POST", BULK_URL, body, content_type="text/csv")
    assert response.status_code == 413
    assert "at most 10,000 bytes" in response.json()["detail"]


def test_api_json_and_multipart_bodies_over_the_limit_are_refused(world: Any, settings: Any) -> None:  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.LODESTONE_API_MAX_BODY_BYTES = 10_000
    client = world.clients["curator_token"]
    assert client.post(BULK_URL, [_bulk_row(1.0)] * 100, format="json").status_code == 413
    upload = SimpleUploadedFile("flows.csv", (BODY + "2023,CHN,USA,811292,import,12,1,x\n" * 400).encode())
    assert client.post(BULK_URL, {"file": upload}, format="multipart").status_code == 413
    assert client.post(BULK_URL, [_bulk_row(1.0)], format="json").status_code == 200  # under the limit


def test_api_csv_rows_are_counted_while_reading(world: Any, settings: Any) -> None:  # noqa: F811
    settings.LODESTONE_API_BULK_MAX_ROWS = 10
    body = BODY + "".join(f"2023,CHN,USA,811292,import,{i},1,usgs-mcs-2025\n" for i in range(5_000))
    response = world.clients["curator_token"].generic("POST", BULK_URL, body, content_type="text/csv")
    assert response.status_code == 400
    expected = "at most 10 rows per request"
    assert response.json()["errors"] == [{"row": 0, "field": "", "value": 11, "expected": expected}]


# ---------------------------------------------------------------------------- batches always end (probing 8)

WGI_OK = "code,year,indicator,estimate\nCHN,2022,cc,-0.04\nUSA,2022,cc,1.2\n"


@pytest.fixture
def import_dirs(tmp_path: Any, settings: Any) -> Any:
    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.LODESTONE_IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"
    yield tmp_path
    app.conf.task_always_eager = eager


def _wgi_batch(tmp_path: Any, text: str = WGI_OK, name: str = "wgi2031.csv") -> Any:
    """A batch as the admin upload starts it: by a curator holding the upload permission, which
    the task checks again before reading the file."""
    from django.contrib.auth.models import Permission, User

    from minerals import imports

    uploader, _ = User.objects.get_or_create(username="uploader-limits", defaults={"is_staff": True})
    uploader.user_permissions.add(Permission.objects.get(codename="upload_data_file"))
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return imports.import_batch_start(importer="wgi", path=path, user=uploader)


@pytest.mark.parametrize(
    "error", [AssertionError("NaN in staging"), IntegrityError("check constraint"), "soft-time-limit"]
)
def test_a_batch_ends_failed_with_its_error_whatever_breaks_inside(
    import_dirs: Any, monkeypatch: Any, error: Any
) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    from minerals import imports
    from minerals.tasks import import_batch_task

    raised = SoftTimeLimitExceeded("SoftTimeLimitExceeded(270)") if error == "soft-time-limit" else error

    def load(self: Any) -> None:
        raise raised

    monkeypatch.setattr(imports.WgiLoader, "load", load)
    batch = _wgi_batch(import_dirs)
    assert import_batch_task.apply(args=(batch.pk,)).get() == "failed"
    batch.refresh_from_db()
    assert (batch.status, batch.finished_at is not None) == ("failed", True)
    assert type(raised).__name__ in batch.report["error"]


def test_a_batch_ends_failed_when_the_run_itself_cannot_record_it(import_dirs: Any, monkeypatch: Any) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    from minerals import tasks
    from minerals.models import ImportBatch

    def run(*, batch: Any, progress: Any = None) -> Any:
        raise SoftTimeLimitExceeded("while recording the outcome")

    monkeypatch.setattr(tasks, "import_batch_run", run)
    batch = _wgi_batch(import_dirs)
    assert tasks.import_batch_task.apply(args=(batch.pk,)).get() == "failed"
    batch = ImportBatch.objects.get(pk=batch.pk)
    assert batch.status == "failed"
    assert "SoftTimeLimitExceeded" in batch.report["error"]


def test_housekeeping_ends_batches_running_longer_than_any_task(import_dirs: Any, settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from minerals.models import ImportBatch
    from minerals.tasks import import_housekeeping

    lost = _wgi_batch(import_dirs)
    young = _wgi_batch(import_dirs, name="wgi2032.csv")
    old = timezone.now() - timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT + 60)
    ImportBatch.objects.filter(pk=lost.pk).update(started_at=old)
    assert import_housekeeping.apply().get()["failed_stale_batches"] == 1
    assert ImportBatch.objects.get(pk=lost.pk).status == "failed"
    assert "worker was lost" in ImportBatch.objects.get(pk=lost.pk).report["error"]
    assert ImportBatch.objects.get(pk=young.pk).status == "running"


def test_a_failed_import_leaves_no_data_source_behind(import_dirs: Any) -> None:
    from minerals import imports
    from minerals.models import ImportBatch

    bad = import_dirs / "wgi2031.csv"
    bad.write_text(WGI_OK + "FRA,2022,cc,nan\n", encoding="utf-8")
    outcome = imports.import_file(importer="wgi", path=bad)
    assert outcome.failed
    assert not DataSource.objects.filter(key="wgi-2031").exists()
    batch = ImportBatch.objects.get(pk=outcome.batch_id)
    assert (batch.status, batch.source_id) == ("failed", None)

    good = import_dirs / "wgi2031-fixed.csv"
    good.write_text(WGI_OK, encoding="utf-8")
    assert imports.import_file(importer="wgi", path=good).status == "succeeded"
    assert DataSource.objects.filter(key="wgi-2031").exists()
    # a failure of a later file keeps the source the earlier success uses
    again = import_dirs / "wgi2031-again.csv"
    again.write_text(WGI_OK + "FRA,2022,cc,inf\n", encoding="utf-8")
    assert imports.import_file(importer="wgi", path=again).failed
    assert DataSource.objects.filter(key="wgi-2031").exists()


def test_admin_dry_run_is_a_task_and_writes_nothing(
    import_dirs: Any, curator_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from minerals.models import ImportBatch, WgiScore

    before = WgiScore.objects.count()
    data = {"importer": "wgi", "dry_run": "on", "file": SimpleUploadedFile("wgi2031.csv", WGI_OK.encode())}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = curator_client.post(reverse("admin:minerals_importbatch_upload"), data)
    batch = ImportBatch.objects.get(file_name="wgi2031.csv")
    assert response.status_code == 302
    assert batch.status == "running"  # nothing was parsed in the request
    assert len(callbacks) == 1
    callbacks[0]()  # the task
    batch.refresh_from_db()
    assert (batch.status, batch.report["dry_run"], batch.inserted) == ("succeeded", True, 2)
    assert WgiScore.objects.count() == before
    assert not DataSource.objects.filter(key="wgi-2031").exists()


def test_an_upload_over_the_row_cap_ends_failed_and_writes_nothing(
    import_dirs: Any, curator_client: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    """The admin's row cap (what a task loads within its time limit) stops reading; the batch
    ends failed with the cap in its error, and nothing of the file is written."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from minerals.models import ImportBatch, WgiScore

    settings.LODESTONE_IMPORT_MAX_ROWS = 10
    rows = "".join(
        f"CHN,{1900 + n % 200},{('va', 'pv', 'ge', 'rq', 'rl', 'cc')[n // 200 % 6]},0.1\n" for n in range(20_001)
    )
    before = WgiScore.objects.count()
    data = {
        "importer": "wgi",
        "file": SimpleUploadedFile("wgi2031.csv", ("code,year,indicator,estimate\n" + rows).encode()),
    }
    with django_capture_on_commit_callbacks(execute=True):
        curator_client.post(reverse("admin:minerals_importbatch_upload"), data)
    batch = ImportBatch.objects.get(file_name="wgi2031.csv")
    assert batch.status == "failed"
    assert any("at most 10 rows" in error for error in batch.report["errors"]), batch.report["errors"]
    assert WgiScore.objects.count() == before


def test_the_admin_row_cap_fits_the_import_task_time_limit() -> None:
    """Measured: BACI loads about 9,200 rows a second here (4.9 M rows took 530 s); the default cap
    must load within the task's soft limit, or batches hit the limit instead (probing 8)."""
    from django.conf import settings

    baci_rows_per_second = 9_200
    assert settings.LODESTONE_IMPORT_MAX_ROWS / baci_rows_per_second < settings.CELERY_TASK_SOFT_TIME_LIMIT


def test_uploads_and_reports_are_deleted_after_the_retention_period(import_dirs: Any, settings: Any) -> None:
    import os
    import time

    from minerals.tasks import import_housekeeping

    settings.LODESTONE_IMPORT_RETENTION_DAYS = 14
    uploads, reports = import_dirs / "uploads", import_dirs / "reports"
    old_upload, new_upload, running_upload = uploads / "old", uploads / "new", uploads / "running"
    for folder in (old_upload, new_upload, running_upload):
        folder.mkdir(parents=True)
        (folder / "file.csv").write_text("x")
    reports.mkdir()
    old_report, new_report = reports / "old-rejects.csv", reports / "new-rejects.csv"
    old_report.write_text("x")
    new_report.write_text("x")
    running = _wgi_batch(running_upload, name="wgi2033.csv")
    fifteen_days_ago = time.time() - 15 * 86400
    thirteen_days_ago = time.time() - 13 * 86400
    for path in (old_upload, running_upload, old_report):
        os.utime(path, (fifteen_days_ago, fifteen_days_ago))
    for path in (new_upload, new_report):
        os.utime(path, (thirteen_days_ago, thirteen_days_ago))

    assert import_housekeeping.apply().get()["files_removed"] == 2
    assert not old_upload.exists()
    assert not old_report.exists()
    assert new_upload.exists()
    assert new_report.exists()
    assert running_upload.exists()  # its batch is still running
    assert running.status == "running"


def test_import_statements_are_bounded_by_the_task_time_limit(postgresql: None) -> None:
    from django.db import OperationalError, connection

    from minerals.tasks import statement_timeout

    with statement_timeout(1), pytest.raises(OperationalError, match="statement timeout"), transaction.atomic():
        connection.cursor().execute("SELECT pg_sleep(3)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"  # reset for the next task on this connection


# ---------------------------------------------------------------------------- buyers' quantities
# Requirement and Sourcing quantities are amounts too: finite, 0..MAX_AMOUNT (1e15), refused on
# the portfolio form, the API (one row and bulk), the supplier-list upload and the admin, and by
# the database (suppliers migration 0004).

TOO_LARGE = MAX_AMOUNT * 10
OUT_OF_RANGE = [math.inf, -math.inf, TOO_LARGE, -1.0]


def _buyer() -> Any:
    from suppliers.models import Organization

    return Organization.objects.get(name="Demo Buyer Inc.")


def _not_required() -> Mineral:
    """A mineral the demo buyer has neither a requirement nor sourcing for (no unique clash)."""
    buyer = _buyer()
    return (
        Mineral.objects.exclude(pk__in=buyer.requirements.values("mineral"))
        .exclude(pk__in=buyer.sourcing.values("mineral"))
        .order_by("slug")[0]
    )


@pytest.mark.parametrize("number", [math.nan, *OUT_OF_RANGE])
def test_database_refuses_buyer_quantities_not_finite_or_out_of_range(number: float) -> None:
    from suppliers.models import Requirement, Sourcing

    buyer, mineral = _buyer(), _not_required()
    with pytest.raises(IntegrityError, match=r"(?i)check|quantity|not null"), transaction.atomic():
        Requirement(organization=buyer, mineral=mineral, annual_quantity=number).save()
    if math.isnan(number) and transaction.get_connection().vendor == "sqlite":
        return  # SQLite turns NaN into NULL: a sourcing line with a share and no quantity, valid
    with pytest.raises(IntegrityError, match=r"(?i)check|quantity"), transaction.atomic():
        Sourcing(organization=buyer, mineral=mineral, country_id="ZAF", annual_quantity=number, share=0.5).save()


def test_database_keeps_the_largest_buyer_quantity() -> None:
    from suppliers.models import Requirement, Sourcing

    buyer, mineral = _buyer(), _not_required()
    Requirement(organization=buyer, mineral=mineral, annual_quantity=MAX_AMOUNT).save()
    Sourcing(organization=buyer, mineral=mineral, country_id="AUS", annual_quantity=MAX_AMOUNT).save()


@pytest.fixture
def buyer_client(client: Any, django_user_model: Any) -> Any:
    from suppliers.models import Membership

    user = django_user_model.objects.create_user("quantity-analyst")
    Membership.objects.create(user=user, organization=_buyer(), role=Membership.Role.ANALYST)
    client.force_login(user)
    return client


def _stored_quantities() -> list[Any]:
    from suppliers.models import Requirement, Sourcing

    return [
        *Requirement.objects.order_by("pk").values_list("pk", "annual_quantity"),
        *Sourcing.objects.order_by("pk").values_list("pk", "annual_quantity"),
    ]


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "1e16", "1e999"])
def test_portfolio_forms_refuse_quantities_out_of_range(buyer_client: Any, text: str) -> None:
    before = _stored_quantities()
    requirement = {"action": "requirement", "mineral": "gallium", "annual_quantity": text, "unit": "kg"}
    sourcing = {"action": "sourcing", "mineral": "gallium", "country": "JPN", "annual_quantity": text}
    for data in (requirement, sourcing):
        response = buyer_client.post("/portfolio/edit/", data)
        assert response.status_code == 400, data
        form = response.context["requirement_form" if data["action"] == "requirement" else "sourcing_form"]
        assert "annual_quantity" in form.errors
    assert _stored_quantities() == before


@pytest.mark.parametrize("value", ["NaN", "Infinity", 1e16, -1])
def test_api_refuses_buyer_quantities_out_of_range(world: Any, value: Any) -> None:  # noqa: F811
    client = world.clients["buyer_a"]
    before = _stored_quantities()
    requirement = client.post(
        "/api/v1/requirements/", {"mineral": _not_required().slug, "annual_quantity": value}, format="json"
    )
    assert requirement.status_code == 400, requirement.content[:300]
    assert "annual_quantity" in requirement.json()
    edit = client.patch(f"/api/v1/sourcing/{world.sourcing_a.pk}/", {"annual_quantity": value}, format="json")
    assert edit.status_code == 400, edit.content[:300]
    bulk = client.post(
        "/api/v1/sourcing/bulk/", [{"mineral": "gallium", "country": "JPN", "annual_quantity": value}], format="json"
    )
    assert bulk.status_code == 400, bulk.content[:300]
    assert [e["field"] for e in bulk.json()["errors"]] == ["annual_quantity"]
    assert _stored_quantities() == before


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "1e16"])
def test_supplier_list_upload_refuses_quantities_out_of_range(text: str) -> None:
    from suppliers.sourcing_upload import QUANTITY_EXPECTED, sourcing_upload

    before = _stored_quantities()
    content = f"mineral,country,annual_quantity\ngallium,JPN,{text}\n".encode()
    result = sourcing_upload(organization=_buyer(), file_name="list.csv", content=content)
    assert [(e.row, e.column, e.value, e.expected) for e in result.errors] == [
        (2, "annual_quantity", text, QUANTITY_EXPECTED)
    ]
    assert QUANTITY_EXPECTED == "a number from 0 to 1e+15, or empty"
    assert _stored_quantities() == before


@pytest.mark.parametrize("model_name", ["requirement", "sourcing"])
@pytest.mark.parametrize("text", ["nan", "inf", "1e16", "-1"])
def test_admin_forms_refuse_buyer_quantities_out_of_range(curator: Any, model_name: str, text: str) -> None:
    from suppliers.models import Requirement, Sourcing

    model = Requirement if model_name == "requirement" else Sourcing
    request = RequestFactory().get("/")
    request.user = curator
    form_class = admin.site._registry[model].get_form(request)
    data = {"organization": _buyer().pk, "mineral": _not_required().pk, "annual_quantity": text}
    data |= {"unit": "t", "stage": "refinery"} if model is Requirement else {"country": "AUS", "share": "0.5"}
    form = form_class(data=data)
    assert not form.is_valid()
    assert "annual_quantity" in form.errors
    data["annual_quantity"] = "1e15"
    assert form_class(data=data).is_valid(), form_class(data=data).errors
