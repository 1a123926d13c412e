"""Set-based import metrics on PostgreSQL: shares, HHI, partner vectors and NIR in one statement.

`import_metrics_upsert` computes every `ImportMetric` row of one mineral inside the database
and writes it in the same statement (INSERT ... SELECT ... ON CONFLICT DO UPDATE WHERE not
older): the trade flows and the per-partner sums never leave the server. The small inputs
decided in Python (dataset per year, production per country, published NIR, source labels; a
few hundred values) go in as arrays (`unnest`), so the statement is one round trip whatever
the data size.

The SQL is the same maths as dashboards.risk, term by term (docs/metrics.md section 2):

* partners: exporters of the China group merged into CHN; flows summed per (destination, year,
  partner), values and quantities, plus the value of flows that report a quantity;
* `i_c = V_c / V` with window sums over (destination, year); `import_china_share = i_CHN` (0
  when absent), `import_feoc_share = sum i_c` over FEOC keys, `import_hhi = 10,000 sum i_c^2`,
  DOJ band; the same by quantity over flows that report one; no value (V = 0) gives NULLs;
* partner vectors `[[iso3, share], ...]` largest first, ties by code (`risk._ranked`);
* `nir = (imports - exports) / (production + imports - exports)` clamped to [0, 1], NULL when
  an input is unknown or consumption <= 0 (`risk.net_import_reliance`).

Results equal the pure functions up to floating-point summation order (a few ulps; tested in
tests/dashboards/test_metric_sql.py against `risk.import_dependence` on generated data). A DOJ
band could only differ for an HHI within ~1e-12 of 1,500 or 2,500.

SQLite (development, the fast test suite) has no ordered JSON aggregate before 3.44: there
the recompute uses the pure Python path (`services.import_tables`), same results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

IMPORT_COLUMNS = (
    "mineral_id", "destination_id", "year", "data_version", "computed_at", "sources", "total_value_usd",
    "import_coverage", "import_china_share", "import_feoc_share", "import_hhi", "import_hhi_band", "partner_shares",
    "total_quantity_kg", "quantity_coverage", "import_china_share_by_quantity", "import_feoc_share_by_quantity",
    "import_hhi_by_quantity", "partner_shares_by_quantity", "nir", "nir_published", "nir_published_bound",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportInputs:
    """What Python decides before the statement runs (all small; read after the target version).

    * `codes`: the HS6 codes mapped to the mineral (any stage, each once).
    * `datasets`: (year, source_id, basis) used per year (newest edition, preferred basis).
    * `destinations`: importers materialized, None = every importer.
    * `production`: (country, year, kg or None when withheld) of the most upstream table;
      `production_years`: years that have such a table (an unlisted country produces 0 there).
    * `published`: (destination, year, nir fraction or None, bound, source_id), newest edition.
    * `sources`: source id -> its {"id", "key", "edition"} label.
    """

    codes: Sequence[str]
    datasets: Sequence[tuple[int, int, str]]
    destinations: Sequence[str] | None
    production: Sequence[tuple[str, int, float | None]]
    production_years: Sequence[int]
    published: Sequence[tuple[str, int, float | None, str, int]]
    sources: Mapping[int, Mapping[str, object]]


def supported() -> bool:
    """True when the set-based statement can run (PostgreSQL)."""
    return connection.vendor == "postgresql"


_UPDATE = ", ".join(f"{c} = EXCLUDED.{c}" for c in IMPORT_COLUMNS[3:])

IMPORT_SQL = f"""
WITH chosen AS (
    SELECT * FROM unnest(%(ds_year)s::int[], %(ds_source)s::int[], %(ds_basis)s::text[]) AS c(year, source_id, basis)
), flows AS MATERIALIZED (
    SELECT tf.year, tf.importer_id, tf.exporter_id, tf.value_usd, tf.quantity_kg
    FROM minerals_tradeflow tf
    JOIN chosen c ON c.year = tf.year AND c.source_id = tf.source_id AND c.basis = tf.basis
    WHERE tf.commodity_code_id = ANY(%(codes)s::text[])
      AND tf.exporter_id IS NOT NULL AND tf.importer_id IS NOT NULL
), partners AS (
    SELECT importer_id AS destination, year,
           CASE WHEN exporter_id = ANY(%(china_group)s::text[]) THEN 'CHN' ELSE exporter_id END AS partner,
           SUM(value_usd) AS value,
           SUM(quantity_kg) AS quantity,
           SUM(value_usd) FILTER (WHERE quantity_kg IS NOT NULL) AS value_with_quantity
    FROM flows
    WHERE %(all_destinations)s OR importer_id = ANY(%(destinations)s::text[])
    GROUP BY 1, 2, 3
), shares AS (
    SELECT destination, year, partner, value, quantity, value_with_quantity,
           SUM(value) OVER w AS total_value,
           SUM(quantity) OVER w AS total_quantity,
           value / NULLIF(SUM(value) OVER w, 0) AS share,
           quantity / NULLIF(SUM(quantity) OVER w, 0) AS qshare
    FROM partners
    WINDOW w AS (PARTITION BY destination, year)
), imports AS (
    SELECT destination, year,
           MAX(total_value) AS total_value_usd,
           SUM(value) / NULLIF(MAX(total_value), 0) AS import_coverage,
           CASE WHEN MAX(total_value) > 0
                THEN COALESCE(SUM(share) FILTER (WHERE partner = 'CHN'), 0) END AS china,
           CASE WHEN MAX(total_value) > 0
                THEN COALESCE(SUM(share) FILTER (WHERE partner = ANY(%(feoc)s::text[])), 0) END AS feoc,
           CASE WHEN MAX(total_value) > 0 THEN 10000 * SUM(share * share) END AS hhi,
           COALESCE(jsonb_agg(jsonb_build_array(partner, share) ORDER BY share DESC, partner)
                    FILTER (WHERE share IS NOT NULL), '[]'::jsonb) AS vector,
           MAX(total_quantity) AS total_quantity_kg,
           COALESCE(SUM(value_with_quantity), 0) / NULLIF(MAX(total_value), 0) AS quantity_coverage,
           CASE WHEN MAX(total_quantity) > 0
                THEN COALESCE(SUM(qshare) FILTER (WHERE partner = 'CHN'), 0) END AS qchina,
           CASE WHEN MAX(total_quantity) > 0
                THEN COALESCE(SUM(qshare) FILTER (WHERE partner = ANY(%(feoc)s::text[])), 0) END AS qfeoc,
           CASE WHEN MAX(total_quantity) > 0 THEN 10000 * SUM(qshare * qshare) END AS qhhi,
           COALESCE(jsonb_agg(jsonb_build_array(partner, qshare) ORDER BY qshare DESC, partner)
                    FILTER (WHERE qshare IS NOT NULL), '[]'::jsonb) AS qvector
    FROM shares
    GROUP BY destination, year
), exports AS (
    SELECT exporter_id AS destination, year, SUM(quantity_kg) AS kg
    FROM flows
    WHERE quantity_kg IS NOT NULL AND (%(all_destinations)s OR exporter_id = ANY(%(destinations)s::text[]))
    GROUP BY 1, 2
), production AS (
    SELECT * FROM unnest(%(pr_country)s::text[], %(pr_year)s::int[], %(pr_kg)s::float8[]) AS p(country, year, kg)
), production_years AS (
    SELECT DISTINCT year FROM unnest(%(pr_years)s::int[]) AS y(year)
), published AS (
    SELECT * FROM unnest(%(pu_dest)s::text[], %(pu_year)s::int[], %(pu_value)s::float8[], %(pu_bound)s::text[],
                         %(pu_source)s::int[]) AS p(destination, year, value, bound, source_id)
), labels AS (
    SELECT * FROM unnest(%(src_id)s::int[], %(src_label)s::text[]) AS s(id, label)
), keyed AS (
    SELECT COALESCE(i.destination, pu.destination) AS destination, COALESCE(i.year, pu.year) AS year,
           i.destination IS NOT NULL AS has_imports, i.total_value_usd, i.import_coverage, i.china, i.feoc,
           i.hhi, i.vector, i.total_quantity_kg, i.quantity_coverage, i.qchina, i.qfeoc, i.qhhi, i.qvector,
           pu.value AS nir_published, pu.bound,
           pu.source_id AS published_source
    FROM imports i FULL OUTER JOIN published pu ON pu.destination = i.destination AND pu.year = i.year
), nir_inputs AS (
    SELECT k.*,
           CASE WHEN pr.country IS NOT NULL THEN pr.kg WHEN py.year IS NOT NULL THEN 0.0 END AS prod,
           CASE WHEN k.total_quantity_kg IS NOT NULL THEN COALESCE(ex.kg, 0.0) END AS exp,
           CASE WHEN k.has_imports THEN c.source_id END AS trade_source
    FROM keyed k
    LEFT JOIN production pr ON pr.country = k.destination AND pr.year = k.year
    LEFT JOIN production_years py ON py.year = k.year
    LEFT JOIN exports ex ON ex.destination = k.destination AND ex.year = k.year
    LEFT JOIN chosen c ON c.year = k.year
)
INSERT INTO dashboards_importmetric ({", ".join(IMPORT_COLUMNS)})
SELECT %(mineral)s, n.destination, n.year, %(version)s, %(now)s,
       (SELECT COALESCE(jsonb_agg(l.label::jsonb ORDER BY l.id), '[]'::jsonb)
        FROM labels l WHERE l.id = n.trade_source OR l.id = n.published_source),
       n.total_value_usd, n.import_coverage, n.china, n.feoc, n.hhi,
       CASE WHEN n.hhi IS NULL THEN '' WHEN n.hhi < 1500 THEN 'low' WHEN n.hhi <= 2500 THEN 'moderate'
            ELSE 'high' END,
       COALESCE(n.vector, '[]'::jsonb),
       n.total_quantity_kg, n.quantity_coverage, n.qchina, n.qfeoc, n.qhhi, COALESCE(n.qvector, '[]'::jsonb),
       CASE WHEN n.prod IS NULL OR n.total_quantity_kg IS NULL OR n.prod + n.total_quantity_kg - n.exp <= 0 THEN NULL
            ELSE LEAST(1.0, GREATEST(0.0, (n.total_quantity_kg - n.exp) / (n.prod + n.total_quantity_kg - n.exp)))
       END,
       n.nir_published, COALESCE(n.bound, '')
FROM nir_inputs n
ON CONFLICT (mineral_id, destination_id, year) DO UPDATE SET {_UPDATE}
WHERE dashboards_importmetric.data_version <= EXCLUDED.data_version
"""  # noqa: S608 (only the constant column names are interpolated)

# Rows of keys the run no longer produced (a dataset or destination went away). Runs under the
# mineral's gate, after the upsert: every row this run wrote carries exactly `now`.
OBSOLETE_SQL = """
DELETE FROM dashboards_importmetric
WHERE mineral_id = %(mineral)s AND computed_at <> %(now)s AND data_version <= %(version)s
"""


def import_metrics_upsert(
    *,
    mineral_id: int,
    version: int,
    now: datetime,
    inputs: ImportInputs,
    china_group: frozenset[str],
    feoc: frozenset[str],
) -> int:
    """Compute and write every import row of the mineral; returns the rows written.

    Two statements (the upsert, the obsolete-row delete). Call inside the transaction that
    claimed the mineral's version (services.mineral_metrics_write): the gate serializes runs,
    and the upsert never replaces a row by an older version.
    """
    feoc_keys = sorted({"CHN" if c in china_group else c for c in feoc})
    params = {
        "mineral": mineral_id,
        "version": version,
        "now": now,
        "codes": list(inputs.codes),
        "ds_year": [d[0] for d in inputs.datasets],
        "ds_source": [d[1] for d in inputs.datasets],
        "ds_basis": [d[2] for d in inputs.datasets],
        "china_group": sorted(china_group),
        "feoc": feoc_keys,
        "all_destinations": inputs.destinations is None,
        "destinations": list(inputs.destinations or []),
        "pr_country": [p[0] for p in inputs.production],
        "pr_year": [p[1] for p in inputs.production],
        "pr_kg": [p[2] for p in inputs.production],
        "pr_years": list(inputs.production_years),
        "pu_dest": [p[0] for p in inputs.published],
        "pu_year": [p[1] for p in inputs.published],
        "pu_value": [p[2] for p in inputs.published],
        "pu_bound": [p[3] for p in inputs.published],
        "pu_source": [p[4] for p in inputs.published],
        "src_id": list(inputs.sources),
        "src_label": [json.dumps(label) for label in inputs.sources.values()],
    }
    with connection.cursor() as cursor:
        # Per-partner sorts of ~10^5 rows fit in memory; JIT compilation would cost more than it saves.
        cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
        cursor.execute(IMPORT_SQL, params)
        written = cursor.rowcount
        cursor.execute(OBSOLETE_SQL, {"mineral": mineral_id, "now": now, "version": version})
    return written
