from typing import Any

from django.core.management.base import CommandParser

from minerals.import_command import ImportCommand
from minerals.imports import ImportOptions


class Command(ImportCommand):
    importer = "wgi"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--release", default="", help="Release year (default: the last year of data + 1).")

    def options_from(self, options: dict[str, Any]) -> ImportOptions:
        base = super().options_from(options)
        base.release = options["release"]
        return base
