"""Scenario pages: list, create, edit, the result with charts and tables, and "run now"."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboards import figures as dashboard_figures
from dashboards import page_selectors
from dashboards.downloads import table_response
from dashboards.tables import Column, Table, build_table
from scenarios import figures, forms, selectors, services
from scenarios.models import Scenario
from suppliers.models import Membership, Organization

EDITOR_ROLES = (Membership.Role.ANALYST, Membership.Role.ADMIN)


def _membership(request: HttpRequest) -> tuple[Organization | None, str | None]:
    try:
        return page_selectors.organization_for(user=request.user)
    except Http404:
        return None, None  # staff without an organization: the built-ins only


@login_required
def scenario_list(request: HttpRequest) -> HttpResponseBase:
    organization, role = _membership(request)
    context = {
        "scenarios": selectors.scenarios_with_latest_run(organization),
        "organization": organization,
        "can_edit": role in EDITOR_ROLES,
    }
    return render(request, "scenarios/list.html", context)


def _editor_scenario(request: HttpRequest, pk: int | None) -> tuple[Organization, Scenario | None]:
    organization, role = _membership(request)
    if organization is None or role not in EDITOR_ROLES:
        raise Http404("No such scenario.")  # viewers and outsiders: nothing to edit here
    scenario = None
    if pk is not None:
        scenario = selectors.scenario_for(organization, pk)
        if scenario.organization_id != organization.pk:
            raise Http404("Built-in scenarios are not edited here.")
    return organization, scenario


@login_required
def scenario_edit(request: HttpRequest, pk: int | None = None) -> HttpResponseBase:
    organization, scenario = _editor_scenario(request, pk)
    if request.method == "POST":
        form = forms.ScenarioForm(request.POST)
        policy = forms.PolicyShockFormSet(request.POST, prefix="policy")
        supply = forms.SupplyShockFormSet(request.POST, prefix="supply")
        demand = forms.DemandShockFormSet(request.POST, prefix="demand")
        if all(f.is_valid() for f in (form, policy, supply, demand)):
            saved = services.scenario_save(
                data=forms.scenario_data(form, policy, supply, demand),
                organization=organization,
                user=request.user,
                scenario=scenario,
            )
            return redirect("scenarios:detail", pk=saved.pk)
        status = 400
    else:
        if scenario is not None:
            head, policy_rows, supply_rows, demand_rows = forms.initial_of(scenario)
        else:
            head, policy_rows, supply_rows, demand_rows = {}, [], [], []
        form = forms.ScenarioForm(initial=head)
        policy = forms.PolicyShockFormSet(initial=policy_rows, prefix="policy")
        supply = forms.SupplyShockFormSet(initial=supply_rows, prefix="supply")
        demand = forms.DemandShockFormSet(initial=demand_rows, prefix="demand")
        status = 200
    context = {"form": form, "policy": policy, "supply": supply, "demand": demand, "scenario": scenario}
    return render(request, "scenarios/edit.html", context, status=status)


@login_required
@require_POST
def scenario_run(request: HttpRequest, pk: int) -> HttpResponseBase:
    organization, _role = _membership(request)
    scenario = selectors.scenario_for(organization, pk)
    services.scenario_run_request(scenario=scenario, force=request.POST.get("force") == "1")
    return redirect("scenarios:detail", pk=scenario.pk)


def _tables(minerals: list[dict[str, Any]], buyer: list[dict[str, Any]]) -> dict[str, Table]:
    mineral_records = [
        {
            "name": m["name"],
            **{f"baseline_{k}": v for k, v in m["baseline"].items()},
            **{f"scenario_{k}": v for k, v in m["scenario"].items()},
            "cut": ", ".join(f"{c} {f:.0%}" for c, f in m["cut_countries"]),
        }
        for m in minerals
    ]
    mineral_columns = [
        Column("name", "Mineral"),
        Column("baseline_china_supply_share", "China's share of supply, baseline", "share"),
        Column("scenario_china_supply_share", "China's share of supply, scenario", "share"),
        Column("baseline_restricted_supply_share", "Restricted share of world supply, baseline", "share"),
        Column("scenario_restricted_supply_share", "Restricted share of world supply, scenario", "share"),
        Column("baseline_restricted_import_share", "Restricted share of U.S. imports, baseline", "share"),
        Column("scenario_restricted_import_share", "Restricted share of U.S. imports, scenario", "share"),
        Column("cut", "Output cut"),
    ]
    buyer_records = [
        {
            "name": b["name"],
            "unit": b["unit"],
            **year,
            "covered_from": b["covered_from"],
            "plan_covered_from": b.get("plan_covered_from"),  # runs stored before plans: absent
        }
        for b in buyer
        for year in b["years"]
    ]
    buyer_columns = [
        Column("name", "Mineral"),
        Column("year", "Year", "year"),
        Column("unit", "Unit"),
        Column("required", "Requirement in the window", "number"),
        Column("baseline_at_risk", "At risk, baseline", "number"),
        Column("at_risk", "At risk, scenario", "number"),
        Column("covered", "Alternatives cover", "number"),
        Column("uncovered", "Uncovered", "number"),
        Column("covered_from", "All covered from", "year"),
    ]
    if _plan_of(buyer) is not None:  # the same volumes with the organization's active plan applied
        buyer_columns += [
            Column("plan_baseline_at_risk", "At risk with your plan, baseline", "number"),
            Column("plan_at_risk", "At risk with your plan, scenario", "number"),
            Column("plan_covered", "Alternatives cover, with your plan", "number"),
            Column("plan_uncovered", "Uncovered with your plan", "number"),
            Column("plan_covered_from", "All covered from, with your plan", "year"),
        ]
    return {
        "minerals": build_table(
            id="minerals", caption="Per mineral: baseline vs scenario (window means)", columns=mineral_columns,
            records=mineral_records,
        ),
        "buyer": build_table(
            id="buyer", caption="Your volumes at risk per year", columns=buyer_columns, records=buyer_records,
            empty="No result for your organization (no requirement or sourcing, or no run yet).",
        ),
    }  # fmt: skip


def _plan_of(buyer: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The active plan the buyer's results applied (the same on every row), None without one."""
    return next((b["plan"] for b in buyer if b.get("plan")), None)


def _chart(filename: str, chart_id: str, figure: Any, label: str) -> dict[str, Any]:
    """A chart as dashboards/_chart.html embeds it (json_script; PNG through Plotly's modebar)."""
    payload = dashboard_figures.payload(figure)
    return {"id": chart_id, "payload": payload, "filename": f"lodestone-{filename}", "label": label}


@login_required
def scenario_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    organization, role = _membership(request)
    scenario = selectors.scenario_for(organization, pk)
    run = selectors.latest_run(scenario)
    done = run if run is not None and run.status == run.Status.DONE else selectors.latest_done_run(scenario)
    minerals = list(done.minerals) if done else []
    buyer = selectors.buyer_result(done, organization)
    tables = _tables(minerals, buyer)
    wanted, fmt = request.GET.get("download"), request.GET.get("format", "csv")
    if wanted in tables and fmt in ("csv", "xlsx"):
        return table_response(tables[wanted], fmt, filename_stem=f"lodestone-scenario-{scenario.pk}")
    charts = []
    if minerals:
        figure = figures.mineral_comparison(minerals, title=f"{scenario.name}: restricted share by mineral")
        label = "Grouped bars: restricted share of world supply per mineral, baseline and scenario."
        charts.append(_chart(f"scenario-{scenario.pk}-minerals", "scenario-minerals", figure, label))
    if buyer:
        figure = figures.volume_at_risk(buyer, title=f"{scenario.name}: volume at risk by year")
        label = "Grouped bars: volume at risk per mineral and year, baseline, scenario and covered."
        if _plan_of(buyer) is not None:
            label = (
                "Grouped bars: volume at risk per mineral and year, baseline, scenario, scenario with your "
                "active plan, and covered."
            )
        charts.append(_chart(f"scenario-{scenario.pk}-volumes", "scenario-volumes", figure, label))
    context = {
        "scenario": scenario,
        "run": run,
        "done": done,
        "current": done is not None and done.data_version == selectors.data_version(scenario),
        "window_shocks": selectors.scenario_shocks(scenario),
        "charts": charts,
        "tables": tables,
        "plan": _plan_of(buyer),
        "has_buyer_result": bool(buyer),
        "can_edit": role in EDITOR_ROLES and scenario.organization_id == getattr(organization, "pk", None),
        "refresh": run is not None and run.status in (run.Status.QUEUED, run.Status.RUNNING),
    }
    return render(request, "scenarios/detail.html", context)
