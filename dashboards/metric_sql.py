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
from collections import Counter
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


def _vector(share: str) -> str:
    """`[[iso3, share], ...]` largest first, ties by code (`risk._ranked`), as one jsonb.

    Built as JSON text by an ordered `string_agg` and parsed once: `jsonb_agg(jsonb_build_array())`
    builds a jsonb value per partner and costs about 2x more. Same value: `to_jsonb(float8)` also
    goes through the float's text form (shortest exact) to a numeric.
    """
    return (
        f"('[' || COALESCE(string_agg('[' || to_json(partner)::text || ',' || {share}::text || ']', ','"
        f" ORDER BY {share} DESC, partner COLLATE \"C\") FILTER (WHERE {share} IS NOT NULL), '') || ']')::jsonb"
    )


IMPORT_SQL = f"""
WITH minerals AS (
    SELECT * FROM unnest(%(m_id)s::int[], %(m_version)s::bigint[]) AS m(mineral_id, version)
), codes AS (
    SELECT * FROM unnest(%(cd_mineral)s::int[], %(cd_code)s::text[]) AS c(mineral_id, code)
), chosen AS (
    SELECT * FROM unnest(%(ds_mineral)s::int[], %(ds_year)s::int[], %(ds_source)s::int[], %(ds_basis)s::text[])
        AS c(mineral_id, year, source_id, basis)
), datasets AS MATERIALIZED (
    -- (code, dataset) pairs to read: one hash join of the flows instead of two
    SELECT cd.mineral_id, cd.code, c.year, c.source_id, c.basis FROM codes cd JOIN chosen c USING (mineral_id)
), flows AS MATERIALIZED (
    SELECT d.mineral_id, tf.year, tf.importer_id, tf.exporter_id, tf.commodity_code_id AS code,
           tf.value_usd, tf.quantity_kg
    FROM minerals_tradeflow tf
    JOIN datasets d ON d.code = tf.commodity_code_id AND d.year = tf.year AND d.source_id = tf.source_id
                   AND d.basis = tf.basis
    WHERE tf.commodity_code_id = ANY(%(codes)s::text[])
), partners AS (
    -- Named partners (the China group merged into CHN) summed over the mineral's codes ...
    SELECT mineral_id, importer_id AS destination, year,
           CASE WHEN exporter_id = ANY(%(china_group)s::text[]) THEN 'CHN' ELSE exporter_id END AS partner,
           SUM(value_usd) AS value,
           SUM(quantity_kg) AS quantity,
           SUM(value_usd) FILTER (WHERE quantity_kg IS NOT NULL) AS value_with_quantity
    FROM flows
    WHERE importer_id IS NOT NULL AND exporter_id IS NOT NULL
      AND (%(all_destinations)s OR importer_id = ANY(%(destinations)s::text[]))
    GROUP BY 1, 2, 3, 4
    UNION ALL
    -- ... and partner NULL: what the "World" total row of a code (exporter NULL, a total, never a
    -- partner) holds beyond that code's named partners comes from unknown partners
    -- (services.attributed_flows does the same on the pure path), summed over the codes.
    SELECT mineral_id, destination, year, NULL, SUM(value), SUM(quantity), SUM(value_with_quantity)
    FROM (
        SELECT mineral_id, importer_id AS destination, year,
               GREATEST(SUM(value_usd) FILTER (WHERE exporter_id IS NULL)
                        - COALESCE(SUM(value_usd) FILTER (WHERE exporter_id IS NOT NULL), 0), 0) AS value,
               CASE WHEN SUM(quantity_kg) FILTER (WHERE exporter_id IS NULL) IS NOT NULL
                    THEN GREATEST(SUM(quantity_kg) FILTER (WHERE exporter_id IS NULL)
                                  - COALESCE(SUM(quantity_kg) FILTER (WHERE exporter_id IS NOT NULL), 0), 0)
               END AS quantity,
               CASE WHEN SUM(quantity_kg) FILTER (WHERE exporter_id IS NULL) IS NOT NULL
                    THEN GREATEST(SUM(value_usd) FILTER (WHERE exporter_id IS NULL)
                                  - COALESCE(SUM(value_usd) FILTER (WHERE exporter_id IS NOT NULL), 0), 0)
               END AS value_with_quantity
        FROM flows
        WHERE importer_id IS NOT NULL AND (%(all_destinations)s OR importer_id = ANY(%(destinations)s::text[]))
          -- only the codes that have a World row (usually few): the others have no residual
          AND (mineral_id, importer_id, year, code) IN (
              SELECT mineral_id, importer_id, year, code FROM flows
              WHERE exporter_id IS NULL AND importer_id IS NOT NULL
          )
        GROUP BY mineral_id, importer_id, year, code
        HAVING bool_or(exporter_id IS NULL)
    ) AS residual
    GROUP BY 1, 2, 3
), totals AS (
    SELECT mineral_id, destination, year, SUM(value) AS total_value, SUM(quantity) AS total_quantity
    FROM partners
    GROUP BY 1, 2, 3
), shares AS (
    -- destination COLLATE "C": `imports` sorts its groups by it (byte order, not strcoll; the same
    -- equality, so the same groups and joins)
    SELECT p.mineral_id, p.destination COLLATE "C" AS destination, p.year, p.partner,
           p.value, p.quantity, p.value_with_quantity,
           t.total_value, t.total_quantity,
           CASE WHEN p.partner IS NOT NULL THEN p.value / NULLIF(t.total_value, 0) END AS share,
           CASE WHEN p.partner IS NOT NULL THEN p.quantity / NULLIF(t.total_quantity, 0) END AS qshare
    FROM partners p
    JOIN totals t ON t.mineral_id = p.mineral_id AND t.destination = p.destination AND t.year = p.year
), imports AS (
    SELECT mineral_id, destination, year,
           MAX(total_value) AS total_value_usd,
           SUM(value) FILTER (WHERE partner IS NOT NULL) / NULLIF(MAX(total_value), 0) AS import_coverage,
           CASE WHEN MAX(total_value) > 0
                THEN COALESCE(SUM(share) FILTER (WHERE partner = 'CHN'), 0) END AS china,
           CASE WHEN MAX(total_value) > 0
                THEN COALESCE(SUM(share) FILTER (WHERE partner = ANY(%(feoc)s::text[])), 0) END AS feoc,
           CASE WHEN MAX(total_value) > 0 THEN 10000 * SUM(share * share) END AS hhi,
           {_vector("share")} AS vector,
           MAX(total_quantity) AS total_quantity_kg,
           COALESCE(SUM(value_with_quantity), 0) / NULLIF(MAX(total_value), 0) AS quantity_coverage,
           CASE WHEN MAX(total_quantity) > 0
                THEN COALESCE(SUM(qshare) FILTER (WHERE partner = 'CHN'), 0) END AS qchina,
           CASE WHEN MAX(total_quantity) > 0
                THEN COALESCE(SUM(qshare) FILTER (WHERE partner = ANY(%(feoc)s::text[])), 0) END AS qfeoc,
           CASE WHEN MAX(total_quantity) > 0 THEN 10000 * SUM(qshare * qshare) END AS qhhi,
           {_vector("qshare")} AS qvector
    FROM shares
    GROUP BY mineral_id, destination, year
), exports_by_code AS (
    -- A World total and the partner rows describe the same exports: take the larger per code.
    SELECT mineral_id, exporter_id AS destination, year, code,
           GREATEST(COALESCE(SUM(quantity_kg) FILTER (WHERE importer_id IS NULL), 0),
                    COALESCE(SUM(quantity_kg) FILTER (WHERE importer_id IS NOT NULL), 0)) AS kg
    FROM flows
    WHERE quantity_kg IS NOT NULL AND exporter_id IS NOT NULL
      AND (%(all_destinations)s OR exporter_id = ANY(%(destinations)s::text[]))
    GROUP BY 1, 2, 3, 4
), exports AS (
    SELECT mineral_id, destination, year, SUM(kg) AS kg FROM exports_by_code GROUP BY 1, 2, 3
), production AS (
    SELECT * FROM unnest(%(pr_mineral)s::int[], %(pr_country)s::text[], %(pr_year)s::int[], %(pr_kg)s::float8[])
        AS p(mineral_id, country, year, kg)
), production_years AS (
    SELECT DISTINCT mineral_id, year FROM unnest(%(py_mineral)s::int[], %(py_year)s::int[]) AS y(mineral_id, year)
), published AS (
    SELECT * FROM unnest(%(pu_mineral)s::int[], %(pu_dest)s::text[], %(pu_year)s::int[], %(pu_value)s::float8[],
                         %(pu_bound)s::text[], %(pu_source)s::int[])
        AS p(mineral_id, destination, year, value, bound, source_id)
), labels AS (
    SELECT * FROM unnest(%(src_id)s::int[], %(src_label)s::text[]) AS s(id, label)
), keyed AS (
    SELECT COALESCE(i.mineral_id, pu.mineral_id) AS mineral_id,
           COALESCE(i.destination, pu.destination) AS destination, COALESCE(i.year, pu.year) AS year,
           i.destination IS NOT NULL AS has_imports, i.total_value_usd, i.import_coverage, i.china, i.feoc,
           i.hhi, i.vector, i.total_quantity_kg, i.quantity_coverage, i.qchina, i.qfeoc, i.qhhi, i.qvector,
           pu.value AS nir_published, pu.bound,
           pu.source_id AS published_source
    FROM imports i FULL OUTER JOIN published pu
      ON pu.mineral_id = i.mineral_id AND pu.destination = i.destination AND pu.year = i.year
), nir_inputs AS (
    SELECT k.*,
           CASE WHEN pr.country IS NOT NULL THEN pr.kg WHEN py.year IS NOT NULL THEN 0.0 END AS prod,
           CASE WHEN k.total_quantity_kg IS NOT NULL THEN COALESCE(ex.kg, 0.0) END AS exp,
           CASE WHEN k.has_imports THEN c.source_id END AS trade_source
    FROM keyed k
    LEFT JOIN production pr ON pr.mineral_id = k.mineral_id AND pr.country = k.destination AND pr.year = k.year
    LEFT JOIN production_years py ON py.mineral_id = k.mineral_id AND py.year = k.year
    LEFT JOIN exports ex ON ex.mineral_id = k.mineral_id AND ex.destination = k.destination AND ex.year = k.year
    LEFT JOIN chosen c ON c.mineral_id = k.mineral_id AND c.year = k.year
)
INSERT INTO dashboards_importmetric ({", ".join(IMPORT_COLUMNS)})
SELECT n.mineral_id, n.destination, n.year, m.version, %(now)s,
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
JOIN minerals m ON m.mineral_id = n.mineral_id
ON CONFLICT (mineral_id, destination_id, year) DO UPDATE SET {_UPDATE}
WHERE dashboards_importmetric.data_version <= EXCLUDED.data_version
RETURNING mineral_id
"""  # noqa: S608 (only constant column names and expressions are interpolated)

# Rows of keys the run no longer produced (a dataset or destination went away). Runs under the
# minerals' gates, after the upsert: every row this run wrote carries exactly `now`.
OBSOLETE_SQL = """
DELETE FROM dashboards_importmetric im
USING unnest(%(m_id)s::int[], %(m_version)s::bigint[]) AS m(mineral_id, version)
WHERE im.mineral_id = m.mineral_id AND im.computed_at <> %(now)s AND im.data_version <= m.version
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

    Call inside the transaction that claimed the mineral's version
    (services.mineral_metrics_write): the gate serializes runs, and the upsert never replaces
    a row by an older version. `import_metrics_upsert_many` with one mineral.
    """
    written = import_metrics_upsert_many([(mineral_id, version, inputs)], now=now, china_group=china_group, feoc=feoc)
    return written.get(mineral_id, 0)


def import_metrics_upsert_many(
    batch: Sequence[tuple[int, int, ImportInputs]],
    *,
    now: datetime,
    china_group: frozenset[str],
    feoc: frozenset[str],
) -> dict[int, int]:
    """Compute and write every import row of several minerals, (mineral_id, version, inputs)
    each; returns the rows written per mineral.

    Statements: the settings (transaction-local: memory, no JIT, no nested loops, lz4 TOAST
    compression), one upsert per mineral, one obsolete-row delete for all. The
    statement takes any number of minerals, but with all of them in one the planner misjudges
    the unnest-ed inputs (estimates of a few rows for 2 M flows: merge or nested-loop joins,
    sorts spilled to disk; 15-90 s instead of ~7 s at benchmark scale): one mineral per
    statement keeps the index scan on the mapped codes and in-memory sorts. Every mineral's
    version must have been claimed in the caller's transaction; the destinations are those of
    the first inputs (`import_destinations()`, the same for all).
    """
    if not batch:
        return {}
    feoc_keys = sorted({"CHN" if c in china_group else c for c in feoc})
    destinations = batch[0][2].destinations
    sources: dict[int, Mapping[str, object]] = {}
    for _, _, inputs in batch:
        sources.update(inputs.sources)
    minerals = {"m_id": [b[0] for b in batch], "m_version": [b[1] for b in batch], "now": now}
    shared = {
        "now": now,
        "china_group": sorted(china_group),
        "feoc": feoc_keys,
        "all_destinations": destinations is None,
        "destinations": list(destinations or []),
        "src_id": sorted(sources),
        "src_label": [json.dumps(sources[sid]) for sid in sorted(sources)],
    }
    written: Counter[int] = Counter()
    with connection.cursor() as cursor:
        # Per-partner sorts fit in memory; JIT compilation would cost more than it saves; the
        # vectors' text form of a float is its shortest exact one (the default, pinned here).
        # No nested loops: the unnest-ed inputs and the flows CTE are estimated at a few rows,
        # and a nested loop over them (the exports join: 1,000 x 1,000 rows) costs more than
        # the hash joins, which are never worse here. The partner vectors (TOASTed) compressed
        # with lz4 rather than pglz when the server has it (same values, cheaper to write).
        # All transaction-local, like before; one round trip.
        cursor.execute(
            "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; SET LOCAL extra_float_digits = 1;"
            " SET LOCAL enable_nestloop = off;"
            " SELECT set_config(name, 'lz4', true) FROM pg_settings"
            " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        )
        for mineral_id, version, inputs in batch:
            cursor.execute(IMPORT_SQL, {**shared, **_mineral_params(mineral_id, version, inputs)})
            written.update(row[0] for row in cursor.fetchall())
        cursor.execute(OBSOLETE_SQL, minerals)
    return dict(written)


def _mineral_params(mineral_id: int, version: int, inputs: ImportInputs) -> dict[str, object]:
    """One mineral's inputs as the statement's arrays (the mineral column repeated)."""

    def column(rows: Sequence[Sequence[object]], i: int) -> list[object]:
        return [r[i] for r in rows]

    return {
        "m_id": [mineral_id],
        "m_version": [version],
        "cd_mineral": [mineral_id] * len(inputs.codes),
        "cd_code": list(inputs.codes),
        "codes": list(inputs.codes),
        "ds_mineral": [mineral_id] * len(inputs.datasets),
        "ds_year": column(inputs.datasets, 0),
        "ds_source": column(inputs.datasets, 1),
        "ds_basis": column(inputs.datasets, 2),
        "pr_mineral": [mineral_id] * len(inputs.production),
        "pr_country": column(inputs.production, 0),
        "pr_year": column(inputs.production, 1),
        "pr_kg": column(inputs.production, 2),
        "py_mineral": [mineral_id] * len(inputs.production_years),
        "py_year": list(inputs.production_years),
        "pu_mineral": [mineral_id] * len(inputs.published),
        "pu_dest": column(inputs.published, 0),
        "pu_year": column(inputs.published, 1),
        "pu_value": column(inputs.published, 2),
        "pu_bound": column(inputs.published, 3),
        "pu_source": column(inputs.published, 4),
    }
