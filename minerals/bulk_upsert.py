"""Set-based bulk loading: parsed rows go into a temporary staging table, then ONE upsert per
unique index moves them into the real table.

Why this shape (docs/performance.md, "Import"):

* PostgreSQL: rows are streamed with ``COPY`` (psycopg 3 ``cursor.copy``) into a TEMP table (never
  WAL-logged, dropped at commit), then ``INSERT ... SELECT ... ON CONFLICT (key) WHERE predicate
  DO UPDATE ... WHERE (something differs)``. The partial unique indexes of ProductionRecord and
  TradeFlow need the matching ``WHERE predicate`` in the conflict target. Inserted and updated rows
  are counted by the same statement (``RETURNING (xmax = 0)`` aggregated in SQL, one row back);
  unchanged rows are not touched at all, so a re-import writes nothing.
* SQLite (the embedded default): the staging table is filled with batched ``executemany``; the
  counts come from two join queries before the upsert (SQLite has no data-modifying CTE).

The number of queries depends on the number of staging tables and targets, never on the rows.
While a COPY is open the connection can run nothing else: callers resolve every lookup (countries,
minerals, codes) before staging or in SQL after it.
"""

# ruff: noqa: S608 - table and column names come from the models, never from input; values are parameters.
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

SQLITE_BATCH = 5_000

_PG_TYPES = {"int": "integer", "bigint": "bigint", "float": "double precision", "text": "text", "bool": "boolean"}
_SQLITE_TYPES = {"int": "integer", "bigint": "integer", "float": "real", "text": "text", "bool": "integer"}


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@dataclass(frozen=True)
class Target:
    """One upsert: staged rows (``where``) into ``table`` under one (partial) unique index.

    ``select`` maps each target column to an SQL expression over the staging table ``s`` (and any
    ``joins``); ``key`` are the index columns and ``predicate`` the index's WHERE, written with a
    ``{t}`` placeholder before each column (``{t}row_kind = 'country'``); ``compare`` are the
    columns whose change makes an update. ``scope`` names a target column whose distinct values
    over inserted/updated rows are returned (the mineral ids to mark stale, the codes touched).
    """

    table: str
    select: dict[str, str]
    key: tuple[str, ...]
    compare: tuple[str, ...]
    predicate: str = ""
    where: str = "1=1"
    joins: str = ""
    scope: str | None = None

    def index_predicate(self, prefix: str = "") -> str:
        return self.predicate.replace("{t}", prefix)


@dataclass
class UpsertCount:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    scope: set[Any] = field(default_factory=set)

    def add(self, other: UpsertCount) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.scope |= other.scope


class Staging:
    """A TEMP table holding one file's parsed rows until the upsert (``line`` is always a column)."""

    def __init__(self, name: str, columns: Sequence[tuple[str, str]]) -> None:
        self.name = name
        self.columns = [*columns, ("line", "int")]
        self.rows = 0

    def create(self) -> None:
        types = _PG_TYPES if is_postgresql() else _SQLITE_TYPES
        cols = ", ".join(f"{_q(c)} {types[t]}" for c, t in self.columns)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_q(self.name)}")
            # PostgreSQL: ON COMMIT DROP ties the table's life to the import transaction.
            suffix = " ON COMMIT DROP" if is_postgresql() else ""
            cursor.execute(f"CREATE TEMP TABLE {_q(self.name)} ({cols}){suffix}")

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_q(self.name)}")

    def writer(self) -> StagingWriter:
        return StagingWriter(self)

    # ---------------------------------------------------------------- checks on the staged rows

    def duplicates(self, key: Sequence[str], *, where: str = "1=1", limit: int | None = None) -> list[tuple[int, int]]:
        """(line, first line with the same key) for every staged row whose key repeats an earlier one."""
        same = " AND ".join(f"s.{_q(k)} {_null_safe_eq()} d.{_q(k)}" for k in key)
        cols = ", ".join(_q(k) for k in key)
        sql = (
            f"SELECT s.line, d.first_line FROM {_q(self.name)} s JOIN ("
            f"SELECT {cols}, min(line) AS first_line FROM {_q(self.name)} WHERE {where} "
            f"GROUP BY {cols} HAVING count(*) > 1) d ON {same} "
            f"WHERE s.line <> d.first_line ORDER BY s.line"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [(int(a), int(b)) for a, b in cursor.fetchall()]

    def delete_lines(self, lines: Iterable[int]) -> None:
        """Drop the rows of rejected lines (``--skip-invalid``): a rejected line is never half-imported."""
        chunk: list[int] = []
        with connection.cursor() as cursor:
            for line in sorted(set(lines)):
                chunk.append(line)
                if len(chunk) == 500:
                    self._delete(cursor, chunk)
                    chunk = []
            if chunk:
                self._delete(cursor, chunk)

    def _delete(self, cursor: Any, lines: list[int]) -> None:
        marks = ", ".join(["%s"] * len(lines))
        cursor.execute(f"DELETE FROM {_q(self.name)} WHERE line IN ({marks})", lines)

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query over the staging table (``{stage}`` is its name)."""
        with connection.cursor() as cursor:
            cursor.execute(sql.replace("{stage}", _q(self.name)), params)
            return list(cursor.fetchall())

    # ---------------------------------------------------------------- the upsert

    def upsert(self, target: Target) -> UpsertCount:
        return _upsert_pg(self, target) if is_postgresql() else _upsert_sqlite(self, target)

    # ---------------------------------------------------------------- a first load (PostgreSQL)

    def first_load_pays(self, targets: Sequence[Target]) -> bool:
        """True when the staged rows are all new to their table (no stored row shares the first
        two columns of any target's key: for trade flows, source and year) and at least as many
        as the rows stored: then loading without the secondary indexes and foreign keys and building
        them after (a sort per index, one join per key) beats maintaining each index and checking
        each key row by row. One or two queries."""
        if not is_postgresql() or not self.rows or not targets:
            return False
        table = targets[0].table
        with connection.cursor() as cursor:
            # Stored rows counted up to one more than the staged ones: exact, and never more
            # work than reading as many rows as the load writes (the planner's estimate can be
            # stale: ANALYZE's figures survive a rolled-back load).
            cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {_q(table)} LIMIT %s) AS stored", [self.rows + 1])
            if int(cursor.fetchone()[0]) > self.rows:
                return False
            cursor.execute("SELECT " + " OR ".join(_stored_exists(self, t) for t in targets))
            return not cursor.fetchone()[0]

    def insert_all(self, target: Target) -> UpsertCount:
        """INSERT the staged rows of one target without a conflict clause (``first_load_pays``
        said none can conflict). Counts: every staged row inserted; the scope's values from the
        staging table."""
        insert, select = _insert_select(self, target, "t")
        with connection.cursor() as cursor:
            cursor.execute(f"{insert}{select}")
            inserted = max(int(cursor.rowcount), 0)
            scope: set[Any] = set()
            if target.scope and inserted:
                expr = target.select[target.scope]
                cursor.execute(f"SELECT DISTINCT {expr} FROM {_q(self.name)} s {target.joins} WHERE {target.where}")
                scope = {r[0] for r in cursor.fetchall() if r[0] is not None}
        return UpsertCount(inserted, 0, 0, scope)


def _stored_exists(stage: Staging, target: Target) -> str:
    """SQL: a stored row shares the first two key columns with a staged row of the target."""
    first, second = target.key[:2]
    predicate = f" AND {target.index_predicate('t.')}" if target.predicate else ""
    return (
        f"EXISTS (SELECT 1 FROM (SELECT DISTINCT {target.select[first]} AS a, {target.select[second]} AS b"
        f" FROM {_q(stage.name)} s {target.joins} WHERE {target.where}) n"
        f" JOIN {_q(target.table)} t ON t.{_q(first)} = n.a AND t.{_q(second)} = n.b{predicate})"
    )


@contextmanager
def built_after_load(table: str) -> Iterator[None]:
    """Drop the table's indexes that back no constraint (the primary key stays) and its foreign
    keys, run the body (the load), then build the indexes again from their stored definitions,
    add the foreign keys again (each validated by one join over the table, instead of a trigger
    per row: 2 M rows x 3 keys took 180 s of deferred checks, busy machine) and ANALYZE.

    Call inside the loading transaction (PostgreSQL). The drops take the table's ACCESS EXCLUSIVE
    lock until the commit, and a SHARE ROW EXCLUSIVE lock on the tables the keys reference: a
    concurrent reader of the table waits until the load commits (it never sees the table
    without its indexes nor a part of the rows); writers of the referenced tables (countries,
    HS codes, sources) wait too, readers of those do not. A rollback restores everything as it
    was; if the body raises, nothing is rebuilt (the transaction is rolled back anyway).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)"
            " ORDER BY c.relname",
            [table],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        keys = cursor.fetchall()
        # Checks already queued for the table (a deferred key) would forbid the DDL: run them now.
        drops = ["SET CONSTRAINTS ALL IMMEDIATE"]
        if keys:
            drops.append(f"ALTER TABLE {_q(table)} " + ", ".join(f"DROP CONSTRAINT {_q(k)}" for k, _ in keys))
        if indexes:
            drops.append("DROP INDEX " + ", ".join(_q(name) for name, _ in indexes))
        drops.append("SET CONSTRAINTS ALL DEFERRED")  # Django's keys are INITIALLY DEFERRED
        cursor.execute("; ".join(drops))
    yield
    with connection.cursor() as cursor:
        # Each build sorts the whole table once; more memory keeps the sort in fewer runs. One round trip.
        builds = ["SET LOCAL maintenance_work_mem = '256MB'", *(definition for _, definition in indexes)]
        if keys:
            adds = ", ".join(f"ADD CONSTRAINT {_q(name)} {definition}" for name, definition in keys)
            builds.append(f"ALTER TABLE {_q(table)} {adds}")
        builds.append(f"ANALYZE {_q(table)}")
        cursor.execute("; ".join(builds))


class StagingWriter:
    """Streams rows into the staging table: COPY on PostgreSQL, batched executemany on SQLite.

    One connection runs one COPY at a time: when a file feeds two stagings (the MCS 2026 long file:
    production and salient rows), a writer that starts its COPY first ends the other writer's; that
    one starts a new COPY if more rows come (rows already sent are kept).
    """

    _copying: StagingWriter | None = None  # the writer whose COPY holds the connection

    def __init__(self, staging: Staging) -> None:
        self.staging = staging
        self._copy_cm: Any = None
        self._copy: Any = None
        self._cursor: Any = None
        self._batch: list[tuple[Any, ...]] = []

    def __enter__(self) -> StagingWriter:
        self._cursor = connection.cursor()
        return self

    def _open_copy(self) -> None:
        # Opened on the first row, not on enter: a COPY holds the connection, so queries made
        # before the first row (lookups by the parser's caller) and a second, unused writer stay free.
        other = StagingWriter._copying
        if other is not None and other is not self:
            other._end_copy(None, None, None)
        cols = ", ".join(_q(c) for c, _ in self.staging.columns)
        raw = self._cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        self._copy_cm = raw.copy(f"COPY {_q(self.staging.name)} ({cols}) FROM STDIN")
        self._copy = self._copy_cm.__enter__()
        StagingWriter._copying = self

    def _end_copy(self, exc_type: Any, exc: Any, tb: Any) -> None:
        cm, self._copy_cm, self._copy = self._copy_cm, None, None
        if StagingWriter._copying is self:
            StagingWriter._copying = None
        if cm is not None:
            cm.__exit__(exc_type, exc, tb)

    def write(self, row: tuple[Any, ...]) -> None:
        self.staging.rows += 1
        if is_postgresql():
            if self._copy is None:
                self._open_copy()
            self._copy.write_row(row)
            return
        self._batch.append(row)
        if len(self._batch) >= SQLITE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        cols = ", ".join(_q(c) for c, _ in self.staging.columns)
        marks = ", ".join(["%s"] * len(self.staging.columns))
        self._cursor.executemany(f"INSERT INTO {_q(self.staging.name)} ({cols}) VALUES ({marks})", self._batch)
        self._batch = []

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self._copy_cm is not None:
                self._end_copy(exc_type, exc, tb)
            elif exc_type is None:
                self._flush()
        finally:
            if StagingWriter._copying is self:
                StagingWriter._copying = None
            self._cursor.close()


def _null_safe_eq() -> str:
    return "IS NOT DISTINCT FROM" if is_postgresql() else "IS"


def _differs(a: str, b: str) -> str:
    return f"{a} IS DISTINCT FROM {b}" if is_postgresql() else f"{a} IS NOT {b}"


def _insert_select(stage: Staging, target: Target, alias: str) -> tuple[str, str]:
    cols = ", ".join(_q(c) for c in target.select)
    exprs = ", ".join(target.select.values())
    table = _q(target.table)
    insert = f"INSERT INTO {table} AS {alias} ({cols}) " if is_postgresql() else f"INSERT INTO {table} ({cols}) "
    # "WHERE" is always present: SQLite needs it to parse INSERT ... SELECT ... ON CONFLICT
    select = f"SELECT {exprs} FROM {_q(stage.name)} s {target.joins} WHERE {target.where}"
    return insert, select


def _conflict(target: Target, alias: str) -> str:
    keys = ", ".join(_q(k) for k in target.key)
    predicate = f" WHERE {target.index_predicate()}" if target.predicate else ""
    sets = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in target.compare)
    changed = " OR ".join(_differs(f"{alias}.{_q(c)}", f"excluded.{_q(c)}") for c in target.compare)
    return f" ON CONFLICT ({keys}){predicate} DO UPDATE SET {sets} WHERE {changed}"


def _staged_count(cursor: Any, stage: Staging, target: Target) -> int:
    cursor.execute(f"SELECT count(*) FROM {_q(stage.name)} s {target.joins} WHERE {target.where}")
    return int(cursor.fetchone()[0])


def _upsert_pg(stage: Staging, target: Target) -> UpsertCount:
    insert, select = _insert_select(stage, target, "t")
    returning = " RETURNING (xmax = 0) AS inserted" + (f", {_q(target.scope)} AS scope" if target.scope else "")
    scope_agg = ", array_agg(DISTINCT scope)" if target.scope else ""
    # One statement writes and counts: xmax = 0 marks a freshly inserted row version.
    sql = (
        f"WITH up AS ({insert}{select}{_conflict(target, 't')}{returning}) "
        f"SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted){scope_agg} FROM up"
    )
    with connection.cursor() as cursor:
        staged = _staged_count(cursor, stage, target)
        cursor.execute(sql)
        row = cursor.fetchone()
    inserted, updated = int(row[0]), int(row[1])
    scope = {v for v in (row[2] or []) if v is not None} if target.scope else set()
    return UpsertCount(inserted, updated, staged - inserted - updated, scope)


def _upsert_sqlite(stage: Staging, target: Target) -> UpsertCount:
    table = _q(target.table)
    insert, select = _insert_select(stage, target, table)
    # Staged rows with their computed values (n) matched to stored rows (o) on the index key.
    sub_cols = ", ".join(f"{expr} AS {_q(col)}" for col, expr in target.select.items())
    sub = f"(SELECT {sub_cols} FROM {_q(stage.name)} s {target.joins} WHERE {target.where})"
    on = " AND ".join(f"n.{_q(k)} = o.{_q(k)}" for k in target.key)
    if target.predicate:
        on += f" AND ({target.index_predicate('o.')})"
    changed = " OR ".join(_differs(f"n.{_q(c)}", f"o.{_q(c)}") for c in target.compare)
    matched = f"FROM {sub} n LEFT JOIN {table} o ON {on}"
    with connection.cursor() as cursor:
        staged = _staged_count(cursor, stage, target)
        changed_case = f"CASE WHEN o.id IS NOT NULL AND ({changed}) THEN 1 END"
        cursor.execute(f"SELECT count(o.id), coalesce(sum({changed_case}), 0) {matched}")
        existing, changed_n = (int(v or 0) for v in cursor.fetchone())
        scope: set[Any] = set()
        if target.scope:
            cursor.execute(f"SELECT DISTINCT n.{_q(target.scope)} {matched} WHERE o.id IS NULL OR ({changed})")
            scope = {r[0] for r in cursor.fetchall() if r[0] is not None}
        cursor.execute(f"{insert}{select}{_conflict(target, table)}")
    return UpsertCount(staged - existing, changed_n, existing - changed_n, scope)
