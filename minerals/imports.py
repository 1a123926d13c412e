"""Loading the public data files into the database: one service for every importer.

Commands call :func:`import_file` (:func:`import_batch_start` + :func:`import_batch_run`); the
admin upload calls :func:`import_batch_queue`, which records the batch without reading the file,
and its Celery task :func:`import_batch_run`, which identifies the file (step 1) before loading it:
no file is read in a web request. Which formats exist is :data:`IMPORTERS`, the one registry they all read. The
loaders write set-based SQL directly, not row by row through minerals.services: that is what
keeps a large file at COPY speed, so they mark the changed minerals stale themselves. The flow for
one file:

1. SHA-256 of the file; the edition's DataSource is found or created (``usgs-mcs-2025``,
   ``comtrade``, ``baci-hs22-v202401``, ``wgi-2022``); an ImportBatch (who, when) is committed.
2. Same checksum already imported successfully by this importer: the batch says ``unchanged``
   and nothing is read or written (``force`` reloads anyway).
3. Inside ONE transaction: the parser streams records; each is checked against what the
   database requires (known country, year range, sign, the model's constraints) and written to a
   TEMP staging table (COPY on PostgreSQL); then set-based checks on the staged rows (duplicate
   keys, unit of the mineral); then one upsert per unique index (minerals.bulk_upsert); then
   ``minerals_mark_stale`` once with every mineral whose rows changed.
4. Any invalid row: the transaction rolls back (nothing written) and the batch says ``failed``;
   with ``skip_invalid`` the rejected lines are removed from staging and the rest is loaded. Either
   way every error is written to a rejects CSV (original columns plus ``error``) under
   ``LODESTONE_IMPORT_REPORT_DIR``.

Bulk loads are audited by their ImportBatch: django-simple-history is not written per row (the
upsert bypasses the ORM), which is what keeps a two-million-row load at COPY speed.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from minerals.bulk_upsert import Staging, Target, UpsertCount, built_after_load, is_postgresql
from minerals.importers.baci import BaciFlow, load_baci_country_codes, parse_baci
from minerals.importers.comtrade import TradeFlowRow, parse_comtrade
from minerals.importers.csv_source import read_csv
from minerals.importers.errors import ImportStats, ParseError
from minerals.importers.usgs_commodities import canonical_unit, mineral_slug_for
from minerals.importers.usgs_mcs import (
    MCS_EDITIONS,
    CriticalMineralSummary,
    NetImportReliance,
    ProductionRow,
    SalientValue,
    parse_usgs_mcs,
)
from minerals.importers.wgi import parse_wgi
from minerals.models import (
    WGI_DIMENSIONS,
    CommodityCode,
    CommodityMineral,
    Country,
    DataSource,
    ImportBatch,
    Mineral,
    ProductionRecord,
    SalientStatistic,
    WgiScore,
)
from minerals.services import minerals_mark_stale
from minerals.spreadsheets import safe_cell
from minerals.upsert_targets import (
    PRODUCTION_FIGURE_STAGING_COLUMNS,
    TO_CANONICAL_UNIT,
    TRADE_FLOW_STAGING_COLUMNS,
    production_targets,
    trade_flow_mineral_ids,
    trade_flow_targets,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

SHOWN_ERRORS = 50
logger = logging.getLogger(__name__)
Progress = Callable[[float], None]


# ---------------------------------------------------------------------------------- public types


@dataclass
class ImportOptions:
    dry_run: bool = False
    skip_invalid: bool = False
    force: bool = False  # reload even when the same checksum was imported before
    countries: str = ""  # BACI country-code file
    all_codes: bool = False  # BACI: every HS code, not only those mapped to a mineral
    release: str = ""  # WGI release year when it cannot be inferred
    published_on: str = ""  # USGS MCS: publication date (YYYY-MM-DD) of an edition Lodestone does not know
    max_rows: int | None = None  # uploads: settings.LODESTONE_IMPORT_MAX_ROWS

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (False, "", None)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportOptions:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class ImportOutcome:
    file_name: str
    status: str = ImportBatch.Status.RUNNING
    dry_run: bool = False
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # the first SHOWN_ERRORS
    error_count: int = 0
    rejects_file: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    batch_id: int | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == ImportBatch.Status.FAILED

    @property
    def verdict(self) -> str:
        """What happened to the file, in the words of the summary: imported, skipped (reason),
        rejected (errors) or unchanged. A file with errors is never said to have succeeded."""
        if self.status == ImportBatch.Status.UNCHANGED:
            return "unchanged"
        if self.failed:
            return f"rejected ({self.error_count:,} error{'s' if self.error_count != 1 else ''})"
        if self.report.get("file_skipped"):
            return f"skipped ({self.report['file_skipped']})"
        verb = "valid, would be imported" if self.dry_run else "imported"
        if self.rejected:
            # --skip-invalid: the valid rows are in, the rejected lines are not
            return f"{verb} without {self.rejected:,} rejected line{'s' if self.rejected != 1 else ''}"
        return verb

    def summary_lines(self) -> list[str]:
        verb = "would be " if self.dry_run else ""
        lines = [
            f"{self.file_name}: {self.verdict}{' (dry run: nothing written)' if self.dry_run else ''}"
            f" in {self.seconds:.1f} s",
            f"  rows read {self.rows_read:,}; {verb}inserted {self.inserted:,}, {verb}updated {self.updated:,}, "
            f"unchanged {self.unchanged:,}, rejected {self.rejected:,}",
        ]
        lines += [f"  rejected: {n:,} x {reason}" for reason, n in self.rejected_by_reason.most_common()]
        lines += [f"  skipped: {n:,} x {reason}" for reason, n in self.skipped.most_common()]
        for key, label in (
            ("created_minerals", "minerals created for review"),
            ("created_codes", "HS codes created without a mineral"),
            ("basket_codes", "basket HS codes (several minerals)"),
            ("unmapped_codes", "HS codes not mapped to a mineral"),
            ("short_codes", "HS codes of 2 or 4 digits (skipped)"),
        ):
            if self.report.get(key):
                lines.append(f"  {label}: {', '.join(map(str, self.report[key]))}")
        if self.report.get("unchanged_as"):
            lines.append(f"  same file (SHA-256) as batch {self.report['unchanged_as']}: nothing to do")
        if self.rejects_file:
            lines.append(f"  rejects report: {self.rejects_file}")
        return lines


class ImportFailed(Exception):
    """An import that could not run at all (unreadable options, missing country-code file, ...)."""


class _Rollback(Exception):
    pass


class _DryRun(Exception):
    pass


# ---------------------------------------------------------------------------------- entry points


def import_file(
    *,
    importer: str,
    path: str | Path,
    user: User | AnonymousUser | None = None,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Import one file: start a batch and run it. A dry run leaves no trace, not even the batch."""
    options = options or ImportOptions()
    if not options.dry_run:
        batch = import_batch_start(importer=importer, path=path, user=user, options=options)
        return import_batch_run(batch=batch, progress=progress)
    outcome: ImportOutcome | None = None
    try:
        with transaction.atomic():
            batch = import_batch_start(importer=importer, path=path, user=user, options=options)
            outcome = import_batch_run(batch=batch, progress=progress)
            raise _Rollback
    except _Rollback:
        pass
    assert outcome is not None
    outcome.batch_id = None
    return outcome


def import_batch_start(
    *,
    importer: str,
    path: str | Path,
    user: User | AnonymousUser | None = None,
    options: ImportOptions | None = None,
    file_name: str = "",
) -> ImportBatch:
    """Create the batch (status running) for a file, identified at once: its checksum, and the
    edition's DataSource found or created (which may read the file: the WGI release, the MCS
    edition). For the commands, which run the import right after; the admin queues instead."""
    options = options or ImportOptions()
    path = _importable(importer, path)
    return ImportBatch.objects.create(
        **_identity(importer, path, options),
        importer=importer,
        file_name=file_name or path.name,
        file_path=str(path),
        started_by=user if user is not None and user.is_authenticated else None,
        options=options.as_json(),
    )


def import_batch_queue(
    *,
    importer: str,
    path: str | Path,
    user: User | AnonymousUser | None = None,
    options: ImportOptions | None = None,
) -> ImportBatch:
    """Create the batch (status running) of an uploaded file without reading it: no checksum and
    no source yet. The web request must never parse a file (a workbook can take seconds and
    gigabytes); import_batch_run identifies it first, in the task."""
    options = options or ImportOptions()
    path = _importable(importer, path)
    return ImportBatch.objects.create(
        report={"queued": True},
        importer=importer,
        file_name=path.name,
        file_path=str(path),
        started_by=user if user is not None and user.is_authenticated else None,
        options=options.as_json(),
    )


def _importable(importer: str, path: str | Path) -> Path:
    if importer not in IMPORTERS:
        raise ImportFailed(f"unknown importer {importer!r} (one of {', '.join(IMPORTERS)})")
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    return path


def _identity(importer: str, path: Path, options: ImportOptions) -> dict[str, Any]:
    """The batch fields that need the file read: its SHA-256 and the edition's DataSource (with
    `created_source` in the report when this batch created it)."""
    newest_source = DataSource.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    source = IMPORTERS[importer].loader.source_for(path, options)
    return {
        "source": source,
        # a failed (or dry) run removes a source it created: see _drop_created_source
        "report": {"created_source": True} if source.pk > newest_source else {},
        "checksum": file_checksum(path),
    }


def _identify_queued(batch: ImportBatch, options: ImportOptions) -> None:
    """A queued batch (admin upload) gets its checksum and source here, in the task."""
    identity = _identity(batch.importer, Path(batch.file_path), options)
    ImportBatch.objects.filter(pk=batch.pk).update(**identity)
    for name, value in identity.items():
        setattr(batch, name, value)


# Who may upload a data file in the admin; checked by the upload view and again by the task.
UPLOAD_PERMISSION = "minerals.upload_data_file"


def import_batch_refuse(*, batch: ImportBatch, reason: str) -> ImportOutcome:
    """End a started batch as failed without reading its file (e.g. its uploader lacks the right)."""
    outcome = ImportOutcome(file_name=batch.file_name, status=ImportBatch.Status.FAILED, batch_id=batch.pk)
    outcome.errors.append(reason)
    outcome.error_count = 1
    _finish(batch, outcome, time.monotonic())
    return outcome


def import_batch_run(*, batch: ImportBatch, progress: Progress | None = None) -> ImportOutcome:
    """Run a started batch: load the file atomically, then record the outcome on the batch."""
    options = ImportOptions.from_json(batch.options)
    path = Path(batch.file_path)
    if batch.report.get("queued"):
        try:
            _identify_queued(batch, options)
        except ImportFailed as exc:  # e.g. a WGI file whose release cannot be told
            return import_batch_refuse(batch=batch, reason=str(exc))
    outcome = ImportOutcome(file_name=batch.file_name, dry_run=options.dry_run, batch_id=batch.pk)
    started = time.monotonic()
    previous = (
        ImportBatch.objects.filter(
            importer=batch.importer, checksum=batch.checksum, status=ImportBatch.Status.SUCCEEDED
        )
        .exclude(pk=batch.pk)
        .exclude(options__has_key="dry_run")  # as_json keeps dry_run only when true
        .order_by("-started_at")
        .first()
    )
    if previous is not None and not options.force:
        outcome.status = ImportBatch.Status.UNCHANGED
        outcome.report["unchanged_as"] = previous.pk
        _finish(batch, outcome, started)
        return outcome

    reporter = _BatchProgress(batch, progress)
    loader = IMPORTERS[batch.importer].loader(
        batch=batch, path=path, options=options, outcome=outcome, progress=reporter
    )
    try:
        with transaction.atomic():
            loader.load()
            if loader.failing():
                raise _Rollback
            if options.dry_run:
                raise _DryRun  # counted, then rolled back (an admin dry run runs as a task too)
    except _DryRun:
        outcome.status = ImportBatch.Status.SUCCEEDED
    except _Rollback:
        outcome.inserted = outcome.updated = outcome.unchanged = 0
        outcome.status = ImportBatch.Status.FAILED
    except ImportFailed as exc:
        outcome.status = ImportBatch.Status.FAILED
        loader.error(ParseError(path.name, None, None, "", "a loadable file", str(exc)))
    except Exception as exc:  # a constraint, an assertion, the task's soft time limit: the batch still ends
        logger.exception("import batch %s failed", batch.pk)
        outcome.inserted = outcome.updated = outcome.unchanged = 0
        outcome.status = ImportBatch.Status.FAILED
        outcome.report["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        loader.error(ParseError(path.name, None, None, "", "a loadable file", f"failed: {type(exc).__name__}: {exc}"))
    else:
        outcome.status = ImportBatch.Status.SUCCEEDED
    finally:
        reporter.close()
    outcome.rejected = len([line for line in loader.lines_in_error if line is not None])
    if outcome.error_count:
        outcome.rejects_file = loader.write_rejects()
    _finish(batch, outcome, started)
    return outcome


def file_checksum(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _finish(batch: ImportBatch, outcome: ImportOutcome, started: float) -> None:
    outcome.seconds = time.monotonic() - started
    outcome.report.update(
        {
            "skipped": dict(outcome.skipped),
            "rejected_by_reason": dict(outcome.rejected_by_reason),
            "errors": outcome.errors,
            "error_count": outcome.error_count,
            "rejects_file": outcome.rejects_file,
            "seconds": round(outcome.seconds, 3),
            "dry_run": outcome.dry_run,
        }
    )
    if batch.report.get("created_source"):
        outcome.report["created_source"] = True
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=outcome.status,
        finished_at=timezone.now(),
        rows_read=outcome.rows_read,
        inserted=outcome.inserted,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        rejected=outcome.rejected,
        report=outcome.report,
        progress=100,
    )
    if outcome.status == ImportBatch.Status.FAILED or outcome.dry_run:
        _drop_created_source(batch.pk)


class _BatchProgress:
    """Reports the share of the file read: to the caller (tqdm) and, on PostgreSQL, to the batch row.

    The import transaction is not committed while it runs and its connection is busy with COPY, so
    the batch row is updated through a second, autocommit connection (at most every 2 seconds).
    SQLite allows one writer at a time: there the batch shows 100 % when the import finishes.
    """

    def __init__(self, batch: ImportBatch, callback: Progress | None) -> None:
        self.batch_id = batch.pk
        self.callback = callback
        self.last = 0.0
        self.conn: Any = None

    def __call__(self, fraction: float) -> None:
        if self.callback is not None:
            self.callback(fraction)
        now = time.monotonic()
        if not is_postgresql() or now - self.last < 2.0:
            return
        self.last = now
        try:
            if self.conn is None:
                self.conn = connections.create_connection("default")
            with self.conn.cursor() as cursor:
                cursor.execute(
                    "UPDATE minerals_importbatch SET progress = %s WHERE id = %s", [int(fraction * 100), self.batch_id]
                )
        except Exception:  # progress is best effort: the import must not fail for it
            self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# ---------------------------------------------------------------------------------- loaders


def csv_safe_row(cells: list[str]) -> list[str]:
    """A rejects-report row: a cell a spreadsheet would run as a formula is opened as text."""
    return [safe_cell(str(c)) for c in cells]


class Loader:
    """What every format shares: the record loop, error bookkeeping, the rejects report."""

    def __init__(
        self, *, batch: ImportBatch, path: Path, options: ImportOptions, outcome: ImportOutcome, progress: Progress
    ) -> None:
        self.batch = batch
        self.importer = batch.importer  # the key of IMPORTERS
        self.path = path
        self.options = options
        self.outcome = outcome
        self.progress = progress
        self.stats = ImportStats()
        if batch.source_id is None:  # a queued batch is identified first; a finished failed or dry one lost it
            raise ImportFailed(f"batch {batch.pk} has no data source")
        self.source_id: int = batch.source_id
        self.lines_in_error: dict[int | None, list[str]] = {}
        self.max_errors = settings.LODESTONE_IMPORT_MAX_ERRORS
        self.countries = set(Country.objects.values_list("iso3", flat=True))

    # -- to implement
    @classmethod
    def source_for(cls, path: Path, options: ImportOptions) -> DataSource:
        raise NotImplementedError

    def records(self, fh: IO[bytes]) -> Iterator[Any]:
        raise NotImplementedError

    def load(self) -> None:
        raise NotImplementedError

    # -- shared
    def error(self, err: ParseError) -> None:
        self.outcome.error_count += 1
        self.outcome.rejected_by_reason[err.problem] += 1
        text = str(err)
        # a line with the same problem in several year columns is shown once (all are in the report)
        if len(self.outcome.errors) < SHOWN_ERRORS and text not in self.outcome.errors[-5:]:
            self.outcome.errors.append(text)
        if len(self.lines_in_error) < self.max_errors:
            self.lines_in_error.setdefault(err.line, []).append(str(err))

    def stream(self, write: Callable[[Any], ParseError | None]) -> None:
        """Parse the file and hand each record to ``write``; errors are recorded, progress reported."""
        size = max(self.path.stat().st_size, 1)
        max_rows = self.options.max_rows
        with open(self.path, "rb") as fh:
            for n, item in enumerate(self.records(fh), start=1):
                if isinstance(item, ParseError):
                    self.error(item)
                else:
                    problem = write(item)
                    if problem is not None:
                        self.error(problem)
                if n % 20_000 == 0:
                    self.progress(min(fh.tell() / size, 1.0) if not fh.closed else 1.0)
                    if max_rows and self.stats.rows > max_rows:
                        self.error(
                            ParseError(
                                self.path.name,
                                None,
                                None,
                                str(self.stats.rows),
                                f"at most {max_rows:,} rows",
                                "has too many rows; reading stopped",
                            )
                        )
                        break
                if self.outcome.error_count >= self.max_errors:
                    self.error(
                        ParseError(
                            self.path.name,
                            None,
                            None,
                            "",
                            f"fewer than {self.max_errors:,} errors",
                            "has too many errors; reading stopped",
                        )
                    )
                    break
        self.progress(1.0)
        self.outcome.rows_read = self.stats.rows
        self.outcome.skipped.update(self.stats.skipped)
        if self.stats.file_skipped:
            self.outcome.report["file_skipped"] = self.stats.file_skipped

    def drop_rejected_lines(self, *stagings: Staging) -> None:
        """--skip-invalid: a line with an error is rejected whole (its other year columns too)."""
        lines = [line for line in self.lines_in_error if line is not None]
        if not (lines and self.options.skip_invalid):
            return
        if self.path.suffix.lower() != ".csv":
            return  # XLSX line numbers are per sheet: the invalid cell alone was left out
        for staging in stagings:
            staging.delete_lines(lines)

    def reject_staged(self, staging: Staging, problems: list[ParseError]) -> None:
        for problem in problems:
            self.error(problem)
        if problems and self.options.skip_invalid:
            staging.delete_lines(p.line for p in problems if p.line is not None)

    def failing(self) -> bool:
        """Errors without --skip-invalid: the import rolls back, so the rest of the work is skipped."""
        return bool(self.outcome.error_count) and not self.options.skip_invalid

    def finish_counts(self, count: UpsertCount) -> None:
        self.outcome.inserted += count.inserted
        self.outcome.updated += count.updated
        self.outcome.unchanged += count.unchanged

    def write_rejects(self) -> str:
        """Every rejected line with its original cells plus ``error``; file-level problems at the end."""
        directory = Path(settings.LODESTONE_IMPORT_REPORT_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        target = directory / f"{stamp}-{self.importer}-{self.batch.pk or 'dry'}-{Path(self.path).stem}-rejects.csv"
        pending = dict(self.lines_in_error)
        with open(target, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            header_written = False
            if self.path.suffix.lower() == ".csv":
                for item in read_csv(self.path):
                    if isinstance(item, ParseError):
                        break
                    line, cells = item
                    if not header_written:
                        writer.writerow(csv_safe_row(["line", *cells, "error"]))
                        header_written = True
                        continue
                    if line in pending:
                        writer.writerow(csv_safe_row([str(line), *cells, " | ".join(pending.pop(line))]))
            if not header_written:
                writer.writerow(["line", "error"])
            # Its own name: `line` above is always a number, these may be None (a file-level problem).
            for pending_line, messages in sorted(pending.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
                located = "" if pending_line is None else str(pending_line)
                writer.writerow(csv_safe_row([located, " | ".join(messages)]))
        return str(target)

    def known_country(self, iso3: str | None, line: int, column: str, value: str) -> ParseError | None:
        if iso3 is None or iso3 in self.countries:
            return None
        return ParseError(
            self.path.name,
            line,
            column,
            value,
            "a country of the countries table",
            f"is {iso3}, which is not in the countries table",
        )


def _year_error(name: str, line: int, year: int) -> ParseError | None:
    if 1900 <= year <= 2100:
        return None
    return ParseError(name, line, "year", str(year), "a year between 1900 and 2100", "is out of range")


def _source(key: str, defaults: dict[str, Any]) -> DataSource:
    """The edition's DataSource; an existing one (the demo's, a curator's) keeps its curated text."""
    source, created = DataSource.objects.get_or_create(key=key, defaults=defaults)
    if not created and source.published_on is None and defaults.get("published_on"):
        DataSource.objects.filter(pk=source.pk).update(published_on=defaults["published_on"])
        source.published_on = defaults["published_on"]
    return source


# ---------------------------------------------------------------------------------- USGS MCS

SALIENT_STATISTICS = {c.value for c in SalientStatistic.Statistic}


def _mcs_year(path: Path) -> int | None:
    match = re.search(r"mcs[_ -]?(\d{4})", path.name, re.IGNORECASE)
    if match:
        return int(match.group(1))
    for item in parse_usgs_mcs(path):  # the first record names the edition (Source column)
        if isinstance(item, ParseError):
            return None
        found = re.search(r"(\d{4})", item.edition)
        return int(found.group(1)) if found else None
    return None


@dataclass
class _McsRead:
    """What one pass over an MCS file leaves besides the staged rows (the writers while it runs)."""

    expected_edition: str | None
    production: Any = None
    salient: Any = None
    layouts: set[str] = field(default_factory=set)
    t5: list[dict[str, Any]] = field(default_factory=list)
    fig2: list[dict[str, Any]] = field(default_factory=list)


class UsgsMcsLoader(Loader):
    """World production (all editions), salient statistics, T5 and Fig2 of the MCS data release."""

    production_columns = (
        ("mineral_slug", "text"),
        ("commodity", "text"),
        ("measure", "text"),
        *PRODUCTION_FIGURE_STAGING_COLUMNS,
    )
    salient_columns = (
        ("mineral_slug", "text"),
        ("commodity", "text"),
        ("country_id", "text"),
        ("year", "int"),
        ("statistic", "text"),
        ("value", "float"),
        ("unit", "text"),
        ("bound", "text"),
        ("is_estimate", "bool"),
        ("is_withheld", "bool"),
        ("notes", "text"),
    )

    @classmethod
    def source_for(cls, path: Path, options: ImportOptions) -> DataSource:
        year = _mcs_year(path)
        if year is None:
            raise ImportFailed(f"{path.name}: cannot tell the MCS edition (file name or Source column)")
        key, known = f"usgs-mcs-{year}", MCS_EDITIONS.get(year)
        published_on = (
            (date.fromisoformat(options.published_on) if options.published_on else None)
            or DataSource.objects.filter(key=key).values_list("published_on", flat=True).first()
            or (known.published_on if known else None)
        )
        if published_on is None:
            # Editions are ranked by publication date: an undated one could be outranked by an older one.
            raise ImportFailed(
                f"{path.name}: the publication date of MCS {year} is not known (source {key} has none); "
                "give it with --published-on YYYY-MM-DD"
            )
        return _source(
            key,
            {
                "publisher": "U.S. Geological Survey, National Minerals Information Center",
                "title": f"Mineral Commodity Summaries {year} data release",
                "edition": f"MCS {year}",
                "published_on": published_on,
                "url": known.url if known else "https://www.usgs.gov/centers/national-minerals-information-center",
                "licence": "U.S. public domain",
            },
        )

    def records(self, fh: IO[bytes]) -> Iterator[Any]:
        return parse_usgs_mcs(fh, stats=self.stats)

    def load(self) -> None:
        production = Staging("lodestone_stage_production", self.production_columns)
        salient = Staging("lodestone_stage_salient", self.salient_columns)
        production.create()
        salient.create()
        read = self._stage(production, salient)
        self.drop_rejected_lines(production, salient)
        self._reject_duplicates(production, salient, fig2="fig2" in read.layouts)
        if self.failing():
            return
        created = self._create_minerals(production, salient)
        converted = self._unit_conversions(production, salient)
        if converted:
            self.outcome.skipped["rows converted to the mineral's canonical unit (kept)"] += converted
        if self.failing():
            return
        count = self._upsert(production, salient)
        self.finish_counts(count)
        minerals_mark_stale(mineral_ids=count.scope)
        if created:
            self.outcome.report["created_minerals"] = created
        if read.t5:
            self.outcome.report["t5"] = _t5_checked(read.t5, int(self.source_id))
        if read.fig2:
            self.outcome.report["fig2"] = read.fig2

    def _expected_edition(self) -> str | None:
        """``MCS 2025`` for the batch's source: every row of the file must name that edition."""
        edition = DataSource.objects.values_list("edition", flat=True).get(pk=self.source_id)
        year = re.search(r"(\d{4})", edition or "")
        return f"MCS {year.group(1)}" if year else None

    def _stage(self, production: Staging, salient: Staging) -> _McsRead:
        """Stream the file into the two staging tables; T5 and Fig2 entries are kept for the report."""
        read = _McsRead(expected_edition=self._expected_edition())
        with production.writer() as read.production, salient.writer() as read.salient:
            self.stream(lambda rec: self._stage_record(rec, read))
        return read

    def _stage_record(self, rec: Any, read: _McsRead) -> ParseError | None:
        if read.expected_edition and rec.edition != read.expected_edition:
            return ParseError(
                self.path.name,
                rec.line,
                "Source",
                rec.edition,
                read.expected_edition,
                "is another edition than the rest of the file",
            )
        if isinstance(rec, ProductionRow):
            read.layouts.add("production")
            return self._production_row(read.production, rec)
        if isinstance(rec, SalientValue):
            read.layouts.add("salient")
            return self._salient_value(read.salient, rec)
        if isinstance(rec, CriticalMineralSummary):
            read.layouts.add("t5")
            read.t5.append(_t5_entry(rec))
            return self._nir_row(
                read.salient,
                rec.mineral_slug,
                rec.mineral,
                rec.year,
                rec.is_estimate,
                rec.net_import_reliance,
                rec.line,
            )
        if isinstance(rec, NetImportReliance):
            read.layouts.add("fig2")
            read.fig2.append(
                {
                    "mineral": rec.mineral_slug,
                    "commodity": rec.commodity,
                    "year": rec.year,
                    "import_sources": list(rec.import_sources_iso3),
                    "line": rec.line,
                }
            )
            commodity = rec.commodity.partition(",")[0].title()
            return self._nir_row(read.salient, rec.mineral_slug, commodity, rec.year, False, rec.reliance_pct, rec.line)
        return None

    def _production_row(self, out: Any, rec: ProductionRow) -> ParseError | None:
        problem = _year_error(self.path.name, rec.line, rec.year) or self.known_country(
            rec.country_iso3, rec.line, "country", rec.country_name
        )
        if problem:
            return problem
        notes = "; ".join(x for x in (f"USGS Type: {rec.measure}", rec.notes) if x)[:300]
        out.write(
            (
                rec.mineral_slug,
                rec.commodity,
                rec.measure,
                rec.stage,
                rec.row_kind,
                rec.country_iso3,
                rec.year,
                rec.quantity,
                rec.unit,
                rec.is_estimate,
                rec.is_withheld,
                rec.bound,
                notes,
                rec.line,
            )
        )
        return None

    def _salient_value(self, out: Any, rec: SalientValue) -> ParseError | None:
        if rec.statistic not in SALIENT_STATISTICS:
            self.stats.skip(f"salient {rec.statistic} column (not stored)")
            return None
        if not rec.is_primary:
            self.stats.skip("salient component column (several columns for one statistic, no total)")
            return None
        return self._salient_row(
            out,
            rec.mineral_slug,
            rec.commodity,
            rec.year,
            rec.statistic,
            rec.value,
            rec.unit,
            rec.bound,
            rec.is_estimate,
            rec.is_withheld,
            rec.notes or f"USGS column {rec.column}",
            rec.line,
        )

    def _reject_duplicates(self, production: Staging, salient: Staging, *, fig2: bool) -> None:
        self.reject_staged(
            production, self._duplicates(production, ("mineral_slug", "stage", "row_kind", "country_id", "year"))
        )
        salient_dups = self._duplicates(salient, ("mineral_slug", "country_id", "year", "statistic"))
        if fig2 and salient_dups:
            # Fig2 lists some minerals once per form (abrasives: fused aluminum oxide / silicon carbide):
            # no single NIR for the mineral, so those rows are skipped and counted, not an error.
            # Every duplicate has a line (_duplicates locates each one): the None test only narrows the type.
            lines = {d.line for d in salient_dups if d.line is not None} | {int(d.value) for d in salient_dups}
            salient.delete_lines(lines)
            self.outcome.skipped["Fig2 mineral listed once per form (no single NIR)"] += len(lines)
        else:
            self.reject_staged(salient, salient_dups)

    def _upsert(self, production: Staging, salient: Staging) -> UpsertCount:
        count = UpsertCount()
        src = str(int(self.source_id))
        mineral_join = "JOIN minerals_mineral m ON m.slug = s.mineral_slug"
        for target in production_targets(mineral_join=mineral_join, source_id=src):
            count.add(production.upsert(target))
        count.add(
            salient.upsert(
                Target(
                    table=SalientStatistic._meta.db_table,
                    joins=mineral_join,
                    select={
                        "mineral_id": "m.id",
                        "country_id": "s.country_id",
                        "year": "s.year",
                        "statistic": "s.statistic",
                        "value": TO_CANONICAL_UNIT.format(value="s.value"),
                        "unit": "CASE WHEN s.unit IN ('kg', 't') THEN m.canonical_unit ELSE s.unit END",
                        "bound": "s.bound",
                        "is_estimate": "s.is_estimate",
                        "is_withheld": "s.is_withheld",
                        "notes": "s.notes",
                        "source_id": src,
                    },
                    key=("mineral_id", "country_id", "year", "statistic", "source_id"),
                    compare=("value", "unit", "bound", "is_estimate", "is_withheld", "notes"),
                    scope="mineral_id",
                )
            )
        )
        return count

    def _salient_row(
        self,
        out: Any,
        slug: str,
        commodity: str,
        year: int,
        statistic: str,
        value: float | None,
        unit: str,
        bound: str,
        is_estimate: bool,
        is_withheld: bool,
        notes: str,
        line: int,
    ) -> ParseError | None:
        problem = _year_error(self.path.name, line, year) or self.known_country("USA", line, "country", "USA")
        if problem:
            return problem
        if value is not None and (value < 0 or (statistic == "net_import_reliance" and value > 100)):
            expected = "a percentage from 0 to 100" if statistic == "net_import_reliance" else "a value of 0 or more"
            return ParseError(self.path.name, line, statistic, str(value), expected, "is out of range")
        out.write(
            (
                slug,
                commodity,
                "USA",
                year,
                statistic,
                value,
                unit[:10],
                bound,
                is_estimate,
                is_withheld,
                notes[:300],
                line,
            )
        )
        return None

    def _nir_row(
        self, out: Any, slug: str, commodity: str, year: int, is_estimate: bool, nir: Any, line: int
    ) -> ParseError | None:
        if nir is None:
            self.stats.skip("no net import reliance published")
            return None
        notes = nir.note or ("withheld" if nir.is_withheld else "")
        return self._salient_row(
            out,
            slug,
            commodity,
            year,
            "net_import_reliance",
            nir.value,
            "percent",
            nir.bound,
            is_estimate,
            nir.is_withheld,
            notes,
            line,
        )

    def _duplicates(self, staging: Staging, key: tuple[str, ...]) -> list[ParseError]:
        what = ", ".join(key)
        return [
            ParseError(
                self.path.name,
                line,
                None,
                str(first),
                f"one row per {what}",
                f"repeats the key ({what}) of line {first}",
            )
            for line, first in staging.duplicates(key, limit=self.max_errors)
        ]

    def _create_minerals(self, *stagings: Staging) -> list[str]:
        """Commodities without a mineral get one (slug from the parser), listed for curators to review."""
        known = dict(Mineral.objects.values_list("slug", "name"))
        wanted: dict[str, str] = {}
        for staging in stagings:
            for slug, commodity in staging.values(
                "SELECT mineral_slug, min(commodity) FROM {stage} GROUP BY mineral_slug"
            ):
                if slug not in known:
                    wanted.setdefault(slug, commodity)
        if not wanted:
            return []
        names = set(known.values())
        new = []
        for slug, commodity in sorted(wanted.items()):
            name = commodity if mineral_slug_for(commodity) == slug else slug.replace("-", " ").capitalize()
            if name in names:
                name = f"{name} ({slug})"
            names.add(name)
            new.append(
                Mineral(
                    slug=slug,
                    name=name[:100],
                    usgs_name=commodity[:100],
                    canonical_unit=canonical_unit(slug),
                    notes=f"Created by the USGS MCS import of {self.path.name} (batch {self.batch.pk}): review name, "
                    "symbol and critical-mineral lists.",
                )
            )
        Mineral.objects.bulk_create(new)
        return [m.slug for m in new]

    def _unit_conversions(self, *stagings: Staging) -> int:
        """Rows whose mass unit is not the mineral's canonical unit (converted in the upsert)."""
        return sum(
            staging.values(
                "SELECT count(*) FROM {stage} s JOIN minerals_mineral m ON m.slug = s.mineral_slug "
                "WHERE s.unit IN ('kg', 't') AND s.unit <> m.canonical_unit"
            )[0][0]
            for staging in stagings
        )


def _number(value: Any) -> Any:
    if value is None:
        return None
    return {"value": value.value, "bound": value.bound, "withheld": value.is_withheld, "note": value.note}


def _t5_entry(rec: CriticalMineralSummary) -> dict[str, Any]:
    return {
        "mineral": rec.mineral_slug,
        "year": rec.year,
        "leading_country": rec.leading_country_iso3,
        "leading_share_pct": _number(rec.leading_country_share_pct),
        "primary_import_source": rec.primary_import_source_iso3,
        "line": rec.line,
    }


def _t5_checked(entries: list[dict[str, Any]], source_id: int) -> list[dict[str, Any]]:
    """T5's leading-producer share beside the share computed from the stored world production of the
    same edition (country / world total, same mineral and year, at the stage where both exist)."""
    slugs = {e["mineral"] for e in entries}
    rows = ProductionRecord.objects.filter(
        mineral__slug__in=slugs, source__edition=DataSource.objects.get(pk=source_id).edition
    ).values_list("mineral__slug", "stage", "row_kind", "country_id", "year", "quantity")
    totals: dict[tuple[str, str, int], float] = {}
    countries: dict[tuple[str, str, str, int], float] = {}
    for slug, stage, kind, iso3, year, quantity in rows:
        if quantity is None:
            continue
        if kind == "world_total":
            totals[(slug, stage, year)] = quantity
        elif kind == "country":
            countries[(slug, stage, iso3, year)] = quantity
    for entry in entries:
        for stage in ("mine", "refinery"):
            total = totals.get((entry["mineral"], stage, entry["year"]))
            part = countries.get((entry["mineral"], stage, entry["leading_country"], entry["year"]))
            if total and part is not None:
                entry["computed_share_pct"] = round(part / total * 100, 1)
                entry["computed_stage"] = stage
                break
    return entries


# ---------------------------------------------------------------------------------- trade (Comtrade, BACI)


class TradeLoader(Loader):
    """Shared by Comtrade and BACI: stage flows, create unknown codes, upsert per partial index."""

    bilateral_only = False  # BACI has no partner aggregates: two scans of the staging table saved

    def load_trade(self, write: Callable[[Any, Any], ParseError | None]) -> None:
        staging = Staging("lodestone_stage_trade", TRADE_FLOW_STAGING_COLUMNS)
        staging.create()
        with staging.writer() as out:
            self.stream(lambda rec: write(out, rec))
        self.drop_rejected_lines(staging)
        targets = trade_flow_targets(source_id=str(int(self.source_id)))
        if self.bilateral_only:
            targets = targets[:1]
        if is_postgresql():
            # The duplicate check groups every staged row by its key: in memory, not in batches
            # spilled to disk (2.5 s of a 500 k-row import at the default 4 MB). This transaction only.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '256MB'")
        if not self.failing() and staging.first_load_pays(targets) and self._first_load(staging, targets):
            return
        key = ("year", "exporter_id", "importer_id", "commodity_code_id", "basis")
        self.reject_staged(
            staging,
            [
                ParseError(
                    self.path.name,
                    line,
                    None,
                    str(first),
                    "one row per year, exporter, importer, HS code, flow",
                    f"repeats the flow of line {first}",
                )
                for line, first in staging.duplicates(key, limit=self.max_errors)
            ],
        )
        if self.failing():
            return
        self._codes(staging)
        count = UpsertCount()
        for target in targets:
            count.add(staging.upsert(target))
        self.finish_counts(count)
        minerals_mark_stale(mineral_ids=trade_flow_mineral_ids(count.scope))

    def _first_load(self, staging: Staging, targets: list[Target]) -> bool:
        """A first load of its years, more rows than the table holds (PostgreSQL): insert without
        the secondary indexes and foreign keys, then build them (docs/performance.md, "Import").
        Readers of the table wait until the commit. The unique indexes' builds are the duplicate
        check: for new (source, year) keys the staged key repeats exactly when a unique index
        would. On a repeated key (or any other integrity error) the savepoint undoes it all and
        False sends the load the usual way, whose check names every repeated line."""
        count = UpsertCount()
        try:
            with transaction.atomic():
                self._codes(staging)
                with built_after_load(targets[0].table):
                    for target in targets:
                        count.add(staging.insert_all(target))
        except IntegrityError:
            return False
        self.finish_counts(count)
        minerals_mark_stale(mineral_ids=trade_flow_mineral_ids(count.scope))
        return True

    def _codes(self, staging: Staging) -> None:
        codes = {row[0] for row in staging.values("SELECT DISTINCT commodity_code_id FROM {stage}")}
        stored = dict(CommodityCode.objects.filter(hs6__in=codes).values_list("hs6", "is_basket"))
        missing = sorted(codes - set(stored))
        if missing:
            # Unknown six-digit codes are created without a mineral: kept, counted, mapped later by a curator.
            CommodityCode.objects.bulk_create(
                [
                    CommodityCode(
                        hs6=c, description=f"HS {c} (created by the {self.importer} import; no mineral mapped)"
                    )
                    for c in missing
                ]
            )
            self.outcome.report["created_codes"] = missing
        mapped = set(
            CommodityMineral.objects.filter(commodity_code_id__in=codes).values_list("commodity_code_id", flat=True)
        )
        self.outcome.report["basket_codes"] = sorted(c for c, basket in stored.items() if basket)
        self.outcome.report["unmapped_codes"] = sorted(codes - mapped)

    def flow_row(self, out: Any, rec: Any, basis: str, hs6: str) -> ParseError | None:
        name = self.path.name
        problem = (
            _year_error(name, rec.line, rec.year)
            or self.known_country(rec.exporter_iso3, rec.line, "exporter", rec.exporter_iso3 or "")
            or self.known_country(rec.importer_iso3, rec.line, "importer", rec.importer_iso3 or "")
        )
        if problem:
            return problem
        if rec.value_usd < 0:
            return ParseError(name, rec.line, "value", str(rec.value_usd), "a value of 0 or more", "is negative")
        if rec.quantity_kg is not None and rec.quantity_kg < 0:
            return ParseError(
                name, rec.line, "quantity", str(rec.quantity_kg), "a quantity of 0 or more", "is negative"
            )
        out.write(
            (rec.year, rec.exporter_iso3, rec.importer_iso3, hs6, basis, rec.value_usd, rec.quantity_kg, rec.line)
        )
        return None


class ComtradeLoader(TradeLoader):
    @classmethod
    def source_for(cls, path: Path, options: ImportOptions) -> DataSource:
        return _source(
            "comtrade",
            {
                "publisher": "UN Statistics Division",
                "title": "UN Comtrade database",
                "edition": "extracts",
                "url": "https://comtradeplus.un.org",
                "licence": "UN Comtrade terms of use (attribution; no bulk redistribution)",
            },
        )

    def records(self, fh: IO[bytes]) -> Iterator[Any]:
        return parse_comtrade(fh, stats=self.stats)

    def load(self) -> None:
        short: set[str] = set()
        # A four-digit heading a curator stored (rare earths: 2846, reported only as the heading
        # in the Comtrade extract) keeps its rows; other chapter/heading totals are skipped.
        headings = set(CommodityCode.objects.filter(hs6__regex=r"^[0-9]{4}$").values_list("hs6", flat=True))

        def write(out: Any, rec: TradeFlowRow) -> ParseError | None:
            basis = "import" if rec.flow == "M" else "export"
            if rec.hs_code in headings:
                return self.flow_row(out, rec, basis, rec.hs_code)
            if rec.hs6 is None:
                # 2- and 4-digit rows are chapter/heading totals of the 6-digit rows: skipped, listed.
                self.stats.skip(
                    f"HS code of {len(rec.hs_code)} digits (only six-digit subheadings and stored headings are kept)"
                )
                short.add(rec.hs_code)
                return None
            return self.flow_row(out, rec, basis, rec.hs6)

        self.load_trade(write)
        if short:
            self.outcome.report["short_codes"] = sorted(short)


class BaciLoader(TradeLoader):
    bilateral_only = True

    @classmethod
    def source_for(cls, path: Path, options: ImportOptions) -> DataSource:
        match = re.search(r"BACI_(HS\d\d)_.*?(V\d{6}[a-z]?)(?![a-z0-9])", path.name, re.IGNORECASE)
        key, edition = ("baci", "BACI")
        if match:
            key = f"baci-{match.group(1).lower()}-{match.group(2).lower()}"
            edition = f"{match.group(1).upper()} {match.group(2).upper()}"
        return _source(
            key,
            {
                "publisher": "CEPII",
                "title": "BACI: international trade database at the product level",
                "edition": edition,
                "url": "https://www.cepii.fr/CEPII/en/bdd_modele/bdd_modele_item.asp?id=37",
                "licence": "Etalab Open Licence 2.0",
            },
        )

    def records(self, fh: IO[bytes]) -> Iterator[Any]:
        if not self.options.countries:
            raise ImportFailed("BACI needs its country-code file (--countries country_codes_V202X.csv)")
        try:
            codes = load_baci_country_codes(self.options.countries)
        except (ValueError, OSError) as exc:
            raise ImportFailed(str(exc)) from exc
        wanted = None
        if not self.options.all_codes:
            # Filtered on the raw text before any conversion: the cheap way through millions of rows.
            wanted = set(CommodityMineral.objects.values_list("commodity_code_id", flat=True))
        return parse_baci(fh, codes, hs_codes=wanted, stats=self.stats)

    def load(self) -> None:
        countries = self.countries
        name = self.path.name

        def write(out: Any, rec: BaciFlow) -> ParseError | None:
            # the hot path (millions of rows): two set lookups, one tuple, one COPY row
            if (
                rec.exporter_iso3 in countries
                and rec.importer_iso3 in countries
                and 1900 <= rec.year <= 2100
                and rec.value_usd >= 0
                and (rec.quantity_kg is None or rec.quantity_kg >= 0)
            ):
                out.write(
                    (
                        rec.year,
                        rec.exporter_iso3,
                        rec.importer_iso3,
                        rec.hs6,
                        "reconciled",
                        rec.value_usd,
                        rec.quantity_kg,
                        rec.line,
                    )
                )
                return None
            return self.flow_row(_NoWrite(), _BaciView(rec, name), "reconciled", rec.hs6)

        self.load_trade(write)


class _NoWrite:
    def write(self, row: tuple[Any, ...]) -> None:  # pragma: no cover - only reached for valid rows
        raise AssertionError("a valid BACI row took the slow path")


class _BaciView:
    """A BACI flow seen through the field names flow_row reads (for its error messages)."""

    def __init__(self, rec: BaciFlow, name: str) -> None:
        self.line, self.year, self.value_usd, self.quantity_kg = rec.line, rec.year, rec.value_usd, rec.quantity_kg
        self.exporter_iso3, self.importer_iso3 = rec.exporter_iso3, rec.importer_iso3


# ---------------------------------------------------------------------------------- WGI

_WGI_FIELDS = dict(zip(("va", "pv", "ge", "rq", "rl", "cc"), WGI_DIMENSIONS, strict=True))


def _wgi_release(path: Path) -> int | None:
    """The release is the year after the last year of data (the 2022 release covers 1996-2021)."""
    match = re.search(r"(?:wgi|governance)\D{0,10}(20\d\d)", path.name, re.IGNORECASE)
    if match:
        return int(match.group(1))
    last = max((r.year for r in parse_wgi(path) if not isinstance(r, ParseError)), default=None)
    return last + 1 if last else None


class WgiLoader(Loader):
    @classmethod
    def source_for(cls, path: Path, options: ImportOptions) -> DataSource:
        release = int(options.release) if options.release else _wgi_release(path)
        if release is None:
            raise ImportFailed(f"{path.name}: cannot tell the WGI release (pass --release YEAR)")
        return _source(
            f"wgi-{release}",
            {
                "publisher": "World Bank",
                "title": f"Worldwide Governance Indicators, {release} update",
                "edition": f"{release} release",
                "url": "https://www.worldbank.org/en/publication/worldwide-governance-indicators",
                "licence": "CC BY 4.0",
            },
        )

    def records(self, fh: IO[bytes]) -> Iterator[Any]:
        if self.path.suffix.lower() in (".xlsx", ".xlsm"):
            return parse_wgi(self.path, stats=self.stats)  # openpyxl reads the zip itself
        return parse_wgi(fh, stats=self.stats)

    def load(self) -> None:
        staging = Staging(
            "lodestone_stage_wgi", (("country_id", "text"), ("year", "int"), ("dim", "text"), ("estimate", "float"))
        )
        staging.create()
        name = self.path.name
        with staging.writer() as out:

            def write(rec: Any) -> ParseError | None:
                if rec.iso3 not in self.countries:
                    # a valid WGI economy we do not track (ANT, the dissolved Netherlands Antilles; XKX)
                    self.stats.skip(f"economy not in the countries table: {rec.iso3}")
                    return None
                problem = _year_error(name, rec.line, rec.year)
                if problem:
                    return problem
                if rec.estimate is not None and not -5 <= rec.estimate <= 5:
                    return ParseError(
                        name,
                        rec.line,
                        rec.dimension,
                        str(rec.estimate),
                        "an estimate between -5 and 5 (WGI: approximately -2.5 to 2.5)",
                        "is out of range",
                    )
                out.write((rec.iso3, rec.year, rec.dimension, rec.estimate, rec.line))
                return None

            self.stream(write)
        self.drop_rejected_lines(staging)
        self.reject_staged(
            staging,
            [
                ParseError(
                    name,
                    line,
                    None,
                    str(first),
                    "one estimate per country, year and dimension",
                    f"repeats the country, year and dimension of line {first}",
                )
                for line, first in staging.duplicates(("country_id", "year", "dim"), limit=self.max_errors)
            ],
        )
        if self.failing():
            return
        # Only the dimensions the file carries are written: a one-indicator export never blanks the others.
        present = [d for (d,) in staging.values("SELECT DISTINCT dim FROM {stage} ORDER BY dim") if d in _WGI_FIELDS]
        if not present:
            return
        pivot = Staging(
            "lodestone_stage_wgi_pivot",
            [("country_id", "text"), ("year", "int"), *[(_WGI_FIELDS[d], "float") for d in present]],
        )
        pivot.create()
        cols = ", ".join(f"max(CASE WHEN dim = '{d}' THEN estimate END)" for d in present)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {pivot.name} (country_id, year, {', '.join(_WGI_FIELDS[d] for d in present)}, line) "  # noqa: S608
                f"SELECT country_id, year, {cols}, min(line) FROM {staging.name} GROUP BY country_id, year"
            )
        fields = [_WGI_FIELDS[d] for d in present]
        count = pivot.upsert(
            Target(
                table=WgiScore._meta.db_table,
                select={
                    "country_id": "s.country_id",
                    "year": "s.year",
                    **{f: f"s.{f}" for f in fields},
                    "source_id": str(int(self.source_id)),
                },
                key=("country_id", "year"),
                compare=(*fields, "source_id"),
            )
        )
        self.finish_counts(count)
        if count.inserted or count.updated:
            # governance scores feed every mineral's supply-risk figure
            minerals_mark_stale(mineral_ids=Mineral.objects.values_list("id", flat=True))


# ---------------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Importer:
    """One publisher's format: the loader that reads it (through its parser in minerals/importers/),
    what the command and the admin say about it, and the file name endings they accept."""

    key: str
    loader: type[Loader]
    description: str
    extensions: tuple[str, ...] = (".csv",)


# Every importer, by the key stored in ImportBatch.importer: the admin upload form (choices,
# extensions), the import_<key> commands (help, extensions) and import_batch_run (so the Celery
# task) all read it here.
IMPORTERS: dict[str, Importer] = {
    importer.key: importer
    for importer in (
        Importer(
            "usgs_mcs",
            UsgsMcsLoader,
            "Import USGS Mineral Commodity Summaries CSV files: the MCS 2026 long file, the MCS 2025 world file, "
            "the per-commodity world files of the 2024/2023 editions, salient statistics, T5 and Fig2 (a folder "
            "or a list of files).",
        ),
        Importer(
            "comtrade",
            ComtradeLoader,
            "Import UN Comtrade CSV files (API extracts or Comtrade+ downloads) as reported trade flows.",
        ),
        Importer("baci", BaciLoader, "Import a CEPII BACI yearly file (t,i,j,k,v,q) as reconciled trade flows."),
        Importer(
            "wgi",
            WgiLoader,
            "Import World Bank Worldwide Governance Indicators (official CSV layouts or the XLSX workbook).",
            extensions=(".csv", ".xlsx"),
        ),
    )
}


# ---------------------------------------------------------------------------------- batches that end, files that go


def _drop_created_source(batch_id: int) -> None:
    """A failed or dry batch leaves no DataSource behind: the one it created is deleted (the batch
    keeps its report, without a source), unless another batch or any row uses it."""
    batch = ImportBatch.objects.filter(pk=batch_id).values("source_id", "report").first()
    if batch is None or batch["source_id"] is None or not batch["report"].get("created_source"):
        return
    source_id = batch["source_id"]
    if ImportBatch.objects.filter(source_id=source_id).exclude(pk=batch_id).exists():
        return
    try:
        with transaction.atomic():
            ImportBatch.objects.filter(pk=batch_id).update(source=None)
            DataSource.objects.filter(pk=source_id).delete()
    except ProtectedError:
        pass  # rows refer to it after all: it stays, and so does the batch's link


def import_batch_fail(*, batch_id: int, error: BaseException | str) -> bool:
    """End a batch that is still running as failed, with its error, in a transaction of its own.

    For what import_batch_run could not record itself: the task's hard limit, a lost connection,
    an error while recording the outcome. A broken connection is replaced once. True if it was
    still running."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    for attempt in range(2):
        try:
            with transaction.atomic():
                batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
                if batch is None or batch.status != ImportBatch.Status.RUNNING:
                    return False
                report = {**batch.report, "error": text[:2000]}
                ImportBatch.objects.filter(pk=batch_id).update(
                    status=ImportBatch.Status.FAILED, finished_at=timezone.now(), report=report
                )
            _drop_created_source(batch_id)
            return True
        except DatabaseError:
            if attempt:
                raise
            connection.close()  # the next query opens a new connection
    return False


def import_batches_fail_stale(*, older_than: timedelta) -> int:
    """Batches still running long after any task could (worker killed, message lost) end as failed."""
    cutoff = timezone.now() - older_than
    stale = ImportBatch.objects.filter(status=ImportBatch.Status.RUNNING, started_at__lt=cutoff)
    limit = int(older_than.total_seconds())
    return sum(
        import_batch_fail(batch_id=pk, error=f"still running after {limit} s: the worker was lost or killed")
        for pk in stale.values_list("pk", flat=True)
    )


def import_files_purge(*, older_than: timedelta) -> int:
    """Delete uploads and rejects reports older than the retention period; returns how many.

    Uploads live in one folder each (the admin saves them under a random name); the folder of a
    batch still running is kept whatever its age."""
    cutoff = time.time() - older_than.total_seconds()
    running = {
        Path(p).parent.resolve()
        for p in ImportBatch.objects.filter(status=ImportBatch.Status.RUNNING).values_list("file_path", flat=True)
        if p
    }
    removed = 0
    uploads = Path(settings.LODESTONE_IMPORT_UPLOAD_DIR)
    if uploads.is_dir():
        for folder in uploads.iterdir():
            if folder.stat().st_mtime >= cutoff or folder.resolve() in running:
                continue
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)
            removed += 1
    reports = Path(settings.LODESTONE_IMPORT_REPORT_DIR)
    if reports.is_dir():
        for report in reports.iterdir():
            if report.is_file() and report.stat().st_mtime < cutoff:
                report.unlink(missing_ok=True)
                removed += 1
    return removed
