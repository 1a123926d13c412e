"""The transition plan pages. /portfolio/plan/ is read-only: a buyer's plans and the chosen
plan's projection 2026-2030 beside today's sourcing, with downloads, cached per organization
(its generation), the state of its plans (`plan_selectors.plans_version`) and the query string.
/portfolio/plan/edit/ holds the forms (analysts and admins) that write through
suppliers.plan_services, like /portfolio/edit/ for the portfolio: the step form lists every
facility of the buyer's minerals (thousands at scale), which the read-only page never renders.
Thin: reads from dashboards.plan_selectors, content from dashboards.plan_content. Another
organization's plan is a 404, like its portfolio.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from dashboards import page_cache, page_selectors, plan_content, plan_selectors
from dashboards.plan_forms import PlanApplyForm, PlanForm, PlanStepForm
from dashboards.views import EDITOR_ROLES, _sort_is_valid, organization_generation, private_no_store
from minerals.models import Country
from suppliers import plan_services
from suppliers.models import Facility, Organization, PlanStep, Sourcing, TransitionPlan

# Query parameters the cached body depends on (the plan chosen and the tables' sort).
PLAN_QUERY = frozenset({"plan", "sort", "dir"})


def _plan_url(organization: Organization, org: str | None, plan_id: int | None = None, *, edit: bool = False) -> str:
    name = ("plan_org" if org else "plan") + ("_edit" if edit else "")
    url = reverse(f"dashboards:{name}", args=[organization.slug] if org else [])
    return f"{url}?plan={plan_id}" if plan_id else url


def _step_choices(organization: Organization) -> dict[str, Any]:
    """The buyer's sourcing lines, the facilities of its minerals and the countries. Three queries."""
    lines = (
        Sourcing.objects.filter(organization=organization)
        .select_related("mineral", "facility")
        .order_by("mineral__name", "id")
    )
    sources = []
    mineral_ids = set()
    for line in lines:
        mineral_ids.add(line.mineral_id)
        origin = line.facility.name if line.facility else f"{line.country_id} (facility not known)"
        sources.append((str(line.pk), f"{line.mineral.name}: {origin}"))
    facilities = [
        (f.key, f"{f.mineral.name}: {f.name} ({f.country_id}, {f.get_status_display()})")
        for f in Facility.objects.filter(mineral_id__in=mineral_ids)
        .select_related("mineral")
        .order_by("mineral__name", "name")
    ]
    countries = list(Country.objects.order_by("name").values_list("iso3", "name"))
    return {"sources": sources, "facilities": facilities, "countries": countries}


def _chosen(organization: Organization, wanted: str, plans: list[dict[str, Any]]) -> TransitionPlan | None:
    """The plan asked for (``?plan=``; another organization's is a 404), else the first of the
    list (the active one first), else None (today's sourcing only). One query, none without plans."""
    if wanted:
        return plan_selectors.plan_of(organization=organization, plan_id=wanted)
    return plan_selectors.plan_of(organization=organization, plan_id=plans[0]["id"]) if plans else None


@private_no_store
@login_required
@require_http_methods(["GET", "HEAD"])
def plan(request: HttpRequest, org: str | None = None) -> HttpResponseBase:
    """Read-only: every member sees the same page; editors get a link to the edit page."""
    organization, role = page_selectors.organization_for(user=request.user, slug=org)
    can_edit = role in EDITOR_ROLES
    today = timezone.localdate()
    generation = organization_generation(request, organization)
    plans_version = plan_selectors.plans_version(organization)
    wanted = request.GET.get("plan", "")
    plan_url = _plan_url(organization, org)

    def content() -> dict[str, Any]:
        # Charts and tables, cached apart from the HTML: the downloads read them, and building the
        # Plotly figures costs far more than the projection's queries.
        def build() -> dict[str, Any]:
            plans = plan_selectors.organization_plans(organization=organization)
            chosen = _chosen(organization, wanted, plans)
            data = plan_selectors.plan_projection(organization=organization, plan=chosen, today=today)
            return {
                "plans": plans,
                "plan": data["plan"],
                "reference_dates": data["reference_dates"],
                "content": plan_content.plan_page(data),
            }

        return page_cache.cached("plan", generation, (organization.pk, plans_version, today, wanted), build)

    def stem() -> str:
        chosen = content()["plan"]
        return f"lodestone-plan-{organization.slug}-{chosen['id'] if chosen else 'today'}"

    if request.GET.get("download") and (
        response := page_cache.download(request, lambda: content()["content"]["tables"], stem())
    ):
        return response

    def build_body() -> tuple[dict[str, str], bool]:
        data = content()
        tables = page_cache.tables_for_request(data["content"]["tables"], request)
        body = render_to_string(
            "dashboards/_plan_body.html",
            {
                **data["content"],
                "tables": tables,
                "plans": data["plans"],
                "plan": data["plan"],
                "reference_dates": data["reference_dates"],
                "plan_url": plan_url,
            },
            request=request,
        )
        return {"title": "", "body": body}, _sort_is_valid(request, tables)

    # The whole read-only body (plans, charts, tables) as rendered HTML; only the site header and
    # the edit link (the user, the role) are rendered per request around it.
    key = (organization.pk, plan_url, plans_version, today)
    page = page_cache.body(request, "plan", generation, key, PLAN_QUERY, build_body)
    context: dict[str, Any] = {
        "body": page["body"],
        "organization": organization,
        "role": role,
        "can_edit": can_edit,
        "edit_url": _plan_url(organization, org, _row_id(wanted) if _row_id(wanted) > 0 else None, edit=True),
    }
    return render(request, "dashboards/plan.html", context)


@private_no_store
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def plan_edit(request: HttpRequest, org: str | None = None) -> HttpResponseBase:
    """The plans with the forms that change them (analysts and admins); every successful write
    comes back here, and the read-only page shows the result."""
    organization, role = page_selectors.organization_for(user=request.user, slug=org)
    if role not in EDITOR_ROLES:
        raise PermissionDenied("Viewers cannot edit plans.")
    plans = plan_selectors.organization_plans(organization=organization)
    chosen = _chosen(organization, request.GET.get("plan", ""), plans)
    forms_bound: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        outcome = _plan_write(request, organization, chosen)
        if isinstance(outcome, str):
            return redirect(outcome or _plan_url(organization, org, chosen.pk if chosen else None, edit=True))
        forms_bound, status = outcome, 400
    chosen_out = next((p for p in plans if chosen and p["id"] == chosen.pk), None)
    context: dict[str, Any] = {
        "organization": organization,
        "role": role,
        "plans": plans,
        "plan": chosen_out,
        "edit_url": _plan_url(organization, org, edit=True),
        "view_url": _plan_url(organization, org, chosen.pk if chosen else None),
        "plan_form": forms_bound.get("plan") or PlanForm(),
        "apply_form": PlanApplyForm(initial={"through_year": timezone.localdate().year}),
    }
    if chosen is not None:
        context["step_form"] = forms_bound.get("step") or PlanStepForm(choices=_step_choices(organization))
    return render(request, "dashboards/plan_edit.html", context, status=status)


def _plan_write(
    request: HttpRequest, organization: Organization, chosen: TransitionPlan | None
) -> str | dict[str, Any]:
    """Apply one POSTed action; the URL to go to on success ("" = the same plan), else the bound
    forms to show again."""
    user = request.user
    assert user.is_authenticated  # login_required
    action = request.POST.get("action", "")
    org = request.resolver_match.kwargs.get("org") if request.resolver_match else None
    try:
        if action == "plan-create":
            form = PlanForm(request.POST)
            if not form.is_valid():
                return {"plan": form}
            created = plan_services.plan_save(organization=organization, user=user, **form.cleaned_data)
            messages.success(request, f"Draft plan '{created.name}' created.")
            return _plan_url(organization, org, created.pk, edit=True)
        if chosen is None:
            messages.error(request, "Create a plan first.")
            return ""
        match action:
            case "step-add":
                step_form = PlanStepForm(request.POST, choices=_step_choices(organization))
                if not step_form.is_valid():
                    return {"step": step_form}
                plan_services.plan_step_save(plan=chosen, values=_step_values(organization, step_form), user=user)
                messages.success(request, "Step added. The plan changes nothing in your sourcing until you apply it.")
            case "step-delete":
                step = PlanStep.objects.filter(plan=chosen, pk=_row_id(request.POST.get("id", ""))).first()
                if step is not None:
                    plan_services.plan_step_delete(step=step, user=user)
                    messages.success(request, "Step removed.")
            case "activate":
                plan_services.plan_activate(plan=chosen, user=user)
                messages.success(request, f"'{chosen.name}' is now the active plan.")
            case "deactivate":
                plan_services.plan_deactivate(plan=chosen, user=user)
                messages.success(request, f"'{chosen.name}' is a draft again.")
            case "apply":
                apply_form = PlanApplyForm(request.POST)
                if apply_form.is_valid():
                    count = plan_services.plan_apply(
                        plan=chosen, through_year=apply_form.cleaned_data["through_year"], user=user
                    )
                    messages.success(request, f"{count} step(s) applied to your sourcing; exposure recomputed.")
            case "plan-delete":
                plan_services.plan_delete(plan=chosen, user=user)
                messages.success(request, "Plan deleted.")
                return _plan_url(organization, org, edit=True)
            case _:
                messages.error(request, "Unknown action.")
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    return ""


def _row_id(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else -1


def _step_values(organization: Organization, form: PlanStepForm) -> dict[str, Any]:
    data = form.cleaned_data
    line = Sourcing.objects.filter(organization=organization, pk=_row_id(data["source"])).first()
    if line is None:
        raise ValidationError("The source is not one of your sourcing lines.")
    to_facility = Facility.objects.filter(key=data["to_facility"]).first() if data["to_facility"] else None
    return {
        "mineral": line.mineral,
        "from_facility": line.facility,
        "from_country": line.country,
        "share": data["share_percent"] / 100 if data["share_percent"] is not None else None,
        "quantity": data["quantity"],
        "target": data["target"],
        "to_facility": to_facility,
        "to_country": Country.objects.filter(iso3=data["to_country"]).first() if data["to_country"] else None,
        "from_year": data["from_year"],
        "notes": data["notes"],
    }
