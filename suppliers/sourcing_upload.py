"""A buyer's supplier list uploaded as CSV or XLSX: pure parsing and validation, one atomic service.

Format (one row per purchase; header names are case-insensitive):

    mineral,facility,country,annual_quantity,share,notes
    gallium,,JPN,400,,Japanese supplier
    germanium,umicore-olen-germanium,BEL,600,,

* `mineral`: a mineral slug or name (e.g. `gallium`, `Graphite (natural)`).
* `facility`: a facility key (optional); its country is used when `country` is empty and must
  match it otherwise.
* `country`: ISO 3166-1 alpha-3 (required without a facility).
* `annual_quantity` (0 to 1e15, in the unit of the requirement) and/or `share` (0..1 of the
  requirement): at least one. `share (fraction)`, the header of the portfolio's own sourcing
  download, is read as `share`: a download re-uploads unchanged as a no-op.

Every error names the row (as the spreadsheet numbers it: the header is row 1), the column,
the value and what was expected. Any error: nothing is saved. Otherwise the file replaces the
organization's sourcing of the minerals it lists (other minerals are left alone), through
suppliers.services in one transaction, so stale markers and history behave as for any edit.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from minerals.importers.numbers import MAX_AMOUNT
from minerals.importers.workbook import WorkbookTooLarge, check_xlsx_sizes
from minerals.models import Country, Mineral
from minerals.services import WriteResult
from suppliers import services
from suppliers.models import Facility, Organization, Sourcing

COLUMNS = ("mineral", "facility", "country", "annual_quantity", "share", "notes")
MAX_ROWS = 10_000
MAX_NOTES = 2_000
QUANTITY_EXPECTED = f"a number from 0 to {MAX_AMOUNT:g}, or empty"
# Bounds on what is read at all, checked before or while reading (issue 16, probing 4: a 4.8 MB
# workbook took a web worker to 4.4 GB). The upload itself is capped by
# LODESTONE_SUPPLIER_UPLOAD_MAX_BYTES (5 MB); a workbook may expand to MAX_XLSX_BYTES of XML; reading
# stops after MAX_PHYSICAL_ROWS rows (blank rows included) and MAX_COLUMNS columns. Within these
# a file parses in well under a second and a few tens of MB, so it is parsed in the request.
MAX_XLSX_BYTES = 50 * 1024 * 1024
MAX_XLSX_PART_BYTES = 10 * 1024 * 1024
MAX_PHYSICAL_ROWS = 2 * MAX_ROWS + 1
MAX_COLUMNS = 64


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    expected: str

    @property
    def message(self) -> str:
        shown = repr(self.value) if self.value != "" else "an empty cell"
        return f"Row {self.row}, column {self.column}: got {shown}, expected {self.expected}."


@dataclass(frozen=True)
class SourcingRow:
    row: int
    mineral_slug: str
    facility_key: str
    country: str
    annual_quantity: float | None
    share: float | None
    notes: str


@dataclass
class UploadResult:
    rows: list[SourcingRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class UploadFormatError(ValueError):
    """The file cannot be read at all (not CSV/XLSX, not UTF-8, no header)."""


# --------------------------------------------------------------------------------------------
# Pure parsing


def read_table(file_name: str, content: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(row number, {column: raw value}) for every non-empty data row; header = row 1."""
    if file_name.lower().endswith(".xlsx"):
        grid = _xlsx_grid(content)
    elif file_name.lower().endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise UploadFormatError("The CSV file is not UTF-8 text.") from error
        try:
            grid = _bounded(row[:MAX_COLUMNS] for row in csv.reader(io.StringIO(text)))
        except csv.Error as error:
            raise UploadFormatError(f"The CSV file is not valid CSV: {error}.") from error
    else:
        raise UploadFormatError("Upload a .csv or .xlsx file.")
    if not grid:
        raise UploadFormatError("The file is empty: the first row must name the columns.")
    header = [_column_name(h) for h in grid[0]]
    out = []
    for number, values in enumerate(grid[1:], start=2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        record = {name: values[i] if i < len(values) else None for i, name in enumerate(header) if name}
        if len(values) > len(header):
            record["__extra__"] = values[len(header) :]
        out.append((number, record))
    return [(0, {"__header__": header}), *out]


# The portfolio's own download labels share columns "share (fraction)" (dashboards.downloads):
# the suffix names the scale the column already uses, so a re-uploaded download reads as is.
_DOWNLOAD_SUFFIXES = (" (fraction)",)


def _column_name(value: Any) -> str:
    if value is None:
        return ""
    name = str(value).strip().lower()
    for suffix in _DOWNLOAD_SUFFIXES:
        name = name.removesuffix(suffix)
    return name.strip().replace(" ", "_")


def _bounded(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """The rows, read one at a time and refused past MAX_PHYSICAL_ROWS (before the rest is read)."""
    grid: list[list[Any]] = []
    for row in rows:
        if len(grid) >= MAX_PHYSICAL_ROWS:
            raise UploadFormatError(
                f"The file has more than {MAX_PHYSICAL_ROWS:,} rows; upload at most {MAX_ROWS:,} data rows."
            )
        grid.append(list(row))
    return grid


def _xlsx_grid(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    stream = io.BytesIO(content)
    try:
        check_xlsx_sizes(stream, max_total=MAX_XLSX_BYTES, max_part=MAX_XLSX_PART_BYTES)
    except WorkbookTooLarge as error:
        raise UploadFormatError(f"The workbook is refused: it {error}.") from error
    except ValueError as error:
        raise UploadFormatError("The file is not a readable .xlsx workbook.") from error
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises several types for a file that is not XLSX
        raise UploadFormatError("The file is not a readable .xlsx workbook.") from error
    try:
        sheet = workbook.worksheets[0]
        return _bounded(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS))
    finally:
        workbook.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value: Any) -> float | None:
    """A number from a cell; None when empty; raises ValueError when not a finite number."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise ValueError("boolean")
    number = float(value) if isinstance(value, int | float) else float(str(value).strip().replace(",", ""))
    if math.isnan(number) or math.isinf(number):
        raise ValueError("not finite")
    return number


@dataclass(frozen=True)
class Reference:
    """What a row may name: mineral slugs (and lower-case names), countries, facilities."""

    minerals: Mapping[str, str]  # slug or lower-case name -> slug
    countries: frozenset[str]
    facilities: Mapping[str, tuple[str, str]]  # key -> (mineral slug, country)


def validate_rows(table: Sequence[tuple[int, dict[str, Any]]], reference: Reference) -> UploadResult:
    """Check every row (all errors, not just the first) and return the clean rows."""
    result = UploadResult()
    header = table[0][1]["__header__"] if table and "__header__" in table[0][1] else []
    unknown = [h for h in header if h and h not in COLUMNS]
    for name in unknown:
        result.errors.append(RowError(1, name, name, f"one of the columns {', '.join(COLUMNS)}"))
    for required in ("mineral", "country"):
        if required not in header and not (required == "country" and "facility" in header):
            result.errors.append(RowError(1, required, "", f"a column named {required!r}"))
    if "annual_quantity" not in header and "share" not in header:
        result.errors.append(RowError(1, "annual_quantity", "", "a column annual_quantity or share"))
    if result.errors:
        return result
    rows = table[1:]
    if len(rows) > MAX_ROWS:
        result.errors.append(RowError(MAX_ROWS + 2, "mineral", "", f"at most {MAX_ROWS:,} rows"))
        return result
    if not rows:
        result.errors.append(RowError(2, "mineral", "", "at least one data row"))
        return result
    seen: dict[tuple[str, str, str], int] = {}
    for number, record in rows:
        errors: list[RowError] = []
        if "__extra__" in record:
            errors.append(RowError(number, "(beyond the header)", _text(record["__extra__"][0]), "no extra cells"))
        raw_mineral = _text(record.get("mineral"))
        slug = reference.minerals.get(raw_mineral) or reference.minerals.get(raw_mineral.lower())
        if not slug:
            errors.append(RowError(number, "mineral", raw_mineral, "a known mineral slug or name, e.g. gallium"))
        facility_key = _text(record.get("facility"))
        country = _text(record.get("country")).upper()
        if facility_key:
            found = reference.facilities.get(facility_key)
            if found is None:
                errors.append(RowError(number, "facility", facility_key, "a known facility key, or an empty cell"))
            else:
                facility_mineral, facility_country = found
                if slug and facility_mineral != slug:
                    errors.append(
                        RowError(
                            number,
                            "facility",
                            facility_key,
                            f"a facility producing {slug} (it makes {facility_mineral})",
                        )
                    )
                if country and country != facility_country:
                    errors.append(
                        RowError(number, "country", country, f"the facility's country {facility_country}, or empty")
                    )
                country = country or facility_country
        if not country:
            errors.append(RowError(number, "country", "", "an ISO3 country code (required without a facility)"))
        elif country not in reference.countries:
            errors.append(RowError(number, "country", country, "an ISO 3166-1 alpha-3 code, e.g. JPN"))
        quantity = share = None
        try:
            quantity = _number(record.get("annual_quantity"))
            if quantity is not None and not 0 <= quantity <= MAX_AMOUNT:
                raise ValueError("out of range")
        except ValueError:
            errors.append(RowError(number, "annual_quantity", _text(record.get("annual_quantity")), QUANTITY_EXPECTED))
        try:
            share = _number(record.get("share"))
            if share is not None and not 0 <= share <= 1:
                raise ValueError("out of range")
        except ValueError:
            errors.append(RowError(number, "share", _text(record.get("share")), "a fraction from 0 to 1, or empty"))
        if quantity is None and share is None and not any(e.column in ("annual_quantity", "share") for e in errors):
            errors.append(RowError(number, "annual_quantity", "", "an annual quantity or a share (one at least)"))
        notes = _text(record.get("notes"))
        if len(notes) > MAX_NOTES:
            errors.append(RowError(number, "notes", notes[:20] + "…", f"at most {MAX_NOTES} characters"))
        if slug and country:
            key = (slug, facility_key, "" if facility_key else country)
            if key in seen:
                errors.append(
                    RowError(
                        number,
                        "facility" if facility_key else "country",
                        facility_key or country,
                        f"one row per mineral and supplier (row {seen[key]} has the same)",
                    )
                )
            else:
                seen[key] = number
        if errors:
            result.errors.extend(errors)
            continue
        assert slug is not None
        result.rows.append(
            SourcingRow(
                row=number,
                mineral_slug=slug,
                facility_key=facility_key,
                country=country,
                annual_quantity=quantity,
                share=share,
                notes=notes,
            )
        )
    return result


# --------------------------------------------------------------------------------------------
# The service


def upload_reference(*, mineral_slugs: Iterable[str] | None = None) -> Reference:
    """Minerals, countries and facilities the rows may name. Three queries."""
    minerals: dict[str, str] = {}
    for slug, name in Mineral.objects.values_list("slug", "name"):
        minerals[slug] = slug
        minerals[name.lower()] = slug
    facilities = {
        key: (slug, country)
        for key, slug, country in Facility.objects.values_list("key", "mineral__slug", "country_id")
    }
    return Reference(
        minerals=minerals, countries=frozenset(Country.objects.values_list("iso3", flat=True)), facilities=facilities
    )


@transaction.atomic
def sourcing_upload(
    *, organization: Organization, file_name: str, content: bytes, user: AbstractBaseUser | None = None
) -> UploadResult:
    """Validate the whole file, then replace the organization's sourcing of the minerals it
    lists. Any error: nothing is written (and the transaction would roll back a failure)."""
    try:
        table = read_table(file_name, content)
    except UploadFormatError as error:
        return UploadResult(errors=[RowError(1, "(file)", file_name, str(error))])
    result = validate_rows(table, upload_reference())
    if not result.ok:
        return result
    minerals = dict(Mineral.objects.filter(slug__in={r.mineral_slug for r in result.rows}).values_list("slug", "id"))
    facilities = dict(
        Facility.objects.filter(key__in={r.facility_key for r in result.rows if r.facility_key}).values_list(
            "key", "id"
        )
    )
    kept: set[int] = set()
    for row in result.rows:
        facility_id = facilities.get(row.facility_key) if row.facility_key else None
        lookup: dict[str, Any] = {"organization": organization, "mineral_id": minerals[row.mineral_slug]}
        if facility_id is not None:
            lookup["facility_id"] = facility_id
        else:
            lookup.update({"facility__isnull": True, "country_id": row.country})
        existing = Sourcing.objects.filter(**lookup).first()
        values = {
            "country_id": row.country,
            "annual_quantity": row.annual_quantity,
            "share": row.share,
            "notes": row.notes,
        }
        if existing is None:
            instance = services.record_save(
                instance=Sourcing(
                    organization=organization,
                    mineral_id=minerals[row.mineral_slug],
                    facility_id=facility_id,
                    **values,
                ),
                user=user,
            )
            outcome = WriteResult.INSERTED
        else:
            instance, outcome = services.record_upsert(
                model=Sourcing, lookup={"pk": existing.pk}, values=values, user=user
            )
        kept.add(instance.pk)
        match outcome:
            case WriteResult.INSERTED:
                result.inserted += 1
            case WriteResult.UPDATED:
                result.updated += 1
            case _:
                result.unchanged += 1
    obsolete = Sourcing.objects.filter(organization=organization, mineral_id__in=minerals.values()).exclude(pk__in=kept)
    for instance in obsolete:
        services.record_delete(instance=instance, user=user)
        result.deleted += 1
    return result
