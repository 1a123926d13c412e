from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from dashboards import services, tasks
from minerals.models import Mineral

# Minerals per batch with --sync: the batch shares its reads and runs one branch per mineral on
# the parallel workers, so a few at a time beat one by one; bounded so the progress bar moves and
# one transaction does not hold many minerals' gates for long.
SYNC_BATCH = 6


class Command(BaseCommand):
    help = "Recompute the risk metrics: stale minerals by default, or --mineral / --all; --sync runs here."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mineral", action="append", default=[], metavar="SLUG", help="Repeatable.")
        parser.add_argument("--all", action="store_true", help="Every mineral, current or not (rewrites the rows).")
        parser.add_argument("--sync", action="store_true", help="Compute in this process instead of enqueuing tasks.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["mineral"]:
            found = dict(Mineral.objects.filter(slug__in=options["mineral"]).values_list("slug", "id"))
            missing = sorted(set(options["mineral"]) - set(found))
            if missing:
                raise CommandError(f"unknown mineral(s): {', '.join(missing)}")
            ids = sorted(found.values())
        elif options["all"]:
            ids = list(Mineral.objects.values_list("id", flat=True).order_by("id"))
        else:
            ids = services.stale_mineral_ids()
        force = bool(options["all"] or options["mineral"])

        if not options["sync"]:
            sent = tasks.recompute_minerals_enqueue(ids)
            organizations = tasks.recompute_organizations_enqueue(services.stale_organization_ids())
            self.stdout.write(f"Enqueued {sent} mineral recompute(s) and {organizations} organization recompute(s).")
            return

        written = 0
        with tqdm(total=len(ids), unit="mineral", disable=None) as progress:
            for start in range(0, len(ids), SYNC_BATCH):
                results = services.minerals_metrics_recompute(mineral_ids=ids[start : start + SYNC_BATCH], force=force)
                written += sum(r.written for r in results)
                rows = sum(r.supply_rows + r.import_rows for r in results)
                progress.set_postfix_str(f"{rows} rows")
                progress.update(len(results))
        stale_organizations = services.stale_organization_ids()
        if stale_organizations:
            services.organizations_exposure_recompute(organization_ids=stale_organizations)
        self.stdout.write(
            self.style.SUCCESS(
                f"Recomputed {written} of {len(ids)} mineral(s); {len(stale_organizations)} buyer(s) refreshed."
            )
        )
