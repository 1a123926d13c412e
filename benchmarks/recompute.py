"""Recompute benchmark (not a test): synthetic data at scale, timings and ratios printed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone .venv/bin/python benchmarks/recompute.py \
        [--scale 0.1 | --rows 20000000] [--keep]

Uses its own database (`lodestone_bench_recompute`, or `--database`; dropped and re-created on the
server of DATABASE_URL, dropped again at the end unless `--keep`); never touches the development
database, nor the `lodestone_bench` database the other benchmarks (import_trade, dashboard_load)
drop and re-create.
Scale 1 = 200 countries x 60 HS6 codes x 5 years (about 2 million trade flows), production for
12 minerals, 10,000 facilities with supply links,
1,000 buyer organizations. Loads with COPY (psycopg 3 `cursor.copy`). Prints:
full recompute (every importer, and the product's default destinations), the single-SQL
bound for the same import shares and HHI (each three times, interleaved; the ratio of the
medians), one incremental recompute after an edit, and buyer exposure for 1,000 organizations.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import string
import sys
import time
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit, urlunsplit

BENCH_DB = "lodestone_bench_recompute"
REPO = Path(__file__).resolve().parent.parent


def bench_url(url: str, name: str = BENCH_DB) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("benchmarks/recompute.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    admin = urlunsplit(parts._replace(path="/postgres"))
    return admin, urlunsplit(parts._replace(path=f"/{name}"))


def create_database(admin_url: str, name: str = BENCH_DB) -> None:
    import psycopg

    if not name.replace("_", "").isalnum():
        sys.exit(f"invalid database name {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"{label:<58} {seconds:8.3f} s")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="Fraction of the default trade density, facilities, orgs."
    )
    parser.add_argument(
        "--rows", type=int, default=None, help="About this many trade flows (e.g. 20000000); overrides --scale's."
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards (default: dropped).")
    parser.add_argument("--database", default=BENCH_DB, help="Benchmark database (dropped and re-created).")
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lodestone")
    admin_url, url = bench_url(url, options.database)
    create_database(admin_url, options.database)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")  # in-process setup: the development defaults, as ever
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(REPO))

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load(1.0 if options.rows else options.scale, random.Random(options.seed), options.rows)
    measure()
    if not options.keep:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {options.database} WITH (FORCE)")


def _codes(n: int) -> list[str]:
    letters = string.ascii_uppercase
    return ["".join(p) for p in itertools.islice(itertools.product(letters, repeat=n), 0, None)]


def load(scale: float, rng: random.Random, rows: int | None = None) -> None:
    from django.db import connection, transaction

    from minerals.bulk_upsert import built_after_load

    named = ["USA", "CHN", "HKG", "RUS", "JPN"]
    iso3 = [*named, *[c for c in _codes(3) if c not in named][:195]]
    iso2 = _codes(2)[: len(iso3)]
    n_minerals, codes_per_mineral = 12, 5
    pairs_per_year = len(iso3) * (len(iso3) - 1) * n_minerals * codes_per_mineral
    if rows:
        # --rows: five years at the density that gives them, more years (at most half the pairs
        # traded in a year) past ~6 M; the facilities and organizations stay at scale 1.
        n_years = max(5, math.ceil(rows / (pairs_per_year / 2)))
        density = min(1.0, rows / (n_years * pairs_per_year))
    else:
        n_years, density = 5, min(1.0, (1 / 6) * scale)
    years = range(2025 - n_years, 2025)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor
        with raw.copy("COPY minerals_country (iso3, iso2, name, region, subregion, is_feoc) FROM STDIN") as copy:
            for i, (a3, a2) in enumerate(zip(iso3, iso2, strict=True)):
                copy.write_row((a3, a2, f"Country {i} {a3}", "", "", a3 in {"CHN", "RUS"}))
        cursor.execute(
            "INSERT INTO minerals_datasource"
            " (key, publisher, title, edition, url, licence, checksum, notes, published_on)"
            " VALUES ('bench', 'bench', 'bench', '1', '', '', '', '', '2025-01-01') RETURNING id"
        )
        source_id = cursor.fetchone()[0]
        with raw.copy(
            "COPY minerals_mineral (slug, name, symbol, usgs_name, canonical_unit, notes, data_version) FROM STDIN"
        ) as copy:
            for m in range(n_minerals):
                copy.write_row((f"mineral-{m}", f"Mineral {m}", "", "", "t", "", 1))
        cursor.execute("SELECT id FROM minerals_mineral ORDER BY id")
        mineral_ids = [r[0] for r in cursor.fetchall()]
        hs6 = [f"{100000 + i}" for i in range(n_minerals * codes_per_mineral)]
        with raw.copy("COPY minerals_commoditycode (hs6, description, is_basket, note) FROM STDIN") as copy:
            for code in hs6:
                copy.write_row((code, "bench", False, ""))
        with raw.copy(
            "COPY minerals_commoditymineral (commodity_code_id, mineral_id, stage, quantity_basis) FROM STDIN"
        ) as copy:
            for i, code in enumerate(hs6):
                # "content": trade quantities comparable with production, so the NIR is computed too.
                copy.write_row((code, mineral_ids[i // codes_per_mineral], "refinery", "content"))
        flows = 0
        # Loaded as a first import would be: without the secondary indexes, built after.
        with (
            transaction.atomic(),
            built_after_load("minerals_tradeflow"),
            raw.copy(
                "COPY minerals_tradeflow (year, exporter_id, importer_id, commodity_code_id, basis, value_usd,"
                " quantity_kg, source_id) FROM STDIN"
            ) as copy,
        ):
            for year in years:
                for code in hs6:
                    for importer in iso3:
                        for exporter in iso3:
                            if exporter != importer and rng.random() < density:
                                value = rng.random() * 1e6
                                copy.write_row((year, exporter, importer, code, "import", value, value / 50, source_id))
                                flows += 1
        with raw.copy(
            "COPY minerals_productionrecord (mineral_id, stage, row_kind, country_id, year, quantity, unit,"
            " is_estimate,"
            " is_withheld, bound, notes, source_id) FROM STDIN"
        ) as copy:
            for mid in mineral_ids:
                for year in years:
                    for country in iso3:
                        copy.write_row(
                            (
                                mid,
                                "mine",
                                "country",
                                country,
                                year,
                                rng.random() * 1000,
                                "t",
                                False,
                                False,
                                "",
                                "",
                                source_id,
                            )
                        )
        n_facilities = int(10_000 * scale)
        with raw.copy(
            "COPY suppliers_company (name, hq_country_id, is_fictional, recorded_foreign_control, source_url, notes)"
            " FROM STDIN"
        ) as copy:
            for i in range(max(1, n_facilities // 5)):
                copy.write_row((f"Company {i}", rng.choice(iso3), True, False, "", ""))
        cursor.execute("SELECT id FROM suppliers_company")
        companies = [r[0] for r in cursor.fetchall()]
        with raw.copy(
            "COPY suppliers_facility (key, company_id, name, country_id, mineral_id, stage, status, is_fictional,"
            " notes,"
            " capacity_unit, capacity_basis, source_url) FROM STDIN"
        ) as copy:
            for i in range(n_facilities):
                stage = "mine" if i % 3 == 0 else "refinery"
                copy.write_row(
                    (
                        f"f-{i}",
                        rng.choice(companies),
                        f"F{i}",
                        rng.choice(iso3),
                        mineral_ids[i % n_minerals],
                        stage,
                        "operating",
                        True,
                        "",
                        "",
                        "",
                        "",
                    )
                )
        cursor.execute("SELECT id, mineral_id, stage FROM suppliers_facility")
        facilities = cursor.fetchall()
        mines = {}
        for fid, mid, stage in facilities:
            if stage == "mine":
                mines.setdefault(mid, []).append(fid)
        with raw.copy(
            "COPY suppliers_supplylink (upstream_id, downstream_id, mineral_id, share, notes) FROM STDIN"
        ) as copy:
            for fid, mid, stage in facilities:
                if stage == "refinery" and mines.get(mid):
                    for up in rng.sample(mines[mid], min(2, len(mines[mid]))):
                        copy.write_row((up, fid, mid, 0.4, ""))
        with raw.copy(
            "COPY suppliers_ownershipstake (owner_id, owned_id, percent, source_url, notes) FROM STDIN"
        ) as copy:
            for owner, owned in {(rng.choice(companies), rng.choice(companies)) for _ in range(len(companies) // 2)}:
                if owner != owned:
                    copy.write_row((owner, owned, rng.choice([10, 30, 60]), "", ""))
        n_orgs = max(1, int(1000 * min(1.0, scale * 10)))
        with raw.copy(
            "COPY suppliers_organization (name, slug, country_id, is_fictional, notes, data_version) FROM STDIN"
        ) as copy:
            for i in range(n_orgs):
                copy.write_row((f"Org {i}", f"org-{i}", "USA", True, "", 1))
        cursor.execute("SELECT id FROM suppliers_organization")
        orgs = [r[0] for r in cursor.fetchall()]
        by_mineral: dict[int, list[int]] = {}
        for fid, mid, _ in facilities:
            by_mineral.setdefault(mid, []).append(fid)
        with raw.copy(
            "COPY suppliers_requirement (organization_id, mineral_id, annual_quantity, unit, notes, stage) FROM STDIN"
        ) as req:
            for org in orgs:
                for mid in rng.sample(mineral_ids, 3):
                    req.write_row((org, mid, 100.0, "t", "", "refinery"))
        cursor.execute("SELECT organization_id, mineral_id FROM suppliers_requirement")
        pairs = cursor.fetchall()
        with raw.copy(
            "COPY suppliers_sourcing (organization_id, mineral_id, facility_id, country_id, annual_quantity, notes)"
            " FROM STDIN"
        ) as src:
            for org, mid in pairs:
                for fid in rng.sample(by_mineral.get(mid, []), min(2, len(by_mineral.get(mid, [])))):
                    src.write_row((org, mid, fid, "USA", 30.0, ""))
                src.write_row((org, mid, None, "CHN", 40.0, ""))
    # Steady state before measuring: vacuumed (hint bits and visibility map set once, here, and
    # no insert-triggered autovacuum of the 2 M fresh rows running during the measurements) and
    # analyzed. VACUUM cannot run in a transaction: Django's autocommit connection, outside it.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded {flows:,} trade flows, {len(facilities):,} facilities, {len(orgs):,} organizations "
          f"in {time.perf_counter() - started:.1f} s (scale {scale})")  # fmt: skip


BOUND_SQL = """
WITH per_exporter AS (
    SELECT cm.mineral_id, tf.importer_id, tf.year,
           CASE WHEN tf.exporter_id IN ('CHN', 'HKG', 'MAC') THEN 'CHN' ELSE tf.exporter_id END AS exporter,
           SUM(tf.value_usd) AS value
    FROM minerals_tradeflow tf
    JOIN minerals_commoditymineral cm ON cm.commodity_code_id = tf.commodity_code_id
    WHERE tf.exporter_id IS NOT NULL AND tf.importer_id IS NOT NULL
    GROUP BY 1, 2, 3, 4
), shares AS (
    SELECT mineral_id, importer_id, year, exporter,
           value / NULLIF(SUM(value) OVER (PARTITION BY mineral_id, importer_id, year), 0) AS share
    FROM per_exporter
)
SELECT mineral_id, importer_id, year, 10000 * SUM(share * share) AS hhi,
       SUM(CASE WHEN exporter = 'CHN' THEN share ELSE 0 END) AS china_share
FROM shares GROUP BY 1, 2, 3
"""


def measure() -> None:
    from django.conf import settings
    from django.db import connection

    from dashboards import services
    from minerals import services as reference
    from minerals.models import Mineral, ProductionRecord

    # The benchmark times the services directly: no signal-driven eager recompute on edits.
    reference.minerals_changed.receivers = []
    mineral_ids = list(Mineral.objects.values_list("id", flat=True).order_by("id"))

    def full(force: bool = True) -> int:
        # The product's full recompute (all_metrics_recompute, seed_demo): every mineral as one batch.
        results = services.minerals_metrics_recompute(mineral_ids=mineral_ids, force=force)
        return sum(r.import_rows for r in results)

    def bound() -> int:
        # The bound at its best: the recompute's own session settings (no JIT, whose compilation
        # alone costs ~0.9 s here, and its work_mem); parallel workers as the server allows.
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off; SET work_mem = '64MB'")
            cursor.execute(BOUND_SQL)
            rows = len(cursor.fetchall())
            cursor.execute("RESET jit; RESET work_mem")
            return rows

    full()  # warm caches once, as a running worker would be
    settings.LODESTONE_IMPORT_DESTINATIONS = ["*"]
    # Each side three times, interleaved, and the medians compared: one sample moves by ~10 %
    # with whatever else the machine does.
    fulls, bounds = [], []
    for _ in range(3):
        t_full, rows = timed("full recompute, every importer (12 minerals)", full)
        t_bound, bound_rows = timed("single-SQL bound: import shares + HHI, all minerals", bound)
        fulls.append(t_full)
        bounds.append(t_bound)
    print(f"{'  import rows written / bound rows':<58} {rows:,} / {bound_rows:,}")
    print(f"{'  median full / median bound':<58} {median(fulls):8.3f} / {median(bounds):.3f} s")
    print(f"{'  ratio full / bound (medians)':<58} {median(fulls) / median(bounds):8.2f} x")
    settings.LODESTONE_IMPORT_DESTINATIONS = []
    timed("full recompute, default destinations (USA + buyers)", full)

    record = ProductionRecord.objects.filter(mineral_id=mineral_ids[0], country_id="CHN").first()
    record.quantity = (record.quantity or 0) + 1
    reference.record_save(instance=record)
    timed(
        "incremental: one edit -> recompute of its mineral (default)",
        services.mineral_metrics_recompute,
        mineral_id=mineral_ids[0],
    )
    settings.LODESTONE_IMPORT_DESTINATIONS = ["*"]
    reference.record_save(instance=record)
    timed("incremental: same, every importer", services.mineral_metrics_recompute, mineral_id=mineral_ids[0])
    settings.LODESTONE_IMPORT_DESTINATIONS = []
    timed("buyer exposure, all organizations", services.organizations_exposure_recompute)


if __name__ == "__main__":
    main()
