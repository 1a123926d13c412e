"""Issue 16, probing: formula injection in every CSV/XLSX written, malformed input answered
without a 5xx on the pages, and portfolio pages kept out of shared caches."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.urls import reverse

from minerals.spreadsheets import safe_cell
from suppliers.models import Company, Membership, Organization

pytestmark = pytest.mark.django_db

ATTACKS = [
    "=1+1",
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-",
    "+",
    "-1-1",
    "1e5 but text",
]


def _neutralised(text: str) -> str:
    return "'" + text if text[:1] in "=+-@\t\r" else text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(text, _neutralised(text)) for text in ATTACKS],
        ("Gallium Corp", "Gallium Corp"),
        ("a=b", "a=b"),
        ("", ""),
        ("-2.5", "-2.5"),  # the text of a number, as a CSV export writes it: still a number
        ("-12", "-12"),
        ("+7", "+7"),
        ("-1.5e-05", "-1.5e-05"),
        ("-.5", "-.5"),
        (-2.5, -2.5),
        (-3, -3),
        (None, None),
    ],
)
def test_safe_cell_neutralises_formulas_and_keeps_numbers(value: Any, expected: Any) -> None:
    assert safe_cell(value) == expected


def _csv_cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _xlsx_cells(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    # XML reads a carriage return back as a line feed; compare texts the way a workbook keeps them.
    return [
        [cell.value.replace("\r", "\n") if isinstance(cell.value, str) else cell.value for cell in row]
        for row in sheet.iter_rows()
    ]


def _names(rows: list[list[Any]]) -> set[str]:
    return {str(row[rows[0].index("name")]).replace("\r", "\n") for row in rows[1:]}


NEUTRALISED = {_neutralised(text).replace("\r", "\n") for text in ATTACKS}
RAW_FORMULAS = {text.replace("\r", "\n") for text in ATTACKS if text[:1] in "=+-@\t\r"}


def _xlsx_formula_cells(content: bytes) -> list[Any]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    return [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]


@pytest.fixture
def hostile_companies(demo: None) -> list[Company]:
    from suppliers import services

    return [
        services.record_save(instance=Company(name=name, hq_country_id="CHN", is_fictional=True)) for name in ATTACKS
    ]


def _admin_export(client: Any, model: type, fmt: str) -> bytes:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_export")
    form = client.get(url).context["form"]
    data = {name: field.initial for name, field in form.fields.items() if field.initial not in (None, False)}
    data["format"] = {"csv": "0", "xlsx": "1"}[fmt]
    response = client.post(url, data)
    assert response.status_code == 200, response
    return response.content


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_admin_export_neutralises_every_formula_and_keeps_numbers(curator_client, hostile_companies, fmt):
    from minerals.models import DataSource, WgiScore

    content = _admin_export(curator_client, Company, fmt)
    names = _names(_csv_cells(content) if fmt == "csv" else _xlsx_cells(content))
    assert names >= NEUTRALISED
    assert not RAW_FORMULAS & names
    if fmt == "xlsx":
        assert _xlsx_formula_cells(content) == []

    # A negative number stays a number (in a CSV: its text, unquoted; in a workbook: a number).
    score = WgiScore.objects.create(
        country_id="CHN", year=1996, political_stability=-1.25, source=DataSource.objects.first()
    )
    content = _admin_export(curator_client, WgiScore, fmt)
    rows = _csv_cells(content) if fmt == "csv" else _xlsx_cells(content)
    column = rows[0].index("political_stability")
    (value,) = [row[column] for row in rows[1:] if str(row[rows[0].index("id")]) == str(score.pk)]
    assert value == ("-1.25" if fmt == "csv" else -1.25)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_api_exports_neutralise_formulas(client, curator, hostile_companies, fmt):
    client.force_login(curator)
    response = client.get("/api/v1/companies/", {"format": fmt, "page_size": 200})
    assert response.status_code == 200
    names = _names(_csv_cells(response.content) if fmt == "csv" else _xlsx_cells(response.content))
    assert names >= NEUTRALISED
    assert not RAW_FORMULAS & names


def test_rejects_report_rows_neutralise_formulas_and_keep_numbers():
    from minerals.imports import csv_safe_row

    assert csv_safe_row(["3", "-2+3+cmd|x", "-722000", "@SUM(A1)", "China"]) == [
        "3",
        "'-2+3+cmd|x",
        "-722000",
        "'@SUM(A1)",
        "China",
    ]


def test_portfolio_download_neutralises_a_hostile_sourcing_note(client, demo):
    """The sourcing table a buyer downloads: a note written by another user of the organization."""
    from suppliers import services
    from suppliers.models import Sourcing

    organization = Organization.objects.get(name="Demo Buyer Inc.")
    user = _member(organization, "analyst-download", Membership.Role.ANALYST)
    sourcing = Sourcing.objects.filter(organization=organization).first()
    services.record_upsert(model=Sourcing, lookup={"pk": sourcing.pk}, values={"notes": "=HYPERLINK(1)"}, user=user)
    client.force_login(user)
    page = client.get(reverse("dashboards:portfolio_edit"))
    table_ids = list(page.context["tables"])
    contents = [
        client.get(reverse("dashboards:portfolio_edit"), {"download": table_id, "format": fmt})
        for table_id in table_ids
        for fmt in ("csv", "xlsx")
    ]
    assert all(r.status_code == 200 for r in contents)
    text = "\n".join(r.content.decode("utf-8-sig") for r in contents if r["Content-Type"].startswith("text/csv"))
    for r in contents:
        if not r["Content-Type"].startswith("text/csv"):
            assert _xlsx_formula_cells(r.content) == []
    assert "=HYPERLINK" not in text.replace("'=HYPERLINK", "")


def _member(organization: Organization, username: str, role: str) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username)
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


# --- Malformed input on the pages (issue 16, probing 9) --------------------------------------------


@pytest.fixture
def analyst_client(client: Any, demo: None) -> Any:
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    client.force_login(_member(organization, "analyst-probe", Membership.Role.ANALYST))
    return client


@pytest.mark.parametrize("row_id", ["abc", "1.5", "-1", "²", "9" * 40, "1\x00", ""])
@pytest.mark.parametrize("action", ["sourcing-delete", "requirement-delete"])
def test_portfolio_edit_with_a_malformed_delete_id_removes_nothing(analyst_client, action, row_id):
    from suppliers.models import Requirement, Sourcing

    before = (Sourcing.objects.count(), Requirement.objects.count())
    response = analyst_client.post(reverse("dashboards:portfolio_edit"), {"action": action, "id": row_id})
    assert response.status_code == 302
    assert (Sourcing.objects.count(), Requirement.objects.count()) == before


@pytest.mark.parametrize(
    "url",
    [
        "/?as_of=%00&sort=%00&dir=%00",
        "/minerals/gallium/?as_of=2025-01-01%00&sankey=%00",
        "/policies/?mineral=ga%00&issuer=%00&measure_type=%00&in_force=%00",
        "/portfolio/?sankey=%00&sort=%00",
        "/portfolio/?download=%00&format=%00",
        "/portfolio/edit/?download=%00",
        "/accounts/login/?next=%00",
    ],
)
def test_a_nul_byte_in_a_page_query_is_no_server_error(analyst_client, url):
    assert analyst_client.get(url).status_code < 500


# --- Portfolio pages and API exports stay out of shared caches (issue 16, hygiene 11) --------------

NO_STORE = {"private", "no-store"}


def _cache_control(response: Any) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_portfolio_pages_and_their_downloads_are_private_and_not_stored(analyst_client):
    urls = [reverse("dashboards:portfolio"), reverse("dashboards:portfolio_edit")]
    table_id = next(iter(analyst_client.get(urls[1]).context["tables"]))
    urls += [f"{urls[0]}?download={table_id}&format=csv", f"{urls[1]}?download={table_id}&format=xlsx"]
    for url in urls:
        response = analyst_client.get(url)
        assert response.status_code == 200, url
        assert _cache_control(response) >= NO_STORE, (url, response.get("Cache-Control"))
    write = analyst_client.post(urls[1], {"action": "nonsense"})
    assert _cache_control(write) >= NO_STORE


def test_public_pages_stay_cacheable(client, demo):
    assert "no-store" not in _cache_control(client.get("/policies/"))


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/organization/",
        "/api/v1/exposure/",
        "/api/v1/exposure/?format=csv",
        "/api/v1/requirements/",
        "/api/v1/sourcing/",
        "/api/v1/sourcing/?format=xlsx",
        "/api/v1/companies/?format=csv",
        "/api/v1/trade-flows/?format=xlsx",
        "/api/v1/metrics/?mineral=gallium&format=csv",
    ],
)
def test_api_portfolio_answers_and_exports_are_private_and_not_stored(analyst_client, url):
    response = analyst_client.get(url)
    assert response.status_code == 200, (url, response.content[:200])
    assert _cache_control(response) >= NO_STORE, (url, response.get("Cache-Control"))


# --- What held in the probing stays covered: open redirects and CSRF on the pages -------------------


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "https:evil.example", "\\\\evil.example"]
)
def test_login_does_not_redirect_off_site(client, django_user_model, target):
    django_user_model.objects.create_user("redirect-probe", password="pw-redirect-probe-123")
    response = client.post(
        reverse("login"), {"username": "redirect-probe", "password": "pw-redirect-probe-123", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboards:overview")


def test_portfolio_writes_need_the_csrf_token(demo, django_user_model):
    from django.test import Client

    from suppliers.models import Sourcing

    organization = Organization.objects.get(name="Demo Buyer Inc.")
    client = Client(enforce_csrf_checks=True)
    client.force_login(_member(organization, "csrf-probe", Membership.Role.ADMIN))
    row = Sourcing.objects.filter(organization=organization).first()
    response = client.post(reverse("dashboards:portfolio_edit"), {"action": "sourcing-delete", "id": row.pk})
    assert response.status_code == 403
    assert Sourcing.objects.filter(pk=row.pk).exists()


# --- Anonymous page views are rate-limited per client address (issue 16, probing 6) ----------------


@pytest.fixture
def page_limit(settings: Any) -> int:
    from django.core.cache import cache

    cache.clear()
    settings.LODESTONE_ANONYMOUS_PAGE_VIEWS = 3
    # A window so long that it cannot roll over between a test's requests.
    settings.LODESTONE_ANONYMOUS_PAGE_WINDOW_SECONDS = 1_000_000
    yield 3
    cache.clear()


def test_the_page_view_after_the_limit_is_refused_with_retry_after(client, demo, page_limit):
    from django.conf import settings

    urls = ["/", "/policies/", "/minerals/gallium/?as_of=2025-01-01"]
    assert [client.get(url).status_code for url in urls] == [200] * page_limit
    refused = client.get("/minerals/germanium/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= settings.LODESTONE_ANONYMOUS_PAGE_WINDOW_SECONDS
    # The limited address can still log in (the login pages, the API and static files are not counted).
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/api/v1/schema/").status_code == 200
    # Another address is counted apart.
    assert client.get("/", REMOTE_ADDR="203.0.113.5").status_code == 200


def test_logged_in_buyers_are_not_limited(analyst_client, page_limit):
    assert [analyst_client.get("/policies/").status_code for _ in range(page_limit + 3)] == [200] * (page_limit + 3)
    assert analyst_client.get(reverse("dashboards:portfolio")).status_code == 200


def test_behind_the_proxy_each_client_address_has_its_own_count(client, demo, page_limit, settings):
    settings.LODESTONE_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the proxy
    for _ in range(page_limit):
        assert client.get("/policies/", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code == 200
    assert client.get("/policies/", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code == 429
    # A forged left-hand entry does not make a new client.
    assert client.get("/policies/", HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7", **proxy).status_code == 429
    assert client.get("/policies/", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 200
