"""Dashboard pages: status, numbers equal to the stored metrics, fixed query counts, 404
isolation of portfolios, downloads, forms and the supplier-list upload."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from dashboards import page_selectors, selectors, services
from minerals import services as reference
from minerals.models import Country, DataSource, Mineral, ProductionRecord
from suppliers import services as supplier_services
from suppliers.models import Company, Facility, Organization, Requirement, Sourcing

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def page_cache(private_page_cache):  # type: ignore[no-untyped-def]
    return private_page_cache


def _value(html: str, metric: str, key: str) -> float | None:
    match = re.search(rf'data-metric="{metric}" data-key="{re.escape(key)}" data-value="([^"]*)"', html)
    assert match, f"{metric} of {key} not on the page"
    return float(match.group(1)) if match.group(1) else None


def _count_queries(client, url, django_assert_max_num_queries) -> int:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(queries)


def _add_mineral_with_data() -> None:
    """More data of every kind a page reads: a mineral with production, a facility."""
    source = DataSource.objects.get(key="usgs-mcs-2025")
    mineral = reference.record_save(instance=Mineral(slug="testium", name="Testium", canonical_unit="t"))
    for i, iso3 in enumerate(["CHN", "AUS", "CAN", "BRA", "ZAF"]):
        reference.record_save(
            instance=ProductionRecord(
                mineral=mineral, stage="mine", country_id=iso3, year=2024, quantity=100 - i, unit="t", source=source
            )
        )
    company = supplier_services.record_save(instance=Company(name="Testium Co", hq_country_id="AUS"))
    for stage in ("mine", "refinery"):
        supplier_services.record_save(
            instance=Facility(
                key=f"testium-{stage}",
                company=company,
                name=f"Testium {stage}",
                country_id="AUS",
                mineral=mineral,
                stage=stage,
                status="operating",
                capacity=10,
                capacity_unit="t",
            )
        )
    gallium = Mineral.objects.get(slug="gallium")
    for year in (2021, 2022):
        reference.record_save(
            instance=ProductionRecord(
                mineral=gallium,
                stage="refinery",
                country_id="CHN",
                year=year,
                quantity=500_000,
                unit="kg",
                source=source,
            )
        )
    list(services.all_metrics_recompute())


# --------------------------------------------------------------------------------------------
# Overview


def test_overview_shows_the_stored_metrics(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/?as_of=2026-11-30").content.decode()
    stored = selectors.mineral_metrics(mineral="gallium", as_of=TODAY)
    latest = next(r for r in stored["supply"] if r["stage"] == "refinery")
    assert _value(html, "china_refinery", "gallium") == pytest.approx(latest["china_share"])
    assert _value(html, "restricted_supply_share", "gallium") == pytest.approx(latest["restricted_supply_share"])
    assert _value(html, "hhi", "gallium") == pytest.approx(latest["hhi"])
    assert "98.7 %" in html
    # The panel lists the measures whose suspension ran out in November 2026.
    assert "cn-2024-46-us-ban" in html
    assert "cn-2025-10-ree-five" in html


def test_overview_numbers_equal_the_mineral_selector_for_every_mineral(metrics) -> None:  # type: ignore[no-untyped-def]
    """The overview's batch read gives the same numbers as dashboards.selectors, mineral by mineral."""
    for as_of in (date(2026, 6, 1), TODAY):
        overview = page_selectors.minerals_overview(as_of=as_of)
        for row in overview["minerals"]:
            stored = selectors.mineral_metrics(mineral=row["slug"], as_of=as_of)
            head = next((r for r in stored["supply"] if r["stage"] == row["headline_stage"]), None)
            if head is None:
                assert row["restricted_supply_share"] is None
                continue
            assert row["restricted_supply_share"] == pytest.approx(head["restricted_supply_share"])
            assert row["top3_share"] == head["top3_share"]
            assert row["hhi"] == head["hhi"]


def test_overview_supply_risk_equals_the_mineral_selector(metrics) -> None:  # type: ignore[no-untyped-def]
    overview = page_selectors.minerals_overview(as_of=TODAY)
    for row in overview["minerals"]:
        stored = selectors.mineral_metrics(mineral=row["slug"], as_of=TODAY)
        sr = next(
            (r for r in stored["supply_risk"] if r["stage"] == row["headline_stage"] and r["year"] == row["year"]), None
        )
        if sr is not None:
            assert row["supply_risk"] == pytest.approx(sr["supply_risk"])


def test_as_of_changes_the_restricted_share_when_a_suspension_straddles_the_date(client, metrics) -> None:  # type: ignore[no-untyped-def]
    # The U.S. gallium ban (Ann. 46 clause 2) is suspended 2025-11-09..2026-11-27: on 2026-06-01
    # only the licence (severity 0.2) applies, on 2026-11-30 the ban (1.0) is back.
    june = _value(client.get("/?as_of=2026-06-01").content.decode(), "restricted_supply_share", "gallium")
    november = _value(client.get("/?as_of=2026-11-30").content.decode(), "restricted_supply_share", "gallium")
    china = Mineral.objects.get(slug="gallium")
    share = selectors.mineral_metrics(mineral=china, as_of=TODAY)["supply"][0]["china_share"]
    assert june == pytest.approx(share * 0.2)
    assert november == pytest.approx(share)


def test_bad_as_of_falls_back_to_today_with_an_error(client, metrics) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/?as_of=not-a-date")
    assert response.status_code == 200
    assert "Enter a valid date" in response.content.decode()


def test_overview_sorts_server_side(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/?sort=hhi&dir=desc").content.decode()
    body = html.split('data-table="minerals"')[1].split("</table>")[0]
    values = [float(v) for v in re.findall(r'data-metric="hhi" data-key="[^"]+" data-value="([^"]+)"', body)]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("url", ["/", "/minerals/gallium/", "/policies/", "/policies/cn-2024-46-us-ban/"])
def test_public_pages_make_a_fixed_number_of_queries(client, metrics, url, page_cache) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cold() -> int:
        page_cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    before = cold()
    _add_mineral_with_data()
    after = cold()
    assert before == after, f"{url}: {before} queries before adding data, {after} after"
    # Cached: only the data generation is read.
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) == 2


def test_overview_query_count_pinned(client, metrics, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    # generation (2) + minerals, supply, imports, measures (2 when not filtered by mineral),
    # severities, WGI, parameters, t factors (10) + the policy list (4) + the first screen (issue 17):
    # source publication dates, country names (2) and the best alternatives of every mineral at
    # once (13: WGI, supply, ownership, domiciles, EoL rates, supply links, facilities, measures (3),
    # severities, and the levers' federal support and recycled shares, issue 12)
    with django_assert_num_queries(31):
        client.get("/")
    with django_assert_num_queries(2):
        client.get("/")


def test_mineral_page_query_count_pinned(client, metrics, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    # generation (2) + mineral (1) + mineral_metrics (9) + production by edition, facilities,
    # measures (4), sources, parameters, countries (6) + the mineral's HS codes, basket and traded
    # flags (1; issue 11: baskets labelled, codes without trade rows named) + the best alternatives
    # for the first screen (13, as on the overview; issue 17) + the levers' federal support of its
    # facilities and the recycled share of U.S. supply (2; issue 12)
    with django_assert_num_queries(37):
        client.get("/minerals/gallium/")


def test_mineral_page_numbers_and_404(client, metrics) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/minerals/gallium/?as_of=2026-11-30")
    html = response.content.decode()
    stored = selectors.mineral_metrics(mineral="gallium", as_of=TODAY)
    assert _value(html, "china_share", "gallium") == pytest.approx(stored["supply"][0]["china_share"])
    assert _value(html, "restricted_supply_share", "gallium") == pytest.approx(
        stored["supply"][0]["restricted_supply_share"]
    )
    for fig in ("fig-production-refinery", "fig-map-refinery", "fig-trend", "fig-imports", "fig-policy"):
        assert f'id="{fig}"' in html  # the json_script payload
    assert "MCS 2025" in html
    assert client.get("/minerals/unobtainium/").status_code == 404


# --------------------------------------------------------------------------------------------
# Policies


def test_policy_tracker_filters(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/policies/?issuer=USA").content.decode()
    assert "us-2025-dod-mp" in html
    assert "cn-2024-46-us-ban" not in html
    html = client.get("/policies/?mineral=gallium&status=needs_review&as_of=2026-11-30").content.decode()
    assert "cn-2024-46-us-ban" in html
    assert "cn-2023-23-ga-ge" not in html
    html = client.get("/policies/?mineral=gallium&status=suspended&as_of=2026-06-01").content.decode()
    assert "cn-2024-46-us-ban" in html
    html = client.get("/policies/?target=USA&measure_type=export_ban").content.decode()
    assert "cn-2024-46-military" in html
    assert "cn-2026-japan-military" not in html


def test_policy_detail_lists_minerals_codes_dates_and_source(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/policies/cn-2024-46-us-ban/?as_of=2026-06-01").content.decode()
    for text in ("Gallium", "Germanium", "Antimony", "811292", "MOFCOM Ann. No. 46", "2025-11-09", "2026-11-27"):
        assert text in html
    assert 'data-status="suspended"' in html
    assert client.get("/policies/no-such-measure/").status_code == 404


# --------------------------------------------------------------------------------------------
# Portfolio


def test_portfolio_requires_login(client, metrics) -> None:  # type: ignore[no-untyped-def]
    for url in ("/portfolio/", "/portfolio/briefing/", "/portfolio/demo-buyer-inc/briefing/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_another_organizations_portfolio_is_404(client, buyer_client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    other = supplier_services.record_save(
        instance=Organization(name="Other Buyer", slug="other-buyer", country=Country.objects.get(iso3="DEU"))
    )
    outsider = django_user_model.objects.create_user("outsider", password="pw-outsider-123")
    supplier_services.membership_grant(user=outsider, organization=other, role="admin")
    assert buyer_client.get("/portfolio/other-buyer/").status_code == 404
    assert buyer_client.get("/portfolio/no-such-org/").status_code == 404
    assert buyer_client.get("/portfolio/demo-buyer-inc/").status_code == 200
    # The edit pages are isolated the same way.
    assert buyer_client.get("/portfolio/other-buyer/edit/").status_code == 404
    assert buyer_client.post("/portfolio/other-buyer/edit/", {"action": "requirement"}).status_code == 404
    assert buyer_client.get("/portfolio/demo-buyer-inc/edit/").status_code == 200
    # And the printable briefings (issue 17).
    assert buyer_client.get("/portfolio/other-buyer/briefing/").status_code == 404
    assert buyer_client.get("/portfolio/demo-buyer-inc/briefing/").status_code == 200
    assert buyer_client.get("/portfolio/briefing/").status_code == 200
    # A user with no membership gets 404 on /portfolio/ too (nothing to show, nothing disclosed).
    loner = django_user_model.objects.create_user("loner", password="pw-loner-12345")
    client.force_login(loner)
    assert client.get("/portfolio/").status_code == 404
    # The outsider never sees the demo buyer's portfolio either.
    client.force_login(outsider)
    assert client.get("/portfolio/demo-buyer-inc/").status_code == 404
    assert client.get("/portfolio/demo-buyer-inc/edit/").status_code == 404
    assert client.get("/portfolio/demo-buyer-inc/briefing/").status_code == 404
    assert "Other Buyer" in client.get("/portfolio/").content.decode()


def test_portfolio_shows_the_stored_exposure(buyer_client) -> None:  # type: ignore[no-untyped-def]
    html = buyer_client.get("/portfolio/").content.decode()
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    for row in selectors.organization_exposure(organization=organization):
        for metric in ("direct_china_share", "china_controlled_share", "upstream_china_share", "restricted_share"):
            assert _value(html, metric, row["mineral"]) == pytest.approx(row[metric])
    assert 'id="fig-sankey"' in html
    assert 'id="fig-exposure"' in html
    html = buyer_client.get("/portfolio/?sankey=rare-earths").content.decode()
    assert "China Northern Rare Earth" in html  # upstream of the fictional magnet plant


def test_portfolio_query_count_is_fixed(buyer_client, buyer, page_cache) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cold() -> int:
        page_cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert buyer_client.get("/portfolio/").status_code == 200
        return len(queries)

    before = cold()
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    _add_mineral_with_data()
    supplier_services.record_upsert(
        model=Requirement,
        lookup={"organization": organization, "mineral": Mineral.objects.get(slug="testium")},
        values={"annual_quantity": 5, "unit": "t"},
    )
    for key in ("testium-mine", "testium-refinery"):
        facility = Facility.objects.get(key=key)
        supplier_services.record_save(
            instance=Sourcing(
                organization=organization,
                mineral=facility.mineral,
                facility=facility,
                country_id="AUS",
                annual_quantity=1,
            )
        )
    after = cold()
    assert before == after
    with CaptureQueriesContext(connection) as queries:
        buyer_client.get("/portfolio/")
    # user, membership with the buyer's exposure rows (one query: organization_for), the public
    # generation (2); the session comes from the cache (cached_db sessions)
    assert len(queries) == 4


def test_portfolio_is_read_only_and_links_to_the_edit_page(buyer_client) -> None:  # type: ignore[no-untyped-def]
    html = buyer_client.get("/portfolio/").content.decode()
    assert 'href="/portfolio/edit/" data-link="edit"' in html
    assert 'name="action"' not in html  # no edit form (nor its ~250-country select) on the portfolio
    assert 'data-table="sourcing"' in html  # the buyer's rows are still shown
    html = buyer_client.get("/portfolio/demo-buyer-inc/").content.decode()
    assert 'href="/portfolio/demo-buyer-inc/edit/" data-link="edit"' in html
    html = buyer_client.get("/portfolio/edit/").content.decode()
    for action in ("requirement", "sourcing", "upload", "requirement-delete", "sourcing-delete"):
        assert f'name="action" value="{action}"' in html
    assert 'data-table="sourcing"' in html
    assert 'data-table="requirements"' in html
    assert '<option value="KOR">' in html
    # The upload's template: the sourcing table downloads from the edit page too.
    response = buyer_client.get("/portfolio/edit/?download=sourcing&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert _csv_rows(response)[0][:3] == ["mineral", "facility", "country"]


def test_portfolio_edit_query_count_is_fixed(buyer_client, page_cache) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cold() -> int:
        page_cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert buyer_client.get("/portfolio/edit/").status_code == 200
        return len(queries)

    before = cold()
    _add_mineral_with_data()
    assert cold() == before
    with CaptureQueriesContext(connection) as queries:
        buyer_client.get("/portfolio/edit/")
    # user, membership with the organization's exposure rows (one query), the public generation
    # (2, read once per request: the page's key and the choices' share it); the session comes
    # from the cache (cached_db sessions)
    assert len(queries) == 4


def test_cached_pages_render_the_user_per_request(client, buyer, django_user_model, page_cache) -> None:  # type: ignore[no-untyped-def]
    """The body is cached; the header (user, log-out form, CSRF token) never is."""
    for url in ("/", "/minerals/gallium/", "/policies/", "/policies/cn-2024-46-us-ban/"):
        anonymous = client.get(url).content.decode()
        assert "Log in" in anonymous
        assert "csrfmiddlewaretoken" not in anonymous
        client.force_login(buyer)
        logged_in = client.get(url).content.decode()  # from the cache
        assert '<span class="who">buyer-test</span>' in logged_in
        assert "csrfmiddlewaretoken" in logged_in
        client.logout()
        again = client.get(url).content.decode()
        assert "buyer-test" not in again
        assert "csrfmiddlewaretoken" not in again
        assert again.split('<main id="content">')[1] == anonymous.split('<main id="content">')[1]
    keys = [k for k in page_cache._cache if ":html:" in k]
    assert keys
    assert not [k for k in keys if b"csrfmiddlewaretoken" in page_cache._cache[k]]
    # Two members of one organization share the portfolio body, each with their own header.
    other = django_user_model.objects.create_user("buyer-two", password="pw-buyer-two-123")
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    supplier_services.membership_grant(user=other, organization=organization, role="viewer")
    client.force_login(buyer)
    first = client.get("/portfolio/").content.decode()
    client.force_login(other)
    second = client.get("/portfolio/").content.decode()
    assert '<span class="who">buyer-two</span>' in second
    assert "(read only)" in second
    assert "buyer-test" not in second
    assert first.split('<section class="kpis"')[1] == second.split('<section class="kpis"')[1]


def test_a_new_generation_reads_a_new_page(client, metrics) -> None:  # type: ignore[no-untyped-def]
    assert "Testium" not in client.get("/").content.decode()
    _add_mineral_with_data()  # no cache clearing: the data generation moves
    assert "Testium" in client.get("/").content.decode()


@pytest.mark.parametrize(
    "query", ["?sort=nope", "?dir=sideways", "?as_of=not-a-date", "?utm_source=x", "?as_of=2026-06-01&as_of=2026-11-30"]
)
def test_junk_queries_are_answered_but_not_stored(client, metrics, page_cache, query) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/").status_code == 200
    stored = {k for k in page_cache._cache if ":html:" in k}
    assert client.get("/" + query).status_code == 200
    assert {k for k in page_cache._cache if ":html:" in k} == stored
    assert client.get("/?sort=hhi&dir=desc").status_code == 200
    assert len({k for k in page_cache._cache if ":html:" in k}) == len(stored) + 1


def test_viewer_cannot_edit(client, buyer, django_user_model) -> None:  # type: ignore[no-untyped-def]
    viewer = django_user_model.objects.create_user("viewer-test", password="pw-viewer-123")
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    supplier_services.membership_grant(user=viewer, organization=organization, role="viewer")
    client.force_login(viewer)
    html = client.get("/portfolio/").content.decode()
    assert "Upload your supplier list" not in html
    assert 'data-link="edit"' not in html
    assert client.get("/portfolio/edit/").status_code == 403
    data = {"action": "requirement", "mineral": "gallium", "annual_quantity": 1, "unit": "kg"}
    assert client.post("/portfolio/edit/", data).status_code == 403
    assert client.post("/portfolio/", data).status_code == 405  # the portfolio itself is read only
    assert not Requirement.objects.filter(organization=organization, annual_quantity=1, unit="kg").exists()


def test_requirement_form_writes_through_services_and_updates_exposure(buyer_client, buyer) -> None:  # type: ignore[no-untyped-def]
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    version = organization.data_version
    response = buyer_client.post(
        "/portfolio/edit/", {"action": "requirement", "mineral": "gallium", "annual_quantity": "2500", "unit": "kg"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/portfolio/edit/"
    requirement = Requirement.objects.get(organization=organization, mineral__slug="gallium")
    assert requirement.annual_quantity == 2500
    assert requirement.history.first().history_user == buyer  # attributed by the service
    organization.refresh_from_db()
    assert organization.data_version > version  # marked stale in the same transaction
    assert "2,500" in buyer_client.get("/portfolio/").content.decode()


def test_requirement_form_sets_the_stage_bought_and_keeps_it_when_left_blank(buyer_client) -> None:  # type: ignore[no-untyped-def]
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    gallium = Requirement.objects.get(organization=organization, mineral__slug="gallium")
    assert gallium.stage == "refinery"  # the default: refined metal or chemical
    post = {"action": "requirement", "mineral": "gallium", "annual_quantity": "2000", "unit": "kg"}
    assert buyer_client.post("/portfolio/edit/", {**post, "stage": "component"}).status_code == 302
    gallium.refresh_from_db()
    assert gallium.stage == "component"
    assert buyer_client.post("/portfolio/edit/", post).status_code == 302  # no stage given: unchanged
    gallium.refresh_from_db()
    assert gallium.stage == "component"


def test_picking_a_mineral_fills_in_its_current_quantity_and_canonical_unit(buyer_client) -> None:  # type: ignore[no-untyped-def]
    """Gallium is required at 2,000 kg (demo/requirements.csv): ?mineral=gallium pre-fills 2000
    and kg. Magnesium is not required and held in t (canonical unit): no quantity, unit t. The
    same values are on the page for the script that fills them in when the select changes."""
    html = buyer_client.get("/portfolio/edit/?mineral=gallium").content.decode()
    form = html.split("data-requirement-form", 1)[1].split("</form>", 1)[0]
    assert re.search(r'<option value="gallium" selected>', form)
    assert re.search(r'name="annual_quantity" value="2000(\.0)?"', form)
    assert re.search(r'<option value="kg" selected>', form)
    payload = re.search(r'<script id="requirement-defaults" type="application/json">(.*?)</script>', html, re.S)
    assert payload
    defaults = json.loads(payload.group(1))
    assert defaults["gallium"] == {"annual_quantity": 2000.0, "unit": "kg", "mineral": "gallium"}
    assert defaults["magnesium-metal"] == {"annual_quantity": None, "unit": "t", "mineral": "magnesium-metal"}
    new = buyer_client.get("/portfolio/edit/?mineral=magnesium-metal").content.decode()
    form = new.split("data-requirement-form", 1)[1].split("</form>", 1)[0]
    assert re.search(r'<option value="t" selected>', form)
    assert 'name="annual_quantity" value=' not in form


def test_a_change_of_1000x_asks_for_confirmation_before_saving(buyer_client) -> None:  # type: ignore[no-untyped-def]
    """Gallium is held at 2,000 kg; 2500 "t" = 2,500,000 kg is 1,250x: refused with a question
    (400, nothing saved) until "Yes, change it 1,250x" is ticked. 25,000 kg (12.5x) asks too;
    15,000 kg (7.5x) does not."""
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    post = {"action": "requirement", "mineral": "gallium", "annual_quantity": "2500", "unit": "t"}
    response = buyer_client.post("/portfolio/edit/", post)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This makes the requirement 1,250x larger: 2,000 kg now, 2,500 t entered." in html
    assert 'type="checkbox" name="confirm_change"' in html
    gallium = Requirement.objects.get(organization=organization, mineral__slug="gallium")
    assert (gallium.annual_quantity, gallium.unit) == (2000, "kg")
    assert buyer_client.post("/portfolio/edit/", {**post, "confirm_change": "on"}).status_code == 302
    gallium.refresh_from_db()
    assert (gallium.annual_quantity, gallium.unit) == (2500, "t")
    back = {"action": "requirement", "mineral": "gallium", "annual_quantity": "2500", "unit": "kg"}
    assert buyer_client.post("/portfolio/edit/", back).status_code == 400  # 1,000x smaller asks too
    assert buyer_client.post("/portfolio/edit/", {**back, "confirm_change": "on"}).status_code == 302
    assert buyer_client.post("/portfolio/edit/", {**back, "annual_quantity": "31250"}).status_code == 400  # 12.5x
    assert buyer_client.post("/portfolio/edit/", {**back, "annual_quantity": "18750"}).status_code == 302  # 7.5x
    gallium.refresh_from_db()
    assert (gallium.annual_quantity, gallium.unit) == (18750, "kg")


def test_sourcing_download_re_uploads_as_a_no_op(buyer_client) -> None:  # type: ignore[no-untyped-def]
    """The sourcing table's CSV (header "share (fraction)") and XLSX downloads upload back as
    they are: accepted, every row unchanged, nothing added, updated or removed."""
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    before = sorted(Sourcing.objects.filter(organization=organization).values_list("id", "annual_quantity", "share"))
    for fmt in ("csv", "xlsx"):
        download = buyer_client.get(f"/portfolio/edit/?download=sourcing&format={fmt}")
        assert download.status_code == 200
        if fmt == "csv":
            assert download.content.decode("utf-8-sig").splitlines()[0] == (
                "mineral,facility,country,annual_quantity,share (fraction),notes"
            )
        upload = SimpleUploadedFile(f"sourcing.{fmt}", download.content)
        response = buyer_client.post("/portfolio/edit/", {"action": "upload", "file": upload}, follow=True)
        assert response.status_code == 200
        assert f"0 added, 0 updated, {len(before)} unchanged, 0 removed" in response.content.decode()
    after = sorted(Sourcing.objects.filter(organization=organization).values_list("id", "annual_quantity", "share"))
    assert after == before


def test_sourcing_form_validates_and_saves(buyer_client) -> None:  # type: ignore[no-untyped-def]
    response = buyer_client.post(
        "/portfolio/edit/", {"action": "sourcing", "mineral": "gallium", "annual_quantity": "5"}
    )
    assert response.status_code == 400
    assert "Pick the source country" in response.content.decode()
    response = buyer_client.post(
        "/portfolio/edit/", {"action": "sourcing", "mineral": "gallium", "country": "KOR", "annual_quantity": "50"}
    )
    assert response.status_code == 302
    assert Sourcing.objects.filter(mineral__slug="gallium", country_id="KOR", annual_quantity=50).exists()


def test_delete_only_finds_own_rows(buyer_client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    other = supplier_services.record_save(
        instance=Organization(name="Other Buyer", slug="other-buyer", country=Country.objects.get(iso3="DEU"))
    )
    row = supplier_services.record_save(
        instance=Sourcing(
            organization=other, mineral=Mineral.objects.get(slug="gallium"), country_id="JPN", annual_quantity=1
        )
    )
    buyer_client.post("/portfolio/edit/", {"action": "sourcing-delete", "id": row.pk})
    assert Sourcing.objects.filter(pk=row.pk).exists()


def test_malformed_upload_shows_row_errors_and_changes_nothing(buyer_client) -> None:  # type: ignore[no-untyped-def]
    before = sorted(Sourcing.objects.values_list("id", "mineral_id", "country_id", "annual_quantity"))
    body = (
        b"mineral,facility,country,annual_quantity,share,notes\n"
        b"gallium,,JPN,300,,fine row\n"
        b"unobtainium,,JPN,1,,\n"
        b"gallium,,XXX,-4,,\n"
        b"germanium,no-such-plant,,abc,,\n"
    )
    upload = io.BytesIO(body)
    upload.name = "suppliers.csv"
    response = buyer_client.post("/portfolio/edit/", {"action": "upload", "file": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert html.count('class="upload-error"') == 6
    for text in ("unobtainium", "XXX", "-4", "no-such-plant", "abc", "a known mineral slug or name"):
        assert text in html
    assert sorted(Sourcing.objects.values_list("id", "mineral_id", "country_id", "annual_quantity")) == before


def test_upload_replaces_the_sourcing_of_listed_minerals(buyer_client) -> None:  # type: ignore[no-untyped-def]
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    lithium_before = Sourcing.objects.filter(organization=organization, mineral__slug="lithium").count()
    body = b"mineral,facility,country,annual_quantity,share,notes\ngallium,,JPN,1200,,\ngallium,,KOR,800,,\n"
    upload = io.BytesIO(body)
    upload.name = "suppliers.csv"
    response = buyer_client.post("/portfolio/edit/", {"action": "upload", "file": upload})
    assert response.status_code == 302
    gallium = Sourcing.objects.filter(organization=organization, mineral__slug="gallium")
    assert sorted(gallium.values_list("country_id", "annual_quantity")) == [("JPN", 1200.0), ("KOR", 800.0)]
    assert Sourcing.objects.filter(organization=organization, mineral__slug="lithium").count() == lithium_before


# --------------------------------------------------------------------------------------------
# Downloads


def _csv_rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_and_xlsx_have_the_rows_on_screen(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/").content.decode()
    on_screen = html.split('data-table="minerals"')[1].split("</tbody>")[0].count("<tr>") - 1  # minus the header row
    response = client.get("/?download=minerals&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert len(rows) - 1 == on_screen == Mineral.objects.count()
    gallium = next(r for r in rows if r[0] == "Gallium")
    # A qualified share is written as shown (issue 11): gallium's 98.7 % is a USGS estimate.
    assert gallium[2] == "98.7 % e"
    hhi = next(i for i, label in enumerate(rows[0]) if label == "HHI")
    assert float(gallium[hhi]) == pytest.approx(10_000 * ((750 / 760) ** 2 + (6 / 760) ** 2 + 2 * (3 / 760) ** 2))
    response = client.get("/?download=minerals&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.max_row - 1 == on_screen
    assert client.get("/?download=nope&format=csv").status_code == 404


def test_downloads_escape_formula_cells(buyer_client) -> None:  # type: ignore[no-untyped-def]
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    supplier_services.record_save(
        instance=Sourcing(
            organization=organization,
            mineral=Mineral.objects.get(slug="gallium"),
            country_id="KOR",
            annual_quantity=1,
            notes='=HYPERLINK("http://evil.example","x")',
        )
    )
    rows = _csv_rows(buyer_client.get("/portfolio/?download=sourcing&format=csv"))
    notes = [r[-1] for r in rows]
    assert '\'=HYPERLINK("http://evil.example","x")' in notes
    sheet = load_workbook(io.BytesIO(buyer_client.get("/portfolio/?download=sourcing&format=xlsx").content)).active
    values = [c.value for c in sheet["F"]]
    assert '\'=HYPERLINK("http://evil.example","x")' in values
    assert all(not (isinstance(v, str) and v.startswith("=")) for v in values)


# --------------------------------------------------------------------------------------------
# Security headers and auth pages


def test_pages_carry_a_csp_without_unsafe_eval(client, metrics) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/minerals/gallium/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assert "<script>" not in response.content.decode().replace("<script id=", "")  # no inline script body


def test_login_logout_and_password_pages(client, buyer) -> None:  # type: ignore[no-untyped-def]
    assert "Log in" in client.get("/accounts/login/").content.decode()
    response = client.post(
        "/accounts/login/", {"username": "buyer-test", "password": "pw-buyer-test-123", "next": "/portfolio/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/portfolio/"
    assert "Change your password" in client.get("/accounts/password/").content.decode()
    response = client.post("/accounts/logout/")
    assert response.status_code == 200
    assert "You are logged out" in response.content.decode()


def test_pages_group_countries_by_the_configured_feoc_set(metrics, settings):  # type: ignore[no-untyped-def]
    """Groupings and colours follow LODESTONE_FEOC_COUNTRIES, the set the stored metrics use."""
    from dashboards import page_content

    def groups_of_antimony_miners() -> dict[str, str]:
        antimony = page_selectors.mineral_or_404("antimony")
        page = page_content.mineral(page_selectors.mineral_page(mineral=antimony, as_of=TODAY), today=TODAY)
        table = page["tables"]["production_mine"]
        iso3, group = [c.key for c in table.columns].index("iso3"), [c.key for c in table.columns].index("group")
        return {row[iso3].value: row[group].value for row in table.rows}

    assert groups_of_antimony_miners()["RUS"].startswith("Other FEOC")
    settings.LODESTONE_FEOC_COUNTRIES = ["CHN", "PRK", "IRN"]  # Russia left out of the FEOC
    assert groups_of_antimony_miners()["RUS"] == "Other countries"
    overview = page_selectors.minerals_overview(as_of=TODAY)
    assert overview["feoc"] == ["CHN", "IRN", "PRK"]


def test_sourcing_save_checks_the_facility_and_updates_the_same_line(demo):  # type: ignore[no-untyped-def]
    """The portfolio form's write (suppliers.portfolio_services.sourcing_save): a facility must
    produce the mineral; a second save of the same (mineral, country) line updates it."""
    from django.core.exceptions import ValidationError

    from suppliers import portfolio_services

    organization = Organization.objects.get(name="Demo Buyer Inc.")
    plant = Facility.objects.order_by("id").first()
    other_mineral = Mineral.objects.exclude(pk=plant.mineral_id).order_by("id").first()
    line = {"organization": organization, "facility": "", "country": "JPN", "share": None}
    with pytest.raises(ValidationError, match="does not produce"):
        portfolio_services.sourcing_save(
            **{**line, "facility": plant.key}, mineral=other_mineral.slug, annual_quantity=1.0, notes=""
        )
    first = portfolio_services.sourcing_save(**line, mineral="gallium", annual_quantity=5.0, notes="first")
    again = portfolio_services.sourcing_save(**line, mineral="gallium", annual_quantity=7.0, notes="again")
    assert again.pk == first.pk
    stored = Sourcing.objects.filter(
        organization=organization, mineral__slug="gallium", country_id="JPN", facility__isnull=True
    )
    assert [(s.annual_quantity, s.notes) for s in stored] == [(7.0, "again")]


# --------------------------------------------------------------------------------------------
# Stored responses of the overview and mineral pages (config/stored_responses.py)


def _stored_keys(cache) -> set[str]:  # type: ignore[no-untyped-def]
    return {k for k in cache._cache if ":response:" in k}


@pytest.mark.parametrize(
    "url", ["/", "/minerals/gallium/", "/?sort=hhi&dir=desc", "/minerals/gallium/?as_of=2026-06-01"]
)
def test_anonymous_pages_are_stored_bytes_with_a_strong_etag(client, metrics, url, page_cache) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.get(url)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert first["Cache-Control"] == "no-cache"
    assert "Cookie" in first["Vary"]
    assert first["Content-Security-Policy"]
    assert first["X-Frame-Options"] == "DENY"
    assert not first.cookies
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url)
    assert again.content == first.content
    assert again["ETag"] == etag
    assert int(again["Content-Length"]) == len(again.content)
    assert len(queries) == 2  # the data generation, from the database (no shared cache)
    with CaptureQueriesContext(connection) as queries:
        revalidated = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated["ETag"] == etag
    assert len(queries) == 2
    assert client.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip;q=0.5", "gzip"), ("", None), ("br;q=0", None)],
)
def test_stored_pages_are_sent_compressed_to_callers_that_accept_it(  # type: ignore[no-untyped-def]
    client, metrics, page_cache, accept_encoding, coding
) -> None:
    import gzip

    import brotli

    plain = client.get("/minerals/gallium/")
    for _ in ("the miss that stores it", "a hit"):
        answer = client.get("/minerals/gallium/", HTTP_ACCEPT_ENCODING=accept_encoding)
        assert answer.status_code == 200
        assert answer.get("Content-Encoding") == coding
        assert "Accept-Encoding" in answer["Vary"]
        assert int(answer["Content-Length"]) == len(answer.content)
        decode = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[coding]
        assert decode(answer.content) == plain.content
    if coding is None:
        assert answer["ETag"] == plain["ETag"]
        return
    assert len(answer.content) * 4 < len(plain.content)
    # One strong ETag per representation: a compressed copy's tag never revalidates another one.
    assert answer["ETag"] != plain["ETag"]
    etag = answer["ETag"]
    revalidated = client.get("/minerals/gallium/", HTTP_ACCEPT_ENCODING=accept_encoding, HTTP_IF_NONE_MATCH=etag)
    assert revalidated.status_code == 304
    assert client.get("/minerals/gallium/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_stored_page_costs_no_query_with_the_generation_cached(client, metrics, settings) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.LODESTONE_GENERATION_CACHE_SECONDS = 300
    etag = client.get("/").get("ETag")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
        assert client.get("/", HTTP_IF_NONE_MATCH=etag).status_code == 304
        assert client.get("/minerals/gallium/").status_code == 200  # a miss: no generation query either
        assert client.get("/minerals/gallium/").status_code == 200
    assert len(queries) == 37 - 2  # only the mineral page's first render (its pinned count without the generation)


@pytest.mark.parametrize("cached_generation", [0, 300])
def test_an_edit_and_its_recompute_give_new_bytes_and_a_new_etag(client, metrics, settings, cached_generation) -> None:  # type: ignore[no-untyped-def]
    settings.LODESTONE_GENERATION_CACHE_SECONDS = cached_generation
    before = {url: client.get(url) for url in ("/", "/minerals/gallium/")}
    assert "Testium" not in before["/"].content.decode()
    _add_mineral_with_data()  # edits through the services, then the recompute (no cache clearing)
    for url, old in before.items():
        new = client.get(url, HTTP_IF_NONE_MATCH=old["ETag"])
        assert new.status_code == 200, url
        assert new["ETag"] != old["ETag"]
        assert new.content != old.content
    assert "Testium" in client.get("/").content.decode()


def test_the_cached_generation_moves_after_the_commit_of_a_recompute(
    metrics, settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from dashboards import generation

    settings.LODESTONE_GENERATION_CACHE_SECONDS = 300
    old = generation.current()
    assert generation.current() == old
    gallium = Mineral.objects.get(slug="gallium")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reference.minerals_mark_stale(mineral_ids=[gallium.pk])  # data_version by UPDATE: no model signal
    assert callbacks  # minerals_changed after the commit: the epoch is renewed (and the recompute runs)
    assert generation.current() != old
    assert generation.current() == page_selectors.data_generation()


def test_a_generation_read_before_a_commit_is_never_made_current(metrics, settings) -> None:  # type: ignore[no-untyped-def]
    """A reader that read the database before a writer's commit stores what it read under the
    epoch it saw; the writer's commit replaces that epoch, so the next read goes to the database."""
    from django.core.cache import cache

    from dashboards import generation

    settings.LODESTONE_GENERATION_CACHE_SECONDS = 300
    settings.LODESTONE_GENERATION_LOCAL_SECONDS = 0  # the shared cache alone, as a new process reads it
    generation.current()
    epoch = cache.get(generation.EPOCH_KEY)
    cache.set(generation.GENERATION_KEY, (epoch, "what-a-slow-reader-read"))
    assert generation.current() == "what-a-slow-reader-read"  # the same epoch: trusted
    generation._new_epoch()  # what every writer's on_commit does
    assert generation.current() == page_selectors.data_generation()


def test_a_process_keeps_the_generation_it_read_for_its_local_seconds_and_forgets_it_on_its_own_write(
    metrics, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Another process's change shows here at most LODESTONE_GENERATION_LOCAL_SECONDS later; this
    process's own write shows at once."""
    from django.core.cache import cache

    from dashboards import generation

    settings.LODESTONE_GENERATION_CACHE_SECONDS = 300
    settings.LODESTONE_GENERATION_LOCAL_SECONDS = 1
    clock = [1000.0]
    monkeypatch.setattr(generation.time, "monotonic", lambda: clock[0])
    read = generation.current()
    # Another process's write and read: a new epoch, and the generation it read under it.
    cache.set(generation.EPOCH_KEY, "another-process")
    cache.set(generation.GENERATION_KEY, ("another-process", "another-process-generation"))
    clock[0] += 0.99
    assert generation.current() == read  # kept: no cache read
    clock[0] += 0.02
    assert generation.current() == "another-process-generation"  # past the second: read again
    generation.changed()  # this process's own write (inside the test's transaction)
    assert generation.current() == page_selectors.data_generation()  # at once, from the database


def test_logged_in_users_keep_their_own_header_and_are_never_served_the_stored_page(client, buyer, page_cache) -> None:  # type: ignore[no-untyped-def]
    anonymous = client.get("/minerals/gallium/")
    assert "ETag" in anonymous
    assert "Log in" in anonymous.content.decode()
    client.force_login(buyer)
    mine = client.get("/minerals/gallium/")
    html = mine.content.decode()
    assert '<span class="who">buyer-test</span>' in html
    assert "csrfmiddlewaretoken" in html
    assert "ETag" not in mine  # the ordinary path: the layout rendered for this user
    assert client.get("/minerals/gallium/", HTTP_IF_NONE_MATCH=anonymous["ETag"]).status_code == 200
    portfolio = client.get("/portfolio/")
    assert "ETag" not in portfolio
    assert "no-store" in portfolio["Cache-Control"]
    client.logout()
    after = client.get("/minerals/gallium/")
    assert after.content == anonymous.content
    assert "buyer-test" not in after.content.decode()
    assert "Demo Buyer Inc." not in after.content.decode()
    assert not [k for k in _stored_keys(page_cache) if b"buyer-test" in page_cache._cache[k]]


def test_pending_messages_take_the_ordinary_path(client, metrics) -> None:  # type: ignore[no-untyped-def]
    assert "ETag" in client.get("/")
    client.cookies["messages"] = "anything"
    assert "ETag" not in client.get("/")


@pytest.mark.parametrize(
    "query",
    ["?sort=nope", "?dir=sideways", "?as_of=not-a-date", "?utm_source=x", "?as_of=2026-06-01&as_of=2026-11-30",
     "?download=minerals&format=csv"],
)  # fmt: skip
def test_junk_queries_are_answered_but_no_response_is_stored(client, metrics, page_cache, query) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/").status_code == 200
    stored = _stored_keys(page_cache)
    response = client.get("/" + query)
    assert response.status_code == 200
    assert "ETag" not in response
    assert _stored_keys(page_cache) == stored
    assert client.get("/minerals/unobtainium/").status_code == 404
    assert _stored_keys(page_cache) == stored


def test_anonymous_page_limit_counts_stored_answers(client, metrics, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LODESTONE_ANONYMOUS_PAGE_VIEWS = 3
    statuses = [client.get("/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # one rendered (counted by the middleware), two stored, refused


def test_organization_for_reads_the_first_membership_by_name_with_its_role_and_exposure_stamp(buyer) -> None:  # type: ignore[no-untyped-def]
    """page_selectors.organization_for (one hand-written query): the first of the user's
    organizations by name, or the one a slug names; the user's role there; the exposure rows'
    count and last computation, so the pages' key moves when a recompute rewrites them. A
    slug of an organization the user is not in answers 404."""
    from datetime import timedelta

    from django.http import Http404
    from django.utils import timezone

    from dashboards.models import ExposureMetric
    from dashboards.page_selectors import organization_for, organization_generation
    from suppliers import services as supplier_services

    demo = Organization.objects.get(name="Demo Buyer Inc.")
    rows = ExposureMetric.objects.filter(organization=demo)
    assert rows.exists()
    organization, role = organization_for(user=buyer)
    assert (organization.pk, organization.name, role) == (demo.pk, demo.name, "analyst")
    assert organization.exposure_stamp[0] == rows.count()
    key = organization_generation(organization, "g1")

    ExposureMetric.objects.filter(pk=rows.order_by("pk").first().pk).update(
        computed_at=timezone.now() + timedelta(minutes=1)
    )
    assert organization_generation(organization_for(user=buyer)[0], "g1") != key
    rows.filter(pk=rows.order_by("pk").first().pk).delete()
    assert organization_for(user=buyer)[0].exposure_stamp[0] == rows.count()

    earlier = Organization.objects.create(
        name="Aardvark Metals (fictional)", slug="aardvark", country_id="USA", is_fictional=True
    )
    supplier_services.membership_grant(user=buyer, organization=earlier, role="viewer")
    organization, role = organization_for(user=buyer)
    assert (organization.pk, role, organization.exposure_stamp[0]) == (earlier.pk, "viewer", 0)
    assert organization_for(user=buyer, slug=demo.slug)[0].pk == demo.pk
    other = Organization.objects.create(
        name="Zebra Alloys (fictional)", slug="zebra", country_id="USA", is_fictional=True
    )
    with pytest.raises(Http404):
        organization_for(user=buyer, slug=other.slug)
