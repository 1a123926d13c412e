"""Lists built from values() rows (minerals.api.plain_rows) answer the very bytes DRF's
serializers answered: every list, the demo dataset and rows with nulls, estimates, withheld and
bounded figures, World aggregates, datetimes and many-to-many values, every page of a cursor
walk, CSV. The oracle is the same request answered with DRF's own ListModelMixin.list.

And the tokens every API call now keeps in the process (minerals.api.authentication): expired
at once, revoked within the documented time, writes always checked afresh.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.mixins import ListModelMixin

from dashboards.page_cache import stored_clear
from minerals.api import authentication
from minerals.api.plain_rows import PlainRows, PlainRowsListMixin, UnsupportedField
from minerals.api.serializers import CommodityCodeOutputSerializer
from minerals.models import Country, DataSource, Mineral, PolicyMeasure, ProductionRecord, Stage, TradeFlow
from suppliers.models import Company, Facility, Sourcing
from tests.api.conftest import bearer, make_application, make_token

pytestmark = pytest.mark.django_db

REFERENCE_LISTS = [
    "/api/v1/countries/",
    "/api/v1/countries/?is_feoc=true&ordering=-name",
    "/api/v1/sources/",
    "/api/v1/production/",
    "/api/v1/production/?mineral=gallium&stage=refinery",
    "/api/v1/trade-flows/",
    "/api/v1/trade-flows/?mineral=gallium&ordering=-id",
    "/api/v1/policies/",
    "/api/v1/policies/?in_force_on=2025-06-01&target=USA",
    "/api/v1/companies/",
    "/api/v1/facilities/",
    "/api/v1/facilities/?china_controlled=true",
]
PORTFOLIO_LISTS = ["/api/v1/requirements/", "/api/v1/sourcing/", "/api/v1/sourcing/?mineral__slug=gallium"]


@contextmanager
def drf_lists() -> Any:
    """Answer the lists with DRF's own list (its serializer, row by row)."""
    fast = PlainRowsListMixin.list
    PlainRowsListMixin.list = ListModelMixin.list  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        PlainRowsListMixin.list = fast  # type: ignore[method-assign]


def _both(client: Any, url: str) -> tuple[Any, Any]:
    stored_clear()  # a token's minerals list is a stored answer otherwise
    fast = client.get(url)
    stored_clear()
    with drf_lists():
        slow = client.get(url)
    assert slow.status_code == 200, (url, slow.content[:300])
    return fast, slow


def _same_answers(client: Any, url: str, *, walk: bool = True) -> int:
    """The fast and the DRF answers are equal bytes, page after page; the pages walked."""
    pages = 0
    while url:
        fast, slow = _both(client, url)
        assert fast.status_code == slow.status_code
        assert fast.content == slow.content, url
        assert fast.get("Link") == slow.get("Link")
        assert fast.get("Content-Type") == slow.get("Content-Type")
        pages += 1
        next_link = fast.json()["next"] if fast.get("Content-Type", "").startswith("application/json") else None
        url = "" if not (walk and next_link) else "{0.path}?{0.query}".format(urlsplit(next_link))
    return pages


def _edge_rows(world: Any) -> None:
    """Rows whose cells are null, estimated, withheld, bounded, World, many-valued or timed."""
    source = DataSource.objects.get(key="usgs-mcs-2025")
    gallium = Mineral.objects.get(slug="gallium")
    flow = {"commodity_code_id": "811292", "basis": TradeFlow.Basis.IMPORT_REPORTED, "source": source}
    TradeFlow.objects.create(year=2023, exporter=None, importer_id="USA", value_usd=1.5e14, quantity_kg=None, **flow)
    TradeFlow.objects.create(year=2022, exporter_id="CHN", importer=None, value_usd=0.1 + 0.2, quantity_kg=0.0, **flow)
    figure = {"mineral": gallium, "stage": Stage.REFINERY, "year": 2019, "unit": "kg", "source": source}
    ProductionRecord.objects.bulk_create(
        [
            ProductionRecord(country_id="KAZ", quantity=None, is_withheld=True, **figure),
            ProductionRecord(country_id="UKR", quantity=5.0, is_estimate=True, bound="<", notes="less than", **figure),
        ]
    )
    Mineral.objects.filter(slug="gallium").update(data_changed_at=datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC))
    measure = PolicyMeasure.objects.order_by("id").first()
    PolicyMeasure.objects.filter(pk=measure.pk).update(source=None, severity_override=None)
    company = Company.objects.order_by("id").first()
    Facility.objects.create(
        key="edge-facility", name="Edge", company=company, country_id="CAN", mineral=gallium, stage=Stage.REFINERY,
        status=Facility.Status.PLANNED, capacity=None, source=None, latitude=None, longitude=None,
    )  # fmt: skip
    Sourcing.objects.create(
        organization=world.org_a, mineral=gallium, facility=None, country_id="ISL", annual_quantity=None, share=0.25
    )


@pytest.mark.parametrize("edge_rows", [False, True], ids=["demo", "edge-rows"])
def test_every_list_answers_the_serializers_bytes(world: Any, edge_rows: bool) -> None:
    if edge_rows:
        _edge_rows(world)
    curator = world.clients["curator_token"]
    buyer = world.clients["token_a_portfolio_read"]
    for url in REFERENCE_LISTS:
        _same_answers(curator, url)
    for url in PORTFOLIO_LISTS:
        _same_answers(buyer, url)
    # The minerals list: a session goes down the ordinary path (a token's answer is stored).
    _same_answers(world.clients["staff_session"], "/api/v1/minerals/")


def test_cursor_pages_csv_and_xlsx_are_the_same(world: Any) -> None:
    _edge_rows(world)
    curator = world.clients["curator_token"]
    assert _same_answers(curator, "/api/v1/trade-flows/?page_size=2") > 3
    assert _same_answers(curator, "/api/v1/policies/?page_size=3&ordering=-key") > 3
    assert _same_answers(curator, "/api/v1/production/?page_size=7&ordering=-id") > 3
    for url in ("/api/v1/production/?format=csv&page_size=50", "/api/v1/facilities/?format=csv"):
        _same_answers(curator, url, walk=False)
    fast, slow = _both(curator, "/api/v1/trade-flows/?format=xlsx")
    assert fast.status_code == slow.status_code == 200
    assert fast["Content-Disposition"] == slow["Content-Disposition"]


def test_unknown_stays_null(world: Any) -> None:
    _edge_rows(world)
    rows = world.clients["curator_token"].get("/api/v1/production/?mineral=gallium&year=2019&page_size=1000").json()
    withheld = next(r for r in rows["results"] if r["country"] == "KAZ")
    assert withheld["quantity"] is None
    assert withheld["is_withheld"] is True
    flows = world.clients["curator_token"].get("/api/v1/trade-flows/?year=2023&importer=USA").json()["results"]
    world_row = next(r for r in flows if r["value_usd"] == 1.5e14)
    assert world_row["exporter"] is None
    assert world_row["quantity_kg"] is None


def test_a_serializer_with_a_nested_field_is_refused() -> None:
    with pytest.raises(UnsupportedField):
        PlainRows(CommodityCodeOutputSerializer)


def test_a_cell_is_formatted_unless_already_its_own_representation() -> None:
    """Cells of exactly str, int or float under a CharField, IntegerField or FloatField skip the
    field's call; any other type, and a field that formats (big integers as strings), do not."""
    from rest_framework import serializers

    class Shapes(serializers.ModelSerializer):
        id = serializers.BigIntegerField(coerce_to_string=True)
        year = serializers.IntegerField()
        value_usd = serializers.FloatField()
        importer = serializers.CharField(source="importer_id")

        class Meta:
            model = TradeFlow
            fields = ["id", "year", "value_usd", "importer"]

    rows = PlainRows(Shapes)
    assert [getattr(c, "as_read", None) for c in rows.columns] == [None, int, float, str]
    pk = "pk"
    built = rows.build([{"id": 7, "year": True, "value_usd": 2, "importer_id": "USA", pk: 7}])
    assert built == [{"id": "7", "year": 1, "value_usd": 2.0, "importer": "USA"}]
    assert [type(v) for v in built[0].values()] == [str, int, float, str]


def test_the_query_count_does_not_grow_with_many_to_many_values(world: Any, django_assert_num_queries: Any) -> None:
    curator = world.clients["curator_token"]
    url = "/api/v1/policies/"
    assert curator.get(url).status_code == 200  # the token kept
    measures = list(PolicyMeasure.objects.all())
    for measure in measures:
        measure.targets.add(*Country.objects.filter(iso3__in=["USA", "JPN", "DEU"]))
    with django_assert_num_queries(4):  # the page, its minerals, HS codes and targets
        assert curator.get(url).status_code == 200


# --------------------------------------------------------------------------------------------
# Tokens kept in the process for every API call


@pytest.fixture
def clock(monkeypatch: Any, settings: Any) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(authentication, "_clock", lambda: now[0])
    settings.LODESTONE_API_TOKEN_CACHE_SECONDS = 10
    return now


def test_a_kept_token_costs_no_query(world: Any, django_assert_num_queries: Any) -> None:
    curator = world.clients["curator_token"]
    assert curator.get("/api/v1/trade-flows/").status_code == 200
    with django_assert_num_queries(1):  # the page alone
        assert curator.get("/api/v1/trade-flows/").status_code == 200


def test_a_revoked_token_is_refused_within_the_token_cache_time(world: Any, clock: list[float]) -> None:
    client = bearer(make_token(make_application(name="revoked-soon"), "reference:read"))
    url = "/api/v1/trade-flows/"
    assert client.get(url).status_code == 200
    AccessToken.objects.get(application__name="revoked-soon").revoke()
    clock[0] += 9.9
    assert client.get(url).status_code == 200  # documented: up to LODESTONE_API_TOKEN_CACHE_SECONDS
    clock[0] += 0.1
    refused = client.get(url)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith('Bearer realm="api"')


def test_an_expired_token_is_refused_at_once_even_when_kept(world: Any, clock: list[float]) -> None:
    client = bearer(make_token(make_application(name="expiring"), "reference:read"))
    url = "/api/v1/countries/"
    assert client.get(url).status_code == 200
    AccessToken.objects.filter(application__name="expiring").update(expires=timezone.now())
    kept = authentication.kept_token(client._credentials["HTTP_AUTHORIZATION"].split()[1])
    assert kept is not None
    kept.expires = timezone.now()  # what the clock does to the kept object
    refused = client.get(url)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    expired = bearer(make_token(make_application(name="expired"), "reference:read", expires_in=-1))
    assert expired.get(url).status_code == 401


def test_scopes_are_checked_on_every_call_and_writes_look_the_token_up_afresh(world: Any, clock: list[float]) -> None:
    reader = world.clients["token_a_portfolio_read"]
    assert reader.get("/api/v1/requirements/").status_code == 200
    assert reader.get("/api/v1/countries/").status_code == 403  # no reference:read, token kept or not
    curator = world.clients["curator_token"]
    assert curator.get("/api/v1/companies/").status_code == 200  # kept now
    AccessToken.objects.filter(application=world.app_curator).delete()
    assert curator.get("/api/v1/companies/").status_code == 200  # a read within the cache time
    write = curator.post("/api/v1/companies/", {"name": "Revoked Co", "hq_country": "CAN"}, format="json")
    assert write.status_code == 401  # a write never trusts a kept token
    assert not Company.objects.filter(name="Revoked Co").exists()


def test_the_schema_does_not_know_how_lists_are_built(world: Any) -> None:
    """drf-spectacular documents the serializers; the mixin adds no description of its own."""
    schema = world.clients["anonymous"].get("/api/v1/schema/?format=json").content.decode()
    assert "PlainRows" not in schema
    assert "values()" not in schema
