"""What the transition plan page shows: per mineral a chart of the requirement by origin
2026-2030 (today beside the plan), the tables under them (every number of the charts, for the
CSV/XLSX downloads) and the headline numbers. Plain data in (dashboards.plan_selectors), plain
data out, like dashboards.page_content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboards import figures
from dashboards.page_content import computed_text, edition_names
from dashboards.tables import Column, Table, build_table, format_value, share_text

YEAR_COLUMNS = (
    Column("mineral_name", "Mineral"),
    Column("year", "Year", "year"),
    Column("scenario", "Sourcing"),
    Column("requirement", "Requirement", "number"),
    Column("china_direct", "Direct from China", "number"),
    Column("china_controlled", "China-controlled elsewhere", "number"),
    Column("china_upstream", "China upstream", "number"),
    Column("unaffected", "No China link", "number"),
    Column("uncovered", "Uncovered", "number"),
    Column("restricted_volume", "Restricted volume", "number"),
    Column("restricted_share", "Restricted share", "share"),
    Column("unit", "Unit"),
    Column("issues", "Notes"),
)
STEP_COLUMNS = (
    Column("mineral_name", "Mineral"),
    Column("from_label", "From (your source)"),
    Column("moved", "Moves"),
    Column("to_label", "To"),
    Column("target_label", "Lever"),
    Column("from_year", "From year", "year"),
    Column("notes", "Notes"),
)
SCENARIO_LABELS = {"today": "today's sourcing", "plan": "plan"}


def _moved_text(step: Mapping[str, Any]) -> str:
    if step["share"] is not None:
        return f"{share_text(step['share'])} of the requirement"
    return f"{format_value(step['quantity'], Column('q', 'q', 'number'))} {step['unit']}/yr"


def plan_page(data: Mapping[str, Any]) -> dict[str, Any]:
    """Charts (one per mineral), the year table, the steps table and the headline numbers."""
    plan = data["plan"]
    computed = computed_text(data["computed_at"])
    charts: list[dict[str, Any]] = []
    year_records: list[dict[str, Any]] = []
    for row in data["minerals"]:
        editions = edition_names(row["sources"])
        series = {"today": row["today"], "plan": row["plan"]}
        title = f"{row['mineral_name']}: your requirement by origin, 2026-2030"
        note = "today's sourcing" + (f" beside '{plan['name']}'" if plan else "")
        figure = figures.plan_origin_bars(
            series,
            unit=row["unit"],
            title=figures.title_text(
                title, sources=[*editions, "your sourcing and plan"], computed=computed, note=note
            ),
        )
        charts.append(
            {
                "id": f"fig-plan-{row['mineral']}",
                "payload": figures.payload(figure),
                "filename": f"lodestone-plan-{row['mineral']}",
                "table": "plan_years",
                "label": f"Stacked bars of the {row['mineral_name'].lower()} requirement by origin per year, "
                "today's sourcing beside the plan, with the restricted share as markers.",
                "mineral": row["mineral"],
                "mineral_name": row["mineral_name"],
                "uncovered_now": row["today"][0]["uncovered"] if row["today"] else None,
                "unit": row["unit"],
            }
        )
        for scenario in ("today", "plan"):
            for year in row[scenario] or []:
                year_records.append(
                    {
                        **year,
                        "mineral": row["mineral"],
                        "mineral_name": row["mineral_name"],
                        "scenario": SCENARIO_LABELS[scenario],
                        "unit": row["unit"],
                        "issues": "; ".join(year["issues"]),
                    }
                )

    def decorate(column: Column, record: dict[str, Any]) -> dict[str, Any]:
        if column.key == "uncovered" and record["uncovered"] is None:
            return {"text": "unknown (no requirement)", "css": "uncovered"}
        if column.key == "uncovered":
            return {"css": "uncovered", "attrs": (("data-uncovered", record["mineral"]),)}
        return {}

    tables: dict[str, Table] = {
        "plan_years": build_table(
            id="plan_years",
            caption="Requirement by origin per year (in each mineral's canonical unit)",
            columns=YEAR_COLUMNS,
            records=year_records,
            decorate=decorate,
            empty="No requirement or sourcing recorded yet: add them on the portfolio's edit page.",
            note="Origin classes are exclusive: direct from China; China-controlled outside China; neither but "
            "China upstream in the chain; no China link found; and the part of the requirement no sourcing "
            "covers. Restricted: the share of the sourced volume blocked by measures in force on the year's "
            "reference date, anywhere in the chain. A dash is unknown, never 0.",
        ),
        "plan_steps": build_table(
            id="plan_steps",
            caption=f"Steps of '{plan['name']}'" if plan else "Steps",
            columns=STEP_COLUMNS,
            records=[{**s, "moved": _moved_text(s)} for s in (plan["steps"] if plan else [])],
            empty="No steps yet." if plan else "No plan selected.",
        ),
    }
    return {"charts": charts, "tables": tables, "kpis": _kpis(data)}


def _kpis(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """Restricted volume now and in 2030 under the plan, and the minerals with an uncovered part."""
    minerals = data["minerals"]
    uncovered = [m for m in minerals if m["today"] and (m["today"][0]["uncovered"] or 0) > 0]
    unknown = [m for m in minerals if m["today"] and m["today"][0]["uncovered"] is None]
    kpis = [
        {"value": str(len(minerals)), "label": "minerals in the portfolio", "css": ""},
        {
            "value": str(len(uncovered)),
            "label": "with part of the requirement uncovered"
            + (f" ({len(unknown)} more without a requirement: unknown)" if unknown else ""),
            "css": "warn" if uncovered else "",
        },
    ]
    plan = data["plan"]
    if plan:
        kpis.append(
            {"value": str(len(plan["steps"])), "label": f"steps in '{plan['name']}' ({plan['status']})", "css": ""}
        )
    return kpis
