"""Country groups used to split supply into "dependency on China" and "the alternatives".

The one place the U.S. free-trade-agreement partner list lives. Source: USTR, "Free Trade
Agreements" (https://ustr.gov/trade-agreements/free-trade-agreements), checked 2026-11-30:
20 partner countries under 14 agreements (USMCA, CAFTA-DR, and the bilateral FTAs).
Japan's 2023 Critical Minerals Agreement is not an FTA in USTR's list, so Japan is not
included here even though the clean-vehicle credit treats it alike; add it in one line if
the product decides otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

US_FTA_SOURCE_URL: Final = "https://ustr.gov/trade-agreements/free-trade-agreements"
US_FTA_SOURCE: Final = "USTR list of U.S. free trade agreement partners"

US_FTA_PARTNERS: Final[frozenset[str]] = frozenset(
    {
        "AUS",  # Australia
        "BHR",  # Bahrain
        "CAN",  # Canada (USMCA)
        "CHL",  # Chile
        "COL",  # Colombia
        "CRI",  # Costa Rica (CAFTA-DR)
        "DOM",  # Dominican Republic (CAFTA-DR)
        "SLV",  # El Salvador (CAFTA-DR)
        "GTM",  # Guatemala (CAFTA-DR)
        "HND",  # Honduras (CAFTA-DR)
        "ISR",  # Israel
        "JOR",  # Jordan
        "KOR",  # Korea (KORUS)
        "MEX",  # Mexico (USMCA)
        "MAR",  # Morocco
        "NIC",  # Nicaragua (CAFTA-DR)
        "OMN",  # Oman
        "PAN",  # Panama
        "PER",  # Peru
        "SGP",  # Singapore
    }
)

CHINA: Final = "CHN"
UNITED_STATES: Final = "USA"

Group = Literal["china", "feoc", "usa", "fta", "other"]
# Display order of the groups (dependency first, then the alternatives), with their labels.
GROUPS: Final[tuple[tuple[str, str], ...]] = (
    ("china", "China"),
    ("feoc", "Other FEOC (Russia, Iran, North Korea)"),
    ("usa", "United States"),
    ("fta", "U.S. FTA partners"),
    ("other", "Other countries"),
)
UNATTRIBUTED_LABEL: Final = "Not attributed (withheld, other countries row)"


def country_group(iso3: str, feoc: Iterable[str]) -> Group:
    """The group a producing or exporting country belongs to (China first, then FEOC...)."""
    if iso3 == CHINA:
        return "china"
    if iso3 in set(feoc):
        return "feoc"
    if iso3 == UNITED_STATES:
        return "usa"
    if iso3 in US_FTA_PARTNERS:
        return "fta"
    return "other"


def group_shares(shares: Iterable[tuple[str, float | None]], feoc: Iterable[str]) -> dict[str, float]:
    """Sum known shares per group; `unattributed` = 1 - the known total (never below 0).

    Withheld countries (share None) and the published "Other countries" row end up in
    `unattributed`: shown as such, never guessed into a group.
    """
    feoc_set = set(feoc)
    out = dict.fromkeys([key for key, _ in GROUPS], 0.0)
    known = 0.0
    for iso3, share in shares:
        if share is None:
            continue
        out[country_group(iso3, feoc_set)] += share
        known += share
    out["unattributed"] = max(0.0, 1.0 - known)
    return out
