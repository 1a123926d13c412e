"""The filter sets' form classes are built once and kept (minerals.api.filters): each request
still validates its own values, answers the same 400 for a bad one, and reads a related
filter's choices (a country for `?hq_country=`) afresh; a form whose choices depend on the
request is never kept."""

from __future__ import annotations

from typing import Any

import django_filters
import pytest
from django.http import QueryDict

from minerals.api import filters
from minerals.models import Country, TradeFlow

pytestmark = pytest.mark.django_db


def test_each_request_validates_its_own_values(world: Any) -> None:
    client = world.clients["token_reference_read"]
    for _ in range(2):  # the second round runs on the kept form class
        bad = client.get("/api/v1/trade-flows/?year=abc&importer=USA")
        assert bad.status_code == 400
        assert bad.json() == {"year": ["Enter a number."]}
        good = client.get("/api/v1/trade-flows/?year=2024&importer=USA")
        assert good.status_code == 200
        rows = good.json()["results"]
        assert rows
        assert {(r["year"], r["importer"]) for r in rows} == {(2024, "USA")}
        unfiltered = client.get("/api/v1/trade-flows/")
        assert unfiltered.status_code == 200
        assert len(unfiltered.json()["results"]) > len(rows)
    assert (filters.TradeFlowFilter, TradeFlow) in filters._form_classes


def test_a_related_filter_reads_its_choices_on_every_request(world: Any) -> None:
    # `filterset_fields` on the companies list: a generated filter set, a country choice field.
    client = world.clients["token_reference_read"]
    refused = client.get("/api/v1/companies/?hq_country=ZZZ")
    assert refused.status_code == 400
    assert "hq_country" in refused.json()
    Country.objects.create(iso3="ZZZ", iso2="ZZ", name="Zedland")
    accepted = client.get("/api/v1/companies/?hq_country=ZZZ")
    assert accepted.status_code == 200
    assert accepted.json()["results"] == []


def _countries_of(request: Any) -> Any:
    return Country.objects.all()


class ChoicesPerRequest(filters.FilterSet):
    importer = django_filters.ModelChoiceFilter(queryset=_countries_of, field_name="importer")

    class Meta:
        model = TradeFlow
        fields = ["importer"]


def test_a_form_whose_choices_depend_on_the_request_is_not_kept(world: Any) -> None:
    for _ in range(2):
        filter_set = ChoicesPerRequest(data=QueryDict("importer=USA"), queryset=TradeFlow.objects.all())
        assert filter_set.is_valid()
    assert (ChoicesPerRequest, TradeFlow) not in filters._form_classes
