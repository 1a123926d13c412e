"""Reads the API needs beyond dashboards.selectors: facility control under the FEOC rule.

A facility is China-controlled (metrics.md section 5) when it is located in China, its
operator is recorded as under FEOC control, or FEOC-domiciled entities own >= the control
threshold of its operator, directly or down a chain of stakes. The chain is solved by the risk
engine's pure function (dashboards.risk.controlled_companies) over all stakes: two queries
whatever the number of facilities, then a plain SQL condition.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from dashboards import risk
from dashboards.services import feoc_countries
from suppliers.models import Company, Facility, OwnershipStake


def feoc_controlled_company_ids() -> set[int]:
    stakes = [
        risk.Stake(str(owner), str(owned), percent / 100.0)
        for owner, owned, percent in OwnershipStake.objects.values_list("owner_id", "owned_id", "percent")
    ]
    countries = {str(c): iso3 for c, iso3 in Company.objects.values_list("id", "hq_country_id")}
    controlled = risk.controlled_companies(
        stakes, countries, feoc=feoc_countries(), threshold=settings.LODESTONE_CONTROL_THRESHOLD
    )
    return {int(c) for c in controlled}


def china_controlled_condition(controlled_company_ids: set[int]) -> Q:
    return (
        Q(country_id="CHN")
        | Q(company__recorded_foreign_control=True)
        | Q(company_id__in=sorted(controlled_company_ids))
    )


def facilities_with_control() -> QuerySet[Facility]:
    """Facilities with `china_controlled` annotated (two queries to resolve ownership first)."""
    condition = china_controlled_condition(feoc_controlled_company_ids())
    return Facility.objects.select_related("company", "mineral", "source").annotate(
        china_controlled=Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())
    )
