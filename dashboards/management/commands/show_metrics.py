import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboards import selectors
from minerals.models import Mineral, Stage
from suppliers.models import Organization


class Command(BaseCommand):
    help = "Print a mineral's stored metrics (and optionally a buyer's exposure), with freshness."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mineral", required=True, help="Mineral slug, e.g. gallium.")
        parser.add_argument("--year", type=int)
        parser.add_argument("--stage", choices=[Stage.MINE, Stage.REFINERY, Stage.RECYCLING, Stage.COMPONENT])
        parser.add_argument("--destination", help="ISO3 of the importing country (default: the default destination).")
        parser.add_argument("--as-of", type=date.fromisoformat, help="Date of the policy status (default: today).")
        parser.add_argument("--organization", help="Also print this buyer's exposure (organization slug).")
        parser.add_argument(
            "--edition",
            help="Source key of an edition, e.g. usgs-mcs-2024: that edition's production figures and published "
            "NIR (trade figures too when it is a trade source) "
            "(default: the newest edition by publication date).",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the report as JSON (the API's body); default: readable text."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mineral = Mineral.objects.select_related("metrics_state").get(slug=options["mineral"])
        except Mineral.DoesNotExist:
            raise CommandError(f"unknown mineral {options['mineral']!r}") from None
        try:
            report = selectors.mineral_metrics(
                mineral=mineral,
                stage=options["stage"],
                year=options["year"],
                destination=(options["destination"] or "").upper() or None,
                as_of=options["as_of"],
                edition=options["edition"],
            )
        except selectors.UnknownEdition as error:
            raise CommandError(str(error)) from None
        if options["organization"]:
            try:
                organization = Organization.objects.get(slug=options["organization"])
            except Organization.DoesNotExist:
                raise CommandError(f"unknown organization {options['organization']!r}") from None
            rows = selectors.organization_exposure(organization=organization)
            report["exposure"] = [row for row in rows if row["mineral"] == mineral.slug]
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            self.stdout.write("\n".join(text_lines(report)))


def text_lines(report: dict[str, Any]) -> list[str]:
    """The same report for a person: scalars first, then one section per list, a row per line."""
    lines = [f"{name}: {_text(value)}" for name, value in report.items() if not isinstance(value, list | dict)]
    for name, value in report.items():
        if isinstance(value, dict):
            lines += ["", f"{name}:"] + [f"  {key}: {_text(item)}" for key, item in value.items()]
        elif isinstance(value, list):
            lines += ["", f"{name} ({len(value)}):"]
            lines += [
                "  " + ", ".join(f"{key}={_text(item)}" for key, item in row.items())
                if isinstance(row, dict)
                else f"  {_text(row)}"
                for row in value
            ]
    return lines


def _text(value: Any) -> str:
    if value is None:
        return "-"  # missing input: shown as such, never as 0
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)
