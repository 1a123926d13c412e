"""Spreadsheet formula injection ("CSV injection", OWASP): one rule for every CSV/XLSX written.

Excel, LibreOffice and Google Sheets run a cell that starts with = + - @ (or a tab or carriage
return in front of one) as a formula, so a supplier named `-2+3+cmd|' /C calc'!A0` or
`@SUM(...)` would run on a buyer's machine. Such text is written with a leading apostrophe,
which makes it plain text. Numbers are not text: `-2.5` (a number, or the text of one, as a
CSV export writes it) stays a number; `-2+3` is not a number and is neutralised.

Used by the admin exports (import-export formats), the dashboard downloads, the API's CSV and
XLSX renderers and the import rejects reports.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number, as str(float) / str(Decimal) / a CSV export write it (1e-05 too).
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """The value, or for text that a spreadsheet would run as a formula, the text behind an apostrophe.

    Anything that is not text (numbers, dates, None) is returned unchanged.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value
