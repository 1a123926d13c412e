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
