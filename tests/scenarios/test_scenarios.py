"""Scenarios on the demo dataset: the four built-ins hand-checked for Demo Buyer Inc., runs stored
once per data version, pages closed to other organizations."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from scenarios import selectors, services
from scenarios.models import Scenario, ScenarioBuyerResult, ScenarioRun
from suppliers.models import Membership, Organization

pytestmark = pytest.mark.django_db

DEMO_BUYER = "Demo Buyer Inc."


def _buyer_rows(result: services.ScenarioResult) -> dict[str, dict[str, Any]]:
    org = Organization.objects.get(name=DEMO_BUYER)
    return {row["mineral"]: row for row in result.buyers[org.pk]}


def _minerals(result: services.ScenarioResult) -> dict[str, dict[str, Any]]:
    return {row["mineral"]: row for row in result.minerals}


def _years(row: dict[str, Any], key: str) -> list[float]:
    return [y[key] for y in row["years"]]


def test_builtin_scenarios_hand_checked_for_demo_buyer(demo: None) -> None:
    """Window 2026-01-01..2027-12-31 (365 + 365 days). Demo Buyer buys 1,600 kg of gallium from China
    (country line) and 400 kg from Japan (a listed gallium producer: its own output, unrestricted).
    China's gallium licence (0.2) applies once along the country line (China's own production mix
    crosses no border before its output does, risk.buyer_exposure); Ann. 46's U.S. ban is suspended
    until 2026-11-27, so in force 34 days of 2026.

    * Baseline 2026: 1,600 x (0.2 x 331 + 1.0 x 34) / 365 = 439.233 kg; 2027: 1,600 kg.
    * Every suspension lapses: the ban all along, 1,600 kg both years.
    * Licences approved at 50 %: 0.5; 2026: 1,600 x (0.5 x 331 + 34) / 365 = 874.521 kg.
    * China bans every controlled item to the U.S.: natural graphite's 30 t from China (licence:
      0.2 x 30 = 6 t at risk) all at risk, 30 t a year.
    * Largest non-Chinese supplier lost (2026): for rare earths that is the U.S. itself (USGS MCS
      2025, 2024 mine output: China 270,000 t, U.S. 45,000 t of a world 390,000 t), so China's share
      goes from 270/390 = 0.6923 to 270/345 = 0.7826, and the buyer's 12 t from Mountain Pass are lost
      beside the baseline's 3.2 t (16 t via the Japanese magnet plant, whose Chinese inputs cross
      one border under China's licence: 16 x 0.2): 15.2 t.
    """
    built = {s.key: s for s in services.builtin_scenarios_ensure()}
    assert sorted(built) == [
        "china-bans-controlled-items-to-us", "every-suspension-lapses", "largest-non-chinese-supplier-lost",
        "licences-approved-at-50",
    ]  # fmt: skip
    lapse = services.scenario_compute(built["every-suspension-lapses"])
    gallium = _buyer_rows(lapse)["gallium"]
    assert gallium["unit"] == "kg"
    assert _years(gallium, "baseline_at_risk") == pytest.approx([1600 * (0.2 * 331 + 34) / 365, 1600.0])
    assert _years(gallium, "at_risk") == pytest.approx([1600.0, 1600.0])
    assert _minerals(lapse)["gallium"]["baseline"]["restricted_supply_share"] == pytest.approx(
        0.9868421 * (0.2 * 331 + 1.0 * 399) / 730, rel=1e-6
    )

    licences = services.scenario_compute(built["licences-approved-at-50"])
    assert _years(_buyer_rows(licences)["gallium"], "at_risk") == pytest.approx([1600 * (0.5 * 331 + 34) / 365, 1600.0])
    # Bismuth: a licence on China's 81.25 % of world supply, 0.2 -> 0.5.
    bismuth = _minerals(licences)["bismuth"]
    assert (bismuth["baseline"]["restricted_supply_share"], bismuth["scenario"]["restricted_supply_share"]) == (
        pytest.approx(0.8125 * 0.2),
        pytest.approx(0.8125 * 0.5),
    )

    ban = services.scenario_compute(built["china-bans-controlled-items-to-us"])
    graphite = _buyer_rows(ban)["graphite-natural"]
    assert _years(graphite, "baseline_at_risk") == pytest.approx([6.0, 6.0])
    assert _years(graphite, "at_risk") == pytest.approx([30.0, 30.0])

    lost = services.scenario_compute(built["largest-non-chinese-supplier-lost"])
    rare_earths = _minerals(lost)["rare-earths"]
    assert rare_earths["cut_countries"] == [["USA", 1.0]]
    assert rare_earths["baseline"]["china_supply_share"] == pytest.approx(270 / 390)
    assert rare_earths["scenario"]["china_supply_share"] == pytest.approx(270 / 345)
    buyer_re = _buyer_rows(lost)["rare-earths"]
    assert _years(buyer_re, "baseline_at_risk") == pytest.approx([3.2])
    assert _years(buyer_re, "at_risk") == pytest.approx([15.2])
    # Germanium: no alternative with a known capacity, so what is at risk stays uncovered.
    germanium = _buyer_rows(licences)["germanium"]
    assert germanium["covered_from"] is None
    assert _years(germanium, "uncovered") == _years(germanium, "at_risk")


def test_seed_scenarios_runs_the_builtins_once(demo: None, django_capture_on_commit_callbacks: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_scenarios", "--run", stdout=out)
    assert ScenarioRun.objects.filter(status=ScenarioRun.Status.DONE).count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_scenarios", "--run", stdout=out)  # unchanged data: the stored runs answer
    assert ScenarioRun.objects.count() == 4
    assert Scenario.objects.filter(organization__isnull=True).count() == 4


def test_a_run_is_stored_once_per_data_version_and_reruns_the_same(
    demo: None, django_capture_on_commit_callbacks: Any
) -> None:
    scenario = services.builtin_scenarios_ensure()[3]
    with django_capture_on_commit_callbacks(execute=True):
        first = services.scenario_run_request(scenario=scenario)
    first.refresh_from_db()
    assert (first.status, first.progress) == (ScenarioRun.Status.DONE, 100)
    assert first.data_version == selectors.data_version(scenario)
    # Same data: the stored run answers; nothing is queued.
    assert services.scenario_run_request(scenario=scenario).pk == first.pk
    with django_capture_on_commit_callbacks(execute=True):
        second = services.scenario_run_request(scenario=scenario, force=True)
    second.refresh_from_db()
    assert second.pk != first.pk
    assert second.minerals == first.minerals
    rows = {
        r.run_id: r.minerals
        for r in ScenarioBuyerResult.objects.filter(run__in=[first, second]).order_by("organization")
    }
    assert rows[first.pk] == rows[second.pk]
    # A second delivery of the same task claims nothing.
    assert services.scenario_run_execute(run_id=second.pk).minerals == second.minerals
    # The data changes: the result is stale and the sweep re-runs it.
    org = Organization.objects.get(name=DEMO_BUYER)
    Organization.objects.filter(pk=org.pk).update(data_version=org.data_version + 1)
    assert selectors.stale_scenario_ids() == [scenario.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.stale_scenarios_rerun() == 1
    assert selectors.stale_scenario_ids() == []


@pytest.fixture
def two_buyers(demo: None, django_user_model: Any) -> dict[str, Any]:
    from suppliers import services as supplier_services

    org_a = Organization.objects.get(name=DEMO_BUYER)
    org_b = supplier_services.record_save(
        instance=Organization(name="Other Buyer LLC", slug="other-buyer", country_id="USA", is_fictional=True)
    )
    analyst = django_user_model.objects.create_user("analyst-a")
    viewer = django_user_model.objects.create_user("viewer-a")
    outsider = django_user_model.objects.create_user("analyst-b")
    Membership.objects.create(user=analyst, organization=org_a, role=Membership.Role.ANALYST)
    Membership.objects.create(user=viewer, organization=org_a, role=Membership.Role.VIEWER)
    Membership.objects.create(user=outsider, organization=org_b, role=Membership.Role.ANALYST)
    return {"org_a": org_a, "analyst": analyst, "viewer": viewer, "outsider": outsider}


def _form(**extra: str) -> dict[str, str]:
    data = {
        "name": "Gallium ban and more demand", "as_of": "2026-01-01", "window_start": "2027-01-01",
        "window_end": "2027-12-31", "licence_approval_rate": "",
        "policy-TOTAL_FORMS": "1", "policy-INITIAL_FORMS": "0",
        "policy-0-kind": "new", "policy-0-issuer": "CHN", "policy-0-measure_type": "export_ban",
        "policy-0-minerals": "gallium", "policy-0-targets": "USA",
        "supply-TOTAL_FORMS": "0", "supply-INITIAL_FORMS": "0",
        "demand-TOTAL_FORMS": "1", "demand-INITIAL_FORMS": "0",
        "demand-0-mineral": "gallium", "demand-0-change_percent": "25",
    }  # fmt: skip
    return {**data, **extra}


def test_pages_create_run_and_hide_other_organizations(
    client: Any, two_buyers: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(two_buyers["analyst"])
    assert client.get("/scenarios/").status_code == 200
    assert client.get("/scenarios/new/").status_code == 200
    response = client.post("/scenarios/new/", _form())
    assert response.status_code == 302, response.content.decode()[:2000]
    scenario = Scenario.objects.get(name="Gallium ban and more demand")
    assert scenario.organization == two_buyers["org_a"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/scenarios/{scenario.pk}/run/").status_code == 302
    page = client.get(f"/scenarios/{scenario.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="scenario-minerals"' in body
    assert 'id="scenario-volumes"' in body
    # Gallium 2027: demand +25 % -> 2,500 kg; the new ban blocks China's 1,600 x 1.25 = 2,000 kg.
    run = scenario.runs.get()
    gallium = next(r for r in selectors.buyer_result(run, two_buyers["org_a"]) if r["mineral"] == "gallium")
    assert gallium["years"][0]["required"] == pytest.approx(2500.0)
    assert gallium["years"][0]["at_risk"] == pytest.approx(2000.0)
    csv = client.get(f"/scenarios/{scenario.pk}/?download=buyer&format=csv")
    assert csv.status_code == 200
    assert b"Gallium" in csv.content
    assert client.get(f"/scenarios/{scenario.pk}/?download=minerals&format=xlsx").status_code == 200
    assert client.get(f"/scenarios/{scenario.pk}/edit/").status_code == 200
    # A window ending before it starts is refused with the form shown again.
    assert client.post("/scenarios/new/", _form(window_end="2026-01-01")).status_code == 400

    client.force_login(two_buyers["outsider"])
    for url in (f"/scenarios/{scenario.pk}/", f"/scenarios/{scenario.pk}/edit/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/scenarios/{scenario.pk}/run/").status_code == 404
    assert "Gallium ban" not in client.get("/scenarios/").content.decode()
    builtin = services.builtin_scenarios_ensure()[0]
    assert client.get(f"/scenarios/{builtin.pk}/").status_code == 200
    assert client.get(f"/scenarios/{builtin.pk}/edit/").status_code == 404

    client.force_login(two_buyers["viewer"])
    assert client.get(f"/scenarios/{scenario.pk}/").status_code == 200
    assert client.get("/scenarios/new/").status_code == 404
    client.logout()
    assert client.get("/scenarios/").status_code == 302


def test_list_page_and_api_list_read_a_fixed_number_of_queries(
    client: Any, two_buyers: dict[str, Any], django_assert_num_queries: Any
) -> None:
    from rest_framework.test import APIClient

    services.builtin_scenarios_ensure()
    data = services.ScenarioData(
        name="A's own", as_of=date(2026, 1, 1), window_start=date(2027, 1, 1), window_end=date(2027, 12, 31)
    )
    for _ in range(3):
        services.scenario_save(data=data, organization=two_buyers["org_a"])
    client.force_login(two_buyers["analyst"])
    client.get("/scenarios/")  # warm: process-wide caches (content types, ...) filled once
    # A fixed count whatever the number of scenarios: the scenarios and their latest runs are
    # one query each (scenarios_with_latest_run), beside the session and the membership.
    with django_assert_num_queries(4):
        response = client.get("/scenarios/")
    assert response.content.decode().count("A&#x27;s own") == 3
    api = APIClient()
    api.force_authenticate(two_buyers["analyst"])
    api.get("/api/v1/scenarios/")  # warm, as above
    # Membership, count, the page of scenarios, then the prefetched relations that have rows here:
    # policy shocks, their minerals, targets and measures (the demand shocks' and supply shocks'
    # minerals and facilities are skipped by Django when no row refers to one): 7, any number of scenarios.
    with django_assert_num_queries(7):
        listed = api.get("/api/v1/scenarios/")
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 7


def test_api_create_run_results(two_buyers: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(two_buyers["analyst"])
    body = {
        "name": "Gallium ban (API)", "as_of": "2026-01-01", "window_start": "2027-01-01", "window_end": "2027-12-31",
        "policy_shocks": [{"kind": "new", "issuer": "CHN", "measure_type": "export_ban", "minerals": ["gallium"],
                           "targets": ["USA"]}],
        "demand_shocks": [{"mineral": "gallium", "change_percent": 25}],
    }  # fmt: skip
    created = api.post("/api/v1/scenarios/", body, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["policy_shocks"][0]["minerals"] == ["gallium"]
    with django_capture_on_commit_callbacks(execute=True):
        run = api.post(f"/api/v1/scenarios/{pk}/run/")
    assert run.status_code == 202
    results = api.get(f"/api/v1/scenarios/{pk}/results/").json()
    assert results["current"] is True
    assert results["run"]["status"] == "done"
    gallium = next(r for r in results["buyer"] if r["mineral"] == "gallium")
    assert gallium["years"][0]["at_risk"] == pytest.approx(2000.0)
    bad = api.post("/api/v1/scenarios/", {**body, "window_end": "2026-01-01"}, format="json")
    assert bad.status_code == 400
    outsider = APIClient()
    outsider.force_login(two_buyers["outsider"])
    assert outsider.get(f"/api/v1/scenarios/{pk}/results/").status_code == 404


def _japanese_refiner_plan(org: Organization) -> Any:
    """Demo Buyer's active plan: 50 % of its 2,000 kg gallium requirement (1,000 kg) moves from its
    Chinese country line to a Japanese gallium refiner from 2027."""
    from minerals.models import Country, Mineral
    from suppliers import plan_services
    from suppliers import services as supplier_services
    from suppliers.models import Company, Facility, PlanStep

    gallium = Mineral.objects.get(slug="gallium")
    company = supplier_services.record_save(
        instance=Company(name="Nippon Gallium Refining (fictional)", hq_country_id="JPN")
    )
    refiner = supplier_services.record_save(
        instance=Facility(
            key="jp-gallium-refiner", company=company, name="Japanese gallium refiner (fictional)",
            country_id="JPN", mineral=gallium, stage="refinery", status="operating", is_fictional=True,
        )
    )  # fmt: skip
    plan = plan_services.plan_save(organization=org, name="Half of the Chinese gallium to Japan")
    plan_services.plan_step_save(
        plan=plan,
        values={
            "mineral": gallium, "from_facility": None, "from_country": Country.objects.get(iso3="CHN"),
            "share": 0.5, "quantity": None, "target": PlanStep.Target.FACILITY, "to_facility": refiner,
            "to_country": None, "from_year": 2027,
        },
    )  # fmt: skip
    return plan_services.plan_activate(plan=plan)


def test_demo_buyer_with_and_without_its_active_plan_when_every_suspension_lapses(
    client: Any, two_buyers: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Every suspension lapses, window 2026-2027: China's U.S. ban on gallium applies all along, so
    without a plan 1,600 kg (the Chinese line) are at risk each year. With the plan, 2027's lines
    are China 1,600 - 1,000 = 600 kg (banned: at risk), the Japanese refiner 1,000 kg (no recorded
    inputs: Japan is a listed gallium producer, so its own output, unrestricted) and Japan 400 kg:
    600 kg at risk. 2026 is before the step: 1,600 kg. Under the baseline the ban's suspension ends
    on 2026-11-27, so 2027 with the plan is 600 kg too, and 2026 keeps 1,600 x (0.2 x 331 + 34) / 365."""
    org = two_buyers["org_a"]
    lapse = next(s for s in services.builtin_scenarios_ensure() if s.key == "every-suspension-lapses")
    with django_capture_on_commit_callbacks(execute=True):
        before = services.scenario_run_request(scenario=lapse)
    version = selectors.data_version(lapse)
    plan = _japanese_refiner_plan(org)
    assert selectors.data_version(lapse) != version  # an active plan makes the stored run stale
    assert lapse.pk in selectors.stale_scenario_ids()

    result = services.scenario_compute(lapse)
    gallium = _buyer_rows(result)["gallium"]
    assert gallium["plan"] == {"id": plan.pk, "name": "Half of the Chinese gallium to Japan"}
    assert gallium["plan_issues"] == []
    assert _years(gallium, "at_risk") == pytest.approx([1600.0, 1600.0])
    assert _years(gallium, "plan_at_risk") == pytest.approx([1600.0, 600.0])
    assert _years(gallium, "plan_baseline_at_risk") == pytest.approx([1600 * (0.2 * 331 + 34) / 365, 600.0])
    for year in gallium["years"]:
        assert year["plan_covered"] + year["plan_uncovered"] == pytest.approx(year["plan_at_risk"])
    # Minerals without a step: the plan changes nothing.
    graphite = _buyer_rows(result)["graphite-natural"]
    assert _years(graphite, "plan_at_risk") == _years(graphite, "at_risk")
    # Another organization's plan never reaches this one's results, and a buyer without a plan has none.
    other = Organization.objects.get(slug="other-buyer")
    assert all(row["plan"] is None for row in result.buyers.get(other.pk, []))

    # Stored, shown and downloaded with both series.
    with django_capture_on_commit_callbacks(execute=True):
        run = services.scenario_run_request(scenario=lapse)
    assert run.pk != before.pk
    client.force_login(two_buyers["viewer"])
    page = client.get(f"/scenarios/{lapse.pk}/").content.decode()
    assert "Half of the Chinese gallium to Japan" in page
    assert "At risk, scenario with your plan" in page
    csv = client.get(f"/scenarios/{lapse.pk}/?download=buyer&format=csv").content.decode()
    assert "At risk with your plan, scenario" in csv.splitlines()[0]
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(two_buyers["viewer"])
    rows = api.get(f"/api/v1/scenarios/{lapse.pk}/results/").json()["buyer"]
    api_gallium = next(r for r in rows if r["mineral"] == "gallium")
    assert [y["plan_at_risk"] for y in api_gallium["years"]] == pytest.approx([1600.0, 600.0])


def test_a_builtin_whose_definition_changed_is_saved_again(demo: None) -> None:
    """A database seeded with an older definition (here: the China ban without its lapse row)
    runs the current one after `seed_scenarios`; unchanged built-ins keep their revision."""
    built = {s.key: s for s in services.builtin_scenarios_ensure()}
    ban = built["china-bans-controlled-items-to-us"]
    ban.policy_shocks.filter(kind="lapse").delete()
    Scenario.objects.filter(pk=ban.pk).update(assumptions="older words")
    revisions = {s.key: s.revision for s in built.values()}
    again = {s.key: s for s in services.builtin_scenarios_ensure()}
    assert again[ban.key].pk == ban.pk
    assert again[ban.key].revision == revisions[ban.key] + 1
    assert list(again[ban.key].policy_shocks.values_list("kind", flat=True)) == ["lapse", "widen"]
    assert {k: s.revision for k, s in again.items() if k != ban.key} == {
        k: r for k, r in revisions.items() if k != ban.key
    }
