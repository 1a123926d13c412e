"""CEPII BACI bilateral trade (yearly CSV ``t,i,j,k,v,q``) and its country-code table.

``v`` is in thousand US dollars and ``q`` in metric tons: records carry ``value_usd`` (x1000) and
``quantity_kg`` (x1000; None when ``q`` is ``NA`` or blank). BACI has one row per exporter,
importer and HS6 product, millions of rows a year, so the per-row path is kept lean: records are
NamedTuples and an optional ``hs_codes`` filter is applied on the raw text before any conversion.
Values and quantities must be finite, 0 or more and at most 1e15 once converted (USD, kg): ``nan``,
``inf`` or ``1e306`` is an error naming the cell.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import NamedTuple

import pycountry

from .country_names import UnknownCountryCode, m49_to_iso3
from .csv_source import Source, normalize_header, read_csv, source_name
from .errors import ImportStats, ParseError
from .numbers import MAX_AMOUNT, NumberRangeError, bounded_float

BACI_HEADER = ["t", "i", "j", "k", "v", "q"]
CODES_HEADER = ("country_code", "country_name", "country_iso3")


class BaciFlow(NamedTuple):
    year: int
    exporter_iso3: str
    importer_iso3: str
    hs6: str
    value_usd: float
    quantity_kg: float | None
    line: int


def load_baci_country_codes(source: Source) -> dict[int, str | None]:
    """BACI ``country_codes_V202X.csv`` -> {code: ISO3 or None for non-country areas}.

    The file's ``country_iso3`` is used when it is a real ISO 3166 code; otherwise (``S19`` for
    "Other Asia, nes", ``N/A``) the numeric code goes through :func:`m49_to_iso3` (490 -> TWN).
    Raises ValueError (with the ParseError text) on a malformed file.
    """
    name = source_name(source)
    table: dict[int, str | None] = {}
    rows = read_csv(source)
    header = None
    for item in rows:
        if isinstance(item, ParseError):
            raise ValueError(str(item))
        line, cells = item
        if header is None:
            header = [normalize_header(c) for c in cells]
            if not all(k in header for k in CODES_HEADER):
                raise ValueError(
                    str(
                        ParseError(
                            name,
                            1,
                            None,
                            ",".join(cells),
                            ",".join(CODES_HEADER) + ",...",
                            "is not a BACI country-code header",
                        )
                    )
                )
            i_code, i_iso3 = header.index("country_code"), header.index("country_iso3")
            continue
        if not any(c.strip() for c in cells):
            continue
        try:
            code = int(cells[i_code])
        except (ValueError, IndexError):
            raise ValueError(
                str(
                    ParseError(
                        name, line, "country_code", cells[i_code] if cells else "", "an integer", "is not a code"
                    )
                )
            ) from None
        iso3 = cells[i_iso3].strip().upper() if len(cells) > i_iso3 else ""
        if pycountry.countries.get(alpha_3=iso3) is not None and iso3:
            table[code] = iso3
        else:
            try:
                table[code] = m49_to_iso3(code)
            except UnknownCountryCode:
                table[code] = None
    return table


def parse_baci(
    source: Source,
    country_codes: Mapping[int, str | None],
    *,
    hs_codes: Collection[str] | None = None,
    stats: ImportStats | None = None,
) -> Iterator[BaciFlow | ParseError]:
    """Stream BACI rows as :class:`BaciFlow`; rows with a non-country exporter/importer are skipped."""
    stats = stats if stats is not None else ImportStats()
    name = source_name(source)
    wanted = frozenset(h.zfill(6) for h in hs_codes) if hs_codes is not None else None
    rows = read_csv(source)
    first = next(rows, None)
    if first is None or isinstance(first, ParseError):
        stats.errors += 1
        yield first or ParseError(name, None, None, "", "the header t,i,j,k,v,q", "is empty")
        return
    header = [normalize_header(c) for c in first[1]]
    if header != BACI_HEADER:
        stats.errors += 1
        yield ParseError(name, 1, None, ",".join(first[1]), "the header t,i,j,k,v,q", "is not a BACI header")
        return
    codes: dict[str, str | None] = {}  # raw text -> iso3, cached
    skipped_area = 0
    filtered = 0
    n = 0
    for item in rows:
        if isinstance(item, ParseError):
            stats.errors += 1
            yield item
            break
        line, cells = item
        n += 1
        try:
            t, i, j, k, v, q = cells
        except ValueError:
            if not any(c.strip() for c in cells):
                stats.skip("blank row")
                continue
            stats.errors += 1
            yield ParseError(
                name, line, None, ",".join(cells)[:60], "6 fields t,i,j,k,v,q",
                f"row has {len(cells)} fields (is the file truncated?)",
            )  # fmt: skip
            continue
        k = k.strip()
        if len(k) < 6:
            k = k.zfill(6)
        if wanted is not None and k not in wanted:
            filtered += 1
            continue
        exporter = codes.get(i, "?")
        if exporter == "?":
            exporter = codes[i] = _lookup(i, country_codes)
        importer = codes.get(j, "?")
        if importer == "?":
            importer = codes[j] = _lookup(j, country_codes)
        if exporter is None or importer is None:
            bad, col = (i, "i") if exporter is None else (j, "j")
            if _known(bad, country_codes):
                skipped_area += 1
                continue
            stats.errors += 1
            yield ParseError(
                name, line, col, bad, "a code listed in the BACI country-code file", "is not a known country code"
            )
            continue
        try:
            value = float(v) * 1000.0
            year = int(t)
        except ValueError:
            stats.errors += 1
            col, raw = ("v", v) if not _is_number(v) else ("t", t)
            yield ParseError(name, line, col, raw, "a number", "is not a number")
            continue
        if not 0.0 <= value <= MAX_AMOUNT:  # also False for NaN
            stats.errors += 1
            yield ParseError(name, line, "v", v, _RANGE_V, "is not a finite number in range")
            continue
        if q in ("", "NA") or q.strip() in ("", "NA"):
            quantity = None
        else:
            try:
                quantity = bounded_float(float(q) * 1000.0)
            except NumberRangeError:
                stats.errors += 1
                yield ParseError(name, line, "q", q, _RANGE_Q, "is not a finite number in range")
                continue
            except ValueError:
                stats.errors += 1
                yield ParseError(name, line, "q", q, "a number of metric tons, NA or empty", "is not a number")
                continue
        yield BaciFlow(year, exporter, importer, k, value, quantity, line)
    stats.rows += n
    stats.records += n - filtered - skipped_area
    if filtered:
        stats.skip("HS code not selected", filtered)
    if skipped_area:
        stats.skip("exporter or importer is not a country", skipped_area)


_RANGE_V = f"a finite number of thousand US dollars from 0 to {MAX_AMOUNT / 1000:g}"
_RANGE_Q = f"a finite number of metric tons from 0 to {MAX_AMOUNT / 1000:g}, NA or empty"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _lookup(text: str, country_codes: Mapping[int, str | None]) -> str | None:
    try:
        return country_codes.get(int(text))
    except ValueError:
        return None


def _known(text: str, country_codes: Mapping[int, str | None]) -> bool:
    try:
        return int(text) in country_codes
    except ValueError:
        return False


__all__ = ["BaciFlow", "load_baci_country_codes", "parse_baci"]
