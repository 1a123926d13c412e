from dataclasses import replace
from datetime import date
from typing import Any

from django.core.management.base import CommandError, CommandParser

from minerals.import_command import ImportCommand
from minerals.imports import ImportOptions


class Command(ImportCommand):
    importer = "usgs_mcs"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--published-on",
            default="",
            help="Publication date (YYYY-MM-DD) of an MCS edition whose date Lodestone does not know: "
            "editions are ranked by it, so an undated edition is refused.",
        )

    def options_from(self, options: dict[str, Any]) -> ImportOptions:
        published_on = options["published_on"]
        if published_on:
            try:
                date.fromisoformat(published_on)
            except ValueError:
                raise CommandError(f"--published-on {published_on!r}: expected a date YYYY-MM-DD") from None
        return replace(super().options_from(options), published_on=published_on)
