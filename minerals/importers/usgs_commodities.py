"""USGS commodity names -> Lodestone mineral slugs; USGS ``Type`` text -> stage; units -> canonical.

Slugs are derived deterministically (:func:`derive_slug`: lower case, ``&`` -> ``and``, anything
else that is not a letter or digit -> ``-``), then corrected by two small explicit tables:

* :data:`IRREGULAR_SLUGS` for names whose derived slug would split one mineral in two or carry a
  typo (``Gemanium`` -> germanium, ``Graphite`` -> graphite-natural, ``Bauxite and Alumina`` ->
  bauxite, ``Niobium (Columbium)`` -> niobium, ...);
* :data:`SERIES_SLUGS` for commodities whose rows hold several minerals told apart by the
  ``Type`` text (Platinum-group metals -> platinum / palladium; titanium sponge -> titanium-metal).

An unknown commodity still gets its derived slug (the importer creates the mineral for review).
"""

from __future__ import annotations

import re

from .csv_source import clean_text


def derive_slug(name: str) -> str:
    text = clean_text(name).lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


IRREGULAR_SLUGS: dict[str, str] = {
    # typos and variants in USGS files
    "gemanium": "germanium",
    "graphite": "graphite-natural",  # MCS world file: natural graphite mine production
    "mica": "mica-natural",
    "talc-crude": "talc-and-pyrophyllite",
    "niobium-columbium": "niobium",
    # names in the T5 critical-minerals table that mean a mineral published under another name
    "aluminum-bauxite": "bauxite",
    "bauxite-and-alumina": "bauxite",
    "magnesium": "magnesium-metal",
    "rare-earths-compounds-and-metals": "rare-earths",
    "titanium-metal": "titanium-metal",
    "zirconium-ores-and-concentrates": "zirconium",
    "zirconium-and-hafnium": "zirconium",
    "abrasives-manufactured": "abrasives",
}

# (slug derived from the commodity, keyword in the Type / form text) -> mineral slug
SERIES_SLUGS: dict[tuple[str, str], str] = {
    ("platinum-group-metals", "palladium"): "palladium",
    ("platinum-group-metals", "platinum"): "platinum",
    ("titanium-and-titanium-dioxide", "sponge"): "titanium-metal",
    ("titanium", "sponge"): "titanium-metal",
    # Several series at one mineral/stage/country would collide on the ProductionRecord natural key:
    # each distinct series gets its own mineral; the primary series keeps the commodity's slug.
    ("iron-ore", "iron content"): "iron-ore-iron-content",  # primary: usable ore
    ("titanium-mineral-concentrates", "rutile"): "titanium-rutile",  # primary: ilmenite
    ("silicon", "ferosilicon"): "silicon-ferrosilicon",  # sic, MCS 2025; primary: silicon metal
    ("silicon", "ferrosilicon"): "silicon-ferrosilicon",
    ("silicon", "fesi"): "silicon-ferrosilicon",  # salient column Imports_FeSi_kt
    ("clays", "bentonite"): "clays-bentonite",
    ("clays", "kaolin"): "clays-kaolin",
    ("clays", "fuller"): "clays-fullers-earth",
    ("iron-and-steel", "pig iron"): "pig-iron",
    ("iron-and-steel", "pig_iron"): "pig-iron",
    ("iron-and-steel", "raw steel"): "raw-steel",
    ("mica-natural", "sheet"): "mica-natural-sheet",  # primary: scrap and flake
    ("soda-ash", "production, synthetic"): "soda-ash-synthetic",  # primary: total natural and synthetic
}


def mineral_slug_for(usgs_name: str, measure: str = "") -> str:
    """Mineral slug for a USGS commodity name (and optionally the Type text of its row)."""
    slug = derive_slug(usgs_name)
    base = IRREGULAR_SLUGS.get(slug, slug)
    lowered = measure.lower()
    for (commodity, keyword), target in SERIES_SLUGS.items():
        if commodity in (slug, base) and keyword in lowered:
            return target
    return base


# Five-letter codes of the per-commodity files (mcs20YY-<code>_world.csv, _salient.csv).
FILE_CODES: dict[str, str] = {
    "abras": "Abrasives", "alumi": "Aluminum", "antim": "Antimony", "arsen": "Arsenic",
    "asbes": "Asbestos", "barit": "Barite", "bauxi": "Bauxite and Alumina", "beryl": "Beryllium",
    "bismu": "Bismuth", "boron": "Boron", "bromi": "Bromine", "cadmi": "Cadmium", "cemen": "Cement",
    "chrom": "Chromium", "clays": "Clays", "cobal": "Cobalt", "coppe": "Copper",
    "diamo": "Diamond (industrial)", "diato": "Diatomite", "felds": "Feldspar", "feore": "Iron Ore",
    "fepig": "Iron oxide pigments", "feste": "Iron and Steel", "fluor": "Fluorspar", "galli": "Gallium",
    "garne": "Garnet (industrial)", "gemst": "Gemstones", "germa": "Germanium", "gold": "Gold",
    "graph": "Graphite (natural)", "gypsu": "Gypsum", "heliu": "Helium", "indiu": "Indium",
    "iodin": "Iodine", "kyani": "Kyanite and Related Minerals", "lead": "Lead", "lime": "Lime",
    "lithi": "Lithium", "lithium": "Lithium", "manga": "Manganese", "mercu": "Mercury",
    "mgcomp": "Magnesium Compounds", "mgmet": "Magnesium metal", "mica": "Mica (natural)",
    "molyb": "Molybdenum", "nicke": "Nickel", "niobi": "Niobium", "nitro": "Nitrogen (fixed) - Ammonia",
    "peat": "Peat", "perli": "Perlite", "phosp": "Phosphate rock", "plati": "Platinum-group metals",
    "potas": "Potash", "pumic": "Pumice and Pumicite", "raree": "Rare earths", "rareee": "Rare earths",
    "rheni": "Rhenium", "salt": "Salt", "sandi": "Sand and gravel (industrial)", "scand": "Scandium",
    "selen": "Selenium", "silve": "Silver", "simet": "Silicon", "sodaa": "Soda ash", "stron": "Strontium",
    "sulfu": "Sulfur", "talc": "Talc and Pyrophyllite", "tanta": "Tantalum", "tellu": "Tellurium",
    "thall": "Thallium", "thori": "Thorium", "timin": "Titanium Mineral Concentrates", "tin": "Tin",
    "titan": "Titanium and titanium dioxide", "tungs": "Tungsten", "vanad": "Vanadium",
    "vermi": "Vermiculite", "wolla": "Wollastonite", "yttri": "Yttrium", "zeoli": "Zeolites (natural)",
    "zinc": "Zinc", "zirco": "Zirconium and Hafnium", "zirco-hafni": "Zirconium and Hafnium",
}  # fmt: skip


def commodity_from_filename(filename: str) -> str | None:
    """``mcs2024-galli_world.csv`` -> ``Gallium``; None if the name does not follow the pattern."""
    match = re.match(r"mcs\d{4}-([a-z]+(?:-[a-z]+)*)_(?:world|salient)", filename.lower())
    if not match:
        return None
    code = match.group(1)
    # Two-part codes name a joint chapter (mcs2023-zirco-hafni_world.csv): the first part is the commodity.
    return FILE_CODES.get(code) or FILE_CODES.get(code.split("-")[0], code)


# ---------------------------------------------------------------- stages

_OUT_OF_SCOPE = re.compile(r"capacity|^reserves", re.IGNORECASE)
_REFINERY = re.compile(
    r"refiner|smelter|refined|primary production|primary and secondary|plant production|sponge|"
    r"pig iron|raw steel|cement production|processing|synthetic|metal production|alumina",
    re.IGNORECASE,
)


def stage_for_measure(measure: str) -> str | None:
    """``'mine'`` or ``'refinery'`` for a production Type text; None for capacity/reserves rows.

    Refinery covers refinery, smelter, "primary production" of by-product metals (gallium),
    plant production and processing. Everything else that is production (``Mine production, ...``,
    ``Production, helium gas content``, ``Boron all types``) is extraction: ``'mine'``.
    """
    if _OUT_OF_SCOPE.search(measure):
        return None
    if re.search(r"\bmine\b|mine poduction", measure, re.IGNORECASE):
        return "mine"
    if _REFINERY.search(measure):
        return "refinery"
    return "mine"


# ---------------------------------------------------------------- units

# unit text (UNIT_MEAS column or inside Type) -> (base unit, factor to base)
UNIT_WORDS: dict[str, tuple[str, float]] = {
    "kilograms": ("kg", 1.0),
    "kilogram": ("kg", 1.0),
    "grams": ("kg", 0.001),
    "metric tons": ("t", 1.0),
    "metric dry tons": ("t", 1.0),
    "thousand metric tons": ("t", 1_000.0),
    "thousand metric dry tons": ("t", 1_000.0),
    "million metric tons": ("t", 1_000_000.0),
    "thousand carats": ("carat", 1_000.0),
    "million carats": ("carat", 1_000_000.0),
    "million cubic meters": ("m3", 1_000_000.0),
}

# unit token in a column name (Prod_kg_2022, Prod_kt_est_2023, USprod_mmt) -> (base unit, factor)
UNIT_TOKENS: dict[str, tuple[str, float]] = {
    "g": ("kg", 0.001),
    "kg": ("kg", 1.0),
    "t": ("t", 1.0),
    "kt": ("t", 1_000.0),
    "mmt": ("t", 1_000_000.0),
    "mt": ("t", 1_000_000.0),  # Mt: million metric tons (column names are matched in lower case)
    "kct": ("carat", 1_000.0),  # thousand carats (diamond, gemstones)
    "mct": ("carat", 1_000_000.0),  # million carats
    "mcm": ("m3", 1_000_000.0),  # million cubic meters (helium)
}

# Minerals USGS counts in kilograms: the canonical unit is kg; every other mass is in metric tons.
KG_MINERALS = frozenset(
    {"gallium", "germanium", "indium", "rhenium", "platinum", "palladium", "platinum-group-metals", "scandium"}
)


def canonical_unit(mineral_slug: str) -> str:
    return "kg" if mineral_slug in KG_MINERALS else "t"


def unit_from_words(text: str) -> tuple[str, float] | None:
    """Unit named in a unit cell or at the end of a Type text (``..., metric tons``)."""
    lowered = clean_text(text).lower().rstrip(".")
    if lowered in UNIT_WORDS:
        return UNIT_WORDS[lowered]
    for words in sorted(UNIT_WORDS, key=len, reverse=True):
        if lowered.endswith(", " + words) or lowered.endswith(" in " + words):
            return UNIT_WORDS[words]
    return None


def conversion(base: tuple[str, float], mineral_slug: str) -> tuple[str, float] | None:
    """(canonical unit, factor from the file's unit) or None when the unit is not a mass."""
    unit, factor = base
    if unit not in ("kg", "t"):
        return None
    target = canonical_unit(mineral_slug)
    if unit == target:
        return target, factor
    return target, factor * (1000.0 if unit == "t" else 0.001)


# Published unit labels that contradict the figures; corrected, and counted by the parser.
# MCS 2025 labels titanium mineral concentrates "metric tons" but the figures are thousand metric
# tons of TiO2 content (world ilmenite 8,900; USGS's MCS 2024 revision note made the same fix).
UNIT_CORRECTIONS: dict[tuple[str, str, str], str] = {
    ("MCS 2025", "titanium-mineral-concentrates", "metric tons"): "thousand metric tons",
    ("MCS 2025", "titanium-mineral-concentrates", ""): "thousand metric tons",
}
