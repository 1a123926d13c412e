"""Page content cached under the data generation: a page view after the first does no
recomputation, only the generation query and the template.

The key holds the page name, the generation (dashboards.page_selectors.data_generation: moves
on every data change and every recompute) and the page's parameters (date, slug, ...), so an
entry is never invalidated by hand: a new generation simply reads a new key, and old entries
expire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")


def page_key(name: str, generation: str, *parts: Any) -> str:
    digest = hashlib.sha256(repr((generation, parts)).encode()).hexdigest()[:32]
    return f"lodestone:page:{name}:{digest}"


def cached(name: str, generation: str, parts: tuple[Any, ...], build: Callable[[], T]) -> T:
    key = page_key(name, generation, *parts)
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout=settings.LODESTONE_PAGE_CACHE_SECONDS)
    return value
