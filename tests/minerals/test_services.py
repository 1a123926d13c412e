"""Every write marks the minerals it feeds stale, in its own transaction, and records who made it."""

import pytest

from minerals import services
from minerals.models import Mineral, PolicyMeasure, ProductionRecord
from suppliers import services as supplier_services
from suppliers.models import Organization, Sourcing

pytestmark = pytest.mark.django_db


def version(slug: str) -> int:
    return Mineral.objects.get(slug=slug).data_version


def test_saving_a_production_record_bumps_its_mineral_only(curator):
    record = ProductionRecord.objects.filter(mineral__slug="gallium", country_id="CHN").first()
    gallium, tungsten = version("gallium"), version("tungsten")
    record.quantity = record.quantity + 1
    services.record_save(instance=record, user=curator)
    assert version("gallium") == gallium + 1
    assert version("tungsten") == tungsten


def test_history_records_the_acting_user(curator):
    record = ProductionRecord.objects.filter(mineral__slug="gallium", country_id="CHN").first()
    record.notes = "checked"
    services.record_save(instance=record, user=curator)
    assert record.history.first().history_user == curator


def test_moving_a_record_to_another_mineral_marks_both(curator):
    record = ProductionRecord.objects.filter(mineral__slug="gallium", country_id="JPN").first()
    before = version("gallium"), version("germanium")
    record.mineral = Mineral.objects.get(slug="germanium")
    services.record_save(instance=record, user=curator)
    assert (version("gallium"), version("germanium")) == (before[0] + 1, before[1] + 1)


def test_a_stale_announcement_is_sent_after_commit_only(django_capture_on_commit_callbacks):
    received = []

    def listener(sender, mineral_ids, **kwargs):
        received.append(mineral_ids)

    services.minerals_changed.connect(listener)
    try:
        record = ProductionRecord.objects.filter(mineral__slug="tungsten").first()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.record_save(instance=record)
        assert received == []
        for callback in callbacks:
            callback()
        assert received == [[record.mineral_id]]
    finally:
        services.minerals_changed.disconnect(listener)


def test_upsert_leaves_identical_rows_alone():
    record = ProductionRecord.objects.filter(mineral__slug="gallium", country_id="CHN").first()
    lookup = {"mineral": record.mineral, "stage": record.stage, "row_kind": "country", "country_id": "CHN",
              "year": record.year, "source": record.source}  # fmt: skip
    _, result = services.record_upsert(model=ProductionRecord, lookup=lookup, values={"quantity": record.quantity})
    assert result is services.WriteResult.UNCHANGED
    _, result = services.record_upsert(model=ProductionRecord, lookup=lookup, values={"quantity": record.quantity + 1})
    assert result is services.WriteResult.UPDATED


def test_policy_measure_changes_mark_its_minerals():
    measure = PolicyMeasure.objects.filter(minerals__slug="antimony").first()
    before = version("antimony")
    services.record_save(instance=measure)
    assert version("antimony") == before + 1


def test_sourcing_changes_mark_the_organization_and_the_mineral():
    line = Sourcing.objects.select_related("organization", "mineral").first()
    org_version = line.organization.data_version
    mineral_version = line.mineral.data_version
    line.notes = "renegotiated"
    supplier_services.record_save(instance=line)
    assert Organization.objects.get(pk=line.organization_id).data_version == org_version + 1
    assert Mineral.objects.get(pk=line.mineral_id).data_version == mineral_version + 1


def test_many_writes_in_one_transaction_announce_once_with_every_mineral(django_capture_on_commit_callbacks):
    received = []

    def listener(sender, mineral_ids, **kwargs):
        received.append(mineral_ids)

    services.minerals_changed.connect(listener)
    try:
        records = list(
            ProductionRecord.objects.filter(mineral__slug__in=["gallium", "tungsten"]).select_related("mineral")
        )
        with django_capture_on_commit_callbacks(execute=True):
            for record in records:
                services.record_save(instance=record)
        assert received == [sorted({r.mineral_id for r in records})]
    finally:
        services.minerals_changed.disconnect(listener)
