"""Dashboard pages. Thin: read the GET controls, fetch the cached page content, render.

Content comes from page_selectors (reads) -> page_content (tables, figures), cached under the
data generation (dashboards.page_cache), so a view does a fixed, small number of queries
whatever the data size. Writes (portfolio forms, supplier list upload) go through
suppliers.services, suppliers.portfolio_services and suppliers.sourcing_upload.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods

from dashboards import generation as data_generation
from dashboards import page_cache, page_content, page_selectors, selectors
from dashboards.forms import (
    PolicyFilterForm,
    RequirementForm,
    SourcingForm,
    SupplierListUploadForm,
    as_of_from,
    measure_matches,
)
from dashboards.tables import Table
from minerals.models import Mineral
from suppliers import portfolio_services
from suppliers import services as supplier_services
from suppliers.models import Membership, Organization, Requirement, Sourcing
from suppliers.sourcing_upload import RowError, sourcing_upload

EDITOR_ROLES = (Membership.Role.ANALYST, Membership.Role.ADMIN)


def favicon(request: HttpRequest) -> HttpResponseBase:
    """Browsers ask for /favicon.ico whatever the page says: answer instead of logging a 404.
    Resolved per request, so the manifest (hashed names) is only read once collected."""
    return redirect(static("img/favicon.svg"), permanent=True)


AS_OF_QUERY = frozenset({"as_of"})
SORTED_QUERY = frozenset({"as_of", "sort", "dir"})


def _controls_valid(form: Any) -> bool:
    """A bound form must be valid for the rendered page to be stored; an unbound one is."""
    return form.is_valid() if form.is_bound else True


def _sort_is_valid(request: HttpRequest, tables: dict[str, Table]) -> bool:
    """?sort names a column of one of the page's sortable tables (or is absent), ?dir is asc/desc:
    only then is the rendered page stored (junk values are answered, never cached)."""
    sort, direction = request.GET.get("sort"), request.GET.get("dir")
    if direction is not None and direction not in ("asc", "desc"):
        return False
    return sort is None or any(t.sortable and any(c.key == sort for c in t.columns) for t in tables.values())


def _body(request: HttpRequest, template: str, title: str, context: dict[str, Any]) -> dict[str, str]:
    return {"title": title, "body": render_to_string(template, context, request=request)}


def _page(request: HttpRequest, page: dict[str, Any], *, charts: bool, briefing: bool = False) -> HttpResponse:
    """The cached body inside the site layout (header with the user, messages: per request)."""
    return render(request, "dashboards/page.html", {**page, "charts": charts, "briefing": briefing})


def overview(request: HttpRequest) -> HttpResponseBase:
    form, as_of = as_of_from(request.GET)
    today = timezone.localdate()
    generation = data_generation.for_request(request)

    def content() -> dict[str, Any]:
        return page_cache.cached(
            "overview",
            generation,
            (as_of, today),
            lambda: page_content.overview(
                page_selectors.minerals_overview(as_of=as_of),
                page_selectors.policy_measures_list(as_of=as_of),
                today=today,
            ),
        )

    if response := page_cache.download(request, lambda: content()["tables"], f"lodestone-overview-{as_of}"):
        return response

    def build() -> tuple[dict[str, str], bool]:
        page = content()
        tables = page_cache.tables_for_request(page["tables"], request)
        context = {**page, "tables": tables, "form": form, "as_of": as_of, "today": today}
        body = _body(request, "dashboards/overview.html", "Minerals", context)
        return body, _controls_valid(form) and _sort_is_valid(request, tables)

    page = page_cache.body(request, "overview", generation, (today,), SORTED_QUERY, build)
    return _page(request, page, charts=True)


def mineral(request: HttpRequest, slug: str) -> HttpResponseBase:
    form, as_of = as_of_from(request.GET)
    today = timezone.localdate()
    generation = data_generation.for_request(request)

    # ?edition=SOURCE_KEY: that edition's figures (as the API and show_metrics); an unknown key is a 404.
    edition = request.GET.get("edition") or None

    def content() -> dict[str, Any]:
        return _mineral_content(slug, as_of=as_of, today=today, edition=edition, generation=generation)

    if response := page_cache.download(request, lambda: content()["tables"], f"lodestone-{slug}-{as_of}"):
        return response

    def build() -> tuple[dict[str, str], bool]:
        page = content()
        context = {**page, "form": form, "today": today}
        return _body(request, "dashboards/mineral.html", page["mineral"]["name"], context), _controls_valid(form)

    page = page_cache.body(request, "mineral", generation, (slug, today), AS_OF_QUERY, build)
    return _page(request, page, charts=True)


def _mineral_content(slug: str, *, as_of: Any, today: Any, edition: str | None, generation: str) -> dict[str, Any]:
    """A mineral page's content (tables, figures, first screen), cached under the data generation:
    the mineral page, its briefing and the comparison share it."""

    def build_content() -> dict[str, Any]:
        found = page_selectors.mineral_or_404(slug)
        try:
            data = page_selectors.mineral_page(mineral=found, as_of=as_of, edition=edition)
        except selectors.UnknownEdition as error:
            raise Http404(str(error)) from None
        return page_content.mineral(data, today=today)

    return page_cache.cached("mineral", generation, (slug, as_of, today, edition), build_content)


def briefing(request: HttpRequest, slug: str) -> HttpResponseBase:
    """One mineral on one printable page (two A4 sheets at most): the first screen, the headline
    figures, two charts (drawn as images for print), the measures and the sources."""
    form, as_of = as_of_from(request.GET)
    today = timezone.localdate()
    generation = data_generation.for_request(request)

    def build() -> tuple[dict[str, str], bool]:
        page = _mineral_content(slug, as_of=as_of, today=today, edition=None, generation=generation)
        context = {**page_content.mineral_briefing(page), "today": today}
        title = f"{page['mineral']['name']} briefing"
        return _body(request, "dashboards/briefing.html", title, context), _controls_valid(form)

    page = page_cache.body(request, "briefing", generation, (slug, today), AS_OF_QUERY, build)
    return _page(request, page, charts=True, briefing=True)


COMPARE_QUERY = frozenset({"a", "b", "as_of"})


def compare(request: HttpRequest) -> HttpResponseBase:
    """Two minerals side by side (?a=gallium&b=germanium): their first screens, headline figures,
    vintage and production charts. An unknown mineral is a 404; a missing one shows the picker."""
    form, as_of = as_of_from(request.GET)
    today = timezone.localdate()
    generation = data_generation.for_request(request)

    def build() -> tuple[dict[str, str], bool]:
        choices = page_cache.cached("mineral-choices", generation, (), page_selectors.mineral_choices)
        known = {slug for slug, _ in choices}
        picked = [request.GET.get("a") or "", request.GET.get("b") or ""]
        for slug in picked:
            if slug and slug not in known:
                raise Http404("No such mineral.")
        pages = [
            _mineral_content(slug, as_of=as_of, today=today, edition=None, generation=generation)
            for slug in picked
            if slug
        ]
        context = {
            **page_content.comparison(pages),
            "choices": choices,
            "a": picked[0],
            "b": picked[1],
            "as_of": as_of,
            "today": today,
        }
        return _body(request, "dashboards/compare.html", "Compare minerals", context), _controls_valid(form)

    page = page_cache.body(request, "compare", generation, (today,), COMPARE_QUERY, build)
    return _page(request, page, charts=True)


POLICY_QUERY = frozenset({"as_of", "issuer", "mineral", "measure_type", "target", "status"})


def policies(request: HttpRequest) -> HttpResponseBase:
    today = timezone.localdate()
    generation = data_generation.for_request(request)

    def content() -> tuple[dict[str, Any], dict[str, Any]]:
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
        page = page_cache.cached(
            "policies-content",
            generation,
            (as_of, today, tuple(sorted(filters.items()))),
            lambda: page_content.policies(selected, as_of=as_of, today=today),
        )
        extra = {"form": form, "as_of": as_of, "today": today, "count": len(selected), "total": len(measures)}
        return page, extra

    if request.GET.get("download"):
        page, extra = content()  # the file name holds the as-of date the form resolved
        stem = f"lodestone-policies-{extra['as_of']}"
        if response := page_cache.download(request, lambda: page["tables"], stem):
            return response

    def build() -> tuple[dict[str, str], bool]:
        page, extra = content()
        body = _body(request, "dashboards/policies.html", "Policy tracker", {**page, **extra})
        return body, _controls_valid(extra["form"])

    page = page_cache.body(request, "policies", generation, (today,), POLICY_QUERY, build)
    return _page(request, page, charts=True)


def policy(request: HttpRequest, key: str) -> HttpResponseBase:
    form, as_of = as_of_from(request.GET)
    today = timezone.localdate()
    generation = data_generation.for_request(request)

    def build() -> tuple[dict[str, str], bool]:
        measure = page_cache.cached(
            "policy", generation, (key, as_of), lambda: page_selectors.policy_measure(key=key, as_of=as_of)
        )
        status = page_content.STATUS_LABELS[measure["status"]]
        content = page_content.policy(measure, as_of=as_of, today=today)
        context = {"measure": measure, "status": status, "form": form, "as_of": as_of, "today": today, **content}
        return _body(request, "dashboards/policy.html", measure["title"], context), _controls_valid(form)

    page = page_cache.body(request, "policy", generation, (key, today), AS_OF_QUERY, build)
    return _page(request, page, charts=True)


# --------------------------------------------------------------------------------------------
# Portfolio: a read-only page (its body cached as HTML per organization and generation) and an
# edit page with the forms (large selects) and the supplier-list upload.

PORTFOLIO_QUERY = frozenset({"sankey", "sort", "dir"})


def organization_generation(request: HttpRequest, organization: Organization) -> str:
    """The key of an organization's pages: the request's public generation (read once per
    request, cached like every public page's) and the organization's own rows."""
    return page_selectors.organization_generation(organization, data_generation.for_request(request))


def _portfolio_content(organization: Organization, generation: str, today: Any) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        data = page_selectors.portfolio(organization=organization, as_of=today)
        return {"data": page_content.portfolio(data, sankey_mineral=None), "raw": data}

    return page_cache.cached("portfolio", generation, (organization.pk, today), build)


# A buyer's portfolio (pages and downloads) is kept by no browser or proxy cache.
private_no_store = cache_control(private=True, no_store=True)


@private_no_store
@login_required
@require_http_methods(["GET", "HEAD"])
def portfolio(request: HttpRequest, org: str | None = None) -> HttpResponseBase:
    organization, role = page_selectors.organization_for(user=request.user, slug=org)
    can_edit = role in EDITOR_ROLES
    today = timezone.localdate()
    generation = organization_generation(request, organization)

    def content() -> tuple[dict[str, Any], bool]:
        cached = _portfolio_content(organization, generation, today)
        page = cached["data"]
        sankey = request.GET.get("sankey")
        known = sankey is None or sankey in {s for s, _ in page["held"]}
        if sankey and known and sankey != page["sankey_mineral"]:
            page = page_cache.cached(
                "portfolio-sankey",
                generation,
                (organization.pk, today, sankey),
                lambda: page_content.portfolio(cached["raw"], sankey_mineral=sankey),
            )
        return page, known

    if response := page_cache.download(
        request, lambda: content()[0]["tables"], f"lodestone-{organization.slug}-{today}"
    ):
        return response

    def build() -> tuple[dict[str, str], bool]:
        page, known = content()
        tables = page_cache.tables_for_request(page["tables"], request)
        body = _body(request, "dashboards/_portfolio_body.html", "", {**page, "tables": tables})
        return body, known and _sort_is_valid(request, tables)

    page = page_cache.body(request, "portfolio", generation, (organization.pk, today), PORTFOLIO_QUERY, build)
    context = {
        "body": page["body"],
        "title": f"Portfolio · {organization.name}",
        "organization": organization,
        "role": role,
        "can_edit": can_edit,
        "today": today,
        "edit_url": _portfolio_url(organization, org, edit=True),
    }
    return render(request, "dashboards/portfolio.html", context)


@private_no_store
@login_required
@require_http_methods(["GET", "HEAD"])
def portfolio_briefing(request: HttpRequest, org: str | None = None) -> HttpResponseBase:
    """The portfolio on one printable page: tonnes at risk and uncovered, exposure, measures,
    the best alternatives and the sources (the organization's members only, as the portfolio)."""
    organization, _role = page_selectors.organization_for(user=request.user, slug=org)
    today = timezone.localdate()
    generation = organization_generation(request, organization)
    cached = _portfolio_content(organization, generation, today)
    context = {
        **page_content.portfolio_briefing(cached["data"], cached["raw"]),
        "organization": organization,
        "today": today,
        "portfolio_url": _portfolio_url(organization, org),
    }
    body = render_to_string("dashboards/portfolio_briefing.html", context, request=request)
    return _page(request, {"title": f"Briefing · {organization.name}", "body": body}, charts=True, briefing=True)


@private_no_store
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def portfolio_edit(request: HttpRequest, org: str | None = None) -> HttpResponseBase:
    """The buyer's requirements and sourcing with the forms that change them (analysts and admins)."""
    organization, role = page_selectors.organization_for(user=request.user, slug=org)
    if role not in EDITOR_ROLES:
        raise PermissionDenied("Viewers cannot edit the portfolio.")
    today = timezone.localdate()
    forms_bound: dict[str, Any] = {}
    upload_errors: list[RowError] = []
    status = 200
    if request.method == "POST":
        outcome = _portfolio_write(request, organization)
        if outcome is None:
            return redirect(_portfolio_url(organization, org, edit=True))
        forms_bound, upload_errors = outcome
        status = 400
    generation = organization_generation(request, organization)
    cached = _portfolio_content(organization, generation, today)
    if response := page_cache.download(
        request, lambda: cached["data"]["tables"], f"lodestone-{organization.slug}-{today}"
    ):
        return response
    tables = page_cache.tables_for_request(cached["data"]["tables"], request)
    choices = page_cache.cached(
        "portfolio-choices", data_generation.for_request(request), (), page_selectors.portfolio_form_choices
    )
    # Picking a mineral fills in its current quantity and unit (static/js/portfolio_edit.js; without
    # JavaScript, ?mineral=<slug> does the same).
    defaults = page_selectors.requirement_defaults(cached["raw"]["requirements"], choices.get("canonical_units", {}))
    for slug, values in defaults.items():
        values["mineral"] = slug
    context: dict[str, Any] = {
        "tables": tables,
        "organization": organization,
        "role": role,
        "today": today,
        "portfolio_url": _portfolio_url(organization, org),
        "upload_errors": upload_errors,
        "requirement_form": forms_bound.get("requirement")
        or RequirementForm(minerals=choices["minerals"], initial=defaults.get(request.GET.get("mineral", ""), {})),
        "requirement_defaults": defaults,
        "sourcing_form": forms_bound.get("sourcing") or SourcingForm(choices=choices),
        "upload_form": forms_bound.get("upload") or SupplierListUploadForm(),
        "requirement_rows": cached["raw"]["requirements"],
        "sourcing_rows": cached["raw"]["sourcing"],
    }
    return render(request, "dashboards/portfolio_edit.html", context, status=status)


def _portfolio_url(organization: Organization, org: str | None, *, edit: bool = False) -> str:
    suffix = "_edit" if edit else ""
    if org:
        return reverse(f"dashboards:portfolio_org{suffix}", args=[organization.slug])
    return reverse(f"dashboards:portfolio{suffix}")


def _portfolio_write(request: HttpRequest, organization: Organization) -> tuple[dict[str, Any], list[RowError]] | None:
    """Apply one POSTed action through suppliers.services; None on success (then redirect),
    else the bound forms and upload errors to show."""
    action = request.POST.get("action", "")
    user = request.user
    assert user.is_authenticated  # portfolio_edit is login_required
    choices = page_selectors.portfolio_form_choices()
    try:
        match action:
            case "requirement":
                requirement_form = RequirementForm(
                    request.POST,
                    minerals=choices["minerals"],
                    current=page_selectors.requirement_quantities(organization=organization),
                )
                if not requirement_form.is_valid():
                    return {"requirement": requirement_form}, []
                data = requirement_form.cleaned_data
                supplier_services.record_upsert(
                    model=Requirement,
                    lookup={"organization": organization, "mineral": Mineral.objects.get(slug=data["mineral"])},
                    values={
                        "annual_quantity": data["annual_quantity"],
                        "unit": data["unit"],
                        "notes": data["notes"],
                        **({"stage": data["stage"]} if data["stage"] else {}),
                    },
                    user=user,
                )
                messages.success(request, "Requirement saved; exposure recomputed.")
            case "sourcing":
                sourcing_form = SourcingForm(request.POST, choices=choices)
                if not sourcing_form.is_valid():
                    return {"sourcing": sourcing_form}, []
                portfolio_services.sourcing_save(organization=organization, user=user, **sourcing_form.cleaned_data)
                messages.success(request, "Sourcing saved; exposure recomputed.")
            case "requirement-delete" | "sourcing-delete":
                model = Requirement if action == "requirement-delete" else Sourcing
                row_id = request.POST.get("id", "")
                # Not a row id (text, a decimal, a NUL): found nowhere, like another organization's row.
                valid_id = row_id.isascii() and row_id.isdigit() and len(row_id) <= 18
                instance = model.objects.filter(organization=organization, pk=int(row_id)).first() if valid_id else None
                if instance is not None:  # another organization's row is simply not found
                    supplier_services.record_delete(instance=instance, user=user)
                    messages.success(request, "Removed.")
            case "upload":
                upload_form = SupplierListUploadForm(request.POST, request.FILES)
                if not upload_form.is_valid():
                    return {"upload": upload_form}, []
                upload = upload_form.cleaned_data["file"]
                if upload.size > settings.LODESTONE_SUPPLIER_UPLOAD_MAX_BYTES:
                    limit = settings.LODESTONE_SUPPLIER_UPLOAD_MAX_BYTES // 1024
                    return {"upload": upload_form}, [
                        RowError(1, "(file)", upload.name, f"a file of at most {limit} KB")
                    ]
                result = sourcing_upload(
                    organization=organization, file_name=upload.name, content=upload.read(), user=user
                )
                if not result.ok:
                    return {"upload": upload_form}, result.errors
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
