"""The database itself rejects bad rows, whatever path they come by."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from minerals import services
from minerals.models import CommodityCode, DataSource, Mineral, ProductionRecord, TradeFlow
from suppliers.models import Company, Facility, Organization, Sourcing, SupplyLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def gallium() -> Mineral:
    return Mineral.objects.get(slug="gallium")


@pytest.fixture
def source() -> DataSource:
    return DataSource.objects.create(key="test-source", publisher="Test", title="Test source")


def production(gallium: Mineral, source: DataSource, **overrides: object) -> ProductionRecord:
    values = {
        "mineral": gallium, "stage": "refinery", "country_id": "JPN", "year": 2030,
        "quantity": 1.0, "unit": "kg", "source": source,
    }  # fmt: skip
    values.update(overrides)
    return ProductionRecord(**values)


def assert_rejected_by_database(instance: object) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        instance.save()  # type: ignore[attr-defined]


def test_negative_quantity_is_rejected(gallium, source):
    assert_rejected_by_database(production(gallium, source, quantity=-5))


def test_unknown_stage_is_rejected(gallium, source):
    assert_rejected_by_database(production(gallium, source, stage="smelting"))


def test_year_out_of_range_is_rejected(gallium, source):
    assert_rejected_by_database(production(gallium, source, year=1850))


def test_withheld_row_cannot_carry_a_quantity(gallium, source):
    assert_rejected_by_database(production(gallium, source, is_withheld=True, quantity=10))


def test_world_total_row_has_no_country(gallium, source):
    assert_rejected_by_database(production(gallium, source, row_kind="world_total", country_id="JPN"))


def test_duplicate_natural_key_is_rejected(gallium, source):
    production(gallium, source).save()
    assert_rejected_by_database(production(gallium, source, quantity=2.0))


def test_duplicate_world_total_is_rejected(gallium, source):
    production(gallium, source, row_kind="world_total", country_id=None).save()
    assert_rejected_by_database(production(gallium, source, row_kind="world_total", country_id=None))


def test_a_later_edition_is_stored_beside_the_earlier_one(gallium, source):
    production(gallium, source).save()
    newer = DataSource.objects.create(key="test-source-2", publisher="Test", title="Test source", edition="2")
    production(gallium, newer, quantity=3.0).save()
    assert ProductionRecord.objects.filter(mineral=gallium, year=2030).count() == 2


def test_supply_link_share_above_one_is_rejected():
    upstream, downstream = Facility.objects.all()[:2]
    assert_rejected_by_database(
        SupplyLink(upstream=upstream, downstream=downstream, mineral=upstream.mineral, share=1.5)
    )


def test_sourcing_share_above_one_is_rejected(gallium):
    organization = Organization.objects.first()
    assert_rejected_by_database(Sourcing(organization=organization, mineral=gallium, country_id="JPN", share=1.2))


def test_sourcing_needs_a_quantity_or_a_share(gallium):
    organization = Organization.objects.first()
    assert_rejected_by_database(Sourcing(organization=organization, mineral=gallium, country_id="JPN"))


def test_hs_code_has_six_digits_or_is_a_four_digit_heading():
    assert_rejected_by_database(CommodityCode(hs6="81129", description="five digits"))
    assert_rejected_by_database(CommodityCode(hs6="81", description="a chapter"))


def test_trade_flow_needs_a_country_on_one_side(source):
    code = CommodityCode.objects.first()
    assert_rejected_by_database(TradeFlow(year=2024, commodity_code=code, basis="import", value_usd=1.0, source=source))


def test_ownership_cannot_exceed_one_hundred_percent():
    from suppliers.models import OwnershipStake

    owner, owned = Company.objects.all()[:2]
    assert_rejected_by_database(OwnershipStake(owner=owner, owned=owned, percent=120))


def test_services_report_bad_input_as_validation_errors_naming_the_field(gallium, source):
    with pytest.raises(ValidationError) as excinfo:
        services.record_save(instance=production(gallium, source, quantity=-1))
    assert "quantity" in excinfo.value.message_dict
