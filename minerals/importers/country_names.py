"""Country names and codes -> ISO 3166 alpha-3, exactly (never fuzzily).

``resolve_country(name)`` tries, on the name with white space normalised:

1. exact, case-insensitive pycountry names (name, official_name, common_name), upper-case
   alpha-3 and alpha-2 codes, and the committed alias table ``country_aliases.csv`` (USGS, Comtrade
   and World Bank spellings);
2. only if that fails: one trailing footnote letter glued to the name in USGS 2024 files
   (``Japane``, ``Korea, Republic ofe``) is dropped when the remainder resolves by step 1. The
   letters are limited to USGS footnote markers (:data:`FOOTNOTE_LETTERS`: ``e`` estimated, ``r``
   revised), so demonyms such as ``Indian`` or ``Dominican`` never turn into countries.

pycountry's ``search_fuzzy`` is never used: it maps "Hong Kong SAR" to China.
Aggregates (World, Other countries, Areas nes) resolve to None: use :func:`is_aggregate_name`.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pycountry

ALIASES_CSV = Path(__file__).with_name("country_aliases.csv")
FOOTNOTE_LETTERS = frozenset("er")


class UnknownCountryCode(LookupError):
    """A numeric or WGI country code that is neither in pycountry nor in the alias table."""


def _key(name: str) -> str:
    text = name.replace("\xa0", " ").replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split()).casefold()


@cache
def _alias_rows() -> tuple[tuple[str, str, str], ...]:
    with ALIASES_CSV.open(encoding="utf-8", newline="") as fh:
        return tuple((row["kind"], row["key"], row["iso3"]) for row in csv.DictReader(fh))


@cache
def _name_table() -> tuple[dict[str, str], frozenset[str]]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names[_key(value)] = country.alpha_3
    aggregates = set()
    for kind, key, iso3 in _alias_rows():
        if kind != "name":
            continue
        if iso3:
            names[_key(key)] = iso3
        else:
            aggregates.add(_key(key))
            names.pop(_key(key), None)
    return names, frozenset(aggregates)


@cache
def _codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.countries) | {"XKX"}


def _exact(name: str) -> str | None:
    text = " ".join(name.replace("\xa0", " ").split())
    if not text:
        return None
    if len(text) == 3 and text.isupper() and text in _codes():
        return text
    if len(text) == 2 and text.isupper():
        country = pycountry.countries.get(alpha_2=text)
        return country.alpha_3 if country else None
    return _name_table()[0].get(_key(text))


def resolve_country(name: str | None) -> str | None:
    """ISO3 for a country name or code as publishers write it; None if unknown or an aggregate."""
    if not name:
        return None
    found = _exact(name)
    if found:
        return found
    text = " ".join(name.replace("\xa0", " ").split())
    if len(text) > 4 and text[-1] in FOOTNOTE_LETTERS and not text[-2].isspace():
        return _exact(text[:-1])
    return None


def footnote_letter(name: str | None) -> str:
    """The USGS footnote letter glued to a name that :func:`resolve_country` dropped (``Japane`` ->
    ``'e'``, estimated; ``'r'``, revised); ``''`` when the name resolves as written or not at all."""
    if not name or _exact(name):
        return ""
    text = " ".join(name.replace("\xa0", " ").split())
    if len(text) > 4 and text[-1] in FOOTNOTE_LETTERS and not text[-2].isspace() and _exact(text[:-1]):
        return text[-1]
    return ""


def is_aggregate_name(name: str) -> bool:
    """True for names the alias table lists as aggregates (World, Areas nes, Other countries, ...)."""
    return _key(name) in _name_table()[1]


@cache
def _m49_specials() -> dict[int, str]:
    return {int(key): iso3 for kind, key, iso3 in _alias_rows() if kind == "m49"}


def is_aggregate_m49(code: int | str) -> bool:
    """True for Comtrade/M49 codes that are not one country (0 World, 899 Areas nes, 97 EU, ...)."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        return False
    return _m49_specials().get(number, "x") == ""


def m49_to_iso3(code: int | str) -> str | None:
    """ISO3 for a UN M49 / Comtrade / BACI numeric code; None for aggregates.

    Raises UnknownCountryCode for a code that is neither an ISO numeric code nor in the alias table.
    """
    try:
        number = int(str(code).strip())
    except ValueError as exc:
        raise UnknownCountryCode(f"{code!r} is not a numeric country code") from exc
    specials = _m49_specials()
    if number in specials:
        return specials[number] or None
    country = pycountry.countries.get(numeric=f"{number:03d}")
    if country is None:
        raise UnknownCountryCode(f"{number} is not an ISO 3166 numeric code nor a known Comtrade code")
    return country.alpha_3


@cache
def _wgi_codes() -> dict[str, str]:
    return {key: iso3 for kind, key, iso3 in _alias_rows() if kind == "wgi_code"}


def wgi_code_to_iso3(code: str) -> str:
    """ISO3 for a World Bank WGI economy code (``ADO`` -> ``AND``, ``ZAR`` -> ``COD``, ``KSV`` -> ``XKX``)."""
    text = code.strip().upper()
    special = _wgi_codes().get(text)
    if special:
        return special
    if text in _codes():
        return text
    raise UnknownCountryCode(f"{code!r} is not an ISO 3166 alpha-3 code nor a known WGI code")
