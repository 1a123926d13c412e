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
    narrowed = filters._narrowed_classes[(filters.TradeFlowFilter, frozenset({"year", "importer"}))]
    assert (narrowed, TradeFlow) in filters._form_classes


@pytest.mark.parametrize(
    "query",
    ["importer=USA", "year=2024&importer=USA", "year_min=2023&year_max=2024", "mineral=gallium&exporter=CHN",
     "commodity_code=811292&importer=USA&year=2023&basis=import&source=comtrade"],
)  # fmt: skip
def test_a_request_builds_a_filter_set_of_the_filters_it_names_with_the_same_rows(world: Any, query: str) -> None:
    """The backend copies, validates and applies only the named filters; the rows are those of
    the whole filter set, and a suffixed key (year_min) names its filter."""
    client = world.clients["token_reference_read"]
    answer = client.get(f"/api/v1/trade-flows/?page_size=1000&{query}")
    assert answer.status_code == 200
    data = QueryDict(query)
    whole = filters.TradeFlowFilter(data=data, queryset=TradeFlow.objects.order_by("id"))
    assert [row["id"] for row in answer.json()["results"]] == list(whole.qs.values_list("id", flat=True))
    named = frozenset(n for n in whole.base_filters if any(k == n or k.startswith(f"{n}_") for k in data))
    narrowed = filters._narrowed(filters.TradeFlowFilter, named)
    assert set(narrowed.base_filters) == named < set(whole.base_filters)
    assert narrowed(data=data, queryset=TradeFlow.objects.all()).form.fields.keys() == named
    assert filters._narrowed(filters.TradeFlowFilter, named) is narrowed  # kept


def test_every_filter_named_uses_the_filter_set_itself() -> None:
    every = frozenset(filters.TradeFlowFilter.base_filters)
    assert filters._narrowed(filters.TradeFlowFilter, every) is filters.TradeFlowFilter


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
