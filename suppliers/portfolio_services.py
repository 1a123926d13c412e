"""Writes to a buyer's portfolio with rules beyond one record: a sourcing line from the
portfolio form (`sourcing_save`), and a sourcing file pushed through the API in one request.

`sourcing_bulk_upsert`:
Each row goes through the same validation and history as any other write
(minerals.services.record_upsert: full_clean, the acting user), but the stale markers are
bumped once for the whole request, not once per row: one recompute of the buyer's exposure.
All or nothing: any invalid row rolls everything back and the per-row errors are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from minerals import services as reference
from minerals.bulk_services import (
    AMOUNT,
    BulkRejected,
    BulkResult,
    Column,
    RowChecker,
    RowError,
    check_size,
    mineral_slugs,
    parse_amount,
    parse_float,
    repeated_keys,
)
from minerals.models import Country, Mineral
from minerals.services import WriteResult
from suppliers.models import Facility, Organization, Sourcing
from suppliers.services import organizations_mark_stale, record_save, record_upsert

SOURCING_COLUMNS = (
    Column("mineral", "the slug of a stored mineral", lambda v: str(v).strip()),
    Column("facility", "the key of a stored facility of this mineral, or empty", lambda v: str(v).strip(), False),
    Column("country", "an ISO3 code; may be empty when a facility is given", lambda v: str(v).strip().upper(), False),
    Column("annual_quantity", AMOUNT, parse_amount, required=False),
    Column("share", "a share between 0 and 1", parse_float, required=False),
    Column("notes", "text", str, False, ""),
)


def sourcing_save(
    *,
    organization: Organization,
    mineral: str,
    facility: str,
    country: str,
    annual_quantity: float | None,
    share: float | None,
    notes: str,
    user: AbstractBaseUser | None = None,
) -> Sourcing:
    """Record one sourcing line of the portfolio form, by facility key or by country (ISO3).

    A facility must produce the mineral (ValidationError otherwise) and gives the line its
    country. The line for the same (mineral, facility), or (mineral, country) without a
    facility, is updated; else a new one is created. Both mark the buyer's exposure stale.
    """
    mineral_obj = Mineral.objects.get(slug=mineral)
    facility_obj = Facility.objects.filter(key=facility).first() if facility else None
    if facility_obj is not None and facility_obj.mineral_id != mineral_obj.pk:
        raise ValidationError(f"{facility_obj.name} does not produce {mineral_obj.name}.")
    country_obj = facility_obj.country if facility_obj else Country.objects.get(iso3=country)
    lookup: dict[str, Any] = {"organization": organization, "mineral": mineral_obj}
    if facility_obj is not None:
        lookup["facility"] = facility_obj
    else:
        lookup.update({"facility__isnull": True, "country": country_obj})
    values = {"country": country_obj, "annual_quantity": annual_quantity, "share": share, "notes": notes}
    existing = Sourcing.objects.filter(**lookup).first()
    if existing is None:
        return record_save(
            instance=Sourcing(organization=organization, mineral=mineral_obj, facility=facility_obj, **values),
            user=user,
        )
    saved, _ = record_upsert(model=Sourcing, lookup={"pk": existing.pk}, values=values, user=user)
    return saved


class _Rollback(Exception):
    pass


def _no_minerals(_: Any) -> set[int]:
    return set()  # marked once for the whole request, below


@transaction.atomic
def sourcing_bulk_upsert(
    *, organization: Organization, rows: Sequence[Any], user: AbstractBaseUser | None = None
) -> BulkResult:
    """Insert or update the organization's sourcing lines by (mineral, facility) or (mineral, country)."""
    check_size(rows)
    checker = RowChecker(SOURCING_COLUMNS)
    minerals = dict(Mineral.objects.values_list("slug", "id"))
    countries = set(Country.objects.values_list("iso3", flat=True))
    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(rows, start=1):
        row = checker.parse(number, raw)
        if row is not None:
            parsed.append((number, row))
    keys = {r["facility"] for _, r in parsed if r["facility"]}
    facilities = {f.key: f for f in Facility.objects.filter(key__in=keys).only("id", "key", "country_id", "mineral_id")}
    lines: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for number, row in parsed:
        mineral_id = minerals.get(row["mineral"])
        facility = facilities.get(row["facility"]) if row["facility"] else None
        country = row["country"] or (facility.country_id if facility else None)
        bad = [
            ("mineral", row["mineral"], "the slug of a stored mineral", mineral_id is None),
            ("facility", row["facility"], "the key of a stored facility", bool(row["facility"]) and facility is None),
            ("facility", row["facility"], "a facility of this mineral",
             facility is not None and mineral_id is not None and facility.mineral_id != mineral_id),
            ("country", row["country"], "an ISO3 code of the countries table", country not in countries),
            ("country", row["country"], "the facility's country",
             facility is not None and bool(row["country"]) and row["country"] != facility.country_id),
            ("annual_quantity", row["annual_quantity"], "a quantity or a share (at least one)",
             row["annual_quantity"] is None and row["share"] is None),
        ]  # fmt: skip
        for name, value, expected, failed in bad:
            if failed:
                checker.error(number, name, value, expected)
        if any(failed for *_, failed in bad):
            continue
        lookup: dict[str, Any] = {"organization": organization, "mineral_id": mineral_id}
        lookup |= {"facility_id": facility.pk} if facility else {"facility__isnull": True, "country_id": country}
        values = {"country_id": country, "annual_quantity": row["annual_quantity"], "share": row["share"]}
        values |= {"notes": row["notes"] or ""}
        lines.append((number, lookup, values))
    repeated_keys(
        checker, [(n, tuple(sorted(lk.items(), key=str))) for n, lk, _ in lines], "mineral and facility/country"
    )
    if checker.errors:
        raise BulkRejected(checker.errors, len(rows))

    counts = dict.fromkeys(WriteResult, 0)
    touched: set[int] = set()
    try:
        with transaction.atomic():
            for number, lookup, values in lines:
                try:
                    create_lookup = {k: v for k, v in lookup.items() if not k.endswith("__isnull") and k not in values}
                    instance = Sourcing.objects.filter(**lookup).first()
                    if instance is None:
                        reference.record_save(
                            instance=Sourcing(**create_lookup, **values), user=user, scope=_no_minerals
                        )
                        result = WriteResult.INSERTED
                    else:
                        _, result = reference.record_upsert(
                            model=Sourcing, lookup={"pk": instance.pk}, values=values, user=user, scope=_no_minerals
                        )
                except ValidationError as exc:
                    for name, messages in exc.message_dict.items():
                        checker.error(number, name, values.get(name), "; ".join(messages))
                    continue
                counts[result] += 1
                if result is not WriteResult.UNCHANGED:
                    touched.add(lookup["mineral_id"])
            if checker.errors:
                raise _Rollback
    except _Rollback:
        raise BulkRejected(checker.errors, len(rows)) from None
    reference.minerals_mark_stale(mineral_ids=touched)
    if touched:
        organizations_mark_stale(organization_ids=[organization.pk])
    return BulkResult(
        rows=len(rows),
        inserted=counts[WriteResult.INSERTED],
        updated=counts[WriteResult.UPDATED],
        unchanged=counts[WriteResult.UNCHANGED],
        stale_minerals=mineral_slugs(touched),
    )


__all__ = ["BulkRejected", "BulkResult", "RowError", "sourcing_bulk_upsert", "sourcing_save"]
