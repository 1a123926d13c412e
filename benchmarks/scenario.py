"""Scenario benchmark (not a test): a scenario over 1,000 organizations x 12 minerals, beside the
same-run bound of a baseline recompute of their exposure.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestone .venv/bin/python benchmarks/scenario.py [--scale 1]

Loads the recompute benchmark's synthetic data (benchmarks/recompute.py `load`: 200 countries,
12 minerals, about 2 million trade flows at scale 1, 10,000 facilities, 1,000 buyers with 3
minerals each) into its own database (`lodestone_bench_scenario`, dropped and re-created), adds
Chinese export measures on every mineral (a licence in force, a U.S. ban suspended until the
middle of the window), computes the metrics once, then times, three times interleaved:

* the bound: `organizations_exposure_recompute` (every buyer's exposure, read and computed and
  written: what a data change costs today);
* the scenario: `scenario_compute` of a scenario with every kind of shock (every suspension
  lapses, licences approved at 50 %, the largest non-Chinese producer of each mineral lost, a
  facility delayed by two years) over a two-year window, for every buyer (a built-in scenario's
  scope), baseline and scenario both, and for the buyers with an active transition plan (every
  10th organization, `--plan-every`) both again with the plan applied.

Prints the medians and their ratio (goal: the scenario within 2x of the bound, under 5 s).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.recompute import bench_url, create_database, load, timed  # noqa: E402

BENCH_DB = "lodestone_bench_scenario"


def add_measures() -> None:
    from minerals.models import Mineral, PolicyMeasure

    for mineral in Mineral.objects.order_by("id"):
        licence = PolicyMeasure.objects.create(
            key=f"bench-licence-{mineral.pk}", issuer_id="CHN", measure_type="export_licence",
            title="bench licence", effective_on=date(2023, 8, 1),
        )  # fmt: skip
        ban = PolicyMeasure.objects.create(
            key=f"bench-ban-{mineral.pk}", issuer_id="CHN", measure_type="export_ban", title="bench ban",
            effective_on=date(2024, 12, 3), suspended_from=date(2025, 11, 9), suspended_until=date(2026, 11, 27),
        )  # fmt: skip
        licence.minerals.add(mineral)
        ban.minerals.add(mineral)
        ban.targets.add("USA")


def add_plans(every: int) -> int:
    """An active transition plan for every ``every``-th organization: per mineral it holds, 25 % of
    the requirement moves from its Chinese country line to its first facility from 2027 (so its
    results are computed with and without the plan). Returns the number of plans."""
    from suppliers.models import PlanStep, Sourcing, TransitionPlan

    lines: dict[tuple[int, int], dict[str, object]] = {}
    for org_id, mineral_id, facility_id, country_id in Sourcing.objects.order_by("id").values_list(
        "organization_id", "mineral_id", "facility_id", "country_id"
    ):
        pair = lines.setdefault((org_id, mineral_id), {})
        if facility_id is None and country_id == "CHN":
            pair["china"] = True
        elif facility_id is not None:
            pair.setdefault("facility", facility_id)
    chosen = sorted({org for org, _ in lines})[::every]
    plans = TransitionPlan.objects.bulk_create(
        TransitionPlan(organization_id=org, name="bench plan", status="active") for org in chosen
    )
    plan_of = {plan.organization_id: plan.pk for plan in plans}
    PlanStep.objects.bulk_create(
        PlanStep(
            plan_id=plan_of[org], mineral_id=mineral, from_country_id="CHN", share=0.25,
            target=PlanStep.Target.FACILITY, to_facility_id=pair["facility"], from_year=2027,
        )
        for (org, mineral), pair in sorted(lines.items())
        if org in plan_of and pair.get("china") and "facility" in pair
    )  # fmt: skip
    return len(plans)


def scenario() -> object:
    from scenarios import services
    from suppliers.models import Facility

    facility = Facility.objects.filter(status="operating").order_by("id").first()
    data = services.ScenarioData(
        name="bench: every kind of shock",
        as_of=date(2026, 1, 1),
        window_start=date(2026, 1, 1),
        window_end=date(2027, 12, 31),
        licence_approval_rate=0.5,
        policy=[services.PolicyShockData(kind="lapse")],
        supply=[
            services.SupplyShockData(kind="country_output", cut_percent=100.0),
            services.SupplyShockData(
                kind="facility_delay", facility_id=facility.pk if facility else None, delay_years=2
            ),
        ],
        demand=[],
    )
    return services.scenario_save(data=data, organization=None, key="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="As benchmarks/recompute.py (1,000 buyers from 0.1).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--plan-every", type=int, default=10, help="An active transition plan for every n-th organization (0: none)."
    )
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lodestone")
    admin_url, url = bench_url(url, BENCH_DB)
    create_database(admin_url, BENCH_DB)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["LOG_LEVEL"] = "WARNING"

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load(options.scale, random.Random(options.seed))
    from dashboards import services
    from minerals import services as reference
    from minerals.models import Mineral
    from scenarios.services import scenario_compute
    from suppliers.models import Organization, Requirement

    reference.minerals_changed.receivers = []  # time the services, no signal-driven recompute
    add_measures()
    started = time.perf_counter()
    services.minerals_metrics_recompute(mineral_ids=list(Mineral.objects.values_list("id", flat=True)), force=True)
    print(f"{'metrics computed once (setup)':<58} {time.perf_counter() - started:8.3f} s")
    chosen = scenario()
    plans = add_plans(options.plan_every) if options.plan_every > 0 else 0
    print(
        f"{Organization.objects.count():,} organizations, {Requirement.objects.count():,} requirements, "
        f"{Mineral.objects.count()} minerals, {plans} active transition plans"
    )
    bounds, runs = [], []
    result = None
    for _ in range(3):
        t_bound, _rows = timed(
            "bound: baseline exposure recompute, all organizations", services.organizations_exposure_recompute
        )
        t_run, result = timed("scenario: baseline + scenario, all organizations", scenario_compute, chosen)
        bounds.append(t_bound)
        runs.append(t_run)
    assert result is not None
    print(f"{'  buyers with a result':<58} {len(result.buyers):,}")
    print(f"{'  median scenario / median bound':<58} {median(runs):8.3f} / {median(bounds):.3f} s")
    print(f"{'  ratio scenario / bound (medians)':<58} {median(runs) / median(bounds):8.2f} x")


if __name__ == "__main__":
    main()
