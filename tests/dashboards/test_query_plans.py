"""The pages' probes of the trade-flow table stay index probes however the flows are spread.

At 20 M flows on a few HS codes, PostgreSQL ran an EXISTS over the flows of a code as a scan that
stops at its first match; for a mapped code with no flows (a gap the pages name) it read the whole
table: 27 s for the overview and 1-4 s a mineral page (docs/performance.md, "First view after a
data change"). Here the flows are fewer but as lopsided, and the table analysed, so the planner
sees the same spread; a page must read a row or so of the table per code, not the code's flows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards import page_selectors, selectors
from minerals.models import DataSource, Mineral

FLOWS = 60_000


@pytest.fixture
def lopsided_flows(postgresql: None, demo: None) -> None:
    """FLOWS flows on the basket code 811292 (gallium's, germanium's, indium's), none on the
    other basket codes or on antimony's codes."""
    source = DataSource.objects.create(key="plan-test", publisher="t", title="t", edition="1")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO minerals_tradeflow (year, exporter_id, importer_id, commodity_code_id, basis, value_usd,
                                            quantity_kg, source_id)
            SELECT year, country.iso3, 'USA', '811292', basis, 1.0, 1.0, %s
            FROM generate_series(1950, 2025) AS year, minerals_country AS country,
                 unnest(ARRAY['import', 'export']) AS basis
            WHERE country.iso3 <> 'USA'
            LIMIT %s
            """,
            [source.pk, FLOWS],
        )
        cursor.execute("ANALYZE minerals_tradeflow")


def trade_flows_read(build: Callable[[], Any]) -> list[int]:
    """Per query of `build` that reads the trade-flow table: the rows its plan read from that
    table or its indexes, as EXPLAIN ANALYZE counts them."""
    with CaptureQueriesContext(connection) as captured:
        build()
    reads = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if "minerals_tradeflow" in query["sql"]:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
                reads.append(_rows_read(cursor.fetchone()[0][0]["Plan"]))
    return reads


def _rows_read(node: dict[str, Any]) -> int:
    own = 0
    if node.get("Relation Name") == "minerals_tradeflow":  # rows kept and rows a filter dropped, every loop
        # EXPLAIN leaves "Rows Removed by Filter" out of a node that has no filter: none dropped.
        dropped = node.get("Rows Removed by Filter", 0)
        own = (node["Actual Rows"] + dropped) * node["Actual Loops"]
    return int(own + sum(_rows_read(child) for child in node.get("Plans", [])))


def test_the_overview_probes_the_flows_of_each_basket_code(lopsided_flows: None):
    overview = page_selectors.minerals_overview(as_of=date(2026, 1, 1))
    basket = {row["slug"] for row in overview["minerals"] if row["imports_basket"]}
    assert {"gallium", "germanium", "indium"} <= basket
    assert "antimony" not in basket
    reads = trade_flows_read(lambda: page_selectors.minerals_overview(as_of=date(2026, 1, 1)))
    assert reads
    assert max(reads) <= 20, reads  # a row per traded basket code, not the code's 60,000


@pytest.mark.parametrize("slug", ["antimony", "gallium"])
def test_a_mineral_page_probes_the_flows_of_each_mapped_code(lopsided_flows: None, slug: str):
    mineral = Mineral.objects.get(slug=slug)
    codes = {code["hs6"]: code["traded"] for code in selectors.mineral_trade_codes(mineral)}
    assert codes
    if slug == "gallium":
        assert codes["811292"] is True
    else:
        assert not any(codes.values()), codes  # the demo has no antimony flows
    assert trade_flows_read(lambda: selectors.mineral_trade_codes(mineral)) <= [1]  # one row at most
