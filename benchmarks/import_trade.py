"""Benchmark: BACI import into PostgreSQL against the bound of a raw COPY of the same rows.

    .venv/bin/python benchmarks/import_trade.py --rows 2000000

Creates (drops first) its own database `lodestone_bench_import` on the local PostgreSQL, never the dev
one; migrates it, loads the demo reference data (countries, HS codes), generates a BACI-format
file of --rows rows (HS codes mapped to minerals, unique exporter/importer/code/year), then:

1. bound (the physical limit): in one transaction, a raw COPY of the same rows, already in the
   table's final form, into minerals_tradeflow without its secondary indexes (primary key,
   foreign keys and checks kept), then CREATE INDEX of each (no parsing, no staging, no upsert);
2. import: `import_baci` through minerals.imports into the empty table (parse, COPY into
   staging, checks, then the first-load path: insert without the secondary indexes, build them);
3. re-import with --force (every row compared by the upsert, none written).

Prints times, rows/s, the import/bound ratio (goal: within 2x) and the peak RSS (goal: < 300 MB
whatever the file size). Drops its database at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--database", default="lodestone_bench_import")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    if args.database in ("lodestone", "postgres", "lodestone_bench"):  # lodestone_bench: benchmarks/recompute.py
        sys.exit("refusing to use the dev database: pick a benchmark database name")

    import psycopg

    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")  # in-process setup: the development defaults, as ever
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from minerals.bulk_upsert import built_after_load
    from minerals.imports import ImportOptions, import_file
    from minerals.models import CommodityMineral, Country, DataSource, TradeFlow
    from suppliers.demo_dataset import demo_dataset_load

    call_command("migrate", verbosity=0)
    demo_dataset_load()
    # The benchmark times the import alone: no signal-driven (eager) metric recompute after it.
    from minerals import services as reference

    reference.minerals_changed.receivers = []
    countries = list(Country.objects.exclude(m49=None).order_by("m49").values_list("m49", "iso3"))
    codes = sorted(set(CommodityMineral.objects.values_list("commodity_code_id", flat=True)))
    per_year = len(countries) * (len(countries) - 1) * len(codes)
    print(f"{len(countries)} countries x {len(codes)} mapped HS codes = {per_year:,} flows a year")

    work = Path(tempfile.mkdtemp(prefix="lodestone-bench-"))
    baci = work / "BACI_HS22_Y2022_V202401_bench.csv"
    final = work / "final_rows.tsv"
    codes_file = work / "country_codes_V202401.csv"
    with open(codes_file, "w") as fh:
        fh.write("country_code,country_name,country_iso2,country_iso3\n")
        for m49, iso3 in countries:
            fh.write(f"{m49},{iso3},,{iso3}\n")
    source = DataSource.objects.create(key="baci-bound", publisher="bench", title="bound")
    started = time.monotonic()
    with open(baci, "w") as out, open(final, "w") as bound:
        out.write("t,i,j,k,v,q\n")
        n = 0
        year = 2000
        while n < args.rows:
            for code in codes:
                for m49_i, iso_i in countries:
                    for m49_j, iso_j in countries:
                        if m49_i == m49_j:
                            continue
                        v, q = (n % 9973) + 0.125, n % 101
                        out.write(f"{year},{m49_i},{m49_j},{code},{v},{q}\n")
                        bound.write(
                            f"{year}\t{iso_i}\t{iso_j}\t{code}\treconciled\t{v * 1000}\t{q * 1000}\t{source.pk}\n"
                        )
                        n += 1
                        if n >= args.rows:
                            break
                    if n >= args.rows:
                        break
                if n >= args.rows:
                    break
            year += 1
    size_mb = baci.stat().st_size / 1e6
    print(f"generated {args.rows:,} rows ({size_mb:.0f} MB) in {time.monotonic() - started:.1f} s")

    # 1. the bound, the physical limit: in one transaction, the same rows in their final form
    # COPYed into the table without its secondary indexes (primary key, foreign keys and checks
    # kept), then each index built (CREATE INDEX: one sort of the table per index).
    cols = "year, exporter_id, importer_id, commodity_code_id, basis, value_usd, quantity_kg, source_id"
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE minerals_tradeflow")  # the demo's flows too: bound and import start empty
        cursor.execute("VACUUM ANALYZE minerals_tradeflow")
    started = time.monotonic()
    with transaction.atomic(), built_after_load(TradeFlow._meta.db_table):
        with (
            connection.cursor() as cursor,
            open(final, "rb") as fh,
            cursor.cursor.copy(f"COPY minerals_tradeflow ({cols}) FROM STDIN") as copy,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        copy_s = time.monotonic() - started
    bound_s = time.monotonic() - started
    assert TradeFlow.objects.filter(source=source).count() == args.rows
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE minerals_tradeflow")
        cursor.execute("VACUUM ANALYZE minerals_tradeflow")
    print(
        f"bound: COPY without the secondary indexes, then CREATE INDEX: {bound_s:.1f} s"
        f" ({args.rows / bound_s:,.0f} rows/s; COPY {copy_s:.1f} s, indexes {bound_s - copy_s:.1f} s)"
    )

    rss_before = peak_rss_mb()
    options = ImportOptions(countries=str(codes_file))
    started = time.monotonic()
    outcome = import_file(importer="baci", path=baci, options=options)
    import_s = time.monotonic() - started
    assert outcome.status == "succeeded", outcome.errors[:5]
    assert outcome.inserted == args.rows, outcome.summary_lines()
    print(
        f"import into the empty table: {import_s:.1f} s ({args.rows / import_s:,.0f} rows/s);"
        f" ratio to the bound {import_s / bound_s:.2f}x"
    )
    print(f"peak RSS: {peak_rss_mb():.0f} MB (before the import: {rss_before:.0f} MB)")

    options.force = True
    started = time.monotonic()
    again = import_file(importer="baci", path=baci, options=options)
    again_s = time.monotonic() - started
    print(f"re-import (--force, nothing changes): {again_s:.1f} s; unchanged {again.unchanged:,}")
    print(f"peak RSS after both imports: {peak_rss_mb():.0f} MB")
    for path in (baci, final, codes_file):
        path.unlink()
    work.rmdir()
    if not args.keep:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
