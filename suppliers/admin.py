"""The curator admin for companies, facilities, supply chains and buyers. Writes via suppliers.services."""

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from minerals.admin import CuratedModelAdmin, resource_for
from suppliers import services
from suppliers.models import (
    ApplicationOrganization,
    Company,
    Facility,
    FederalSupport,
    Membership,
    Organization,
    OwnershipStake,
    PlanStep,
    Requirement,
    Sourcing,
    SupplyLink,
    TransitionPlan,
)

ORGANIZATION_IMPORT_PERMISSION = "minerals.import_organization_data"


def organization_owned(model: type[Model]) -> bool:
    """An organization, or a row that belongs to one (memberships, requirements, sourcing, plans,
    and a plan's steps)."""
    return model is Organization or any(
        field.concrete and field.is_relation and field.related_model in (Organization, TransitionPlan)
        for field in model._meta.get_fields()
    )


class SuppliersAdmin(CuratedModelAdmin):
    services_module = services

    def __init__(self, model: type[Model], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        if organization_owned(model):
            # A Membership row imported by a curator would make them a member of any buyer:
            # organization-owned tables are imported only with a dedicated permission.
            self.import_requires = (*self.import_requires, ORGANIZATION_IMPORT_PERMISSION)


@admin.register(Company)
class CompanyAdmin(SuppliersAdmin):
    list_display = ["name", "hq_country", "is_fictional", "recorded_foreign_control"]
    list_filter = ["is_fictional", "recorded_foreign_control", "hq_country__is_feoc"]
    list_select_related = ["hq_country"]
    search_fields = ["name"]
    autocomplete_fields = ["hq_country"]
    resource_classes = [resource_for(Company, services_module=services, import_id_fields=("name",))]


@admin.register(OwnershipStake)
class OwnershipStakeAdmin(SuppliersAdmin):
    list_display = ["owner", "owned", "percent"]
    list_select_related = ["owner", "owned"]
    search_fields = ["owner__name", "owned__name"]
    autocomplete_fields = ["owner", "owned"]
    resource_classes = [resource_for(OwnershipStake, services_module=services)]


@admin.register(FederalSupport)
class FederalSupportAdmin(SuppliersAdmin):
    list_display = ["company", "facility", "program", "amount_usd", "announced_on", "announced_period"]
    list_filter = ["program"]
    list_select_related = ["company", "facility", "facility__mineral"]
    search_fields = ["company__name", "facility__name", "summary"]
    autocomplete_fields = ["company", "facility", "policy_measure", "source"]
    resource_classes = [resource_for(FederalSupport, services_module=services)]


@admin.register(Facility)
class FacilityAdmin(SuppliersAdmin):
    list_display = [
        "name",
        "company",
        "country",
        "mineral",
        "stage",
        "capacity",
        "capacity_unit",
        "status",
        "start_year",
        "is_fictional",
    ]
    list_filter = ["mineral", "stage", "status", "is_fictional", "country__is_feoc"]
    list_select_related = ["company", "country", "mineral"]
    search_fields = ["key", "name", "company__name"]
    autocomplete_fields = ["company", "country", "mineral", "source"]
    resource_classes = [resource_for(Facility, services_module=services, import_id_fields=("key",))]


@admin.register(SupplyLink)
class SupplyLinkAdmin(SuppliersAdmin):
    list_display = ["upstream", "downstream", "mineral", "share"]
    list_filter = ["mineral"]
    list_select_related = [
        "upstream__country",
        "upstream__mineral",
        "downstream__country",
        "downstream__mineral",
        "mineral",
    ]
    search_fields = ["upstream__name", "downstream__name"]
    autocomplete_fields = ["upstream", "downstream", "mineral"]
    resource_classes = [resource_for(SupplyLink, services_module=services)]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(SuppliersAdmin):
    list_display = ["name", "slug", "country", "is_fictional", "data_version", "data_changed_at"]
    list_filter = ["is_fictional"]
    list_select_related = ["country"]
    search_fields = ["name", "slug"]
    autocomplete_fields = ["country"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["data_version", "data_changed_at"]
    inlines = [MembershipInline]
    resource_classes = [resource_for(Organization, services_module=services, import_id_fields=("slug",))]
    actions = ["recompute_now"]

    @admin.action(description="Recompute now")
    def recompute_now(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        services.organizations_mark_stale(organization_ids=queryset.values_list("id", flat=True))
        self.message_user(request, f"Recompute requested for {queryset.count()} organizations.")


@admin.register(Membership)
class MembershipAdmin(SuppliersAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role"]
    list_select_related = ["user", "organization"]
    search_fields = ["user__username", "organization__name"]
    autocomplete_fields = ["user", "organization"]
    resource_classes = [resource_for(Membership, services_module=services)]


@admin.register(Requirement)
class RequirementAdmin(SuppliersAdmin):
    list_display = ["organization", "mineral", "annual_quantity", "unit", "stage"]
    list_filter = ["mineral"]
    list_select_related = ["organization", "mineral"]
    search_fields = ["organization__name", "mineral__name"]
    autocomplete_fields = ["organization", "mineral"]
    resource_classes = [resource_for(Requirement, services_module=services)]


@admin.register(Sourcing)
class SourcingAdmin(SuppliersAdmin):
    list_display = ["organization", "mineral", "facility", "country", "annual_quantity", "share"]
    list_filter = ["mineral"]
    list_select_related = ["organization", "mineral", "facility__country", "facility__mineral", "country"]
    search_fields = ["organization__name", "mineral__name", "facility__name"]
    autocomplete_fields = ["organization", "mineral", "facility", "country"]
    resource_classes = [resource_for(Sourcing, services_module=services)]


@admin.register(TransitionPlan)
class TransitionPlanAdmin(SuppliersAdmin):
    """Buyers' transition plans (written by the buyers on /portfolio/plan/); here for support and
    history. Saves go through the same services, so the one-active rule holds (a constraint)."""

    list_display = ["organization", "name", "status", "is_example", "author", "applied_through_year", "updated_at"]
    list_filter = ["status", "is_example"]
    list_select_related = ["organization", "author"]
    search_fields = ["organization__name", "name"]
    autocomplete_fields = ["organization"]
    raw_id_fields = ["author"]
    resource_classes = [resource_for(TransitionPlan, services_module=services)]


@admin.register(PlanStep)
class PlanStepAdmin(SuppliersAdmin):
    list_display = ["plan", "mineral", "from_facility", "from_country", "share", "quantity", "target", "from_year"]
    list_filter = ["mineral", "target"]
    list_select_related = ["plan__organization", "mineral", "from_facility", "from_country"]
    search_fields = ["plan__name", "plan__organization__name", "mineral__name"]
    autocomplete_fields = ["mineral", "from_facility", "from_country", "to_facility", "to_country"]
    raw_id_fields = ["plan"]
    resource_classes = [resource_for(PlanStep, services_module=services)]


@admin.register(ApplicationOrganization)
class ApplicationOrganizationAdmin(admin.ModelAdmin):
    """Which organization a partner application's portfolio scopes act for (API, issue #6).

    Applications and their tokens (expiry, revocation) are managed in django-oauth-toolkit's
    own admin pages; this binding only names the organization.
    """

    list_display = ["application", "organization", "created_at"]
    list_select_related = ["application", "organization"]
    search_fields = ["application__name", "application__client_id", "organization__name"]
    raw_id_fields = ["application"]
    autocomplete_fields = ["organization"]
