"""Streaming CSV reading shared by the format modules.

* Reads bytes line by line with a hard cap on the line length (:data:`MAX_LINE_BYTES`), so a
  file with one absurdly long line is reported, not loaded into memory. The same cap holds for a
  whole record: a quoted cell may span lines, but a record longer than MAX_LINE_BYTES in total
  is reported (at the line where it starts) and reading stops.
* Decodes each line as UTF-8 (a leading BOM is dropped, CRLF is fine); bytes that are not UTF-8
  give one ParseError naming the line and the byte offset in the file, then reading stops.
* csv errors (e.g. a field over the :data:`MAX_FIELD_CHARS` limit) become ParseErrors.
* A text stream passed by the caller is read as is (no byte cap, no byte offsets): prefer paths
  or binary files.
* Yields ``(line_number, cells)`` where line_number is the physical line on which the record
  starts (header = 1), or a :class:`ParseError` (always the last item when reading had to stop).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import ParseError

MAX_LINE_BYTES = 1_000_000
MAX_FIELD_CHARS = 1_000_000

# Process-wide (the csv module has one limit); 1 MB is above any legitimate cell in these formats.
csv.field_size_limit(MAX_FIELD_CHARS)

Source = str | os.PathLike | IO[bytes] | IO[str]
CsvItem = tuple[int, list[str]] | ParseError


def source_name(source: Source) -> str:
    """The file name shown in messages (base name only)."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else "<stream>"


class Decoding:
    """How lines are decoded: UTF-8, and optionally a per-line fallback (e.g. ``cp1252``).

    A parser may set ``fallback`` after reading the header (the header decides the layout, the
    layout decides whether a fallback is legitimate); ``fallback_lines`` counts its use.
    """

    __slots__ = ("error", "fallback", "fallback_lines", "record_bytes", "record_line")

    def __init__(self, fallback: str | None = None) -> None:
        self.error: ParseError | None = None
        self.fallback = fallback
        self.fallback_lines = 0
        self.record_bytes = 0  # bytes of the record being read (reset by read_csv after each record)
        self.record_line = 0


_LineState = Decoding


def _binary_lines(fh: IO[bytes], name: str, state: _LineState) -> Iterator[str]:
    offset = 0
    lineno = 0
    readline = fh.readline
    limit = MAX_LINE_BYTES + 1
    while True:
        raw = readline(limit)
        if not raw:
            return
        lineno += 1
        if state.record_bytes == 0:
            state.record_line = lineno
        state.record_bytes += len(raw)
        if len(raw) <= MAX_LINE_BYTES < state.record_bytes:
            state.error = ParseError(
                name,
                state.record_line,
                None,
                raw[:40].decode("utf-8", "replace"),
                f"records shorter than {MAX_LINE_BYTES:,} bytes",
                f"starts a record (a quoted cell spanning lines) longer than {MAX_LINE_BYTES:,} bytes; reading stopped",
            )
            return
        if len(raw) > MAX_LINE_BYTES:
            state.error = ParseError(
                name,
                lineno,
                None,
                raw[:40].decode("utf-8", "replace"),
                f"lines shorter than {MAX_LINE_BYTES:,} bytes",
                f"starts a line longer than {MAX_LINE_BYTES:,} bytes; reading stopped",
            )
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if state.fallback:
                try:
                    text = raw.decode(state.fallback)
                except UnicodeDecodeError:
                    pass
                else:
                    state.fallback_lines += 1
                    offset += len(raw)
                    yield text
                    continue
            bad = raw[exc.start : exc.start + 4]
            state.error = ParseError(
                name,
                lineno,
                None,
                bad.hex(" "),
                "UTF-8 text (re-save the file as UTF-8)",
                f"(bytes, hex) at byte offset {offset + exc.start} are not valid UTF-8; reading stopped",
            )
            return
        if lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]
        offset += len(raw)
        yield text


def _text_lines(fh: IO[str]) -> Iterator[str]:
    first = True
    for text in fh:
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        yield text


def read_csv(source: Source, *, delimiter: str = ",", decoding: Decoding | None = None) -> Iterator[CsvItem]:
    """Yield ``(start_line, cells)`` per CSV record, or a ParseError (then stop)."""
    name = source_name(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            fh: IO = open(source, "rb")  # noqa: SIM115 - closed in finally
        except OSError as exc:
            yield ParseError(name, None, None, str(source), "a readable file", f"cannot be opened: {exc.strerror}")
            return
        owned = True
    else:
        fh = source
        owned = False
    state = decoding if decoding is not None else Decoding()
    try:
        if isinstance(fh, io.TextIOBase):
            lines: Iterator[str] = _text_lines(fh)  # type: ignore[arg-type]
        else:
            lines = _binary_lines(fh, name, state)  # type: ignore[arg-type]
        reader = csv.reader(lines, delimiter=delimiter)
        previous = 0
        try:
            for cells in reader:
                if state.error is not None:
                    break  # the lines stopped mid-record: what the reader made of them is not a record
                start = previous + 1
                previous = reader.line_num
                state.record_bytes = 0  # the reader has consumed exactly this record's lines
                yield start, cells
        except csv.Error as exc:
            if state.error is None:
                yield ParseError(name, reader.line_num, None, "", "well-formed CSV", f"is not valid CSV: {exc}")
                return
        except UnicodeDecodeError as exc:  # text streams opened by the caller
            yield ParseError(name, reader.line_num + 1, None, "", "UTF-8 text", f"is not valid UTF-8: {exc.reason}")
            return
        if state.error is not None:
            yield state.error
    finally:
        if owned:
            fh.close()


def normalize_header(cell: str) -> str:
    """Header cell for matching: lower case, no spaces (``'PROD_EST_ 2024'`` -> ``'prod_est_2024'``)."""
    return "".join(cell.split()).lower()


def clean_text(value: str) -> str:
    """Cell text with non-breaking spaces made plain, runs of white space collapsed, ends stripped."""
    if not value:
        return ""
    return " ".join(value.replace("\xa0", " ").split())


def is_blank_row(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)
