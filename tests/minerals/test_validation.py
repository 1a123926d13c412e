"""Check constraints validated in one query (minerals/validation.py): the same errors as Django's
own validation, one statement when they all hold."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from minerals import services
from minerals.models import DataSource, Mineral, ProductionRecord, TradeFlow

pytestmark = pytest.mark.django_db


@pytest.fixture
def source() -> DataSource:
    return DataSource.objects.create(key="test-validation", publisher="Test", title="Test source")


def _production(source: DataSource, **overrides: Any) -> ProductionRecord:
    values = {"mineral": Mineral.objects.get(slug="gallium"), "stage": "refinery", "country_id": "JPN",
              "year": 2030, "quantity": 1.0, "unit": "kg", "source": source}  # fmt: skip
    values.update(overrides)
    return ProductionRecord(**values)


def _errors(call: Any) -> dict[str, list[str]] | None:
    try:
        call()
    except ValidationError as e:
        return e.message_dict
    return None


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"quantity": -5.0},
        {"is_withheld": True},  # with a quantity
        {"row_kind": "world_total"},  # with a country
        {"quantity": -5.0, "is_withheld": True, "bound": "?"},  # several at once
        {"country_id": "CHN", "year": 2024},  # held checks, a unique constraint broken
    ],
)
def test_the_errors_are_djangos(source: DataSource, overrides: dict[str, Any], demo: None) -> None:
    if "country_id" in overrides:
        taken = ProductionRecord.objects.get(mineral__slug="gallium", stage="refinery", country_id="CHN", year=2024)
        source = taken.source
    record = _production(source, **overrides)
    ours = _errors(record.validate_constraints)
    djangos = _errors(lambda: models.Model.validate_constraints(record))
    assert ours == djangos
    assert (ours is None) == (overrides == {})


def test_an_excluded_field_leaves_its_constraints_unchecked_as_django_does(source: DataSource) -> None:
    record = _production(source, quantity=-5.0)
    assert _errors(lambda: record.validate_constraints(exclude={"quantity"})) is None
    assert _errors(lambda: models.Model.validate_constraints(record, exclude={"quantity"})) is None


def test_an_edit_asks_one_query_for_every_check_constraint(demo: None) -> None:
    record = ProductionRecord.objects.get(mineral__slug="gallium", stage="refinery", country_id="CHN", year=2024)
    record.quantity = 720_000
    checks = sum(isinstance(c, models.CheckConstraint) for c in ProductionRecord._meta.constraints)
    assert checks == 8
    with CaptureQueriesContext(connection) as queries:
        services.record_save(instance=record)
    asked = [q["sql"] for q in queries.captured_queries if '"_check"' in q["sql"]]
    # one for the check constraints, one for each of the two conditional unique constraints
    assert len(asked) == 3
    assert len(queries.captured_queries) == 19  # 40 with a query and a savepoint for each check constraint


def test_a_trade_flow_gets_the_same(demo: None) -> None:
    flow = TradeFlow.objects.first()
    assert flow is not None
    assert _errors(flow.validate_constraints) is None
    flow.value_usd = -1
    assert _errors(flow.validate_constraints) == _errors(lambda: models.Model.validate_constraints(flow))
