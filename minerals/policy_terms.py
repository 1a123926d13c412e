"""The kinds of policy measure and their default severities: one definition, Django-free.

The models (minerals.models.MeasureType: choices, labels, the check constraint) and the pure
risk engine (dashboards.risk, which may import nothing of Django) both stand on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class MeasureType(StrEnum):
    """Kinds of policy measure, with a default severity each (``DEFAULT_SEVERITY``)."""

    EXPORT_BAN = "export_ban"
    ANNOUNCED_EXPORT_BAN = "announced_export_ban"
    EXPORT_QUOTA = "export_quota"
    EXPORT_LICENCE = "export_licence"
    EXPORT_TAX = "export_tax"
    EXTRATERRITORIAL_RULE = "extraterritorial_rule"
    TECHNOLOGY_EXPORT_BAN = "technology_export_ban"
    DOMESTIC_SUPPORT = "domestic_support"


MEASURE_TYPE_LABELS: Final[Mapping[MeasureType, str]] = MappingProxyType(
    {
        MeasureType.EXPORT_BAN: "Export ban",
        MeasureType.ANNOUNCED_EXPORT_BAN: "Announced export ban (from its effective date)",
        MeasureType.EXPORT_QUOTA: "Export quota",
        MeasureType.EXPORT_LICENCE: "Export licence requirement",
        MeasureType.EXPORT_TAX: "Export tax",
        MeasureType.EXTRATERRITORIAL_RULE: "Extraterritorial rule",
        MeasureType.TECHNOLOGY_EXPORT_BAN: "Technology export ban",
        MeasureType.DOMESTIC_SUPPORT: "Domestic support (not a restriction)",
    }
)

DEFAULT_SEVERITY: Final[Mapping[str, float]] = MappingProxyType(
    {
        MeasureType.EXPORT_BAN: 1.0,
        # Not in force before its effective date (like any measure); a ban once it is.
        MeasureType.ANNOUNCED_EXPORT_BAN: 1.0,
        MeasureType.EXPORT_QUOTA: 0.4,
        MeasureType.EXPORT_LICENCE: 0.2,
        MeasureType.EXPORT_TAX: 0.2,
        MeasureType.EXTRATERRITORIAL_RULE: 0.2,
        MeasureType.TECHNOLOGY_EXPORT_BAN: 0.0,
        MeasureType.DOMESTIC_SUPPORT: 0.0,
    }
)
"""Expected share of the affected flow blocked, by measure type (the design's policy exposure)."""
