"""Dashboard pages. Thin: read the GET controls, fetch the cached page content, render.

Content comes from page_selectors (reads) -> page_content (tables, figures), cached under the
data generation, so a view does a fixed, small number of queries whatever the data size.
Writes (portfolio forms, supplier list upload) go through suppliers.services.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from dashboards import downloads, page_cache, page_content, page_selectors
from dashboards.forms import (
    PolicyFilterForm,
    RequirementForm,
    SourcingForm,
    SupplierListUploadForm,
    as_of_from,
    measure_matches,
)
from dashboards.tables import Table
from minerals.models import Country, Mineral
from suppliers import services as supplier_services
from suppliers.models import Facility, Membership, Organization, Requirement, Sourcing
from suppliers.sourcing_upload import RowError, sourcing_upload

EDITOR_ROLES = (Membership.Role.ANALYST, Membership.Role.ADMIN)


def _tables_for_request(tables: dict[str, Table], request: HttpRequest) -> dict[str, Table]:
    """Apply ?sort=<column>&dir=asc|desc to the page's sortable tables (server side: works without JS)."""
    sort = request.GET.get("sort", "")
    if not sort:
        return tables
    descending = request.GET.get("dir") == "desc"
    return {key: t.sorted_by(sort, descending) if t.sortable else t for key, t in tables.items()}


def _download(request: HttpRequest, tables: dict[str, Table], stem: str) -> HttpResponse | None:
    """?download=<table id>&format=csv|xlsx answers the table as a file; None otherwise."""
    table_id = request.GET.get("download")
    if not table_id:
        return None
    fmt = request.GET.get("format", "csv")
    table = tables.get(table_id)
    if table is None or fmt not in downloads.FORMATS:
        return HttpResponse("Unknown table or format.", status=404, content_type="text/plain")
    return downloads.table_response(table, fmt, filename_stem=stem)


def favicon(request: HttpRequest) -> HttpResponseBase:
    """Browsers ask for /favicon.ico whatever the page says: answer instead of logging a 404.
    Resolved per request, so the manifest (hashed names) is only read once collected."""
    return redirect(static("img/favicon.svg"), permanent=True)


def overview(request: HttpRequest) -> HttpResponseBase:
    form, as_of = as_of_from(request.GET)
    today = timezone.localdate()
    content = page_cache.cached(
        "overview",
        page_selectors.data_generation(),
        (as_of, today),
        lambda: page_content.overview(
            page_selectors.minerals_overview(as_of=as_of),
            page_selectors.policy_measures_list(as_of=as_of),
            today=today,
        ),
    )
    tables = _tables_for_request(content["tables"], request)
    if response := _download(request, tables, f"lodestone-overview-{as_of}"):
        return response
    return render(
        request,
        "dashboards/overview.html",
        {**content, "tables": tables, "form": form, "as_of": as_of, "today": today},
    )


def mineral(request: HttpRequest, slug: str) -> HttpResponseBase:
    form, as_of = as_of_from(request.GET)
    today = timezone.localdate()

    def build() -> dict[str, Any]:
        found = page_selectors.mineral_or_404(slug)
        return page_content.mineral(page_selectors.mineral_page(mineral=found, as_of=as_of), today=today)

    content = page_cache.cached("mineral", page_selectors.data_generation(), (slug, as_of, today), build)
    tables = content["tables"]
    if response := _download(request, tables, f"lodestone-{slug}-{as_of}"):
        return response
    return render(request, "dashboards/mineral.html", {**content, "form": form, "today": today})


def policies(request: HttpRequest) -> HttpResponseBase:
    today = timezone.localdate()
    generation = page_selectors.data_generation()
    choices = page_cache.cached("policy-choices", generation, (), page_selectors.policy_filter_choices)
    form = PolicyFilterForm(request.GET or None, choices=choices)
    filters: dict[str, Any] = {}
    as_of = today
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if k != "as_of" and v}
        as_of = form.cleaned_data.get("as_of") or today
    elif not form.is_bound:
        form = PolicyFilterForm(initial={"as_of": today}, choices=choices)
    measures = page_cache.cached(
        "policies", generation, (as_of,), lambda: page_selectors.policy_measures_list(as_of=as_of)
    )
    selected = [m for m in measures if measure_matches(m, filters)]
    content = page_cache.cached(
        "policies-content",
        generation,
        (as_of, today, tuple(sorted(filters.items()))),
        lambda: page_content.policies(selected, as_of=as_of, today=today),
    )
    if response := _download(request, content["tables"], f"lodestone-policies-{as_of}"):
        return response
    return render(
        request,
        "dashboards/policies.html",
        {**content, "form": form, "as_of": as_of, "today": today, "count": len(selected), "total": len(measures)},
    )


def policy(request: HttpRequest, key: str) -> HttpResponseBase:
    form, as_of = as_of_from(request.GET)
    measure = page_cache.cached(
        "policy",
        page_selectors.data_generation(),
        (key, as_of),
        lambda: page_selectors.policy_measure(key=key, as_of=as_of),
    )
    status = page_content.STATUS_LABELS[measure["status"]]
    return render(
        request, "dashboards/policy.html", {"measure": measure, "status": status, "form": form, "as_of": as_of}
    )


# --------------------------------------------------------------------------------------------
# Portfolio


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def portfolio(request: HttpRequest, org: str | None = None) -> HttpResponseBase:
    organization, role = page_selectors.organization_for(user=request.user, slug=org)
    can_edit = role in EDITOR_ROLES
    today = timezone.localdate()
    generation = page_selectors.organization_generation(organization)
    forms_bound: dict[str, Any] = {}
    upload_errors: list[RowError] = []
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Viewers cannot edit the portfolio.")
        outcome = _portfolio_write(request, organization)
        if outcome is None:
            return redirect(_portfolio_url(organization, org))
        forms_bound, upload_errors = outcome
        status = 400

    def build() -> dict[str, Any]:
        data = page_selectors.portfolio(organization=organization, as_of=today)
        return {
            "data": page_content.portfolio(data, sankey_mineral=None),
            "raw": data,
            "choices": page_selectors.portfolio_form_choices() if can_edit else None,
        }

    cached = page_cache.cached("portfolio", generation, (organization.pk, today, can_edit), build)
    content = cached["data"]
    sankey = request.GET.get("sankey")
    if sankey and sankey != content["sankey_mineral"] and sankey in {s for s, _ in content["held"]}:
        content = page_cache.cached(
            "portfolio-sankey",
            generation,
            (organization.pk, today, sankey),
            lambda: page_content.portfolio(cached["raw"], sankey_mineral=sankey),
        )
    tables = _tables_for_request(content["tables"], request)
    if response := _download(request, tables, f"lodestone-{organization.slug}-{today}"):
        return response
    choices = cached["choices"]
    context: dict[str, Any] = {
        **content,
        "tables": tables,
        "organization": organization,
        "role": role,
        "can_edit": can_edit,
        "today": today,
        "upload_errors": upload_errors,
    }
    if can_edit and choices is not None:
        context["requirement_form"] = forms_bound.get("requirement") or RequirementForm(minerals=choices["minerals"])
        context["sourcing_form"] = forms_bound.get("sourcing") or SourcingForm(choices=choices)
        context["upload_form"] = forms_bound.get("upload") or SupplierListUploadForm()
        context["requirement_rows"] = cached["raw"]["requirements"]
        context["sourcing_rows"] = cached["raw"]["sourcing"]
    return render(request, "dashboards/portfolio.html", context, status=status)


def _portfolio_url(organization: Organization, org: str | None) -> str:
    return reverse("dashboards:portfolio_org", args=[organization.slug]) if org else reverse("dashboards:portfolio")


def _portfolio_write(request: HttpRequest, organization: Organization) -> tuple[dict[str, Any], list[RowError]] | None:
    """Apply one POSTed action through suppliers.services; None on success (then redirect),
    else the bound forms and upload errors to show."""
    action = request.POST.get("action", "")
    user = request.user
    choices = page_selectors.portfolio_form_choices()
    try:
        match action:
            case "requirement":
                form = RequirementForm(request.POST, minerals=choices["minerals"])
                if not form.is_valid():
                    return {"requirement": form}, []
                data = form.cleaned_data
                supplier_services.record_upsert(
                    model=Requirement,
                    lookup={"organization": organization, "mineral": Mineral.objects.get(slug=data["mineral"])},
                    values={"annual_quantity": data["annual_quantity"], "unit": data["unit"], "notes": data["notes"]},
                    user=user,
                )
                messages.success(request, "Requirement saved; exposure recomputed.")
            case "sourcing":
                form = SourcingForm(request.POST, choices=choices)
                if not form.is_valid():
                    return {"sourcing": form}, []
                _sourcing_save(form.cleaned_data, organization, user)
                messages.success(request, "Sourcing saved; exposure recomputed.")
            case "requirement-delete" | "sourcing-delete":
                model = Requirement if action == "requirement-delete" else Sourcing
                instance = model.objects.filter(organization=organization, pk=request.POST.get("id")).first()
                if instance is not None:  # another organization's row is simply not found
                    supplier_services.record_delete(instance=instance, user=user)
                    messages.success(request, "Removed.")
            case "upload":
                form = SupplierListUploadForm(request.POST, request.FILES)
                if not form.is_valid():
                    return {"upload": form}, []
                upload = form.cleaned_data["file"]
                if upload.size > settings.LODESTONE_SUPPLIER_UPLOAD_MAX_BYTES:
                    limit = settings.LODESTONE_SUPPLIER_UPLOAD_MAX_BYTES // 1024
                    return {"upload": form}, [RowError(1, "(file)", upload.name, f"a file of at most {limit} KB")]
                result = sourcing_upload(
                    organization=organization, file_name=upload.name, content=upload.read(), user=user
                )
                if not result.ok:
                    return {"upload": form}, result.errors
                messages.success(
                    request,
                    f"Supplier list loaded: {result.inserted} added, {result.updated} updated, "
                    f"{result.unchanged} unchanged, {result.deleted} removed.",
                )
            case _:
                messages.error(request, "Unknown action.")
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    return None


def _sourcing_save(data: dict[str, Any], organization: Organization, user: Any) -> None:
    mineral_obj = Mineral.objects.get(slug=data["mineral"])
    facility = Facility.objects.filter(key=data["facility"]).first() if data["facility"] else None
    if facility is not None and facility.mineral_id != mineral_obj.pk:
        raise ValidationError(f"{facility.name} does not produce {mineral_obj.name}.")
    country = facility.country if facility else Country.objects.get(iso3=data["country"])
    lookup: dict[str, Any] = {"organization": organization, "mineral": mineral_obj}
    if facility is not None:
        lookup["facility"] = facility
    else:
        lookup.update({"facility__isnull": True, "country": country})
    values = {
        "country": country,
        "annual_quantity": data["annual_quantity"],
        "share": data["share"],
        "notes": data["notes"],
    }
    existing = Sourcing.objects.filter(**lookup).first()
    if existing is None:
        supplier_services.record_save(
            instance=Sourcing(organization=organization, mineral=mineral_obj, facility=facility, **values), user=user
        )
    else:
        supplier_services.record_upsert(model=Sourcing, lookup={"pk": existing.pk}, values=values, user=user)
