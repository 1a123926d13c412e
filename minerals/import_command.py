"""The shared body of the import_* management commands: thin, everything happens in minerals.imports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minerals.imports import IMPORTERS, ImportFailed, ImportOptions, import_file

# Files smaller than this finish before a progress bar is worth drawing.
PROGRESS_BAR_BYTES = 5 * 1024 * 1024


class ImportCommand(BaseCommand):
    """``importer`` names the entry of minerals.imports.IMPORTERS; its help and file endings come from there."""

    importer = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = IMPORTERS[self.importer].description
        self.extensions = IMPORTERS[self.importer].extensions

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="Files (or folders of files).")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="Import the valid rows; write the rejected ones to a report."
        )
        parser.add_argument("--force", action="store_true", help="Reload even a file already imported (same SHA-256).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def files(self, paths: list[str]) -> list[Path]:
        found: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                found += sorted(p for p in path.iterdir() if p.suffix.lower() in self.extensions and p.is_file())
            elif path.is_file():
                found.append(path)
            else:
                raise CommandError(f"{raw}: no such file or folder")
        if not found:
            raise CommandError(f"no {'/'.join(self.extensions)} file in {', '.join(paths)}")
        return found

    def options_from(self, options: dict[str, Any]) -> ImportOptions:
        return ImportOptions(dry_run=options["dry_run"], skip_invalid=options["skip_invalid"], force=options["force"])

    def handle(self, *args: Any, **options: Any) -> None:
        import_options = self.options_from(options)
        files = self.files(options["paths"])
        if len(files) > 1 and not (import_options.dry_run or import_options.skip_invalid):
            # All or nothing across files too: validate every file (a dry run each) before writing any.
            failed = [
                path.name for path in files if not self._run(path, replace(import_options, dry_run=True), options)
            ]
            if failed:
                raise CommandError(f"import failed: {', '.join(failed)} (nothing written for any file)")
        for path in files:
            if not self._run(path, import_options, options):
                raise CommandError(f"import failed: {path.name} (nothing written for that file)")

    def _run(self, path: Path, import_options: ImportOptions, options: dict[str, Any]) -> bool:
        """Import (or validate) one file, print its summary and errors; False when it failed."""
        try:
            outcome = import_file(
                importer=self.importer, path=path, options=import_options, progress=self._progress_bar(path, options)
            )
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        finally:
            self._close_bar()
        for line in outcome.summary_lines():
            self.stdout.write(line)
        if outcome.error_count:
            self.stderr.write(f"{outcome.error_count:,} error(s); the first {len(outcome.errors)}:")
            for message in outcome.errors:
                self.stderr.write(f"  {message}")
        return not outcome.failed

    _bar: Any = None

    def _progress_bar(self, path: Path, options: dict[str, Any]) -> Any:
        if options["no_progress"] or path.stat().st_size < PROGRESS_BAR_BYTES:
            return None
        from tqdm import tqdm

        self._bar = tqdm(total=100, desc=path.name, unit="%", leave=False)

        def update(fraction: float) -> None:
            self._bar.n = int(fraction * 100)
            self._bar.refresh()

        return update

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
