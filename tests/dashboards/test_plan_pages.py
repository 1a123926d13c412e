"""Transition plans on the demo dataset: the services (one active plan, history, apply), the
projection, the /portfolio/plan/ page (roles, 404 isolation, downloads) and its query count."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from dashboards import plan_selectors
from minerals.models import Country, Mineral
from suppliers import plan_services
from suppliers import services as supplier_services
from suppliers.models import Facility, Organization, PlanStep, Requirement, Sourcing, TransitionPlan

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def page_cache(settings):  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "plan"}}
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture
def organization(demo) -> Organization:  # type: ignore[no-untyped-def]
    return Organization.objects.get(name="Demo Buyer Inc.")


def _member(django_user_model, organization, role):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(f"plan-{role}")
    supplier_services.membership_grant(user=user, organization=organization, role=role)
    return user


@pytest.fixture
def analyst(django_user_model, organization):  # type: ignore[no-untyped-def]
    return _member(django_user_model, organization, "analyst")


def _gallium_plan(organization: Organization, user=None) -> TransitionPlan:  # type: ignore[no-untyped-def]
    """Move 50 % of the 2,000 kg gallium requirement (1,000 kg) from China (a country line) to
    Japan (the buyer's Japanese country line) from 2027."""
    plan = plan_services.plan_save(organization=organization, name="Halve Chinese gallium", user=user)
    plan_services.plan_step_save(
        plan=plan,
        values={
            "mineral": Mineral.objects.get(slug="gallium"),
            "from_facility": None,
            "from_country": Country.objects.get(iso3="CHN"),
            "share": 0.5,
            "quantity": None,
            "target": PlanStep.Target.COUNTRY,
            "to_country": Country.objects.get(iso3="JPN"),
            "from_year": 2027,
        },
        user=user,
    )
    return plan


def _gallium_lines(organization: Organization) -> dict[str, float | None]:
    return {
        s.country_id: s.annual_quantity
        for s in Sourcing.objects.filter(organization=organization, mineral__slug="gallium", facility__isnull=True)
    }


def test_at_most_one_active_plan_per_organization(organization, analyst) -> None:  # type: ignore[no-untyped-def]
    first = _gallium_plan(organization, analyst)
    second = plan_services.plan_save(organization=organization, name="Other", user=analyst)
    plan_services.plan_activate(plan=first, user=analyst)
    plan_services.plan_activate(plan=second, user=analyst)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("draft", "active")
    assert first.author == analyst
    # The database refuses a second active plan whatever the code path.
    with pytest.raises(IntegrityError), transaction.atomic():
        TransitionPlan.objects.filter(pk=first.pk).update(status="active")
    # History: created, activated, back to draft; each attributed to the analyst.
    history = list(first.history.order_by("history_date").values_list("status", "history_user_id"))
    assert history == [("draft", analyst.pk), ("active", analyst.pk), ("draft", analyst.pk)]


def test_a_plan_never_changes_the_sourcing_until_applied(organization, analyst) -> None:  # type: ignore[no-untyped-def]
    """Saving and activating change neither the sourcing nor the buyer's data version; applying
    through 2027 moves 1,000 kg: China 1,600 -> 600 kg, Japan 400 -> 1,400 kg. Applying again
    moves nothing more."""
    version = organization.data_version
    plan = _gallium_plan(organization, analyst)
    plan_services.plan_activate(plan=plan, user=analyst)
    organization.refresh_from_db()
    assert organization.data_version == version
    assert _gallium_lines(organization) == {"CHN": 1600.0, "JPN": 400.0}

    assert plan_services.plan_apply(plan=plan, through_year=2026, user=analyst) == 0  # the step starts in 2027
    assert _gallium_lines(organization) == {"CHN": 1600.0, "JPN": 400.0}
    assert plan_services.plan_apply(plan=plan, through_year=2027, user=analyst) == 1
    assert _gallium_lines(organization) == {"CHN": 600.0, "JPN": 1400.0}
    organization.refresh_from_db()
    assert organization.data_version > version  # the exposure is recomputed
    assert plan_services.plan_apply(plan=plan, through_year=2030, user=analyst) == 0
    assert _gallium_lines(organization) == {"CHN": 600.0, "JPN": 1400.0}
    chn = Sourcing.objects.get(organization=organization, mineral__slug="gallium", country_id="CHN")
    assert chn.history.first().history_user == analyst


def test_apply_is_all_or_nothing(organization, analyst) -> None:  # type: ignore[no-untyped-def]
    """A second step asks 2,000 kg of China's 1,600: nothing is written, both reasons named."""
    plan = _gallium_plan(organization, analyst)
    plan_services.plan_step_save(
        plan=plan,
        values={
            "mineral": Mineral.objects.get(slug="gallium"),
            "from_facility": None,
            "from_country": Country.objects.get(iso3="CHN"),
            "share": None,
            "quantity": 2000.0,
            "target": PlanStep.Target.RECYCLING,
            "from_year": 2027,
        },
    )
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        plan_services.plan_apply(plan=plan, through_year=2027, user=analyst)
    assert "moves 2000 kg but the source supplies 600 kg" in str(error.value)
    assert _gallium_lines(organization) == {"CHN": 1600.0, "JPN": 400.0}
    plan.refresh_from_db()
    assert plan.applied_through_year is None


def test_a_step_must_start_from_one_of_the_buyers_sourcing_lines(organization) -> None:  # type: ignore[no-untyped-def]
    plan = plan_services.plan_save(organization=organization, name="Bad")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="not one of your sourcing lines"):
        plan_services.plan_step_save(
            plan=plan,
            values={
                "mineral": Mineral.objects.get(slug="gallium"),
                "from_facility": None,
                "from_country": Country.objects.get(iso3="AUS"),
                "share": 0.1,
                "quantity": None,
                "target": PlanStep.Target.RECYCLING,
                "from_year": 2027,
            },
        )


def test_projection_moves_gallium_from_2027_and_leaves_2026(organization) -> None:  # type: ignore[no-untyped-def]
    """Today: 1,600 kg direct from China, 400 kg from Japan, requirement 2,000 kg (nothing
    uncovered). The plan moves 1,000 kg to Japan from 2027: 600 kg direct from China then;
    China's restricted volume shrinks by the moved 1,000 kg times China's severity."""
    plan = _gallium_plan(organization)
    data = plan_selectors.plan_projection(organization=organization, plan=plan, today=TODAY)
    gallium = next(m for m in data["minerals"] if m["mineral"] == "gallium")
    assert gallium["unit"] == "kg"
    assert gallium["requirement"] == 2000.0
    today, planned = gallium["today"], gallium["plan"]
    assert [y["year"] for y in planned] == [2026, 2027, 2028, 2029, 2030]
    assert today[0]["china_direct"] == pytest.approx(1600.0)
    assert today[0]["uncovered"] == pytest.approx(0.0)
    assert planned[0] == today[0]  # 2026 unchanged
    assert planned[1]["china_direct"] == pytest.approx(600.0)
    assert today[1]["china_direct"] == pytest.approx(1600.0)
    # Restricted volume: China's lines only (Japan's own output is restricted by no measure), so
    # it scales with the Chinese volume: 600 / 1,600 of today's.
    assert planned[1]["restricted_volume"] == pytest.approx(today[1]["restricted_volume"] * 600 / 1600)
    assert data["reference_dates"]["2026"] == "2026-11-30"
    assert data["reference_dates"]["2027"] == "2027-07-01"
    # Minerals without a plan step show the same figures under the plan as today.
    lithium = next(m for m in data["minerals"] if m["mineral"] == "lithium")
    assert lithium["plan"] == lithium["today"]


def test_the_uncovered_part_shows_when_a_requirement_grows(organization) -> None:  # type: ignore[no-untyped-def]
    """Gallium's requirement from 2,000 to 5,000 kg with the same 2,000 kg sourced: 3,000 kg
    uncovered every year, today and under the plan."""
    supplier_services.record_upsert(
        model=Requirement,
        lookup={"organization": organization, "mineral": Mineral.objects.get(slug="gallium")},
        values={"annual_quantity": 5000.0},
    )
    data = plan_selectors.plan_projection(organization=organization, plan=None, today=TODAY)
    gallium = next(m for m in data["minerals"] if m["mineral"] == "gallium")
    assert [y["uncovered"] for y in gallium["today"]] == pytest.approx([3000.0] * 5)
    assert gallium["plan"] is None


# --------------------------------------------------------------------------------------------
# The page


def test_viewers_read_analysts_edit_and_another_organizations_plan_is_404(  # type: ignore[no-untyped-def]
    client, django_user_model, organization, analyst
) -> None:
    plan = _gallium_plan(organization, analyst)
    viewer = _member(django_user_model, organization, "viewer")
    client.force_login(viewer)
    html = client.get("/portfolio/plan/").content.decode()
    assert "Halve Chinese gallium" in html
    assert 'id="fig-plan-gallium"' in html
    assert 'name="action"' not in html
    assert 'id="edit-plans"' not in html
    assert client.get("/portfolio/plan/edit/").status_code == 403
    assert client.post("/portfolio/plan/edit/", {"action": "plan-create", "name": "x"}).status_code == 403
    # The read-only page takes no writes, from anyone.
    assert client.post("/portfolio/plan/", {"action": "plan-create", "name": "x"}).status_code == 405
    assert not TransitionPlan.objects.filter(name="x").exists()

    other = supplier_services.record_save(
        instance=Organization(name="Other Buyer LLC", slug="other-buyer", country_id="USA", is_fictional=True)
    )
    outsider = _member(django_user_model, other, "admin")
    client.force_login(outsider)
    assert client.get(f"/portfolio/plan/?plan={plan.pk}").status_code == 404
    assert client.get("/portfolio/demo-buyer-inc/plan/").status_code == 404
    assert client.get(f"/portfolio/plan/edit/?plan={plan.pk}").status_code == 404
    assert client.post(f"/portfolio/plan/edit/?plan={plan.pk}", {"action": "plan-delete"}).status_code == 404
    assert TransitionPlan.objects.filter(pk=plan.pk).exists()


def test_an_analyst_creates_a_plan_and_adds_a_step_with_the_forms(client, organization, analyst) -> None:  # type: ignore[no-untyped-def]
    client.force_login(analyst)
    page = client.get("/portfolio/plan/").content.decode()
    assert 'name="action"' not in page  # the read-only page: no form, even for an analyst
    assert 'href="/portfolio/plan/edit/"' in page
    response = client.post("/portfolio/plan/edit/", {"action": "plan-create", "name": "Diversify", "notes": ""})
    plan = TransitionPlan.objects.get(organization=organization, name="Diversify")
    assert response.status_code == 302
    assert response["Location"] == f"/portfolio/plan/edit/?plan={plan.pk}"
    source = Sourcing.objects.get(organization=organization, mineral__slug="germanium", facility__isnull=True)
    olen = Facility.objects.get(key="umicore-olen-germanium")
    response = client.post(
        f"/portfolio/plan/edit/?plan={plan.pk}",
        {
            "action": "step-add",
            "source": str(source.pk),
            "share_percent": "",
            "quantity": "400",
            "target": "facility",
            "to_facility": olen.key,
            "to_country": "",
            "from_year": "2028",
            "notes": "",
        },
    )
    assert response.status_code == 302
    step = plan.steps.get()
    assert (step.quantity, step.to_facility, step.from_year, step.from_country_id) == (400.0, olen, 2028, "CHN")
    # Both amounts, or none: the form says so and saves nothing.
    response = client.post(
        f"/portfolio/plan/edit/?plan={plan.pk}",
        {"action": "step-add", "source": str(source.pk), "share_percent": "10", "quantity": "5",
         "target": "recycling", "from_year": "2028"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Give either a share of the requirement or a quantity." in response.content.decode()
    assert plan.steps.count() == 1
    html = client.get(f"/portfolio/plan/?plan={plan.pk}").content.decode()
    assert "Umicore germanium refining, Olen (BEL)" in html
    assert 'data-table="plan_steps"' in html
    edit = client.get(f"/portfolio/plan/edit/?plan={plan.pk}").content.decode()
    assert 'value="step-delete"' in edit
    assert f'value="{olen.key}"' in edit  # the step form lists the facilities of the buyer's minerals


def test_downloads_have_the_years_and_steps(client, organization, analyst) -> None:  # type: ignore[no-untyped-def]
    plan = _gallium_plan(organization, analyst)
    client.force_login(analyst)
    response = client.get(f"/portfolio/plan/?plan={plan.pk}&download=plan_years&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:4] == ["Mineral", "Year", "Sourcing", "Requirement"]
    gallium_2027 = [r for r in rows[1:] if r[0] == "Gallium" and r[1] == "2027"]
    assert {r[2] for r in gallium_2027} == {"today's sourcing", "plan"}
    planned = next(r for r in gallium_2027 if r[2] == "plan")
    assert float(planned[header.index("Direct from China")]) == pytest.approx(600.0)
    response = client.get(f"/portfolio/plan/?plan={plan.pk}&download=plan_steps&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][0] == "Gallium"
    assert values[1][5] == 2027


def test_plan_page_query_count_is_fixed_with_17_minerals(client, organization, analyst, page_cache) -> None:  # type: ignore[no-untyped-def]
    """Every demo mineral required and sourced (17), a plan with a step per mineral: the same
    number of queries as with 8 minerals and one step, cold (content built) and warm (cached)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plan = _gallium_plan(organization, analyst)
    plan_services.plan_activate(plan=plan, user=analyst)
    client.force_login(analyst)
    assert client.get("/portfolio/plan/").status_code == 200  # the first request after the login writes the session

    def count(*, cold: bool) -> int:
        if cold:
            page_cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/portfolio/plan/").status_code == 200
        return len(queries)

    before = (count(cold=True), count(cold=False))
    australia = Country.objects.get(iso3="AUS")
    for mineral in Mineral.objects.all():
        if not Requirement.objects.filter(organization=organization, mineral=mineral).exists():
            supplier_services.record_save(
                instance=Requirement(organization=organization, mineral=mineral, annual_quantity=10, unit="t")
            )
            supplier_services.record_save(
                instance=Sourcing(organization=organization, mineral=mineral, country=australia, annual_quantity=6)
            )
            plan_services.plan_step_save(
                plan=plan,
                values={"mineral": mineral, "from_facility": None, "from_country": australia,
                        "share": 0.2, "quantity": None, "target": "us_production", "from_year": 2028},
            )  # fmt: skip
    assert Requirement.objects.filter(organization=organization).count() == 17
    assert plan.steps.count() == 10
    after = (count(cold=True), count(cold=False))
    assert after == before
    # Warm: user and membership with its exposure rows (2), the public generation (2) and the state of its plans
    # (2: plans' and steps' history); no form is rendered (they are on the edit page). Cold adds
    # the plans and their steps (2), the chosen plan (1), the projection (13: requirements,
    # sourcing, steps, FEOC control (2), facilities, links, sources, production, measures (3),
    # severities) and, the cache being cleared, the session and the inbox's unread count (2).
    assert after == (24, 6)


def test_the_page_follows_every_edit(client, organization, analyst) -> None:  # type: ignore[no-untyped-def]
    """The content is cached under the organization's generation and the plan's version: a new
    step, and a requirement change, show on the next request."""
    plan = _gallium_plan(organization, analyst)
    client.force_login(analyst)
    url = f"/portfolio/plan/?plan={plan.pk}&download=plan_years&format=csv"

    def planned_2028_direct() -> float:
        rows = list(csv.reader(io.StringIO(client.get(url).content.decode("utf-8-sig"))))
        header = rows[0]
        row = next(r for r in rows[1:] if r[0] == "Gallium" and r[1] == "2028" and r[2] == "plan")
        return float(row[header.index("Direct from China")])

    assert planned_2028_direct() == pytest.approx(600.0)
    plan_services.plan_step_save(
        plan=plan,
        values={"mineral": Mineral.objects.get(slug="gallium"), "from_facility": None,
                "from_country": Country.objects.get(iso3="CHN"), "share": None, "quantity": 600.0,
                "target": "recycling", "from_year": 2028},
    )  # fmt: skip
    assert planned_2028_direct() == pytest.approx(0.0)
    step = plan.steps.get(from_year=2028)
    plan_services.plan_step_delete(step=step)
    assert planned_2028_direct() == pytest.approx(600.0)
    # The plans list is in the cached body too: a new plan, an activation and a deletion show.
    assert "Recycle more" not in client.get("/portfolio/plan/").content.decode()
    other = plan_services.plan_save(organization=organization, name="Recycle more", user=analyst)
    html = client.get("/portfolio/plan/").content.decode()
    assert "Recycle more" in html
    assert f'aria-current="true" data-plan="{other.pk}"' not in html
    plan_services.plan_activate(plan=other, user=analyst)  # the active plan is the one shown first
    assert f'aria-current="true" data-plan="{other.pk}"' in client.get("/portfolio/plan/").content.decode()
    plan_services.plan_delete(plan=other, user=analyst)
    assert "Recycle more" not in client.get("/portfolio/plan/").content.decode()
