"""An XLSX file is checked from its zip directory before openpyxl opens it.

An XLSX is a zip of XML parts. openpyxl's read-only mode streams the worksheets, but it reads the
shared strings and the styles whole, and a small zip can hold gigabytes of XML (a "zip bomb":
1.8 MB reached 1.78 GB inside a web request, issue 16 probing 4). The sizes in the zip directory
are binding (Python's zipfile never inflates a member beyond its declared size), so checking
them first bounds both the memory and the time of the parse. Limits are per caller
(docs/data-sources.md, "Limits").
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

# Parts openpyxl loads whole even in read-only mode.
_LOADED_WHOLE = ("xl/sharedstrings.xml", "xl/styles.xml", "xl/workbook.xml")


class WorkbookTooLarge(ValueError):
    """The workbook would expand beyond the caller's limits."""


def check_xlsx_sizes(source: str | Path | IO[bytes], *, max_total: int, max_part: int) -> None:
    """Raise WorkbookTooLarge when the uncompressed parts exceed ``max_total`` bytes together, or
    a part openpyxl loads whole exceeds ``max_part``; ValueError when it is not a zip at all."""
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"not an .xlsx workbook (zip): {error}") from None
    finally:
        if hasattr(source, "seek"):
            source.seek(0)
    total = sum(m.file_size for m in members)
    if total > max_total:
        raise WorkbookTooLarge(
            f"expands to {total:,} bytes of XML (at most {max_total:,}): "
            "save a smaller workbook or export the sheet as CSV"
        )
    for member in members:
        if member.filename.lower() in _LOADED_WHOLE and member.file_size > max_part:
            raise WorkbookTooLarge(
                f"its part {member.filename} expands to {member.file_size:,} bytes (at most {max_part:,})"
            )
