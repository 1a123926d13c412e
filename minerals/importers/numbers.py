"""Numeric cells as USGS writes them.

Accepted (after stripping spaces and non-breaking spaces):

* numbers, with or without thousands separators: ``72000``, ``"72,000"``, ``8.5``, ``\u221288`` (U+2212 minus)
* ``W``: withheld to avoid disclosing company proprietary data -> value None, is_withheld
* ``NA`` / ``na`` / ``N/A``: not available -> value None, is_not_available
* ``XX`` / ``--``: not applicable -> value None, is_not_available
* ``E``: net exporter (only where ``allow_net_exporter``, i.e. net import reliance) -> value None
* bounds ``>50``, ``<25``, ``<100,000`` -> value = the number, bound ``'>'`` / ``'<'``
* ``Less than 1/2 unit.`` -> value 0.5, bound ``'<'``; ``Less than 50,000 tons`` -> 50000, ``'<'``
* known phrases (``Included in World total.``, ``Included with Other countries``, ``Small``,
  ``Large``, ``Moderate``, ``Variable, ...``) and ranges (``50\u2013300``, en dash) -> value None, note = the text

Anything else raises :class:`NumberFormatError` (the parsers turn it into a ParseError).
An empty cell returns None from :func:`parse_usgs_number`: the caller decides what absence means.

Every number any importer reads goes through :func:`to_float` or :func:`bounded_float`: it must be
finite (``nan``, ``inf``, ``1e999`` are refused) and within a documented range, by default
0..:data:`MAX_AMOUNT` (docs/data-sources.md, "Limits"). The database backs the same ranges with
CHECK constraints (minerals migration 0006).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

EXPECTED_NUMBER = "a number, W, NA, or a bound such as >50"

# Largest amount stored: US dollars of one trade flow, kilograms or metric tons of one figure.
# World merchandise trade is about 2.4e13 USD a year and world iron-ore output about 2.5e12 kg,
# so 1e15 is far above any real figure and far below where float sums overflow.
MAX_AMOUNT = 1e15

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_NUMBER_RE = re.compile(rf"-?(?:{_NUMBER})")
_BOUND_RE = re.compile(rf"([<>])\s*(-?(?:{_NUMBER}))")
_LESS_THAN_RE = re.compile(rf"less than (1/2|½|{_NUMBER})(?:\s+[a-z ]+)?\.?", re.IGNORECASE)
_RANGE_RE = re.compile(rf"(?:{_NUMBER})\s*[\u2013\u2014-]\s*(?:{_NUMBER})")
_NOT_AVAILABLE = {"na", "n/a", "n.a.", "xx", "--", "—", "-"}
_KNOWN_PHRASES = re.compile(
    r"(included (in|with) .+|small|very small|large|moderate|moderate to large|variable(,.*)?|negligible)\.?",
    re.IGNORECASE,
)


class NumberFormatError(ValueError):
    """A cell that is none of the accepted forms."""


@dataclass(frozen=True, slots=True)
class UsgsNumber:
    value: float | None
    bound: str = ""  # '', '>' or '<'
    is_withheld: bool = False
    is_not_available: bool = False
    is_net_exporter: bool = False
    note: str = ""


class NumberRangeError(NumberFormatError):
    """A number that is not finite or lies outside the range the caller allows."""


def bounded_float(text: str | float, *, low: float = 0.0, high: float = MAX_AMOUNT) -> float:
    """A finite number in ``[low, high]`` from a cell or a parsed value.

    ``'72,000'`` -> 72000.0; ``'\u221288'`` -> -88.0. Raises NumberFormatError when the text is not a
    number, NumberRangeError (a subclass) when it is NaN, infinite or outside the range.
    """
    if isinstance(text, bool):
        raise NumberFormatError("a number")
    if isinstance(text, (int, float)):
        number = float(text)
    else:
        try:
            number = float(text.replace("\u2212", "-").replace(",", ""))
        except (ValueError, OverflowError):
            raise NumberFormatError("a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise NumberRangeError(f"a finite number from {low:g} to {high:g}")
    return number


def to_float(text: str | float) -> float:
    """``'72,000'`` -> 72000.0; ``'\u221288'`` -> -88.0. Finite and at most MAX_AMOUNT in size.

    Raises NumberFormatError (a ValueError)."""
    return bounded_float(text, low=-MAX_AMOUNT, high=MAX_AMOUNT)


def parse_usgs_number(raw: str | None, *, allow_net_exporter: bool = False) -> UsgsNumber | None:
    """Parse one USGS numeric cell; None for an empty cell; NumberFormatError if unrecognised."""
    if raw is None:
        return None
    text = " ".join(str(raw).replace("\xa0", " ").split())
    if not text:
        return None
    plain = text.replace("\u2212", "-")
    if _NUMBER_RE.fullmatch(plain):
        return UsgsNumber(to_float(plain))
    if text == "W":
        return UsgsNumber(None, is_withheld=True)
    if text.lower() in _NOT_AVAILABLE:
        return UsgsNumber(None, is_not_available=True)
    if text == "E" and allow_net_exporter:
        return UsgsNumber(None, is_net_exporter=True, note="net exporter")
    match = _BOUND_RE.fullmatch(plain)
    if match:
        return UsgsNumber(to_float(match.group(2)), bound=match.group(1))
    match = _LESS_THAN_RE.fullmatch(text)
    if match:
        number = match.group(1)
        value = 0.5 if number in ("1/2", "½") else to_float(number)
        return UsgsNumber(value, bound="<", note=text)
    if _RANGE_RE.fullmatch(text) or _KNOWN_PHRASES.fullmatch(text):
        return UsgsNumber(None, note=text)
    expected = EXPECTED_NUMBER + (", or E for net exporter" if allow_net_exporter else "")
    raise NumberFormatError(expected)
