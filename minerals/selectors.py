"""Reads of reference data, shaped for views and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from minerals.models import Mineral, ProductionRecord


@dataclass(frozen=True)
class ProductionSummary:
    mineral: Mineral
    stage: str
    year: int
    edition: str
    china_quantity: float | None
    world_total: float | None
    unit: str
    china_withheld: bool

    @property
    def china_share(self) -> float | None:
        """China's share of the published world total; unknown (None) when either is missing."""
        if self.china_quantity is None or not self.world_total:
            return None
        return self.china_quantity / self.world_total


def production_overview() -> list[ProductionSummary]:
    """China and the world total per mineral and stage, latest year of the newest edition.

    Two queries whatever the data size: the minerals, and the China and world-total rows.
    """
    minerals = {m.id: m for m in Mineral.objects.all()}
    rows = (
        ProductionRecord.objects.filter(Q(row_kind="world_total") | Q(country_id="CHN"))
        .values(
            "mineral_id",
            "stage",
            "year",
            "row_kind",
            "quantity",
            "unit",
            "is_withheld",
            "source__edition",
            "source__published_on",
            "source_id",
        )
        .order_by("mineral_id", "stage", "-year", "-source__published_on", "-source_id")
    )
    # Per (mineral, stage): the chosen year, source, edition and unit, plus the China and world rows by row_kind.
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["mineral_id"], row["stage"])
        entry = latest.setdefault(
            key,
            {
                "year": row["year"],
                "source_id": row["source_id"],
                "edition": row["source__edition"],
                "unit": row["unit"],
            },
        )
        if entry["year"] != row["year"] or entry["source_id"] != row["source_id"]:
            continue  # an older year, or an older edition of the same year
        entry[row["row_kind"]] = row
    summaries = []
    for (mineral_id, stage), entry in latest.items():
        china = entry.get("country") or {}
        world = entry.get("world_total") or {}
        summaries.append(
            ProductionSummary(
                mineral=minerals[mineral_id],
                stage=stage,
                year=int(entry["year"]),
                edition=str(entry["edition"]),
                china_quantity=china.get("quantity"),
                world_total=world.get("quantity"),
                unit=str(entry["unit"]),
                china_withheld=bool(china.get("is_withheld")),
            )
        )
    return sorted(summaries, key=lambda s: (s.mineral.name, s.stage))
