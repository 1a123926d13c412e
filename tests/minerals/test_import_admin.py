"""The admin upload: a form with the importer kind and the file; a batch; the task (eager here)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from config.celery import app
from minerals.models import ImportBatch, ProductionRecord

pytestmark = pytest.mark.django_db

WORLD = (
    "SOURCE,COMMODITY,COUNTRY,TYPE,UNIT_MEAS,PROD_2023,PROD_EST_ 2024,PROD_NOTES\n"
    'MCS2025,Gallium,China,Primary production,kilograms,"722,000","750,000",\n'
    'MCS2025,Gallium,World total (rounded),Primary production,kilograms,"730,000","760,000",\n'
)


@pytest.fixture(autouse=True)
def _eager(tmp_path, settings):
    # CI runs with a broker; the admin flow is checked with the task run in-process
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.LODESTONE_IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"
    yield
    app.conf.task_always_eager = eager


def upload(client, content: str, name: str = "MCS2025_World_Data_upload.csv", **extra):  # type: ignore[no-untyped-def]
    data = {"importer": "usgs_mcs", "file": SimpleUploadedFile(name, content.encode()), **extra}
    return client.post(reverse("admin:minerals_importbatch_upload"), data)


def test_upload_page_and_button(curator_client):
    assert curator_client.get(reverse("admin:minerals_importbatch_upload")).status_code == 200
    page = curator_client.get(reverse("admin:minerals_importbatch_changelist"))
    assert reverse("admin:minerals_importbatch_upload") in page.content.decode()


def test_upload_creates_a_batch_and_runs_the_task(curator_client, curator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(curator_client, WORLD)
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response.url.endswith(f"/{batch.pk}/change/")
    batch.refresh_from_db()
    assert (batch.status, batch.started_by, batch.inserted + batch.updated, batch.progress) == (
        "succeeded",
        curator,
        4,
        100,
    )
    assert ProductionRecord.objects.filter(
        mineral__slug="gallium", country_id="CHN", year=2024, quantity=750_000
    ).exists()
    page = curator_client.get(reverse("admin:minerals_importbatch_change", args=[batch.pk]))
    assert page.status_code == 200
    assert "Import succeeded" in page.content.decode()


def test_upload_of_an_invalid_file_fails_the_batch(curator_client, django_capture_on_commit_callbacks):
    before = ProductionRecord.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        upload(curator_client, WORLD + "MCS2025,Gallium,Atlantis,Primary production,kilograms,1,1,\n")
    batch = ImportBatch.objects.get()
    assert batch.status == "failed"
    assert "Atlantis" in batch.report["errors"][0]
    assert ProductionRecord.objects.count() == before


def test_upload_checks_size_and_extension(curator_client, settings):
    response = upload(curator_client, WORLD, name="world.exe")
    assert "ends in .csv" in response.content.decode()
    settings.LODESTONE_IMPORT_MAX_UPLOAD_BYTES = 10
    response = upload(curator_client, WORLD)
    assert "uploads are capped" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_upload_with_a_wrong_header_fails_cleanly(curator_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(curator_client, "a,b\n1,2\n", name="mcs2025-whatever.csv")
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert batch.status == "failed"
    assert "not a known USGS MCS header" in batch.report["errors"][0]


WGI = "code,year,indicator,estimate\nCHN,2022,cc,-0.04\nUSA,2022,cc,1.2\n"


def test_the_request_only_queues_the_file_and_the_task_identifies_and_parses_it(
    curator_client, django_capture_on_commit_callbacks
):
    """A WGI file named without its release had it guessed by parsing the whole file inside the
    admin's request (issue 16, probing 4). The request now records the batch unread: no checksum,
    no source; the task identifies the file (the release after the last year of data), then loads it."""
    import hashlib

    from minerals.models import DataSource, WgiScore

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(curator_client, WGI, name="governance-scores.csv", importer="wgi")
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.source_id, batch.checksum, batch.rows_read) == ("running", None, "", 0)
    assert not DataSource.objects.filter(key="wgi-2023").exists()
    assert len(queued) == 1  # the task, sent after the commit
    queued[0]()  # the task runs (eagerly here; a worker in production)
    batch.refresh_from_db()
    assert (batch.status, batch.source.key, batch.inserted) == ("succeeded", "wgi-2023", 2)
    assert batch.checksum == hashlib.sha256(WGI.encode()).hexdigest()
    assert WgiScore.objects.get(country_id="CHN", year=2022, source=batch.source).control_of_corruption == -0.04


def test_a_file_the_task_cannot_identify_ends_its_batch_failed(curator_client, django_capture_on_commit_callbacks):
    """Before, the request itself parsed the file and answered with the error; now the request
    queues it, and the batch ends failed with the same reason and no source left behind."""
    from minerals.models import DataSource

    sources = DataSource.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(curator_client, "code,year,indicator,estimate\n", name="scores.csv", importer="wgi")
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.status == "failed"
    assert "cannot tell the WGI release" in batch.report["errors"][0]
    assert (batch.source_id, DataSource.objects.count()) == (None, sources)
