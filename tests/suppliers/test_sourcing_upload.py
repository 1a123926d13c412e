"""Supplier-list upload: pure parsing and validation, and the one atomic service."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from suppliers.models import Organization, Sourcing
from suppliers.sourcing_upload import Reference, read_table, sourcing_upload, validate_rows

REFERENCE = Reference(
    minerals={"gallium": "gallium", "germanium": "germanium", "graphite (natural)": "graphite-natural"},
    countries=frozenset({"JPN", "BEL", "CHN", "USA"}),
    facilities={"umicore-olen-germanium": ("germanium", "BEL")},
)
HEADER = "mineral,facility,country,annual_quantity,share,notes\n"


def _validate(body: str):  # type: ignore[no-untyped-def]
    return validate_rows(read_table("list.csv", body.encode()), REFERENCE)


def test_clean_rows_parse() -> None:
    result = _validate(
        HEADER + "gallium,,jpn,400,,x\nGraphite (natural),,CHN,,0.5,\ngermanium,umicore-olen-germanium,,600,,\n"
    )
    assert result.ok
    assert [(r.row, r.mineral_slug, r.country, r.annual_quantity, r.share) for r in result.rows] == [
        (2, "gallium", "JPN", 400.0, None),
        (3, "graphite-natural", "CHN", None, 0.5),
        (4, "germanium", "BEL", 600.0, None),  # the facility's country
    ]


def test_the_download_header_share_fraction_is_read_as_share() -> None:
    """The portfolio's sourcing download labels the share column "share (fraction)": read as share."""
    result = _validate("mineral,facility,country,annual_quantity,share (fraction),notes\ngallium,,JPN,,0.25,\n")
    assert result.ok, [e.message for e in result.errors]
    assert [(r.mineral_slug, r.share) for r in result.rows] == [("gallium", 0.25)]


def test_every_error_names_row_column_value_and_expectation() -> None:
    result = _validate(
        HEADER
        + "gallium,,JPN,400,,\n"
        + "tin,,JPN,1,,\n"  # row 3
        + "gallium,,ZZZ,1,,\n"  # row 4
        + "gallium,,JPN,2,,\n"  # row 5: duplicate of row 2
        + "germanium,umicore-olen-germanium,CHN,1,,\n"  # row 6: country differs from the facility's
        + "gallium,,USA,,1.5,\n"  # row 7
        + "gallium,,BEL,,,\n"  # row 8: neither quantity nor share
    )
    assert not result.ok
    found = {(e.row, e.column, e.value) for e in result.errors}
    assert found == {
        (3, "mineral", "tin"),
        (4, "country", "ZZZ"),
        (5, "country", "JPN"),
        (6, "country", "CHN"),
        (7, "share", "1.5"),
        (8, "annual_quantity", ""),
    }
    message = next(e for e in result.errors if e.row == 4).message
    assert message == "Row 4, column country: got 'ZZZ', expected an ISO 3166-1 alpha-3 code, e.g. JPN."


def test_header_problems_are_row_one() -> None:
    result = _validate("mineral,supplier,qty\ngallium,x,1\n")
    columns = {e.column for e in result.errors}
    assert all(e.row == 1 for e in result.errors)
    assert {"supplier", "qty", "country", "annual_quantity"} <= columns


def test_xlsx_is_read_like_csv() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Mineral", "Facility", "Country", "Annual quantity", "Share", "Notes"])
    sheet.append(["gallium", None, "JPN", 400, None, "plain note"])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["gallium", None, "CHN", -1, None, None])
    out = io.BytesIO()
    workbook.save(out)
    result = validate_rows(read_table("list.xlsx", out.getvalue()), REFERENCE)
    assert [(e.row, e.column, e.value) for e in result.errors] == [(4, "annual_quantity", "-1")]
    assert result.rows[0].notes == "plain note"


def test_unreadable_files_are_one_error() -> None:
    with pytest.raises(ValueError, match=r"\.csv or \.xlsx"):
        read_table("list.txt", b"x")
    with pytest.raises(ValueError, match="UTF-8"):
        read_table("list.csv", "mineral\nGallium é".encode("latin-1"))


@pytest.mark.django_db
def test_service_is_atomic_and_replaces_listed_minerals_only(demo) -> None:  # type: ignore[no-untyped-def]
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    before = sorted(Sourcing.objects.filter(organization=organization).values_list("id", "annual_quantity"))
    bad = sourcing_upload(
        organization=organization, file_name="l.csv", content=(HEADER + "gallium,,JPN,1,,\ngallium,,QQQ,1,,\n").encode()
    )
    assert [(e.row, e.column) for e in bad.errors] == [(3, "country")]
    assert sorted(Sourcing.objects.filter(organization=organization).values_list("id", "annual_quantity")) == before
    lithium = Sourcing.objects.filter(organization=organization, mineral__slug="lithium").count()
    good = sourcing_upload(
        organization=organization,
        file_name="l.csv",
        content=(HEADER + "gallium,,JPN,400,,same\ngallium,,BEL,10,,new\n").encode(),
    )
    assert good.ok
    assert (good.inserted, good.deleted) == (1, 1)
    gallium = Sourcing.objects.filter(organization=organization, mineral__slug="gallium")
    assert sorted(gallium.values_list("country_id", flat=True)) == ["BEL", "JPN"]
    assert Sourcing.objects.filter(organization=organization, mineral__slug="lithium").count() == lithium
