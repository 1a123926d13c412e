"""What a parser reports besides records: problems (ParseError) and counted skips (ImportStats)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ParseError:
    """One problem in one input file, located as a spreadsheet user would find it.

    ``line`` is the 1-based physical line (the header is line 1; for XLSX the sheet row), or None
    for a problem with the whole file. ``column`` is the header text as written in the file.
    """

    file: str
    line: int | None
    column: str | None
    value: str
    expected: str
    problem: str = "is not valid"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column:
            where += f", column {self.column}"
        shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
        subject = f"{shown!r} " if self.value != "" else ""
        return f"{where}: {subject}{self.problem} (expected {self.expected})"


class ParseFailed(Exception):
    """Raised by :func:`raise_first_error` for callers that want exceptions instead of values."""

    def __init__(self, error: ParseError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class ImportStats:
    """Counts kept while parsing: rows read, records and errors yielded, rows skipped by reason."""

    rows: int = 0
    records: int = 0
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    # Set when the whole file is out of scope (capacity only, a non-mass unit): the reason is shown
    # in the import summary instead of "imported".
    file_skipped: str = ""

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def skip_file(self, reason: str) -> None:
        self.file_skipped = reason


def raise_first_error(results):  # type: ignore[no-untyped-def]
    """Pass records through, raise ParseFailed at the first ParseError (for strict callers and scripts)."""
    for item in results:
        if isinstance(item, ParseError):
            raise ParseFailed(item)
        yield item
