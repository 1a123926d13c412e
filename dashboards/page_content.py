"""What each page shows: tables, figures and headline numbers, from the page selectors' data.

Pure (plain data in, plain data out), so a page's content can be cached whole under the
data generation and a page view only renders the template.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.urls import reverse

from dashboards import figures, risk
from dashboards.tables import Column, Table, build_table, format_value, number_text, share_text
from dashboards.trade_partners import GROUPS, UNATTRIBUTED_LABEL, country_group, group_shares

STAGE_LABELS = {
    "mine": "mining",
    "refinery": "refining",
    "recycling": "recycling",
    "component": "components",
}
STATUS_LABELS = {
    "in_force": "in force",
    "needs_review": "in force again: needs review",
    "suspended": "suspended",
    "ended": "ended",
    "not_yet": "not yet effective",
}


def computed_text(computed_at: datetime | str | None, *, stale: bool = False) -> str:
    if computed_at is None:
        return "not computed yet"
    if isinstance(computed_at, str):
        computed_at = datetime.fromisoformat(computed_at)
    text = f"computed {computed_at:%Y-%m-%d %H:%M} UTC"
    return f"{text} (newer data waiting)" if stale else text


def edition_names(sources: Sequence[Mapping[str, Any]]) -> list[str]:
    return [s.get("edition") or s.get("key", "") for s in sources]


# USGS publishes the Mineral Commodity Summaries each January: an edition older than this has
# (or is about to have) a successor, and the page says so.
EDITION_MAX_AGE_DAYS = 365


def vintage(
    sources: Sequence[Mapping[str, Any]],
    *,
    published: Mapping[str, str | None],
    year: int | str | None,
    estimates: bool | None,
    today: date,
) -> dict[str, Any]:
    """The data's age as a buyer needs it: edition, data year (or years: "2023\u20132024"),
    estimate or final, and whether the newest edition behind the figures is more than a year old
    (`published`: source key -> ISO publication date or None). The compute time is not the
    data's age and is not part of it."""
    editions = list(dict.fromkeys(edition_names(sources)))
    dates = [date.fromisoformat(d) for s in sources if (d := published.get(s.get("key", "")))]
    newest = max(dates, default=None)
    old = newest is not None and (today - newest).days > EDITION_MAX_AGE_DAYS
    parts = ["; ".join(editions) or "no source"]
    if year is not None:
        parts.append(f"{year} data")
    if editions and estimates is not None:  # None: not known for this figure (a buyer's exposure)
        parts.append("estimates" if estimates else "final")
    warning = ""
    if old and newest is not None:
        warning = (
            f"The newest edition used was published {newest:%B %Y}, more than a year ago: USGS publishes "
            "each January, so newer figures may exist."
        )
    return {
        "text": " · ".join(parts),
        "short": f"{editions[0] if editions else 'no source'}{f' · {year}' if year else ''}{' e' if estimates else ''}",
        "published_text": f"published {newest:%B %Y}" if newest else "publication date unknown",
        "published": newest,
        "old": old,
        "warning": warning,
    }


def exposure_vintage(
    row: Mapping[str, Any], mix: Mapping[str, Any] | None, *, published: Mapping[str, str | None], today: date
) -> dict[str, Any]:
    """A buyer's exposure row's vintage, as the mineral pages show theirs: the edition the row was
    computed from, with the data year and estimate-or-final of the production table it falls
    back on (`mix`: page_selectors' exposure_vintage entry). When that table is not from the
    row's own edition (newer data waiting), the year and estimates are left unknown."""
    same = mix is not None and {s["key"] for s in mix["sources"]} == {s["key"] for s in row["sources"]}
    return vintage(
        row["sources"],
        published=published,
        year=mix["year"] if mix and same else None,
        estimates=mix["estimates"] if mix and same else None,
        today=today,
    )


def combined_vintage(
    rows: Sequence[Mapping[str, Any]],
    mixes: Sequence[Mapping[str, Any] | None],
    *,
    published: Mapping[str, str | None],
    today: date,
) -> dict[str, Any] | None:
    """One vintage for several exposure rows (the portfolio's): every edition behind them, the
    data years as a range, "estimates" when any row's table holds estimates (final only when
    every row is known final), and the warning when the newest edition is over a year old."""
    sources = list({s["key"]: s for r in rows for s in r["sources"]}.values())
    if not sources:
        return None
    same = [
        m
        for r, m in zip(rows, mixes, strict=True)
        if m is not None and {s["key"] for s in m["sources"]} == {s["key"] for s in r["sources"]}
    ]
    years = sorted({m["year"] for m in same})
    year = None if not years else str(years[0]) if len(years) == 1 else f"{years[0]}\u2013{years[-1]}"
    known_final = len(same) == len(rows)
    estimates = True if any(m["estimates"] for m in same) else (False if known_final else None)
    return vintage(sources, published=published, year=year, estimates=estimates, today=today)


def alternative_text(alternative: Mapping[str, Any], *, names: Mapping[str, str]) -> str:
    """A ranked alternative in a few words: "Japan, refining 2024: 3,000 kg" for a producing
    country (its whole output that year), "<facility> (AUS)" for a facility or project."""
    country = names.get(alternative["country"], alternative["country"])
    if alternative["kind"] == "country":
        stage = STAGE_LABELS.get(alternative["stage"] or "", alternative["stage"] or "")
        year = alternative["name"].rsplit(" ", 1)[-1]
        output = number_text(alternative["available_capacity"], alternative["unit"])
        return f"{country}, {stage} {year}: {output}"
    return f"{alternative['name']} ({country})"


def glance(
    *,
    slug: str,
    name: str,
    head: Mapping[str, Any] | None,
    restrictions: Sequence[Mapping[str, Any]],
    restricted_share: float | None,
    replacement: Mapping[str, Any] | None,
    names: Mapping[str, str],
    as_of: date,
    alternatives_href: str,
) -> dict[str, Any]:
    """One mineral's first-screen answer: China's share at the stage it dominates, what is
    restricted on `as_of`, and the best alternative with the year it can supply.

    `head`: the headline stage's summary (stage, year, china_share, china_share_upper, withheld,
    unpublished, estimate); `restrictions`: the restrictions in force (or in force again) on
    the mineral; `replacement`: china_replacement_alternatives' entry (None: none computed)."""
    china = "\u2013"
    stage = ""
    if head:
        stage = f"{STAGE_LABELS.get(head['stage'], head['stage'])} {head['year']}"
        if head.get("withheld"):
            china = "withheld"
        elif head.get("unpublished"):
            china = "not published"
        elif head["china_share"] is None and head.get("china_share_upper") is not None:
            china = share_text(head["china_share_upper"], bound="\u2264")
        else:
            china = share_text(head["china_share"], estimate=bool(head.get("estimate")))
    if restrictions:
        titles = [m["title"] for m in restrictions]
        count = f"{len(titles)} measure{'s' if len(titles) > 1 else ''} in force"  # names on hover
        share = f"{share_text(restricted_share)} of supply · " if restricted_share is not None else ""
        restricted = {"text": f"{share}{count}", "title": "; ".join(titles), "css": "warn"}
    else:
        restricted = {"text": f"nothing restricted on {as_of}", "title": "", "css": ""}
    best = (replacement or {}).get("alternatives") or []
    alternative = {"text": "none found outside the FEOC", "year": "", "title": ""}
    if best and replacement:
        top = best[0]
        year = _available_text(top["available_from"], top["announced"])
        alternative = {
            "text": alternative_text(top, names=names),
            "year": f"can supply from {year}" if top["available_from"] else "year it can supply unknown",
            "title": "Rank 1 of the non-FEOC sources for replacing China's "
            f"{STAGE_LABELS.get(replacement['stage'], '')} "
            f"output ({number_text(replacement['volume'], replacement['unit'])}): score {top['score']:.2f}",
        }
    return {
        "slug": slug,
        "name": name,
        "href": reverse("dashboards:mineral", args=[slug]),
        "china": china,
        "china_value": head["china_share"] if head else None,
        "stage": stage,
        "restricted": restricted,
        "alternative": alternative,
        "alternatives_href": alternatives_href,
        "plan_href": PLAN_PATH,
    }


# The buyer's plan page (issue 12); linked as a plain path so this page does not depend on it.
PLAN_PATH = "/portfolio/plan/"


NO_DATA = "Nothing to draw: no figure is known for this chart (the table below says what is published)."


def _chart(fig_id: str, figure: Any, *, filename: str, table: str, label: str, empty: str = NO_DATA) -> dict[str, Any]:
    """A chart for the template; a figure with nothing to draw becomes the sentence `empty`
    saying why (never empty axes or a blank map)."""
    if figures.is_empty(figure):
        return {"id": fig_id, "payload": None, "empty": empty, "filename": filename, "table": table, "label": label}
    return {"id": fig_id, "payload": figures.payload(figure), "filename": filename, "table": table, "label": label}


def no_country_figures_text(name: str, stage: str, row: Mapping[str, Any]) -> str:
    """Why a production chart is empty, in the publisher's terms: withheld (W) or not published."""
    publisher = "; ".join(dict.fromkeys(edition_names(row["sources"]))) or "The source"
    if row["withheld_countries"] and not row.get("unpublished_countries"):
        return (
            f"{publisher} withholds the country figures for {name.lower()} {stage} in {row['year']} (W): "
            "nothing to chart."
        )
    return (
        f"USGS publishes no country figures for {name.lower()} {stage} in {row['year']} ({publisher}): "
        "the producing countries are listed below without quantities."
    )


def share_attrs(metric: str, key: str, value: float | None) -> tuple[tuple[str, str], ...]:
    """data-* attributes carrying the stored number behind a displayed one (browser tests)."""
    return (("data-metric", metric), ("data-key", key), ("data-value", "" if value is None else repr(value)))


# --------------------------------------------------------------------------------------------
# Overview


OVERVIEW_COLUMNS = (
    Column("name", "Mineral"),
    Column("china_mine", "China: mining", "share", help="China's share of world mine production, newest year."),
    Column("china_refinery", "China: refining", "share", help="China's share of refining / primary production."),
    Column("top3_share", "Top-3 share", "share", help="Three largest producers together (headline stage)."),
    Column("hhi", "HHI", "hhi", help="Herfindahl-Hirschman index, 0-10,000; above 2,500 is highly concentrated."),
    Column("import_china_share", "China in U.S. imports", "share", help="China (with HKG, MAC) by value."),
    Column(
        "nir",
        "Net import reliance",
        "share",
        digits=0,
        help="U.S., as USGS publishes it (E: net exporter; e: estimate).",
    ),
    Column("restricted", "Restricted share", "share", help="Share of supply under measures in force on the date."),
    Column("supply_risk", "EU supply risk", "risk", help="EU CRM method; 1.0 or more is critical."),
    Column("freshness", "Data vintage", help="Edition, data year, e = estimates; the compute time on hover."),
)


def overview(data: Mapping[str, Any], measures: Sequence[Mapping[str, Any]], *, today: date) -> dict[str, Any]:
    as_of: date = data["as_of"]
    feoc = data["feoc"]
    records = []
    chart_rows = []
    editions: list[str] = []
    for m in data["minerals"]:
        mine, refinery = m["mine"] or {}, m["refinery"] or {}
        records.append(
            {
                "slug": m["slug"],
                "name": m["name"],
                "china_mine": mine.get("china_share"),
                "china_refinery": refinery.get("china_share"),
                "top3_share": m["top3_share"],
                "hhi": m["hhi"],
                "import_china_share": m["import_china_share"],
                "imports_basket": m.get("imports_basket", False),
                "nir": m["nir"],
                "nir_bound": m["nir_bound"],
                "nir_estimate": m.get("nir_estimate", False),
                "restricted": m["restricted_supply_share"],
                "supply_risk": m["supply_risk"],
                "freshness": m["computed_at"].isoformat() if m["computed_at"] else None,
                "computed_at": m["computed_at"],
                "stale": m["stale"],
                "stage": m["headline_stage"],
                "year": m["year"],
                "mine_withheld": mine.get("withheld"),
                "refinery_withheld": refinery.get("withheld"),
                "mine_unpublished": mine.get("unpublished"),
                "refinery_unpublished": refinery.get("unpublished"),
                "mine_upper": mine.get("china_share_upper"),
                "mine_estimate": mine.get("estimate"),
                "refinery_estimate": refinery.get("estimate"),
                "refinery_upper": refinery.get("china_share_upper"),
                "review": m["measures_needing_review"],
                "vintage": vintage(
                    m["sources"],
                    published=data["published"],
                    year=m["year"],
                    estimates=bool((m["head"] or {}).get("estimates")),
                    today=today,
                ),
            }
        )
        editions += edition_names(m["sources"])
        if m["headline_stage"] and m["country_shares"]:
            groups = group_shares(m["country_shares"], feoc)
            chart_rows.append(
                {
                    "label": f"{m['name']} ({STAGE_LABELS.get(m['headline_stage'], m['headline_stage'])} {m['year']})",
                    "name": m["name"],
                    "stage": m["headline_stage"],
                    "year": m["year"],
                    **groups,
                }
            )

    def decorate(column: Column, record: dict[str, Any]) -> dict[str, Any]:
        key = record["slug"]
        match column.key:
            case "name":
                return {"href": reverse("dashboards:mineral", args=[key])}
            case "nir" if record["nir_bound"] or (record["nir_estimate"] and record["nir"] is not None):
                text = share_text(record["nir"], bound=record["nir_bound"], estimate=record["nir_estimate"], digits=0)
                return {"text": text}
            case "china_mine" | "china_refinery" if record[column.key.replace("china_", "") + "_withheld"]:
                return {"text": "withheld", "title": "USGS withheld China's figure (W)"}
            case "china_mine" | "china_refinery" if record[column.key.replace("china_", "") + "_unpublished"]:
                return {"text": "not published", "title": "USGS published no figure for China (NA)"}
            case "china_mine" | "china_refinery" if (
                record[column.key] is None and record[column.key.replace("china_", "") + "_upper"] is not None
            ):
                upper = record[column.key.replace("china_", "") + "_upper"]
                return {
                    "text": share_text(upper, bound="\u2264"),
                    "title": "China is not listed by USGS: at most the 'Other countries' share",
                    "attrs": share_attrs(column.key, key, None),
                }
            case "restricted":
                return {
                    "attrs": share_attrs("restricted_supply_share", key, record["restricted"]),
                    "title": f"{STAGE_LABELS.get(record['stage'] or '', '')} {record['year'] or ''}, as of {as_of}",
                    "css": "flag" if record["review"] else "",
                }
            case "import_china_share" if record["imports_basket"] and record["import_china_share"] is not None:
                return {
                    "text": f"{share_text(record['import_china_share'])} (basket)",
                    "title": "Includes a basket HS code (e.g. 811292: gallium, germanium, indium, niobium, "
                    "vanadium): the share of the basket, not of this mineral alone",
                    "attrs": share_attrs(column.key, key, record[column.key]),
                }
            case "china_mine" | "china_refinery" if (
                record[column.key.replace("china_", "") + "_estimate"] and record[column.key] is not None
            ):
                return {
                    "text": share_text(record[column.key], estimate=True),
                    "title": "Estimated (USGS e)",
                    "attrs": share_attrs(column.key, key, record[column.key]),
                }
            case "china_refinery" | "china_mine" | "top3_share" | "hhi" | "supply_risk" | "import_china_share":
                return {"attrs": share_attrs(column.key, key, record[column.key])}
            case "freshness":
                age = record["vintage"]
                stale = record["stale"]
                return {
                    "text": age["short"] + (" · newer data waiting" if stale else ""),
                    "css": "old" if age["old"] or stale else "",
                    "title": f"{age['text']}. {age['warning']} "
                    f"Metrics {computed_text(record['computed_at'], stale=stale)}.",
                }
        return {}

    table = build_table(
        id="minerals",
        caption="Every mineral: concentration, import dependence and policy exposure",
        columns=OVERVIEW_COLUMNS,
        records=records,
        decorate=decorate,
        sortable=True,
        note=(
            "Top-3, HHI, restricted share and supply risk describe the headline stage: the stage China dominates "
            "most of those published (hover a restricted share for its stage and year). Restricted share and "
            f"supply risk follow the policy status on {as_of}. Unknown values show \u2013, never 0; \u2264 is an "
            "upper bound "
            "(China inside USGS's 'Other countries'); e marks an estimate."
        ),
    )
    chart_rows.sort(key=lambda r: -(r["china"] or 0.0))
    latest_computed = max((m["computed_at"] for m in data["minerals"] if m["computed_at"]), default=None)
    chart_title = figures.title_text(
        "Dependency on China and the alternatives, by mineral",
        sources=sorted(set(editions)),
        computed=computed_text(latest_computed),
    )
    group_columns = [Column(key, label, "share") for key, label in GROUPS] + [
        Column("unattributed", UNATTRIBUTED_LABEL, "share")
    ]
    dependency_table = build_table(
        id="dependency",
        caption="Share of world production by origin group (headline stage, newest year)",
        columns=(Column("name", "Mineral"), Column("stage", "Stage"), Column("year", "Year", "year"), *group_columns),
        records=[{**r, "stage": STAGE_LABELS.get(r["stage"], r["stage"])} for r in chart_rows],
        note="U.S. FTA partners: the 20 countries on USTR's list of free trade agreement partners.",
    )
    charts = [
        _chart(
            "fig-dependency",
            figures.dependency_bars(chart_rows, title=chart_title),
            filename="lodestone-dependency-on-china",
            table="dependency",
            label="Stacked bars: share of each mineral's world production from China, other FEOC countries, "
            "the United States, U.S. FTA partners and other countries.",
        )
    ]
    restrictions = [m for m in measures if m["is_restriction"]]
    in_force = [m for m in restrictions if m["status"] == "in_force"]
    review = [m for m in restrictions if m["status"] == "needs_review"]
    restricting: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for measure in in_force + review:
        for mineral_slug, _ in measure["minerals"]:
            restricting[mineral_slug].append(measure)
    glances = [
        glance(
            slug=m["slug"],
            name=m["name"],
            head=m["head"],
            restrictions=restricting[m["slug"]],
            restricted_share=m["restricted_supply_share"],
            replacement=m["replacement"],
            names=data["countries"],
            as_of=as_of,
            alternatives_href=reverse("dashboards:mineral", args=[m["slug"]]) + "#alternatives",
        )
        for m in data["minerals"]
    ]
    glances.sort(key=lambda g: (g["china_value"] is None, -(g["china_value"] or 0.0), g["name"]))
    ages = [r["vintage"] for r in records if r["vintage"]["published"]]
    newest_age = max(ages, key=lambda a: a["published"], default=None)
    high = [r for r in records if max(r["china_refinery"] or 0, r["china_mine"] or 0) >= 0.5]
    return {
        "tables": {"minerals": table, "dependency": dependency_table},
        "charts": charts,
        "in_force": in_force,
        "needs_review": review,
        "glances": glances,
        "vintage": newest_age,
        "computed": computed_text(latest_computed),
        "kpis": [
            {"label": "Minerals tracked", "value": str(len(records))},
            {"label": "China produces half or more", "value": str(len(high))},
            {"label": f"Restrictions in force on {as_of}", "value": str(len(in_force) + len(review))},
            {"label": "Measures needing review", "value": str(len(review)), "css": "warn" if review else ""},
        ],
        "today": today,
    }


# --------------------------------------------------------------------------------------------
# Mineral page


def _stage_tables(supply: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> dict[str, Mapping[str, Any]]:
    """The newest row per stage (rows arrive newest year first per stage)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in supply:
        latest.setdefault(row["stage"], row)
    return latest


class _MineralPage:
    """What the sections of a mineral page share, and what they add to it in page order:
    charts (figures with their data table) and tables (sortable, downloadable)."""

    def __init__(self, data: Mapping[str, Any], *, today: date) -> None:
        self.data = data
        self.today = today
        self.metrics: Mapping[str, Any] = data["metrics"]
        self.names: Mapping[str, str] = data["countries"]
        self.feoc: Sequence[str] = data["feoc"]
        self.slug: str = data["mineral"]["slug"]
        self.name: str = data["mineral"]["name"]
        self.as_of = date.fromisoformat(self.metrics["as_of"])
        self.destination: str = self.metrics["destination"]
        self.measures: Mapping[str, Mapping[str, Any]] = data["measures"]
        self.latest = _stage_tables(self.metrics["supply"], self.names)
        # The stage the headline numbers describe: the one most dominated by China (issue 11).
        self.head_stage = risk.dominant_stage({stage: row["china_share"] for stage, row in self.latest.items()})
        self.head = self.latest.get(self.head_stage) if self.head_stage else None
        self.freshness = computed_text(self.metrics["computed_at"], stale=self.metrics["stale"])
        self.charts: list[dict[str, Any]] = []
        self.tables: dict[str, Table] = {}


def mineral(data: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """A mineral page: its sections in page order, then the headline figures."""
    page = _MineralPage(data, today=today)
    stage_sections = _production_sections(page)
    _trend_section(page)
    _imports_section(page)
    _policy_section(page)
    _alternatives_section(page)
    _facilities_section(page)
    _supply_risk_section(page)
    _sources_section(page)
    head = page.head
    published = {s["key"]: s["published_on"].isoformat() if s["published_on"] else None for s in data["sources"]}
    restrictions = [
        m for m in page.measures.values() if m["is_restriction"] and m["status"] in ("in_force", "needs_review")
    ]
    return {
        "glance": glance(
            slug=page.slug,
            name=page.name,
            head=_head_summary(head),
            restrictions=restrictions,
            restricted_share=head["restricted_supply_share"] if head else None,
            replacement=data.get("replacement"),
            names=page.names,
            as_of=page.as_of,
            alternatives_href="#alternatives",
        ),
        "restrictions": restrictions,
        "replacement": data.get("replacement"),
        "alternative_rows": _alternative_rows(data.get("replacement"), page.names),
        "head_stage": page.head_stage,
        "vintage": vintage(
            head["sources"] if head else [],
            published=published,
            year=head["year"] if head else None,
            estimates=bool(head and head.get("estimated_countries")),
            today=today,
        ),
        "mineral": data["mineral"],
        "as_of": page.as_of,
        "charts": page.charts,
        "tables": page.tables,
        "stage_sections": stage_sections,
        "kpis": _mineral_kpis(page),
        "freshness": page.freshness,
        "stale": page.metrics["stale"],
        "review": [m for m in page.measures.values() if m["status"] == "needs_review"],
    }


def _head_summary(head: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored supply row as glance() reads it (the overview's stage summary)."""
    if head is None:
        return None
    return {
        "stage": head["stage"],
        "year": head["year"],
        "china_share": head["china_share"],
        "china_share_upper": head.get("china_share_upper"),
        "withheld": "CHN" in (head.get("withheld_countries") or []),
        "unpublished": "CHN" in (head.get("unpublished_countries") or []),
        "estimate": "CHN" in (head.get("estimated_countries") or []),
    }


def _production_sections(page: _MineralPage) -> list[dict[str, Any]]:
    """Per stage: production by country (bars, map) and its table."""
    names, name, slug, freshness, tables = page.names, page.name, page.slug, page.freshness, page.tables
    stage_sections = []
    for stage, row in page.latest.items():
        stage_label = STAGE_LABELS.get(stage, stage)
        editions = edition_names(row["sources"])
        shares = row["country_shares"]
        bars_id, map_id, table_id = f"fig-production-{stage}", f"fig-map-{stage}", f"production_{stage}"
        charts_for_stage = [
            _chart(
                bars_id,
                figures.production_by_country(
                    shares,
                    world_total=row["world_total"],
                    unit=row["unit"],
                    feoc=page.feoc,
                    names=names,
                    title=figures.title_text(
                        f"{name}: {stage_label} by country, {row['year']}", sources=editions, computed=freshness
                    ),
                ),
                filename=f"lodestone-{slug}-{stage}-by-country",
                table=table_id,
                label=f"Bar chart of {name} {stage_label} by country, China highlighted.",
                empty=no_country_figures_text(name, stage_label, row),
            ),
            _chart(
                map_id,
                figures.production_map(
                    shares,
                    names=names,
                    title=figures.title_text(
                        f"Where {name.lower()} {stage_label} happens, {row['year']}", sources=editions
                    ),
                ),
                filename=f"lodestone-{slug}-{stage}-map",
                table=table_id,
                label=f"World map of {name} {stage_label} shares.",
                empty="No map: " + no_country_figures_text(name, stage_label, row),
            ),
        ]
        page.charts += charts_for_stage
        records = [
            {
                "country": names.get(iso3, iso3),
                "iso3": iso3,
                "group": dict(GROUPS)[country_group(iso3, page.feoc)],
                "share": share,
                "quantity": share * row["world_total"] if share is not None and row["world_total"] else None,
            }
            for iso3, share in shares
        ]
        tables[table_id] = build_table(
            id=table_id,
            caption=f"{name} {stage_label} by country, {row['year']} ({row['unit']})",
            columns=(
                Column("country", "Country"),
                Column("iso3", "ISO3"),
                Column("group", "Group"),
                Column("share", "Share of world", "share"),
                Column("quantity", f"Quantity ({row['unit']})", "number"),
            ),
            records=records,
            decorate=lambda c, r: {"css": "china"} if c.key == "country" and r["iso3"] == "CHN" else {},
            note=_supply_note(row),
        )
        stage_sections.append(
            {
                "stage": stage,
                "label": stage_label,
                "row": row,
                "charts": charts_for_stage,
                "table": tables[table_id],
            }
        )

    return stage_sections


def _trend_section(page: _MineralPage) -> None:
    """China's share across years (stored metrics) and editions (as published)."""
    metrics, data, name, slug, freshness = page.metrics, page.data, page.name, page.slug, page.freshness
    charts, tables = page.charts, page.tables
    by_stage: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in metrics["supply"]:
        by_stage[row["stage"]].append(row)
    series = []
    for stage, rows in by_stage.items():
        rows = sorted(rows, key=lambda r: r["year"])
        series.append(
            {
                "label": STAGE_LABELS.get(stage, stage),
                "years": [r["year"] for r in rows],
                "china": [r["china_share"] for r in rows],
                "feoc": [r["feoc_share"] for r in rows],
                "editions": ["; ".join(edition_names(r["sources"])) for r in rows],
            }
        )
    all_editions = sorted({e for r in metrics["supply"] for e in edition_names(r["sources"])})
    charts.append(
        _chart(
            "fig-trend",
            figures.share_trend(
                series,
                title=figures.title_text(f"{name}: China's share over time", sources=all_editions, computed=freshness),
            ),
            filename=f"lodestone-{slug}-trend",
            table="trend",
            label=f"Line chart of China's and all FEOC countries' share of {name} production by year.",
        )
    )
    trend = trend_records(data["china_by_edition"], metrics["supply"])
    tables["trend"] = build_table(
        id="trend",
        caption=f"China's {name.lower()} production by year and edition",
        columns=(
            Column("year", "Year", "year"),
            Column("stage", "Stage"),
            Column("edition", "Edition"),
            Column("china_quantity", "China", "number"),
            Column("world_quantity", "World total", "number"),
            Column("unit", "Unit"),
            Column("china_share", "China's share (this edition)", "share"),
            Column("feoc_share", "FEOC share (metric)", "share"),
        ),
        records=trend,
        decorate=_trend_cell,
        note="Each row is one edition's figures: China's share is China over the world total as that edition "
        "publishes them, so a revision shows (e = estimate). The FEOC share is the stored metric, on the row "
        "of the edition it was computed from (the newest).",
    )


def trend_records(
    china_by_edition: Sequence[Mapping[str, Any]], supply: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One record per (stage, year, edition) with that edition's own figures (issue 11: an older
    edition's row never repeats the newest edition's share)."""
    metric_by_key = {(r["stage"], r["year"]): r for r in supply}
    records = []
    for e in china_by_edition:
        stored = metric_by_key.get((e["stage"], e["year"]))
        china = None if e.get("china_withheld") else e.get("china_quantity")
        world = None if e.get("world_withheld") else e.get("world_quantity")
        from_this_edition = stored is not None and e["source"] in {s["key"] for s in stored["sources"]}
        records.append(
            {
                "year": e["year"],
                "stage": STAGE_LABELS.get(e["stage"], e["stage"]),
                "edition": e["edition"],
                "china_quantity": china,
                "world_quantity": world,
                "unit": e.get("unit", ""),
                "china_share": china / world if china is not None and world else None,
                "feoc_share": stored["feoc_share"] if stored and from_this_edition else None,
                "china_withheld": e.get("china_withheld"),
                "china_estimate": bool(e.get("china_estimate")),
                "world_estimate": bool(e.get("world_estimate")),
            }
        )
    return records


def _trend_cell(column: Column, record: Mapping[str, Any]) -> dict[str, Any]:
    if column.key == "china_quantity" and record["china_withheld"]:
        return {"text": "withheld"}
    estimate = {
        "china_quantity": record["china_estimate"],
        "world_quantity": record["world_estimate"],
        "china_share": record["china_estimate"] or record["world_estimate"],
    }.get(column.key, False)
    if estimate and record[column.key] is not None:
        text = share_text(record[column.key], estimate=True) if column.kind == "share" else None
        text = text or f"{format_value(record[column.key], column)} e"
        return {"text": text, "title": "Estimated (USGS e)"}
    return {}


def _imports_section(page: _MineralPage) -> None:
    """Imports and net import reliance, with export-control events on the time axis."""
    metrics, name, slug, freshness, destination = page.metrics, page.name, page.slug, page.freshness, page.destination
    charts, tables, measures = page.charts, page.tables, page.measures
    imports = sorted(metrics["imports"], key=lambda r: r["year"])
    import_years = []
    for r in imports:
        groups = group_shares(r["partner_shares"], page.feoc) if r["partner_shares"] else {}
        if groups and r["import_coverage"] is not None:
            groups["unattributed"] = max(0.0, 1.0 - sum(s for _, s in r["partner_shares"]))
        import_years.append(
            {
                "year": r["year"],
                "groups": groups,
                "nir": r["nir_published"],
                "nir_bound": r["nir_published_bound"],
                "nir_computed": r["nir"],
            }
        )
    events = []
    for m in sorted(measures.values(), key=lambda m: m["effective_on"] or date.max):
        if not m["is_restriction"] or m["effective_on"] is None:
            continue
        colour = figures.colour_of(m["issuer"], page.feoc)
        events.append({"date": m["effective_on"], "label": _short(m["title"]), "colour": colour})
        if m["suspended_from"]:
            events.append({"date": m["suspended_from"], "label": "suspended", "colour": colour, "dash": "dash"})
    import_sources = sorted({e for r in imports for e in edition_names(r["sources"])})
    charts.append(
        _chart(
            "fig-imports",
            figures.imports_over_time(
                import_years,
                events=events,
                as_of=page.as_of,
                title=figures.title_text(
                    f"{destination} imports of {name.lower()}: sources and net import reliance",
                    sources=import_sources,
                    computed=freshness,
                ),
            ),
            filename=f"lodestone-{slug}-imports",
            table="imports",
            label=f"{destination} import sources of {name} by year, with export-control events marked.",
            empty=f"No {destination} import figures are loaded for {name.lower()}: no partner shares and no "
            "published net import reliance to chart.",
        )
    )
    tables["imports"] = build_table(
        id="imports",
        caption=f"{destination} imports of {name.lower()} by year",
        columns=(
            Column("year", "Year", "year"),
            Column("import_china_share", "China (by value)", "share"),
            Column("import_feoc_share", "FEOC (by value)", "share"),
            Column("top", "Top sources"),
            Column("import_coverage", "Known partner", "share"),
            Column("nir_published", "NIR (USGS)", "share", digits=0),
            Column("nir", "NIR computed (cross-check)", "share", digits=0),
            Column("restricted_import_share", "Restricted imports", "share"),
        ),
        records=[
            {
                **r,
                "top": ", ".join(f"{iso3} {share * 100:.0f} %" for iso3, share in r["top_import_sources"]) or None,
            }
            for r in sorted(metrics["imports"], key=lambda r: -r["year"])
        ],
        decorate=lambda c, r: (
            {
                "text": share_text(
                    r["nir_published"], bound=r["nir_published_bound"], estimate=_nir_estimate(r), digits=0
                )
            }
            if c.key == "nir_published" and (r["nir_published_bound"] or _nir_estimate(r))
            else {"title": r["nir_note"]}
            if c.key == "nir" and r["nir"] is None and r.get("nir_note")
            else {}
        ),
        note="No bilateral trade flows loaded means no partner shares: the page says so rather than guess. "
        "Net import reliance is the one USGS publishes; the one computed from trade statistics is a "
        "cross-check, shown only where the destination's own export records, import quantities and "
        "production are all known and weigh the same thing (no basket code, no gross product weight)."
        + trade_codes_note(page.data.get("trade_codes", [])),
    )


def _nir_estimate(row: Mapping[str, Any]) -> bool:
    """A published NIR USGS marks estimated (the most recent year): shown with its "e"."""
    return bool(row.get("nir_published_estimate")) and row["nir_published"] is not None


def trade_codes_note(codes: Sequence[Mapping[str, Any]]) -> str:
    """What the import shares cover: basket codes named as baskets, mapped codes without rows
    named as a gap (issue 11: rare-earth imports without heading 2846 were a part, not the whole)."""
    notes = []
    baskets = [c["hs6"] for c in codes if c["is_basket"] and c["traded"]]
    if baskets:
        notes.append(
            f" Basket HS code(s) {', '.join(baskets)} cover other products too: shares are the basket's, "
            "not this mineral's alone."
        )
    gaps = [c["hs6"] for c in codes if not c["traded"]]
    if gaps and any(c["traded"] for c in codes):
        notes.append(f" No trade rows for HS {', '.join(gaps)}: the shares cover the other codes only.")
    return "".join(notes)


# A measure's name on a policy timeline, above its bar: what fits a phone's plot (about 350 px).
TIMELINE_LABEL_CHARS = 56


def _policy_section(page: _MineralPage) -> None:
    """Timeline and table of the mineral's measures, with their status on the as-of date."""
    metrics, name, slug, as_of, today = page.metrics, page.name, page.slug, page.as_of, page.today
    charts, tables, measures, destination = page.charts, page.tables, page.measures, page.destination
    status_by_key = {s["key"]: s for s in metrics["policy_status"]}
    timeline_measures = [
        {**m, "label": _short(m["title"], TIMELINE_LABEL_CHARS)}
        for m in sorted(measures.values(), key=lambda m: (m["effective_on"] or date.max, m["key"]))
    ]
    charts.append(
        _chart(
            "fig-policy",
            figures.policy_timeline(
                timeline_measures,
                as_of=as_of,
                today=today,
                title=figures.title_text(f"Measures on {name.lower()}", note="status on each date"),
            ),
            filename=f"lodestone-{slug}-policy-timeline",
            table="policy",
            label=f"Timeline of the policy measures on {name}: in force, suspended, ended.",
        )
    )
    tables["policy"] = policy_table(
        timeline_measures, as_of=as_of, table_id="policy", severities=status_by_key, destination=destination
    )


def _available_text(year: int | None, announced: bool) -> str:
    """ "2026", "2029 (announced)", or "unknown" for an alternative's first year of supply."""
    if year is None:
        return "unknown"
    return f"{year} (announced)" if announced else str(year)


def support_text(supports: Sequence[Mapping[str, Any]]) -> str:
    """ "DPA Title III award USD 90 M (July-September 2023)"; "" without support."""
    parts = []
    for s in supports:
        amount = f" USD {s['amount_usd'] / 1e6:,.4g} M" if s["amount_usd"] is not None else ""
        when = f" ({s['announced']})" if s["announced"] else ""
        parts.append(f"{s['program_label']}{amount}{when}")
    return "; ".join(parts)


def _score_why(alternative: Mapping[str, Any]) -> str:
    """Each factor's contribution, and what is unknown: "stage 0.30, ... (coverage unknown,
    counted 0: up to 0.97)"."""
    parts = ", ".join(f"{name} {value:.2f}" for name, value in alternative["contributions"].items())
    unknown = alternative.get("unknown_factors") or []
    if not unknown:
        return parts
    return f"{parts} ({', '.join(unknown)} unknown, counted 0: up to {alternative['score_upper']:.2f})"


def _start_text(alternative: Mapping[str, Any]) -> str:
    """ "2028 (announced; <source>)", "2026", "cannot supply (idle)" or "unknown"."""
    if alternative.get("status") == "idle":
        return "cannot supply (idle)"
    text = _available_text(alternative.get("available_from"), alternative.get("announced", False))
    source = alternative.get("start_year_source")
    return f"{text[:-1]}; {source})" if alternative.get("announced") and source else text


def _lever_tables(
    by_mineral: Mapping[str, Mapping[str, Any]], mineral_names: Mapping[str, str], names: Mapping[str, str]
) -> dict[str, Any]:
    """The three levers side by side: other countries and companies (best 3 per mineral), U.S.
    production and projects (all, with federal support), recycling (one row per mineral)."""
    diversification, domestic, recycling = [], [], []
    for slug, lever in by_mineral.items():
        mineral = mineral_names.get(slug, slug)
        for a in lever["diversification"][:3]:
            diversification.append(
                {
                    **a,
                    "mineral": mineral,
                    "country": names.get(a["country"], a["country"]),
                    "available": _start_text(a),
                    "processing": "; ".join(p for p in (a["processing"], a["processing_where"]) if p),
                }
            )
        for a in lever["us"]:
            domestic.append(
                {
                    "mineral": mineral,
                    "name": a["name"],
                    "status": a["status"],
                    "stage": a["stage"],
                    "available_capacity": a.get("available_capacity"),
                    "coverage_share": a.get("coverage_share"),
                    "available": _start_text(a),
                    "support": support_text(a["federal_support"]) or "none recorded",
                }
            )
        r = lever["recycling"]
        recycling.append(
            {
                "mineral": mineral,
                "rate": r["rate"],
                "year": r["year"],
                "source": r["source"] or "no figure recorded",
                "share_of_requirement": r["share_of_requirement"],
                "volume": r["volume"],
                "unit": r["unit"],
                "recyclers": ", ".join(x["name"] for x in r["recyclers"]) or "none recorded",
                "basis": r["basis"] or r["notes"],
                "estimate": r["is_estimate"],
            }
        )
    return {
        "lever_diversification": build_table(
            id="lever_diversification",
            caption="1. Other countries and companies (best 3 per mineral)",
            columns=(
                Column("mineral", "Mineral"),
                Column("name", "Source"),
                Column("country", "Country"),
                Column("processing", "Processing before use"),
                Column("coverage_share", "Coverage of the gap", "share", digits=0),
                Column("available", "Can supply from"),
                Column("score", "Score (0..1, worst bound)", "risk"),
            ),
            records=diversification,
            empty="No non-FEOC source outside the United States.",
        ),
        "lever_us": build_table(
            id="lever_us",
            caption="2. U.S. production and projects",
            columns=(
                Column("mineral", "Mineral"),
                Column("name", "Project or producer"),
                Column("status", "Status"),
                Column("stage", "Stage"),
                Column("available_capacity", "Capacity / yr", "number"),
                Column("coverage_share", "Coverage of the gap", "share", digits=0),
                Column("available", "Can supply from"),
                Column("support", "Federal support"),
            ),
            records=domestic,
            empty="No U.S. producer or project recorded.",
            note="Federal support as recorded by curators (DPA Title III awards, DoD agreements, EXIM), with "
            "its source; an announced start year is marked as announced, with its source.",
        ),
        "lever_recycling": build_table(
            id="lever_recycling",
            caption="3. Recycling",
            columns=(
                Column("mineral", "Mineral"),
                Column("rate", "Recycled share of U.S. supply", "share", digits=1),
                Column("year", "Year", "year"),
                Column("share_of_requirement", "Of your requirement recycling could supply", "share", digits=1),
                Column("volume", "That is / yr", "number"),
                Column("unit", "Unit"),
                Column("recyclers", "Recyclers offered"),
                Column("source", "Source (edition)"),
                Column("basis", "What is counted"),
            ),
            records=recycling,
            decorate=lambda c, r: (
                {"text": format_value(r[c.key], c) + " e"}
                if c.key == "rate" and r["estimate"] and r["rate"] is not None
                else {}
            ),
            empty="No requirement.",
            note="Recycled share = U.S. secondary production / apparent consumption as USGS publishes them "
            "(MCS salient statistics; e = estimate); unknown (NA, withheld, not recorded) shows \u2013, never 0. "
            "At that share, recycled material could supply the same share of your requirement.",
        ),
    }


def _alternatives_section(page: _MineralPage) -> None:
    """Producing countries outside the FEOC at the headline stage."""
    names, latest, head_stage, tables = page.names, page.latest, page.head_stage, page.tables
    alt_records = []
    if head_stage:
        row = latest[head_stage]
        for iso3, share in row["country_shares"]:
            group = country_group(iso3, page.feoc)
            if group in ("china", "feoc"):
                continue
            alt_records.append(
                {
                    "country": names.get(iso3, iso3),
                    "group": dict(GROUPS)[group],
                    "share": share,
                    "quantity": share * row["world_total"] if share is not None and row["world_total"] else None,
                }
            )
    tables["alt_countries"] = build_table(
        id="alt_countries",
        caption=f"Producing countries outside the FEOC ({STAGE_LABELS.get(head_stage or '', '')}, "
        f"{latest[head_stage]['year'] if head_stage else ''})",
        columns=(
            Column("country", "Country"),
            Column("group", "Group"),
            Column("share", "Share of world", "share"),
            Column("quantity", f"Output ({latest[head_stage]['unit'] if head_stage else ''})", "number"),
        ),
        records=alt_records,
        empty="No producer outside the FEOC countries is listed.",
    )


def _facilities_section(page: _MineralPage) -> None:
    """Facilities, U.S. projects and recycling (with the end-of-life recycling input rate)."""
    data, tables = page.data, page.tables
    facility_columns = (
        Column("name", "Facility"),
        Column("company", "Company"),
        Column("country", "Country"),
        Column("stage_label", "Stage"),
        Column("capacity", "Capacity / yr", "number"),
        Column("capacity_unit", "Unit"),
        Column("status", "Status"),
        Column("start_year", "Start year", "year"),
    )
    facilities = data["facilities"]
    tables["facilities"] = build_table(
        id="facilities",
        caption="Facilities with capacity and status",
        columns=facility_columns,
        records=[
            {**f, "name": f["name"] + (" (fictional)" if f["is_fictional"] and "fictional" not in f["name"] else "")}
            for f in facilities
        ],
        decorate=lambda c, r: {"href": r["source_url"]} if c.key == "name" and r["source_url"] else {},
        empty="No facility recorded for this mineral.",
        note="Capacity is empty where no nameplate figure was verified.",
    )
    us_projects = sorted(
        (f for f in facilities if f["country"] == "USA"), key=lambda f: (f["start_year"] or 9999, f["name"])
    )
    tables["us_projects"] = build_table(
        id="us_projects",
        caption="U.S. production and projects by start year, with federal support",
        columns=(
            *facility_columns[:-1],
            Column("start", "Start year"),
            Column("support", "Federal support"),
        ),
        records=[
            {
                **f,
                "start": (
                    f"{f['start_year']} (announced; {f['start_year_source']})"
                    if f["start_year"] and f["status"] != "operating" and f["start_year_source"]
                    else f"{f['start_year']} (announced)"
                    if f["start_year"] and f["status"] != "operating"
                    else f["start_year"]
                ),
                "support": support_text(f["federal_support"]) or "none recorded",
            }
            for f in us_projects
        ],
        empty="No U.S. project recorded.",
    )
    eol = next((p for p in data["parameters"] if p["name"] == "eol_rir"), None)
    recycling = [f for f in facilities if f["stage"] == "recycling"]
    tables["recycling"] = build_table(
        id="recycling",
        caption="Recycling: recycled share of U.S. supply and recyclers",
        columns=facility_columns,
        records=recycling,
        empty="No recycling facility recorded.",
        note=" ".join(
            (
                _recycling_note(data.get("recycling")),
                f"End-of-life recycling input rate (supply risk): {eol['value'] * 100:.0f} % "
                f"({eol['source__edition'] or eol['source__key']})."
                if eol
                else "End-of-life recycling input rate (supply risk): not curated (the supply risk uses 0, flagged).",
            )
        ),
    )


def _recycling_note(figure: Mapping[str, Any] | None) -> str:
    """ "Recycled share of U.S. supply 2024: 23.5 % e (2,000 of 8,500 t; MCS 2025)." or unknown."""
    if figure is None:
        return "Recycled share of U.S. supply: no figure recorded."
    edition = figure["source__edition"] or figure["source__key"]
    if figure["rate"] is None:
        return f"Recycled share of U.S. supply {figure['year']}: unknown ({figure['notes'] or edition})."
    estimate = " e" if figure["is_estimate"] else ""
    return (
        f"Recycled share of U.S. supply {figure['year']}: {figure['rate'] * 100:.1f} %{estimate} "
        f"({figure['secondary_quantity']:,.0f} of {figure['consumption_quantity']:,.0f} {figure['unit']}; "
        f"{edition}; {figure['basis']})."
    )


def _supply_risk_section(page: _MineralPage) -> None:
    """The EU-method supply risk, term by term."""
    metrics, destination, as_of, tables = page.metrics, page.destination, page.as_of, page.tables
    tables["supply_risk"] = build_table(
        id="supply_risk",
        caption=f"EU-method supply risk ({destination}, as of {as_of})",
        columns=(
            Column("stage", "Stage"),
            Column("year", "Year", "year"),
            Column("hhi_wgi_t_global", "HHI·WGI·t (global)", "risk"),
            Column("hhi_wgi_t_sourcing", "HHI·WGI·t (sourcing)", "risk"),
            Column("import_reliance", "Import reliance", "share", digits=0),
            Column("eol_rir", "EoL-RIR", "share", digits=0),
            Column("substitution_index", "Substitution index", "risk"),
            Column("supply_risk", "Supply risk", "risk"),
            Column("verdict", "≥ 1.0 (critical)"),
            Column("flags", "Flags"),
        ),
        records=[
            {
                **r,
                "stage": STAGE_LABELS.get(r["stage"], r["stage"]),
                "verdict": None if r["above_threshold"] is None else ("yes" if r["above_threshold"] else "no"),
                "flags": ", ".join(r["flags"]).replace("_", " ") or None,
            }
            for r in metrics["supply_risk"]
        ],
        decorate=lambda c, r: (
            {"attrs": share_attrs("supply_risk", f"{r['stage']}-{r['year']}", r["supply_risk"])}
            if c.key == "supply_risk"
            else {}
        ),
        note="SR = [HHI_WGI,t(global)·IR/2 + HHI_WGI,t(sourcing)·(1 - IR/2)] · (1 - EoL-RIR) · SI. "
        "HHI on a 0-1 scale times governance (WGI rescaled 0-10, 10 worst) times the trade factor t.",
    )


def _sources_section(page: _MineralPage) -> None:
    """Sources and editions behind every number of the page."""
    data, tables = page.data, page.tables
    tables["sources"] = build_table(
        id="sources",
        caption="Sources and editions",
        columns=(
            Column("publisher", "Publisher"),
            Column("title", "Title"),
            Column("edition", "Edition"),
            Column("licence", "Licence"),
            Column("key", "Key"),
        ),
        records=data["sources"],
        decorate=lambda c, r: {"href": r["url"]} if c.key == "title" and r["url"] else {},
    )


def _mineral_kpis(page: _MineralPage) -> list[dict[str, Any]]:
    """The headline figures: China's share, restricted share, net import reliance, supply risk."""
    metrics, head, head_stage, slug, as_of = page.metrics, page.head, page.head_stage, page.slug, page.as_of
    destination = page.destination
    latest_import = next(
        (r for r in sorted(metrics["imports"], key=lambda r: -r["year"]) if r["nir_published"] is not None),
        None,
    )
    risk_row = next(
        (r for r in metrics["supply_risk"] if head and r["stage"] == head["stage"] and r["year"] == head["year"]), None
    )
    nir_value = None
    nir_text = "\u2013"
    if latest_import:
        nir_value = latest_import["nir_published"]
        nir_text = share_text(
            nir_value, bound=latest_import["nir_published_bound"], estimate=_nir_estimate(latest_import), digits=0
        )
    kpis = [
        _kpi(
            f"China's share of {STAGE_LABELS.get(head_stage or '', '')} ({head['year']})" if head else "China's share",
            head["china_share"] if head else None,
            "china_share",
            slug,
            upper=head.get("china_share_upper") if head else None,
            estimate=bool(head and "CHN" in (head.get("estimated_countries") or [])),
        ),
        _kpi(
            f"Restricted share on {as_of}",
            head["restricted_supply_share"] if head else None,
            "restricted_supply_share",
            slug,
            css="warn",
        ),
        {
            "label": f"{destination} net import reliance" + (f" ({latest_import['year']})" if latest_import else ""),
            "value": nir_text,
            "attrs": share_attrs("nir", slug, nir_value),
        },
        {
            "label": "EU supply risk",
            "value": "\u2013" if not risk_row or risk_row["supply_risk"] is None else f"{risk_row['supply_risk']:.2f}",
            "attrs": share_attrs("supply_risk", slug, risk_row["supply_risk"] if risk_row else None),
        },
    ]
    return kpis


def _kpi(
    label: str,
    value: float | None,
    metric: str,
    key: str,
    css: str = "",
    upper: float | None = None,
    estimate: bool = False,
) -> dict[str, Any]:
    return {
        "label": label,
        "value": share_text(upper, bound="\u2264")
        if value is None and upper is not None
        else share_text(value, estimate=estimate),
        "attrs": share_attrs(metric, key, value),
        "css": css,
    }


def _supply_note(row: Mapping[str, Any]) -> str:
    notes = [f"World total: {row['world_total_source'].replace('_', ' ')}."]
    if row["withheld_countries"]:
        notes.append(f"Withheld (W; unknown, not zero): {', '.join(row['withheld_countries'])}.")
    if row.get("unpublished_countries"):
        notes.append(f"Not published (NA; unknown, not zero): {', '.join(row['unpublished_countries'])}.")
    if row.get("china_share_upper") is not None:
        notes.append(
            f"China is not listed: its share is unknown, at most the 'Other countries' "
            f"{share_text(row['china_share_upper'])}."
        )
    if row["residual_share"]:
        notes.append(f"'Other countries' row: {row['residual_share'] * 100:.1f} %.")
    if not row["complete"]:
        notes.append("Concentration figures are lower bounds.")
    return " ".join(notes)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# Policies


POLICY_COLUMNS = (
    Column("title", "Measure"),
    Column("issuer", "Issuer"),
    Column("type", "Type"),
    Column("minerals", "Minerals"),
    Column("targets", "Targets"),
    Column("effective_on", "Effective", "date"),
    Column("suspended", "Suspended"),
    Column("ended_on", "Ended", "date"),
    Column("status", "Status on date"),
    Column("severity", "Severity", "share", digits=0),
)
POLICY_SOURCE_COLUMNS = (Column("instrument", "Instrument"), Column("official_text", "Official text"))


def policy_table(
    measures: Sequence[Mapping[str, Any]],
    *,
    as_of: date,
    table_id: str = "measures",
    severities: Mapping[str, Mapping[str, Any]] | None = None,
    destination: str = "",
    with_official_text: bool = False,
) -> Table:
    records = []
    for m in measures:
        suspended = ""
        if m["suspended_from"] or m["suspended_until"]:
            suspended = f"{m['suspended_from'] or '…'} to {m['suspended_until'] or 'open'}"
        severity = m["severity"]
        if severities and m["key"] in severities:
            severity = severities[m["key"]]["severity"]
        records.append(
            {
                "key": m["key"],
                "title": m["title"],
                "issuer": m["issuer"],
                "type": m["measure_type_label"],
                "minerals": ", ".join(n for _, n in m["minerals"]) or None,
                "targets": ", ".join(m["targets"]) or "all",
                "effective_on": m["effective_on"],
                "suspended": suspended or None,
                "ended_on": m["ended_on"],
                "status": STATUS_LABELS[m["status"]],
                "status_key": m["status"],
                "severity": severity,
                "instrument": m["instrument"] or None,
                "official_text": m["source_url"] or "official text not linked",
                "source_url": m["source_url"],
            }
        )

    def decorate(column: Column, record: dict[str, Any]) -> dict[str, Any]:
        if column.key == "title":
            return {"href": reverse("dashboards:policy", args=[record["key"]])}
        if column.key == "official_text" and record["source_url"]:
            return {"href": record["source_url"], "text": "official text"}
        if column.key == "status":
            return {"css": f"status status-{record['status_key']}", "attrs": (("data-status", record["status_key"]),)}
        return {}

    return build_table(
        id=table_id,
        caption=f"Policy measures and their status on {as_of}",
        columns=POLICY_COLUMNS + (POLICY_SOURCE_COLUMNS if with_official_text else ()),
        records=records,
        decorate=decorate,
        empty="No measure matches.",
        note="Severity: expected share of the affected flow that is blocked (curators' value where set).",
    )


def policy(measure: Mapping[str, Any], *, as_of: date, today: date) -> dict[str, Any]:
    """One measure's page: its dates on one small timeline (none when it has no date)."""
    figure = figures.measure_timeline(
        measure, as_of=as_of, today=today, title=figures.title_text("Dates", note=measure["instrument"])
    )
    if figure is None:
        return {"charts": []}
    chart = _chart(
        "fig-measure-dates",
        figure,
        filename=f"lodestone-policy-{measure['key']}-dates",
        table="dates",
        label=f"Dates of {measure['title']}: announced, effective, suspended, ended.",
    )
    return {"charts": [chart]}


def policies(measures: Sequence[Mapping[str, Any]], *, as_of: date, today: date) -> dict[str, Any]:
    table = policy_table(measures, as_of=as_of, with_official_text=True)
    dated = [
        {**m, "label": _short(m["title"], TIMELINE_LABEL_CHARS)}
        for m in measures
        if m["effective_on"] or m["announced_on"]
    ]
    dated.sort(key=lambda m: (m["effective_on"] or m["announced_on"], m["key"]))
    chart = _chart(
        "fig-timeline",
        figures.policy_timeline(
            dated, as_of=as_of, today=today, title=figures.title_text("Policy timeline", note=f"{len(dated)} measures")
        ),
        filename="lodestone-policy-timeline",
        table="measures",
        label="Timeline of the listed policy measures.",
    )
    return {"tables": {"measures": table}, "charts": [chart]}


# --------------------------------------------------------------------------------------------
# Portfolio


def chain_flows(
    *,
    mineral: str,
    sourcing: Sequence[Mapping[str, Any]],
    requirement: float | None,
    facilities: Mapping[int, Mapping[str, Any]],
    links: Sequence[Mapping[str, Any]],
    buyer: str,
    names: Mapping[str, str],
    feoc: Sequence[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and links of the chain origin -> processing -> buyer for one mineral.

    Supply links are followed upstream with their shares multiplied; a processing facility's
    unlinked input is drawn from "<country>: inputs not mapped" (the risk engine's fallback),
    and a purchase from a country without a facility from "<country>: facility not recorded".
    """
    nodes: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    flows: dict[tuple[int, int], float] = defaultdict(float)

    def node(key: str, label: str, group: str) -> int:
        if key not in index:
            index[key] = len(nodes)
            nodes.append({"label": label, "group": group})
        return index[key]

    def facility_group(f: Mapping[str, Any]) -> str:
        if f["country"] == "CHN":
            return "china"
        if f["china_controlled"]:
            return "feoc"
        return country_group(f["country"], feoc)

    inputs: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for link in links:
        if link["mineral"] == mineral:
            inputs[link["downstream"]].append(link)

    def expand(facility_id: int, volume: float, target: int, path: frozenset[int]) -> None:
        f = facilities[facility_id]
        here = node(f"f{facility_id}", f"{f['name']} ({f['country']})", facility_group(f))
        flows[(here, target)] += volume
        linked = 0.0
        for link in inputs.get(facility_id, []):
            if link["upstream"] in path or link["upstream"] not in facilities:
                continue  # a cycle or an unknown facility: the risk engine reports those
            linked += link["share"]
            expand(link["upstream"], volume * link["share"], here, path | {facility_id})
        remainder = max(0.0, 1.0 - linked)
        if remainder > 1e-9 and f["stage"] not in ("mine", "recycling") and volume * remainder > 0:
            country = f["country"]
            origin = node(
                f"mix-{country}",
                f"{names.get(country, country)}: inputs not mapped",
                country_group(country, feoc),
            )
            flows[(origin, here)] += volume * remainder

    buyer_node = node("buyer", buyer, "buyer")
    for line in sourcing:
        if line["mineral"] != mineral:
            continue
        volume = line["annual_quantity"]
        if volume is None and line["share"] is not None and requirement is not None:
            volume = line["share"] * requirement
        if not volume:
            continue
        if line["facility_id"] in facilities:
            expand(line["facility_id"], volume, buyer_node, frozenset())
        else:
            country = line["country"]
            origin = node(
                f"country-{country}",
                f"{names.get(country, country)}: facility not recorded",
                country_group(country, feoc),
            )
            flows[(origin, buyer_node)] += volume
    link_list = [{"source": s, "target": t, "value": v} for (s, t), v in flows.items()]
    return nodes, link_list


EXPOSURE_COLUMNS = (
    Column("mineral_name", "Mineral"),
    Column("requirement_quantity", "Requirement / yr", "number"),
    Column("unit", "Unit"),
    Column("direct_china_share", "Direct China", "share"),
    Column("china_controlled_share", "China-controlled", "share"),
    Column("upstream_china_share", "China upstream", "share"),
    Column("restricted_share", "Restricted", "share"),
    Column("unaffected", "Unaffected", "share"),
    Column("unmapped_share", "Resting on fallbacks", "share"),
    Column("china_exposed_volume", "Exposed volume / yr", "number"),
    Column(
        "freshness",
        "Data vintage",
        help="Edition, data year of the production table the chain falls back on, e = estimates; "
        "the compute time on hover.",
    ),
)


def portfolio(data: Mapping[str, Any], *, sankey_mineral: str | None) -> dict[str, Any]:
    names = data["countries"]
    exposure = data["exposure"]
    mixes: Mapping[str, Mapping[str, Any] | None] = data["exposure_vintage"]
    mineral_names = {r["mineral"]: r["mineral_name"] for r in data["requirements"]}
    mineral_names.update({s["mineral"]: s["mineral_name"] for s in data["sourcing"]})
    records = []
    chart_rows = []
    for row in exposure:
        upstream = row["upstream_china_share"]
        controlled = row["china_controlled_share"]
        direct = row["direct_china_share"]
        unaffected = None if upstream is None else max(0.0, 1.0 - max(upstream, controlled or 0.0))
        label = mineral_names.get(row["mineral"], row["mineral"])
        age = exposure_vintage(row, mixes.get(row["mineral"]), published=data["published"], today=data["as_of"])
        records.append({**row, "mineral_name": label, "unaffected": unaffected, "vintage": age})
        if upstream is not None:
            chart_rows.append(
                {
                    "label": label,
                    "direct": direct or 0.0,
                    "controlled": max(0.0, (controlled or 0.0) - (direct or 0.0)),
                    "upstream": max(0.0, upstream - max(controlled or 0.0, direct or 0.0)),
                    "unaffected": unaffected,
                    "restricted": row["restricted_share"],
                }
            )

    def decorate(column: Column, record: dict[str, Any]) -> dict[str, Any]:
        key = record["mineral"]
        if column.key == "mineral_name":
            return {"href": reverse("dashboards:mineral", args=[key])}
        if column.key == "freshness":
            age = record["vintage"]
            return {
                "text": age["short"] + (" · newer data waiting" if record["stale"] else ""),
                "css": "old" if age["old"] or record["stale"] else "",
                "title": f"{age['text']} ({age['published_text']}). {age['warning']} "
                f"Exposure {computed_text(record['computed_at'], stale=record['stale'])}.",
            }
        if column.key in ("requirement_quantity", "china_exposed_volume"):
            return {"text": number_text(record[column.key], record["unit"])}
        if column.kind == "share":
            return {"attrs": share_attrs(column.key, key, record.get(column.key))}
        return {}

    computed = max((r["computed_at"] for r in exposure), default=None)
    stale = any(r["stale"] for r in exposure)
    table = build_table(
        id="exposure",
        caption=f"Exposure by mineral, as of {data['as_of']}",
        columns=EXPOSURE_COLUMNS,
        records=[{**r, "freshness": r["computed_at"]} for r in records],
        decorate=decorate,
        sortable=True,
        empty="No requirement or sourcing recorded yet: add them below or upload your supplier list.",
        note="China-controlled includes direct China; China upstream includes both (any stage of the chain). "
        "Restricted: expected share blocked by measures in force targeting your country, anywhere in the chain.",
    )
    editions = sorted({e for r in exposure for e in edition_names(r["sources"])})
    charts = [
        _chart(
            "fig-exposure",
            figures.exposure_bars(
                chart_rows,
                title=figures.title_text(
                    f"{data['organization']['name']}: exposure to China by mineral",
                    sources=editions,
                    computed=computed_text(computed, stale=stale),
                ),
            ),
            filename="lodestone-portfolio-exposure",
            table="exposure",
            label="Stacked bars of the portfolio's exposure to China per mineral, restricted share as a marker.",
        )
    ]
    held = [r["mineral"] for r in exposure]
    by_exposure = sorted(exposure, key=lambda r: -(r["china_exposed_volume"] or 0))
    selected = sankey_mineral if sankey_mineral in held else (by_exposure[0]["mineral"] if by_exposure else None)
    tables: dict[str, Table] = {"exposure": table}
    if selected:
        requirement = next((r for r in data["requirements"] if r["mineral"] == selected), None)
        unit = requirement["unit"] if requirement else next(r["unit"] for r in exposure if r["mineral"] == selected)
        nodes, links = chain_flows(
            mineral=selected,
            sourcing=data["sourcing"],
            requirement=requirement["annual_quantity"] if requirement else None,
            facilities=data["facilities"],
            links=data["links"],
            buyer=data["organization"]["name"],
            names=names,
            feoc=data["feoc"],
        )
        charts.append(
            _chart(
                "fig-sankey",
                figures.supply_chain_sankey(
                    nodes,
                    links,
                    unit=unit or "",
                    title=figures.title_text(
                        f"{mineral_names.get(selected, selected)}: from origin through processing to you",
                        note="vermillion = China, orange = China-controlled / other FEOC",
                    ),
                ),
                filename=f"lodestone-portfolio-chain-{selected}",
                table="chain",
                label="Sankey diagram of the supply chain from origin country through processing to the buyer.",
            )
        )
        tables["chain"] = build_table(
            id="chain",
            caption=f"Supply chain flows: {mineral_names.get(selected, selected)} ({unit}/yr)",
            columns=(Column("from", "From"), Column("to", "To"), Column("volume", f"Volume ({unit}/yr)", "number")),
            records=[
                {"from": nodes[lk["source"]]["label"], "to": nodes[lk["target"]]["label"], "volume": lk["value"]}
                for lk in links
            ],
        )
    tables["portfolio_measures"] = build_table(
        id="portfolio_measures",
        caption=f"Measures hitting the portfolio on {data['as_of']}",
        columns=(
            Column("key", "Measure"),
            Column("issuer", "Issuer"),
            Column("type", "Type"),
            Column("minerals", "Your minerals"),
            Column("targets", "Targets"),
            Column("severity", "Severity", "share", digits=0),
            Column("status", "Status"),
        ),
        records=[
            {
                **m,
                "type": m["measure_type"].replace("_", " "),
                "minerals": ", ".join(mineral_names.get(s, s) for s in m["minerals"]),
                "targets": ", ".join(m["targets"]) or "all",
                "status": STATUS_LABELS[m["status"]],
            }
            for m in data["measures"]
        ],
        decorate=lambda c, r: {"href": reverse("dashboards:policy", args=[r["key"]])} if c.key == "key" else {},
        empty="No measure in force hits the portfolio.",
    )
    alt_records = []
    for slug, ranked in data["alternatives"].items():
        for a in ranked[:5]:
            alt_records.append(
                {
                    **a,
                    "mineral": mineral_names.get(slug, slug),
                    "kind": a["kind"].replace("_", " "),
                    "country": names.get(a["country"], a["country"]),
                    "processing": "; ".join(p for p in (a["processing"], a["processing_where"]) if p),
                    "available": _available_text(a["available_from"], a["announced"]),
                    "why": _score_why(a),
                }
            )
    tables["alternatives"] = build_table(
        id="alternatives",
        caption="Ranked alternatives for the exposed volume (best 5 per mineral)",
        columns=(
            Column("mineral", "Mineral"),
            Column("rank", "Rank", "integer"),
            Column("name", "Source"),
            Column("kind", "Kind"),
            Column("country", "Country"),
            Column("status", "Status"),
            Column("stage", "Stage"),
            Column("processing", "Processing before use"),
            Column("available_capacity", "Available / yr", "number"),
            Column("unit", "Unit"),
            Column("governance", "Governance (0 best, 10 worst)", "risk"),
            Column("coverage_share", "Coverage of the gap (at most 100 %)", "share", digits=0),
            Column("gap_label", "Gap as a share of the source"),
            Column("available", "Can supply from"),
            Column("score", "Score (0..1)", "risk"),
            Column("why", "Score by factor"),
        ),
        records=alt_records,
        empty="No non-FEOC source with a published capacity.",
        note="Score = weighted sum of stage match, availability year, coverage of the gap, governance (WGI) and "
        "exposure to measures in force (weights in docs/metrics.md). A country's whole output is an upper bound of "
        "what could be contracted.",
    )
    tables.update(_lever_tables(data["levers"], mineral_names, names))
    tables["alternative_gaps"] = build_table(
        id="alternative_gaps",
        caption="The gap to fill, by mineral (in the mineral's canonical unit)",
        columns=(
            Column("mineral", "Mineral"),
            Column("stage", "Stage bought"),
            Column("exposed_volume", "China-exposed / yr", "number"),
            Column("uncovered_volume", "Not covered by any supplier / yr", "number"),
            Column("gap_volume", "Gap / yr", "number"),
            Column("unit", "Unit"),
        ),
        records=[{**g, "mineral": mineral_names.get(g["mineral"], g["mineral"])} for g in data["alternative_gaps"]],
        empty="No requirement with a computed exposure.",
    )
    tables["not_alternatives"] = build_table(
        id="not_alternatives",
        caption="Not an alternative: China or another FEOC in disguise",
        columns=(
            Column("mineral", "Mineral"),
            Column("name", "Source"),
            Column("country", "Country"),
            Column("reason", "Why not"),
        ),
        records=[
            {**x, "mineral": mineral_names.get(slug, slug), "country": names.get(x["country"], x["country"])}
            for slug, excluded in data["not_alternatives"].items()
            for x in excluded
        ],
        empty="No candidate source is tied to a FEOC.",
        note="Located in a FEOC country, controlled by a FEOC company (ownership chains at the configured "
        "threshold, or recorded control), or fed through supply links by such a facility.",
    )
    tables["requirements"] = build_table(
        id="requirements",
        caption="Requirements",
        columns=(
            Column("mineral_name", "Mineral"),
            Column("annual_quantity", "Annual quantity", "number"),
            Column("unit", "Unit"),
            Column("notes", "Notes"),
        ),
        records=data["requirements"],
        empty="No requirement recorded.",
    )
    tables["sourcing"] = build_table(
        id="sourcing",
        caption="Sourcing (your supplier list)",
        columns=(
            Column("mineral", "mineral"),
            Column("facility", "facility"),
            Column("country", "country"),
            Column("annual_quantity", "annual_quantity", "number"),
            Column("share", "share", "share"),
            Column("notes", "notes"),
        ),
        records=data["sourcing"],
        decorate=lambda c, r: {"title": r["facility_name"]} if c.key == "facility" and r["facility"] else {},
        empty="No sourcing recorded.",
        note="Same columns as the upload format: download as CSV, edit, upload back.",
    )
    top = by_exposure[0] if by_exposure else None
    total_restricted = [r for r in exposure if (r["restricted_share"] or 0) > 0]
    first_screen = portfolio_first_screen(data, mineral_names=mineral_names)
    first_screen["briefing_href"] = reverse("dashboards:portfolio_org_briefing", args=[data["organization"]["slug"]])
    return {
        "first_screen": first_screen,
        "vintage": combined_vintage(
            exposure,
            [mixes.get(r["mineral"]) for r in exposure],
            published=data["published"],
            today=data["as_of"],
        ),
        "computed": computed_text(computed, stale=stale),
        "tables": tables,
        "charts": charts,
        "held": [(slug, mineral_names.get(slug, slug)) for slug in held],
        "sankey_mineral": selected,
        "kpis": [
            {"label": "Minerals in portfolio", "value": str(len(exposure))},
            {
                "label": "Minerals with restricted supply",
                "value": str(len(total_restricted)),
                "css": "warn" if total_restricted else "",
            },
            {"label": "Measures hitting the portfolio", "value": str(len(data["measures"]))},
            {
                "label": "Most exposed (China upstream)",
                "value": f"{mineral_names.get(top['mineral'], top['mineral'])} "
                f"{top['upstream_china_share'] * 100:.0f} %"
                if top and top["upstream_china_share"] is not None
                else "\u2013",
            },
        ],
    }


def portfolio_first_screen(data: Mapping[str, Any], *, mineral_names: Mapping[str, str]) -> dict[str, Any]:
    """The portfolio's answer on one screen: the tonnes a year at risk (China-exposed, through any
    link of the chain), the tonnes restricted by measures in force, the tonnes no supplier covers,
    and per mineral the best alternative with the year it can supply. Volumes are summed in
    tonnes (each mineral's own unit converted); an unknown volume is left out and said so."""
    gaps = {g["mineral"]: g for g in data["alternative_gaps"]}
    rows = []
    at_risk = restricted = uncovered = 0.0
    unknown_uncovered: list[str] = []
    for row in data["exposure"]:
        slug = row["mineral"]
        gap = gaps.get(slug)
        per_t = gap["tonnes_per_unit"] if gap else (0.001 if row["unit"] == "kg" else 1.0)
        exposed = gap["exposed_volume"] if gap else row["china_exposed_volume"]
        blocked = row["restricted_share"] * row["total_volume"] if row["restricted_share"] is not None else None
        blocked_unit = row["unit"]
        uncovered_volume = gap["uncovered_volume"] if gap else None
        at_risk += (exposed or 0.0) * per_t
        restricted += (blocked or 0.0) * (0.001 if blocked_unit == "kg" else 1.0)
        if uncovered_volume is None:
            unknown_uncovered.append(mineral_names.get(slug, slug))
        else:
            uncovered += uncovered_volume * per_t
        best = (data["alternatives"].get(slug) or [None])[0]
        unit = gap["unit"] if gap else row["unit"]
        rows.append(
            {
                "slug": slug,
                "name": mineral_names.get(slug, slug),
                "href": reverse("dashboards:mineral", args=[slug]),
                "at_risk": number_text(exposed, unit),
                "restricted": number_text(blocked, blocked_unit),
                "uncovered": number_text(uncovered_volume, unit) if uncovered_volume is not None else "no requirement",
                "uncovered_value": uncovered_volume,
                "alternative": alternative_text(best, names=data["countries"])
                if best
                else "none found outside the FEOC",
                "year": _available_text(best["available_from"], best["announced"]) if best else "",
            }
        )
    rows.sort(key=lambda r: r["name"])
    return {
        "at_risk_t": at_risk,
        "at_risk": number_text(at_risk, "t"),
        "restricted": number_text(restricted, "t"),
        "uncovered": number_text(uncovered, "t"),
        "uncovered_minerals": [r["name"] for r in rows if r["uncovered_value"]],
        "unknown_uncovered": unknown_uncovered,
        "rows": rows,
        "plan_href": PLAN_PATH,
    }


# --------------------------------------------------------------------------------------------
# Briefings (one printable page) and the two-mineral comparison


def _briefing_charts(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The headline stage's production bars, the imports and the policy timeline, in that order."""
    wanted = [f"fig-production-{page['head_stage']}", "fig-imports", "fig-policy"]
    by_id = {c["id"]: c for c in page["charts"]}
    return [by_id[i] for i in wanted if i in by_id]


def _alternative_rows(replacement: Mapping[str, Any] | None, names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "rank": a["rank"],
            "text": alternative_text(a, names=names),
            "year": _available_text(a["available_from"], a["announced"]),
            "score": f"{a['score']:.2f}",
        }
        for a in ((replacement or {}).get("alternatives") or [])
    ]


def mineral_briefing(page: Mapping[str, Any]) -> dict[str, Any]:
    """A mineral page's content cut to one printable briefing (two A4 sheets at most)."""
    return {
        "mineral": page["mineral"],
        "as_of": page["as_of"],
        "glance": page["glance"],
        "restrictions": page["restrictions"],
        "vintage": page["vintage"],
        "freshness": page["freshness"],
        "kpis": page["kpis"],
        "charts": _briefing_charts(page),
        "alternatives": page["alternative_rows"],
        "replacement": page["replacement"],
        "policy": page["tables"]["policy"],
        "sources": page["tables"]["sources"],
    }


def comparison(pages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Two minerals' first screens, headline figures and production charts side by side; chart ids
    take the side's letter so both pages' charts live on one page."""
    sides = []
    for letter, page in zip("ab", pages, strict=False):
        charts = [
            {**c, "id": f"{letter}-{c['id']}", "filename": f"{c['filename']}-compare"}
            for c in page["charts"]
            if c["id"] == f"fig-production-{page['head_stage']}"
        ]
        sides.append(
            {
                "letter": letter,
                "mineral": page["mineral"],
                "glance": page["glance"],
                "vintage": page["vintage"],
                "kpis": page["kpis"],
                "charts": charts,
            }
        )
    rows = []
    if len(sides) == 2:
        a, b = sides
        rows = [
            {"label": "China's share (stage it dominates)", "a": _glance_china(a), "b": _glance_china(b)},
            {
                "label": "Restricted today",
                "a": a["glance"]["restricted"]["text"],
                "b": b["glance"]["restricted"]["text"],
            },
            {"label": "Best alternative", "a": _glance_alternative(a), "b": _glance_alternative(b)},
        ]
        rows += [
            {"label": ka["label"], "a": ka["value"], "b": kb["value"]}
            for ka, kb in zip(a["kpis"][2:], b["kpis"][2:], strict=False)
        ]
        rows.append({"label": "Data vintage", "a": a["vintage"]["text"], "b": b["vintage"]["text"]})
    return {"sides": sides, "rows": rows}


def _glance_china(side: Mapping[str, Any]) -> str:
    g = side["glance"]
    return f"{g['china']} of {g['stage']}" if g["stage"] else g["china"]


def _glance_alternative(side: Mapping[str, Any]) -> str:
    alternative = side["glance"]["alternative"]
    return f"{alternative['text']}, {alternative['year']}" if alternative["year"] else alternative["text"]


def portfolio_briefing(page: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The portfolio cut to one printable briefing: first screen, exposure chart and table, the
    measures hitting it, the data's vintage and the sources of the exposure figures (publisher,
    title, edition, publication date and address, as the mineral briefing lists them)."""
    keys = sorted({s["key"] for r in data["exposure"] for s in r["sources"]})
    return {
        "first_screen": page["first_screen"],
        "vintage": page["vintage"],
        "computed": page["computed"],
        "charts": [c for c in page["charts"] if c["id"] == "fig-exposure"],
        "exposure": page["tables"]["exposure"],
        "measures": page["tables"]["portfolio_measures"],
        "sources": [data["sources"][k] for k in keys if k in data["sources"]],
    }
