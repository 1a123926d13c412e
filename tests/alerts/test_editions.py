"""A finished import batch becomes one event for its minerals: a new edition or an import."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from alerts.editions import data_editions_capture
from alerts.models import Event, EventKind, Notification
from minerals.models import DataSource, ImportBatch, ProductionRecord


@pytest.mark.django_db
def test_an_import_batch_is_told_once_to_the_buyers_of_its_minerals(buyer) -> None:  # type: ignore[no-untyped-def]
    record = (
        ProductionRecord.objects.select_related("source", "mineral")
        .filter(mineral__requirement__organization__name="Demo Buyer Inc.")
        .first()
    )
    assert record is not None
    source: DataSource = record.source
    ImportBatch.objects.create(
        source=source, importer="usgs_mcs", file_name="mcs.csv", status=ImportBatch.Status.RUNNING
    )  # still running: nothing yet
    new_edition = ImportBatch.objects.create(
        source=source, importer="usgs_mcs", file_name="mcs.csv", status=ImportBatch.Status.SUCCEEDED,
        finished_at=timezone.now(), inserted=12, report={"created_source": True},
    )  # fmt: skip
    ImportBatch.objects.create(
        source=source,
        importer="usgs_mcs",
        file_name="mcs.csv",
        status=ImportBatch.Status.SUCCEEDED,
        finished_at=timezone.now() - dt.timedelta(days=40),
        inserted=3,
    )  # fmt: skip  (long ago: outside the window)
    assert data_editions_capture() == 1
    assert data_editions_capture() == 0  # idempotent
    event = Event.objects.get(dedupe_key=f"import-batch:{new_edition.pk}")
    assert event.kind == EventKind.DATA_EDITION
    assert event.organization_id is None
    assert record.mineral_id in set(event.minerals.values_list("pk", flat=True))
    assert event.details["inserted"] == 12
    assert event.details["source"] == source.key
    assert Notification.objects.filter(event=event, user=buyer).exists()
