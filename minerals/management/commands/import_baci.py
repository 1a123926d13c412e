from typing import Any

from django.core.management.base import CommandParser

from minerals.import_command import ImportCommand
from minerals.imports import ImportOptions


class Command(ImportCommand):
    importer = "baci"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--countries", required=True, help="BACI country_codes_V202X.csv of the same release.")
        parser.add_argument(
            "--all-codes", action="store_true", help="Every HS code (default: only codes mapped to a mineral)."
        )

    def options_from(self, options: dict[str, Any]) -> ImportOptions:
        base = super().options_from(options)
        base.countries = str(options["countries"])
        base.all_codes = options["all_codes"]
        return base
