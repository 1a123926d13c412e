"""Reads the API needs beyond dashboards.selectors: facility control under the FEOC rule.

A facility is China-controlled (the rule of buyer exposure and alternatives) when it is located
in China, its operator is recorded as under FEOC control, or FEOC-domiciled entities own >= the
control threshold of its operator, directly or down a chain of stakes. The chain is solved by the risk
engine's pure function (dashboards.risk.controlled_companies) over all stakes: two queries
whatever the number of facilities, then a plain SQL condition.
"""

from __future__ import annotations

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from dashboards.inputs import feoc_controlled_companies
from suppliers.models import Facility


def feoc_controlled_company_ids() -> set[int]:
    return {int(c) for c in feoc_controlled_companies()}


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
