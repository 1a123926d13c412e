"""Set-based import metrics on PostgreSQL: shares, HHI, partner amounts and NIR, all minerals at once.

`import_metrics_upsert_many` computes every `ImportMetric` row of a batch of minerals inside
the database and writes them; the trade flows and the per-partner sums never leave the server.
Two statements:

1. `CREATE TEMP TABLE ... AS SELECT`, one `UNION ALL` branch per mineral, each a whole
   pipeline over that mineral's flows (its codes and chosen datasets, an index scan). A
   `CREATE TABLE AS` may run in parallel (an `INSERT ... SELECT` may not): the branches are
   spread over the parallel workers by a Parallel Append, so a batch uses every core the
   server allows. The amounts are summed per partner once and every figure of a
   (destination, year) follows in one more pass: a share needs the total, so the row keeps
   the partners' amounts (`partners_json`, the shares are derived on read), the HHI is
   `10,000 * sum V_c^2 / V^2`, and the China and FEOC shares are sums over the total.
2. `INSERT ... SELECT ... ON CONFLICT DO UPDATE WHERE not older` from that table, with the
   small inputs decided in Python (chosen dataset per year, production per country,
   published NIR, source labels; a few hundred values, as arrays) joined for the NIR and the
   sources. Then the obsolete rows are deleted.

The SQL is the same maths as dashboards.risk, term by term (docs/metrics.md, "Import dependence: how it is computed"):

* partners: exporters of the China group merged into CHN; flows summed per (destination, year,
  partner), values and quantities, plus the value of flows that report a quantity;
* `i_c = V_c / V`; `import_china_share = i_CHN` (0 when absent), `import_feoc_share = sum i_c`
  over FEOC keys, `import_hhi = 10,000 sum i_c^2`, DOJ band; the same by quantity over flows
  that report one; no value (V = 0) gives NULLs;
* `partners_json` `[[iso3, value_usd, quantity_kg or null], ...]` largest value first, ties by
  code (`risk.ranked_partner_amounts`), JSON text;
* `nir = (imports - exports) / (production + imports - exports)` clamped to [0, 1], NULL when
  an input is unknown, consumption <= 0 (`risk.net_import_reliance`) or the mineral's trade
  quantities are not comparable with production (`risk.nir_comparability`); exports are the
  destination's own export records (`inputs.export_datasets`).

Results equal the pure functions up to floating-point summation order (a few ulps; tested in
tests/dashboards/test_metric_sql.py against `risk.import_dependence` on generated data). A DOJ
band could only differ for an HHI within ~1e-12 of 1,500 or 2,500.

SQLite (development, the fast test suite) has no ordered JSON aggregate before 3.44: there
the recompute uses the pure Python path (`inputs.import_tables`), same results.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from django.db import connection

from dashboards.risk import IMPORT_HHI_MIN_COVERAGE, QUANTITY_COMPLETE_TOLERANCE

IMPORT_COLUMNS = (
    "mineral_id", "destination_id", "year", "data_version", "computed_at", "sources", "total_value_usd",
    "import_coverage", "import_china_share", "import_feoc_share", "import_hhi", "import_hhi_band", "partners_json",
    "total_quantity_kg", "quantity_coverage", "import_china_share_by_quantity", "import_feoc_share_by_quantity",
    "import_hhi_by_quantity", "nir", "nir_note", "nir_published", "nir_published_bound", "nir_published_estimate",
)  # fmt: skip
# What a branch computes per (mineral, destination, year), in the temporary table.
COMPUTED_COLUMNS = (
    "total_value_usd", "import_coverage", "import_china_share", "import_feoc_share", "import_hhi", "partners_json",
    "total_quantity_kg", "quantity_coverage", "import_china_share_by_quantity", "import_feoc_share_by_quantity",
    "import_hhi_by_quantity", "exports_kg",
)  # fmt: skip
TEMP_TABLE = "lodestone_import_rows"
# A statement parameter, as the driver adapts it (a list becomes an array).
SQLParam: TypeAlias = bool | int | float | str | datetime | list[Any] | None


@dataclass(frozen=True, slots=True)
class ImportInputs:
    """What Python decides before the statement runs (all small; read after the target version).

    * `codes`: the HS6 codes mapped to the mineral (any stage, each once).
    * `datasets`: (year, source_id, basis) used per year (newest edition, preferred basis).
    * `export_datasets`: where the destinations' exports are read per year (their own export
      records in the same source, `inputs.export_datasets`).
    * `not_comparable`: why trade quantities cannot be set against production ("" when they
      can, `risk.nir_comparability`): the computed NIR is then NULL with this note.
    * `destinations`: importers materialized, None = every importer.
    * `production`: (country, year, kg or None when withheld) of the most upstream table;
      `production_years`: years that have such a table (an unlisted country produces 0 there).
    * `published`: (destination, year, nir fraction or None, bound, source_id, estimate), newest edition.
    * `sources`: source id -> its {"id", "key", "edition"} label.
    """

    codes: Sequence[str]
    datasets: Sequence[tuple[int, int, str]]
    export_datasets: Sequence[tuple[int, int, str]]
    not_comparable: str
    destinations: Sequence[str] | None
    production: Sequence[tuple[str, int, float | None]]
    production_years: Sequence[int]
    published: Sequence[tuple[str, int, float | None, str, int, bool]]
    sources: Mapping[int, Mapping[str, object]]


def supported() -> bool:
    """True when the set-based statement can run (PostgreSQL)."""
    return connection.vendor == "postgresql"


# An unchanged partner list keeps the stored value: the row's new version then points to the
# same TOASTed bytes instead of compressing and writing ~5 kB again (a full recompute on
# unchanged data wrote ~55 MB of TOAST at 12,000 rows; comparing costs a decompression).
_KEEP_IF_EQUAL = ("partners_json",)
_UPDATE = ", ".join(
    f"{c} = CASE WHEN dashboards_importmetric.{c} = EXCLUDED.{c} THEN dashboards_importmetric.{c} ELSE EXCLUDED.{c} END"
    if c in _KEEP_IF_EQUAL
    else f"{c} = EXCLUDED.{c}"
    for c in IMPORT_COLUMNS[3:]
)

# One mineral's flows: its mapped codes in the dataset chosen for each year. The `= ANY` on
# year, source and basis repeat what the (year, source, basis) semi-join decides, as conditions
# of the trade_code_dataset index: a scan then reads only the index entries of those datasets,
# never the heap rows of another basis (the exports of a year whose chosen basis is the
# importer's report: 166 k rows read for none kept, ~140 ms a mineral at 2 M flows).
_FLOWS = """minerals_tradeflow tf
    WHERE tf.commodity_code_id = ANY(%(codes_{i})s::text[])
      AND tf.year = ANY(%(ds_year_{i})s::int[]) AND tf.source_id = ANY(%(ds_source_{i})s::int[])
      AND tf.basis = ANY(%(ds_basis_{i})s::text[])
      AND (tf.year, tf.source_id, tf.basis) IN (
          SELECT * FROM unnest(%(ds_year_{i})s::int[], %(ds_source_{i})s::int[], %(ds_basis_{i})s::text[]))"""
# Its exports: the destinations' own export records in the same source (inputs.export_datasets).
_EXPORT_FLOWS = """minerals_tradeflow tf
    WHERE tf.commodity_code_id = ANY(%(codes_{i})s::text[])
      AND tf.year = ANY(%(ds_year_{i})s::int[]) AND tf.source_id = ANY(%(ds_source_{i})s::int[])
      AND tf.basis = ANY(%(ex_basis_{i})s::text[])
      AND (tf.year, tf.source_id, tf.basis) IN (
          SELECT * FROM unnest(%(ds_year_{i})s::int[], %(ds_source_{i})s::int[], %(ex_basis_{i})s::text[]))"""

# One mineral's rows: a branch of the UNION ALL. Keys are COLLATE "C" (byte order): the sorts
# and the ties of the partner ranking then compare bytes, not locale rules (several times
# faster, same groups; ISO3 codes sort the same either way); the output is back in the default
# collation, which the write's joins with the array inputs use. No UNION inside a branch: it
# would take the parallel workers for itself instead of leaving them the branches.
BRANCH_SQL = f"""
SELECT %(mineral_{{i}})s::int AS mineral_id, i.destination COLLATE "default" AS destination, i.year,
       i.total_value_usd,
       i.known_value / NULLIF(i.total_value_usd, 0) AS import_coverage,
       CASE WHEN i.total_value_usd > 0 THEN i.china_value / i.total_value_usd END AS import_china_share,
       CASE WHEN i.total_value_usd > 0 THEN i.feoc_value / i.total_value_usd END AS import_feoc_share,
       CASE WHEN i.total_value_usd > 0 AND i.known_value >= {IMPORT_HHI_MIN_COVERAGE} * i.total_value_usd
            THEN 10000 * i.value_squares / (i.total_value_usd * i.total_value_usd) END AS import_hhi,
       i.partners_json, i.total_quantity_kg,
       i.value_with_quantity / NULLIF(i.total_value_usd, 0) AS quantity_coverage,
       CASE WHEN i.total_quantity_kg > 0 THEN i.china_quantity / i.total_quantity_kg END
           AS import_china_share_by_quantity,
       CASE WHEN i.total_quantity_kg > 0 THEN i.feoc_quantity / i.total_quantity_kg END
           AS import_feoc_share_by_quantity,
       CASE WHEN i.total_quantity_kg > 0 AND i.known_quantity >= {IMPORT_HHI_MIN_COVERAGE} * i.total_quantity_kg
            THEN 10000 * i.quantity_squares / (i.total_quantity_kg * i.total_quantity_kg)
       END AS import_hhi_by_quantity,
       e.kg AS exports_kg
FROM (
    -- Totals: the named partners plus the unknown ones (the World rows' residual).
    SELECT COALESCE(n.destination, r.destination) AS destination, COALESCE(n.year, r.year) AS year,
           COALESCE(n.value, 0) + COALESCE(r.value, 0) AS total_value_usd,
           COALESCE(n.value, 0) AS known_value,
           COALESCE(n.china_value, 0) AS china_value, COALESCE(n.feoc_value, 0) AS feoc_value,
           COALESCE(n.value_squares, 0) AS value_squares,
           -- One flow without quantity leaves the total unknown (risk.import_dependence).
           CASE WHEN (n.quantity IS NOT NULL OR r.quantity IS NOT NULL)
                 AND COALESCE(n.value_with_quantity, 0) + COALESCE(r.value_with_quantity, 0)
                     >= (COALESCE(n.value, 0) + COALESCE(r.value, 0)) * (1 - {QUANTITY_COMPLETE_TOLERANCE})
                THEN COALESCE(n.quantity, 0) + COALESCE(r.quantity, 0) END AS total_quantity_kg,
           COALESCE(n.quantity, 0) AS known_quantity,
           COALESCE(n.china_quantity, 0) AS china_quantity, COALESCE(n.feoc_quantity, 0) AS feoc_quantity,
           COALESCE(n.quantity_squares, 0) AS quantity_squares,
           COALESCE(n.value_with_quantity, 0) + COALESCE(r.value_with_quantity, 0) AS value_with_quantity,
           COALESCE(n.partners_json, '[]') AS partners_json
    FROM (
        SELECT destination, year,
               SUM(value) AS value,
               SUM(value) FILTER (WHERE partner = 'CHN') AS china_value,
               SUM(value) FILTER (WHERE partner = ANY(%(feoc)s::text[])) AS feoc_value,
               SUM(value * value) AS value_squares,
               SUM(quantity) AS quantity,
               SUM(quantity) FILTER (WHERE partner = 'CHN') AS china_quantity,
               SUM(quantity) FILTER (WHERE partner = ANY(%(feoc)s::text[])) AS feoc_quantity,
               SUM(quantity * quantity) AS quantity_squares,
               SUM(value_with_quantity) AS value_with_quantity,
               -- JSON text built in one ordered pass and stored as text (ImportMetric.partners_json);
               -- a float's text is its shortest exact form (extra_float_digits).
               ('[' || string_agg(
                   '[' || to_json(partner)::text || ',' || value::text || ','
                       || COALESCE(quantity::text, 'null') || ']',
                   ',' ORDER BY value DESC, partner) || ']') AS partners_json
        FROM (
            -- Named partners (the China group merged into CHN), summed over the mineral's codes.
            SELECT tf.importer_id COLLATE "C" AS destination, tf.year,
                   (CASE WHEN tf.exporter_id = ANY(%(china_group)s::text[]) THEN 'CHN' ELSE tf.exporter_id END)
                       COLLATE "C" AS partner,
                   SUM(tf.value_usd) AS value,
                   SUM(tf.quantity_kg) AS quantity,
                   SUM(tf.value_usd) FILTER (WHERE tf.quantity_kg IS NOT NULL) AS value_with_quantity
            FROM {_FLOWS}
              AND tf.importer_id IS NOT NULL AND tf.exporter_id IS NOT NULL
              AND (%(all_destinations)s OR tf.importer_id = ANY(%(destinations)s::text[]))
            GROUP BY 1, 2, 3
        ) AS by_partner
        GROUP BY destination, year
    ) AS n
    FULL JOIN (
        SELECT destination, year, SUM(value) AS value, SUM(quantity) AS quantity,
               SUM(value_with_quantity) AS value_with_quantity
        FROM (
            -- What the "World" total row of a code (exporter NULL, a total, never a partner)
            -- holds beyond that code's named partners comes from unknown partners
            -- (inputs.attributed_flows does the same on the pure path).
            SELECT tf.importer_id COLLATE "C" AS destination, tf.year,
                   GREATEST(SUM(tf.value_usd) FILTER (WHERE tf.exporter_id IS NULL)
                            - COALESCE(SUM(tf.value_usd) FILTER (WHERE tf.exporter_id IS NOT NULL), 0), 0) AS value,
                   CASE WHEN SUM(tf.quantity_kg) FILTER (WHERE tf.exporter_id IS NULL) IS NOT NULL
                        THEN GREATEST(SUM(tf.quantity_kg) FILTER (WHERE tf.exporter_id IS NULL)
                                      - COALESCE(SUM(tf.quantity_kg) FILTER (WHERE tf.exporter_id IS NOT NULL), 0), 0)
                   END AS quantity,
                   CASE WHEN SUM(tf.quantity_kg) FILTER (WHERE tf.exporter_id IS NULL) IS NOT NULL
                        THEN GREATEST(SUM(tf.value_usd) FILTER (WHERE tf.exporter_id IS NULL)
                                      - COALESCE(SUM(tf.value_usd) FILTER (WHERE tf.exporter_id IS NOT NULL), 0), 0)
                   END AS value_with_quantity
            FROM {_FLOWS}
              AND tf.importer_id IS NOT NULL
              AND (%(all_destinations)s OR tf.importer_id = ANY(%(destinations)s::text[]))
              -- only the codes that have a World row (usually few): the others have no residual
              AND (tf.importer_id, tf.year, tf.commodity_code_id) IN (
                  SELECT tf.importer_id, tf.year, tf.commodity_code_id FROM {_FLOWS}
                    AND tf.exporter_id IS NULL AND tf.importer_id IS NOT NULL)
            GROUP BY tf.importer_id, tf.year, tf.commodity_code_id
        ) AS by_code
        GROUP BY destination, year
    ) AS r ON r.destination = n.destination AND r.year = n.year
) AS i
LEFT JOIN (
    SELECT destination, year, SUM(kg) AS kg
    FROM (
        -- A World total and the partner rows describe the same exports: take the larger per code.
        SELECT tf.exporter_id COLLATE "C" AS destination, tf.year,
               GREATEST(COALESCE(SUM(tf.quantity_kg) FILTER (WHERE tf.importer_id IS NULL), 0),
                        COALESCE(SUM(tf.quantity_kg) FILTER (WHERE tf.importer_id IS NOT NULL), 0)) AS kg
        FROM {_EXPORT_FLOWS}
          AND tf.quantity_kg IS NOT NULL AND tf.exporter_id IS NOT NULL
          AND (%(all_destinations)s OR tf.exporter_id = ANY(%(destinations)s::text[]))
        GROUP BY tf.exporter_id, tf.year, tf.commodity_code_id
    ) AS by_code
    GROUP BY 1, 2
) AS e ON e.destination = i.destination AND e.year = i.year
"""  # noqa: S608 (only constant SQL fragments are interpolated; values are parameters)

WRITE_SQL = f"""
WITH minerals AS (
    SELECT * FROM unnest(%(m_id)s::int[], %(m_version)s::bigint[], %(m_not_comparable)s::text[])
        AS m(mineral_id, version, not_comparable)
), chosen AS (
    SELECT * FROM unnest(%(ds_mineral)s::int[], %(ds_year)s::int[], %(ds_source)s::int[])
        AS c(mineral_id, year, source_id)
), production AS (
    SELECT * FROM unnest(%(pr_mineral)s::int[], %(pr_country)s::text[], %(pr_year)s::int[], %(pr_kg)s::float8[])
        AS p(mineral_id, country, year, kg)
), production_years AS (
    SELECT DISTINCT mineral_id, year FROM unnest(%(py_mineral)s::int[], %(py_year)s::int[]) AS y(mineral_id, year)
), published AS (
    SELECT * FROM unnest(%(pu_mineral)s::int[], %(pu_dest)s::text[], %(pu_year)s::int[], %(pu_value)s::float8[],
                         %(pu_bound)s::text[], %(pu_source)s::int[], %(pu_estimate)s::bool[])
        AS p(mineral_id, destination, year, value, bound, source_id, estimate)
), labels AS (
    SELECT * FROM unnest(%(src_id)s::int[], %(src_label)s::text[]) AS s(id, label)
), keyed AS (
    SELECT COALESCE(r.mineral_id, pu.mineral_id) AS mineral_id,
           COALESCE(r.destination::text, pu.destination) AS destination, COALESCE(r.year::int, pu.year) AS year,
           r.destination IS NOT NULL AS has_imports, {", ".join(f"r.{c}" for c in COMPUTED_COLUMNS)},
           pu.value AS nir_published, pu.bound, pu.source_id AS published_source, pu.estimate
    FROM {TEMP_TABLE} r FULL OUTER JOIN published pu
      ON pu.mineral_id = r.mineral_id AND pu.destination = r.destination AND pu.year = r.year
), nir_inputs AS (
    SELECT k.*,
           CASE WHEN pr.country IS NOT NULL THEN pr.kg WHEN py.year IS NOT NULL THEN 0.0 END AS prod,
           -- No export record: exports unknown, not zero.
           CASE WHEN k.total_quantity_kg IS NOT NULL THEN k.exports_kg END AS exp,
           CASE WHEN k.has_imports THEN c.source_id END AS trade_source
    FROM keyed k
    LEFT JOIN production pr ON pr.mineral_id = k.mineral_id AND pr.year = k.year AND pr.country = k.destination
    LEFT JOIN production_years py ON py.mineral_id = k.mineral_id AND py.year = k.year
    LEFT JOIN chosen c ON c.mineral_id = k.mineral_id AND c.year = k.year
)
INSERT INTO dashboards_importmetric ({", ".join(IMPORT_COLUMNS)})
SELECT n.mineral_id, n.destination, n.year, m.version, %(now)s,
       (SELECT COALESCE(jsonb_agg(l.label::jsonb ORDER BY l.id), '[]'::jsonb)
        FROM labels l WHERE l.id = n.trade_source OR l.id = n.published_source),
       n.total_value_usd, n.import_coverage, n.import_china_share, n.import_feoc_share, n.import_hhi,
       CASE WHEN n.import_hhi IS NULL THEN '' WHEN n.import_hhi < 1500 THEN 'low'
            WHEN n.import_hhi <= 2500 THEN 'moderate' ELSE 'high' END,
       COALESCE(n.partners_json, '[]'),
       n.total_quantity_kg, n.quantity_coverage, n.import_china_share_by_quantity, n.import_feoc_share_by_quantity,
       n.import_hhi_by_quantity,
       CASE WHEN m.not_comparable <> '' OR n.prod IS NULL OR n.total_quantity_kg IS NULL OR n.exp IS NULL
                 OR n.prod + n.total_quantity_kg - n.exp <= 0 THEN NULL
            ELSE LEAST(1.0, GREATEST(0.0, (n.total_quantity_kg - n.exp) / (n.prod + n.total_quantity_kg - n.exp)))
       END,
       -- risk.nir_unknown_reason, the same order.
       CASE WHEN NOT n.has_imports THEN 'no trade figures'
            WHEN m.not_comparable <> '' THEN m.not_comparable
            WHEN n.total_quantity_kg IS NULL THEN 'import quantities unknown (a flow or World total without quantity)'
            WHEN n.exp IS NULL THEN 'no export records: exports unknown'
            WHEN n.prod IS NULL THEN 'production unknown (withheld or no production table)'
            WHEN n.prod + n.total_quantity_kg - n.exp <= 0 THEN 'apparent consumption not positive'
            ELSE '' END,
       n.nir_published, COALESCE(n.bound, ''), COALESCE(n.estimate, false)
FROM nir_inputs n
JOIN minerals m ON m.mineral_id = n.mineral_id
ON CONFLICT (mineral_id, destination_id, year) DO UPDATE SET {_UPDATE}
WHERE dashboards_importmetric.data_version <= EXCLUDED.data_version
RETURNING mineral_id
"""  # noqa: S608 (only constant column names and expressions are interpolated)

# Transaction-local settings. Per-partner sorts fit in memory; JIT compilation would cost more
# than it saves; a float's text is its shortest exact form (the default, pinned). Hash joins
# only: the unnest-ed inputs are estimated at a few rows, and the nested loops or merge joins
# chosen on that estimate (a merge join on (mineral, year) filtering 2.4 M pairs by country for
# the production) cost far more than hash joins, never worse here. lz4 rather than pglz for the
# TOASTed partner lists when the server has it (cheaper to write).
SETTINGS_SQL = (
    "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; SET LOCAL extra_float_digits = 1;"
    " SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off;"
    " SELECT set_config(name, 'lz4', true) FROM pg_settings"
    " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)
# With several minerals, no parallel scan inside a branch: whole branches spread over the
# workers (a Parallel Append) beat splitting each scan, whose sort and ordered aggregate would
# stay in the leader.
WHOLE_BRANCHES_SQL = "SET LOCAL min_parallel_table_scan_size = '1TB'; SET LOCAL min_parallel_index_scan_size = '1TB'"

# Rows of keys the run no longer produced (a dataset or destination went away). Runs under the
# minerals' gates, after the upsert: every row this run wrote carries exactly `now`.
OBSOLETE_SQL = """
DELETE FROM dashboards_importmetric im
USING unnest(%(m_id)s::int[], %(m_version)s::bigint[]) AS m(mineral_id, version)
WHERE im.mineral_id = m.mineral_id AND im.computed_at <> %(now)s AND im.data_version <= m.version
"""


# The distinct (code, year, source, basis) of the given codes, as a skip scan of the
# trade_code_dataset index: one index descent per dataset found (a few hundred), instead of
# reading every flow of the codes for a DISTINCT (0.2 s at 2 M flows, linear in the flows).
DATASETS_SQL = """
WITH RECURSIVE found AS (
    SELECT f.* FROM {codes} CROSS JOIN LATERAL (
        SELECT tf.commodity_code_id, tf.year, tf.source_id, tf.basis FROM minerals_tradeflow tf
        WHERE tf.commodity_code_id = c.code
        ORDER BY tf.year, tf.source_id, tf.basis LIMIT 1) AS f
    UNION ALL
    SELECT f.* FROM found d CROSS JOIN LATERAL (
        SELECT tf.commodity_code_id, tf.year, tf.source_id, tf.basis FROM minerals_tradeflow tf
        WHERE tf.commodity_code_id = d.commodity_code_id
          AND (tf.year, tf.source_id, tf.basis) > (d.year, d.source_id, d.basis)
        ORDER BY tf.year, tf.source_id, tf.basis LIMIT 1) AS f
)
SELECT commodity_code_id, year, source_id, basis FROM found
"""


def datasets_by_code(
    codes: Sequence[str] | None = None, *, mineral_id: int | None = None
) -> list[tuple[str, int, int, str]]:
    """(code, year, source_id, basis) present in the trade flows of the codes, or of the codes
    mapped to the mineral. One query."""
    if mineral_id is not None:
        sql = DATASETS_SQL.replace(
            "{codes}",
            "(SELECT DISTINCT commodity_code_id AS code FROM minerals_commoditymineral"
            " WHERE mineral_id = %(mineral)s) AS c",
        )
    else:
        sql = DATASETS_SQL.replace("{codes}", "unnest(%(codes)s::text[]) AS c(code)")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"codes": sorted(set(codes or ())), "mineral": mineral_id})
        return [(code, int(year), int(source_id), basis) for code, year, source_id, basis in cursor.fetchall()]


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

    Statements: the settings (transaction-local; one more with several minerals), the
    computation into a temporary table (one branch per mineral, in parallel), the upsert from
    it, the obsolete-row delete with the drop of that table.
    Every mineral's version must have been claimed in the caller's transaction; the
    destinations are those of the first inputs (`import_destinations()`, the same for all).
    """
    if not batch:
        return {}
    feoc_keys = sorted({"CHN" if c in china_group else c for c in feoc})
    destinations = batch[0][2].destinations
    sources: dict[int, Mapping[str, object]] = {}
    for _, _, inputs in batch:
        sources.update(inputs.sources)
    params: dict[str, SQLParam] = {
        "now": now,
        "china_group": sorted(china_group),
        "feoc": feoc_keys,
        "all_destinations": destinations is None,
        "destinations": list(destinations or []),
        "src_id": sorted(sources),
        "src_label": [json.dumps(sources[sid]) for sid in sorted(sources)],
        **_batch_params(batch),
    }
    for i, (mineral_id, _, inputs) in enumerate(batch):
        params.update(_branch_params(i, mineral_id, inputs))
    branches = " UNION ALL ".join(f"({BRANCH_SQL.replace('{i}', str(i))})" for i in range(len(batch)))
    with connection.cursor() as cursor:
        cursor.execute(SETTINGS_SQL)
        if len(batch) > 1:
            cursor.execute(WHOLE_BRANCHES_SQL)
        cursor.execute(f"CREATE TEMP TABLE {TEMP_TABLE} ON COMMIT DROP AS {branches}", params)
        cursor.execute(WRITE_SQL, params)
        written = Counter(row[0] for row in cursor.fetchall())
        # Dropped now, not only at commit: the caller may run another batch in this transaction.
        cursor.execute(f"{OBSOLETE_SQL}; DROP TABLE {TEMP_TABLE}", params)
    return dict(written)


def _column(rows: Sequence[Sequence[object]], i: int) -> list[object]:
    return [r[i] for r in rows]


def _branch_params(i: int, mineral_id: int, inputs: ImportInputs) -> dict[str, SQLParam]:
    """One mineral's branch: its codes and chosen datasets."""
    return {
        f"mineral_{i}": mineral_id,
        f"codes_{i}": list(inputs.codes),
        f"ds_year_{i}": _column(inputs.datasets, 0),
        f"ds_source_{i}": _column(inputs.datasets, 1),
        f"ds_basis_{i}": _column(inputs.datasets, 2),
        # The same (year, source) pairs as the datasets, in the same order: only the basis differs.
        f"ex_basis_{i}": _column(inputs.export_datasets, 2),
    }


def _batch_params(batch: Sequence[tuple[int, int, ImportInputs]]) -> dict[str, list[object]]:
    """The write's inputs of every mineral as arrays, the mineral column repeated."""
    out: dict[str, list[object]] = defaultdict(list)
    for mineral_id, version, inputs in batch:
        out["m_id"].append(mineral_id)
        out["m_version"].append(version)
        out["m_not_comparable"].append(inputs.not_comparable)
        out["ds_mineral"] += [mineral_id] * len(inputs.datasets)
        out["ds_year"] += _column(inputs.datasets, 0)
        out["ds_source"] += _column(inputs.datasets, 1)
        out["pr_mineral"] += [mineral_id] * len(inputs.production)
        out["pr_country"] += _column(inputs.production, 0)
        out["pr_year"] += _column(inputs.production, 1)
        out["pr_kg"] += _column(inputs.production, 2)
        out["py_mineral"] += [mineral_id] * len(inputs.production_years)
        out["py_year"] += list(inputs.production_years)
        out["pu_mineral"] += [mineral_id] * len(inputs.published)
        out["pu_dest"] += _column(inputs.published, 0)
        out["pu_year"] += _column(inputs.published, 1)
        out["pu_value"] += _column(inputs.published, 2)
        out["pu_bound"] += _column(inputs.published, 3)
        out["pu_source"] += _column(inputs.published, 4)
        out["pu_estimate"] += _column(inputs.published, 5)
    return out
