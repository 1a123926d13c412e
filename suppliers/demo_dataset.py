"""Load the project's curated demo dataset (demo/*.csv) through the services, idempotently.

The files are the team's own, written from public figures with a source per row (see
demo/SOURCES.md). Loading twice changes nothing: each row is upserted by its natural key and
unchanged rows are not written. The stale markers of everything that did change are bumped
in the same transaction, so the risk engine recomputes them once it commits.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from minerals import services as reference_services
from minerals.models import (
    CommodityCode,
    CommodityMineral,
    Country,
    CriticalMineralList,
    DataSource,
    Mineral,
    PolicyMeasure,
    ProductionRecord,
    RecyclingFigure,
    SalientStatistic,
    TradeFlow,
    WgiScore,
)
from minerals.services import ModelT, WriteResult, relation_set
from suppliers.models import (
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
from suppliers.services import (
    affected_mineral_ids,
    affected_organization_ids,
    membership_grant,
    organizations_mark_stale,
    record_related_saved,
)

DEMO_DIR = Path(settings.BASE_DIR) / "demo"

CRITICAL_LISTS = {
    "us_2022": ("us-2022", "U.S. critical minerals list 2022 (USGS)", "USA", date(2022, 2, 24)),
    "us_2025": ("us-2025", "U.S. critical minerals list 2025 (USGS)", "USA", None),
    "eu_2023": ("eu-2023", "EU critical raw materials 2023 (Regulation (EU) 2024/1252, Annex II)", None, None),
}


class DemoDataError(ValueError):
    """A demo file row that cannot be loaded; the message names the file, line, column and value."""


@dataclass
class LoadReport:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, model: type, result: WriteResult) -> None:
        self.counts[f"{model.__name__}.{result.value}"] += 1

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, n in sorted(self.counts.items()):
            model, result = key.split(".")
            out.setdefault(model, {})[result] = n
        return out

    @property
    def changed(self) -> int:
        return sum(n for key, n in self.counts.items() if not key.endswith(".unchanged"))


def _rows(directory: Path, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    path = directory / name
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            yield line, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _bool(value: str) -> bool:
    return value.lower() == "true"


def _float(value: str) -> float | None:
    return float(value.replace(",", "")) if value else None


def _date(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


class _Loader:
    def __init__(self, directory: Path, report: LoadReport) -> None:
        self.directory = directory
        self.report = report
        self.countries: set[str] = set()
        self.minerals: dict[str, Mineral] = {}
        self.sources: dict[str, DataSource] = {}
        self.codes: dict[str, CommodityCode] = {}
        self.companies: dict[str, Company] = {}
        self.facilities: dict[str, Facility] = {}
        self.measures: dict[str, PolicyMeasure] = {}
        self.organizations: dict[str, Organization] = {}
        # Buyers whose portfolio rows changed: marked stale once, after the last row, so the
        # load recomputes each organization once (not once per requirement or sourcing row).
        self.stale_organizations: set[int] = set()
        self.where = "demo/"

    def upsert(self, model: type[ModelT], lookup: dict[str, Any], values: dict[str, Any]) -> ModelT:
        try:
            # suppliers.services.record_upsert minus its per-row organization marker (see above);
            # the minerals' markers are already announced once per transaction.
            # The constraints are left to the database (record_save): a row breaking one is
            # refused there, and named below like a field error.
            instance, result = reference_services.record_upsert(
                model=model, lookup=lookup, values=values, scope=affected_mineral_ids, validate_constraints=False
            )
        except ValidationError as exc:
            raise DemoDataError(
                f"{self.where}: {exc.message_dict if hasattr(exc, 'error_dict') else exc.messages}"
            ) from exc
        except IntegrityError as exc:
            raise DemoDataError(f"{self.where}: breaks a constraint of {model.__name__}: {exc}") from exc
        self.report.add(model, result)
        if result is not WriteResult.UNCHANGED:
            self.stale_organizations |= affected_organization_ids(instance)
        return instance

    def each(self, name: str) -> Iterator[dict[str, str]]:
        for line, row in _rows(self.directory, name):
            self.where = f"demo/{name} line {line}"
            yield row

    def lookup(self, table: dict[str, Any], key: str, what: str, name: str, row: dict[str, str]) -> Any:
        try:
            return table[key]
        except KeyError:
            raise DemoDataError(f"{self.where}: unknown {what} {key!r}") from None

    def country(self, iso3: str, name: str, row: dict[str, str]) -> str | None:
        if not iso3:
            return None
        if iso3 not in self.countries:
            raise DemoDataError(f"{self.where}: unknown country {iso3!r}")
        return iso3

    def load(self) -> None:
        feoc = set(settings.LODESTONE_FEOC_COUNTRIES)
        for row in self.each("countries.csv"):
            self.upsert(
                Country,
                {"iso3": row["iso3"]},
                {
                    "iso2": row["iso2"],
                    "m49": int(row["m49"]) if row["m49"] else None,
                    "name": row["name"],
                    "region": row["region"],
                    "subregion": row["subregion"],
                    "is_feoc": row["iso3"] in feoc,
                },
            )
            self.countries.add(row["iso3"])

        for row in self.each("sources.csv"):
            self.sources[row["key"]] = self.upsert(
                DataSource,
                {"key": row["key"]},
                {
                    "publisher": row["publisher"],
                    "title": row["title"],
                    "edition": row["edition"],
                    "published_on": _date(row["published_on"]),
                    "url": row["url"],
                    "licence": row["licence"],
                    "retrieved_on": _date(row["retrieved_on"]),
                    "notes": row["notes"],
                },
            )

        lists = {
            column: self.upsert(
                CriticalMineralList,
                {"key": key},
                {"name": title, "issuer_id": issuer, "published_on": published},
            )
            for column, (key, title, issuer, published) in CRITICAL_LISTS.items()
        }
        for row in self.each("minerals.csv"):
            mineral = self.upsert(
                Mineral,
                {"slug": row["slug"]},
                {
                    "name": row["name"],
                    "symbol": row["symbol"],
                    "usgs_name": row["usgs_name"],
                    "canonical_unit": row["canonical_unit"],
                    "notes": row["notes"],
                },
            )
            relation_set(
                instance=mineral, field="critical_lists", values=[lst for col, lst in lists.items() if _bool(row[col])]
            )
            self.minerals[row["slug"]] = mineral

        for row in self.each("commodity_codes.csv"):
            code = self.upsert(
                CommodityCode,
                {"hs6": row["hs6"]},
                {"description": row["description"], "is_basket": _bool(row["is_basket"]), "note": row["note"]},
            )
            self.codes[row["hs6"]] = code
            if row["mineral"]:
                mineral = self.lookup(self.minerals, row["mineral"], "mineral", "commodity_codes.csv", row)
                self.upsert(
                    CommodityMineral,
                    {"commodity_code": code, "mineral": mineral, "stage": row["stage"]},
                    {"quantity_basis": row["quantity_basis"]},
                )

        self.load_production()
        self.load_trade_flows()
        self.load_salient()
        self.load_wgi()
        self.load_recycling()
        self.load_policies()
        self.load_suppliers()

    def load_production(self) -> None:
        name = "production.csv"
        for row in self.each(name):
            kind = {"WORLD": "world_total", "OTHER": "other"}.get(row["country"], "country")
            lookup = {
                "mineral": self.lookup(self.minerals, row["mineral"], "mineral", name, row),
                "stage": row["stage"],
                "row_kind": kind,
                "country_id": self.country(row["country"], name, row) if kind == "country" else None,
                "year": int(row["year"]),
                "source": self.lookup(self.sources, row["source"], "source", name, row),
            }
            self.upsert(
                ProductionRecord,
                lookup,
                {
                    "quantity": _float(row["quantity"]),
                    "unit": row["unit"],
                    "is_estimate": _bool(row["is_estimate"]),
                    "is_withheld": _bool(row["is_withheld"]),
                    "bound": row["bound"],
                    "notes": row["notes"][:300],
                },
            )

    def load_trade_flows(self) -> None:
        """U.S.-reported imports from China and from the World total (a total, not a partner)."""
        name = "trade_flows.csv"
        if not (self.directory / name).exists():
            return
        for row in self.each(name):
            self.upsert(
                TradeFlow,
                {
                    "year": int(row["year"]),
                    "exporter_id": self.country(row["exporter"], name, row),
                    "importer_id": self.country(row["importer"], name, row),
                    "commodity_code": self.lookup(self.codes, row["hs6"], "HS code", name, row),
                    "basis": row["basis"],
                    "source": self.lookup(self.sources, row["source"], "source", name, row),
                },
                {"value_usd": float(row["value_usd"]), "quantity_kg": _float(row["quantity_kg"])},
            )

    def load_salient(self) -> None:
        name = "salient.csv"
        if not (self.directory / name).exists():
            return
        for row in self.each(name):
            self.upsert(
                SalientStatistic,
                {
                    "mineral": self.lookup(self.minerals, row["mineral"], "mineral", name, row),
                    "country_id": self.country(row["country"], name, row),
                    "year": int(row["year"]),
                    "statistic": row["statistic"],
                    "source": self.lookup(self.sources, row["source"], "source", name, row),
                },
                {
                    "value": _float(row["value"]),
                    "unit": row["unit"],
                    "bound": row["bound"],
                    "is_estimate": _bool(row["is_estimate"]),
                    "is_withheld": _bool(row["is_withheld"]),
                    "notes": row["notes"][:300],
                },
            )

    def load_recycling(self) -> None:
        """Recycled shares of supply as published (demo/recycling.csv): the rate is computed only
        from the two published quantities; a missing one (NA, withheld) leaves it unknown."""
        name = "recycling.csv"
        if not (self.directory / name).exists():
            return
        for row in self.each(name):
            secondary, consumption = _float(row["secondary_quantity"]), _float(row["consumption_quantity"])
            self.upsert(
                RecyclingFigure,
                {
                    "mineral": self.lookup(self.minerals, row["mineral"], "mineral", name, row),
                    "country_id": self.country(row["country"], name, row),
                    "year": int(row["year"]),
                    "source": self.lookup(self.sources, row["source"], "source", name, row),
                },
                {
                    "rate": secondary / consumption if secondary is not None and consumption else None,
                    "secondary_quantity": secondary,
                    "consumption_quantity": consumption,
                    "unit": row["unit"],
                    "basis": row["basis"][:300],
                    "is_estimate": _bool(row["is_estimate"]),
                    "notes": row["notes"],
                },
            )

    def load_wgi(self) -> None:
        name = "wgi.csv"
        if not (self.directory / name).exists():
            return
        columns = dict(zip(["va", "pv", "ge", "rq", "rl", "cc"], WgiScore.DIMENSIONS, strict=True))
        for row in self.each(name):
            self.upsert(
                WgiScore,
                {"country_id": self.country(row["iso3"], name, row), "year": int(row["year"])},
                {
                    **{field_name: _float(row[col]) for col, field_name in columns.items()},
                    "source": self.lookup(self.sources, row["source"], "source", name, row),
                },
            )

    def load_policies(self) -> None:
        name = "policies.csv"
        for row in self.each(name):
            self.measures[row["key"]] = measure = self.upsert(
                PolicyMeasure,
                {"key": row["key"]},
                {
                    "issuer_id": self.country(row["issuer"], name, row),
                    "measure_type": row["measure_type"],
                    "title": row["title"][:300],
                    "announced_on": _date(row["announced_on"]),
                    "effective_on": _date(row["effective_on"]),
                    "suspended_from": _date(row["suspended_from"]),
                    "suspended_until": _date(row["suspended_until"]),
                    "ended_on": _date(row["ended_on"]),
                    "instrument": row["instrument"][:200],
                    "summary": row["summary"],
                    "curator_notes": row["curator_notes"],
                    "source_url": row["source_url"],
                    "severity_override": _float(row["severity_override"]),
                    "is_partly_confirmed": _bool(row["is_partly_confirmed"]),
                },
            )
            minerals = [self.lookup(self.minerals, s, "mineral", name, row) for s in row["minerals"].split(";") if s]
            targets = [self.country(t, name, row) for t in row["targets"].split(";") if t]
            codes = [c for c in row["hs_codes"].split(";") if c]
            changed = relation_set(instance=measure, field="minerals", values=minerals)
            changed |= relation_set(instance=measure, field="targets", values=targets)
            changed |= relation_set(
                instance=measure, field="commodity_codes", values=CommodityCode.objects.filter(hs6__in=codes)
            )
            if changed:
                record_related_saved(instance=measure)

    def load_suppliers(self) -> None:
        for row in self.each("companies.csv"):
            self.companies[row["name"]] = self.upsert(
                Company,
                {"name": row["name"]},
                {
                    "hq_country_id": self.country(row["hq_country"], "companies.csv", row),
                    "is_fictional": _bool(row["is_fictional"]),
                    "source_url": row["source_url"],
                    "notes": row["notes"],
                },
            )
        for row in self.each("ownership.csv"):
            self.upsert(
                OwnershipStake,
                {
                    "owner": self.lookup(self.companies, row["owner"], "company", "ownership.csv", row),
                    "owned": self.lookup(self.companies, row["owned"], "company", "ownership.csv", row),
                },
                {"percent": float(row["percent"]), "source_url": row["source_url"], "notes": row["notes"]},
            )
        name = "facilities.csv"
        for row in self.each(name):
            self.facilities[row["key"]] = self.upsert(
                Facility,
                {"key": row["key"]},
                {
                    "company": self.lookup(self.companies, row["company"], "company", name, row),
                    "name": row["name"],
                    "country_id": self.country(row["country"], name, row),
                    "mineral": self.lookup(self.minerals, row["mineral"], "mineral", name, row),
                    "stage": row["stage"],
                    "capacity": _float(row["capacity"]),
                    "capacity_unit": _unit(row["capacity_unit"]),
                    "capacity_basis": row["capacity_unit"]
                    if _unit(row["capacity_unit"]) != row["capacity_unit"]
                    else "",
                    "status": row["status"],
                    "start_year": int(row["start_year"]) if row["start_year"] else None,
                    "latitude": _float(row["latitude"]),
                    "longitude": _float(row["longitude"]),
                    "source_url": row["source_url"],
                    "source": self.lookup(self.sources, row["source"], "source", name, row)
                    if row.get("source")
                    else None,
                    "notes": row["notes"],
                    "is_fictional": _bool(row["is_fictional"]),
                },
            )
        for row in self.each("supply_links.csv"):
            self.upsert(
                SupplyLink,
                {
                    "upstream": self.lookup(self.facilities, row["upstream"], "facility", "supply_links.csv", row),
                    "downstream": self.lookup(self.facilities, row["downstream"], "facility", "supply_links.csv", row),
                    "mineral": self.lookup(self.minerals, row["mineral"], "mineral", "supply_links.csv", row),
                },
                {"share": float(row["share"]), "notes": row["notes"]},
            )
        name = "federal_support.csv"
        for row in self.each(name) if (self.directory / name).exists() else ():
            facility = self.lookup(self.facilities, row["facility"], "facility", name, row) if row["facility"] else None
            self.upsert(
                FederalSupport,
                {
                    "company": self.lookup(self.companies, row["company"], "company", name, row),
                    "facility": facility,
                    "program": row["program"],
                },
                {
                    "summary": row["summary"][:300],
                    "amount_usd": _float(row["amount_usd"]),
                    "announced_on": _date(row["announced_on"]),
                    "announced_period": row["announced_period"],
                    "policy_measure": self.lookup(self.measures, row["policy_measure"], "measure", name, row)
                    if row["policy_measure"]
                    else None,
                    "source": self.lookup(self.sources, row["source"], "source", name, row) if row["source"] else None,
                    "source_url": row["source_url"],
                    "notes": row["notes"],
                },
            )
        for row in self.each("organizations.csv"):
            self.organizations[row["name"]] = self.upsert(
                Organization,
                {"name": row["name"]},
                {
                    "slug": slugify(row["name"]),
                    "country_id": self.country(row["country"], "organizations.csv", row),
                    "is_fictional": _bool(row["is_fictional"]),
                    "notes": row["notes"],
                },
            )
        name = "requirements.csv"
        for row in self.each(name):
            self.upsert(
                Requirement,
                {
                    "organization": self.lookup(self.organizations, row["organization"], "organization", name, row),
                    "mineral": self.lookup(self.minerals, row["mineral"], "mineral", name, row),
                },
                {"annual_quantity": float(row["annual_quantity"]), "unit": row["unit"], "notes": row["notes"]},
            )
        name = "sourcing.csv"
        for row in self.each(name):
            facility = self.lookup(self.facilities, row["facility"], "facility", name, row) if row["facility"] else None
            self.upsert(
                Sourcing,
                {
                    "organization": self.lookup(self.organizations, row["organization"], "organization", name, row),
                    "mineral": self.lookup(self.minerals, row["mineral"], "mineral", name, row),
                    "facility": facility,
                    "country_id": self.country(row["country"], name, row),
                },
                {"annual_quantity": _float(row["annual_quantity"]), "notes": row["notes"]},
            )
        self.load_plans()

    def load_plans(self) -> None:
        """The fictional buyer's example transition plan (a plan is the buyer's own intention, so
        its shares are no public figure; the plan is labelled an example)."""
        name = "plans.csv"
        if not (self.directory / name).exists():
            return
        plans: dict[tuple[str, str], TransitionPlan] = {}
        for row in self.each(name):
            organization = self.lookup(self.organizations, row["organization"], "organization", name, row)
            key = (row["organization"], row["plan"])
            if key not in plans:
                plans[key] = self.upsert(
                    TransitionPlan,
                    {"organization": organization, "name": row["plan"]},
                    {"status": row["status"], "is_example": True},
                )
            to_facility = None
            if row["to_facility"]:
                to_facility = self.lookup(self.facilities, row["to_facility"], "facility", name, row)
            self.upsert(
                PlanStep,
                {
                    "plan": plans[key],
                    "mineral": self.lookup(self.minerals, row["mineral"], "mineral", name, row),
                    "from_facility": self.lookup(self.facilities, row["from_facility"], "facility", name, row)
                    if row["from_facility"]
                    else None,
                    "from_country_id": self.country(row["from_country"], name, row),
                    "from_year": int(row["from_year"]),
                    "target": row["target"],
                    "to_facility": to_facility,
                    "to_country_id": self.country(row["to_country"], name, row),
                },
                {"share": _float(row["share"]), "quantity": _float(row["quantity"]), "notes": row["notes"]},
            )


def _unit(text: str) -> str:
    """Facilities state capacity in tonnes or kilograms of something ('t REO/yr'): keep the unit."""
    head = text.split()[0].split("/")[0] if text else ""
    return head if head in {"t", "kg"} else ("t" if text else "")


@transaction.atomic
def demo_dataset_load(*, directory: Path = DEMO_DIR) -> LoadReport:
    """Load every demo file in one transaction: all of it, or (on any error) nothing."""
    report = LoadReport()
    loader = _Loader(directory, report)
    try:
        loader.load()
    except (KeyError, ValueError) as exc:
        if isinstance(exc, DemoDataError):
            raise
        raise DemoDataError(f"{loader.where}: {exc!r}") from exc
    organizations_mark_stale(organization_ids=loader.stale_organizations)
    return report


DEMO_USERNAME = "demo"
DEMO_PASSWORD = "lodestone-demo"  # noqa: S105 - printed by `make run`; created only for the embedded default
CURATOR_USERNAME = "curator"


@transaction.atomic
def demo_logins_create(*, organization_name: str = "Demo Buyer Inc.") -> list[tuple[str, str, str]]:
    """The demo buyer's login and a curator login, for the embedded default only."""
    user_model = get_user_model()
    organization = Organization.objects.get(name=organization_name)
    created = []
    buyer, _ = user_model.objects.get_or_create(username=DEMO_USERNAME)
    buyer.set_password(DEMO_PASSWORD)
    buyer.save()
    membership_grant(user=buyer, organization=organization, role=Membership.Role.ANALYST)
    created.append((DEMO_USERNAME, DEMO_PASSWORD, f"buyer at {organization.name}"))
    curator, _ = user_model.objects.get_or_create(
        username=CURATOR_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    curator.is_staff = curator.is_superuser = True
    curator.set_password(DEMO_PASSWORD)
    curator.save()
    created.append((CURATOR_USERNAME, DEMO_PASSWORD, "curator (admin)"))
    return created
