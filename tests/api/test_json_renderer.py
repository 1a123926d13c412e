"""The API's JSON renderer (orjson) writes what DRF's wrote: the same bytes for the data the
API answers, the same number for every float, DRF's own output where it pretty-prints, and
DRF's error for what neither can encode."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as RestFrameworkJSONRenderer

from minerals.api.renderers import JSONRenderer

DATA: dict[str, Any] = {
    "next": "https://lodestone.example.org/api/v1/trade-flows/?cursor=cD0xMDA%3D",
    "previous": None,
    "results": [
        {"id": 7, "year": 2024, "exporter": "CHN", "importer": None, "value_usd": 1250000.0, "quantity_kg": 0.1 + 0.2,
         "share": 0.5, "ok": True, "sources": ["usgs-mcs-2025"],
         "notes": "Ünïcode \u2014 \u201cquotes\u201d \u2028 line \u2029 para"},
    ],
    "computed_at": datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
    "as_of": date(2026, 6, 1),
    "at": time(12, 30),
    "window": timedelta(days=1, seconds=3),
    "amount": Decimal("12.50"),
    "key": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "label": gettext_lazy("Gallium"),
    2024: "a year as a key",
    "big": [1.5e16, 1e15, 2.0, -0.0, 5e-324, 1.7976931348623157e308],
}  # fmt: skip


def test_the_same_bytes_as_drf_for_the_api_s_data() -> None:
    ours, drf = JSONRenderer().render(DATA), RestFrameworkJSONRenderer().render(DATA)
    assert ours == drf
    assert b"\\u2028" in ours  # escaped: a JavaScript string may hold it
    assert b"\\u2029" in ours
    assert b'"2025-03-04T05:06:07.890123Z"' in ours  # an aware UTC datetime ends in Z, as DRF writes it


def test_a_small_float_is_written_in_another_form_of_the_same_number() -> None:
    values = [1e-05, 5.128205128205128e-05, 1e-07, 0.0001]
    ours = JSONRenderer().render(values)
    assert ours == b"[0.00001,0.00005128205128205128,1e-7,0.0001]"
    assert json.loads(ours) == values == json.loads(RestFrameworkJSONRenderer().render(values))


def test_pretty_printing_and_what_orjson_refuses_go_through_drf() -> None:
    renderer = JSONRenderer()
    indented = "application/json; indent=4"
    assert renderer.render(DATA, indented) == RestFrameworkJSONRenderer().render(DATA, indented)
    huge = {"n": 2**70}
    assert renderer.render(huge) == b'{"n":1180591620717411303424}'
    with pytest.raises(TypeError):
        renderer.render({"x": object()})
    assert renderer.render(None) == b""
