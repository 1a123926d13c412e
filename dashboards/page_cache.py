"""Page content cached under the data generation: a page view after the first does no
recomputation, only the generation query and the template.

The key holds the page name, the generation (dashboards.page_selectors.data_generation: moves
on every data change and every recompute) and the page's parameters (date, slug, ...), so an
entry is never invalidated by hand: a new generation simply reads a new key, and old entries
expire.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import brotli
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.http import quote_etag
from django.utils.safestring import mark_safe

from dashboards import downloads
from dashboards.tables import Table

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


# --------------------------------------------------------------------------------------------
# Rendered HTML of a page's body
#
# Template rendering of the large pages costs more CPU than everything else a cached view does
# (about 30 ms for the overview, 70 ms for the portfolio). So the body of a page (what lies
# between the site header and footer) is cached as HTML too, under the same generation and the
# page's parameters plus the query string it was rendered for (its sort and download links
# repeat the query string). The site header (the user's name, the log-out form and its CSRF
# token) and the messages are rendered per request around it, never cached; the
# Content-Security-Policy header is still set by the middleware on every response.
#
# Only well-formed queries are stored: a view stores a body only when every control was valid
# (a real as-of date, a known sort column, ...), so junk query strings cannot fill the cache;
# they are answered, uncached.


def query_parts(query: Any, allowed: frozenset[str]) -> tuple[tuple[str, str], ...] | None:
    """The query string as a key part, or None (render uncached) when it holds a parameter the
    page does not know, a repeated one or an overlong value."""
    parts = []
    for name, values in query.lists():
        if name not in allowed or len(values) != 1 or len(values[0]) > 64:
            return None
        parts.append((name, values[0]))
    return tuple(sorted(parts))


def html(
    name: str,
    generation: str,
    parts: tuple[Any, ...] | None,
    build: Callable[[], tuple[dict[str, str], bool]],
) -> tuple[dict[str, Any], bool]:
    """{"title": ..., "body": <safe HTML>} of a page, and whether it is stored (so the whole
    response may be too). `build` renders it and says whether it may be stored (every control
    valid); parts None: never stored."""
    key = page_key(f"html:{name}", generation, *parts) if parts is not None else None
    page = cache.get(key) if key is not None else None
    storable = page is not None
    if page is None:
        page, storable = build()
        storable = storable and key is not None
        if storable:
            cache.set(
                key, {"title": str(page["title"]), "body": str(page["body"])}, settings.LODESTONE_PAGE_CACHE_SECONDS
            )
    return {"title": page["title"], "body": mark_safe(page["body"])}, storable  # noqa: S308 - our own rendered template


def body(
    request: HttpRequest,
    name: str,
    generation: str,
    key: tuple[Any, ...],
    allowed: frozenset[str],
    build: Callable[[], tuple[dict[str, str], bool]],
) -> dict[str, Any]:
    """The page's body from the HTML cache, keyed by `key` and the request's query string (the
    parameters in `allowed`; any other query renders uncached). The one setup of every page.
    Marks the request when the body was storable: the whole response may then be stored for
    anonymous visitors (stored responses, below)."""
    parts = query_parts(request.GET, allowed)
    page, storable = html(name, generation, None if parts is None else (*key, parts), build)
    mark_storable(request, storable)
    return page


# --------------------------------------------------------------------------------------------
# Sorting and downloads of a page's tables (from the cached content: no recomputation)


def tables_for_request(tables: dict[str, Table], request: HttpRequest) -> dict[str, Table]:
    """Apply ?sort=<column>&dir=asc|desc to the page's sortable tables (server side: works without JS)."""
    sort = request.GET.get("sort", "")
    if not sort:
        return tables
    descending = request.GET.get("dir") == "desc"
    return {key: t.sorted_by(sort, descending) if t.sortable else t for key, t in tables.items()}


def download(request: HttpRequest, tables: Callable[[], dict[str, Table]], stem: str) -> HttpResponse | None:
    """?download=<table id>&format=csv|xlsx answers that table (sorted as asked) as a file; None
    when the request asks for no download (then `tables` is not even built)."""
    table_id = request.GET.get("download")
    if not table_id:
        return None
    fmt = request.GET.get("format", "csv")
    table = tables_for_request(tables(), request).get(table_id)
    if table is None or fmt not in downloads.FORMATS:
        return HttpResponse("Unknown table or format.", status=404, content_type="text/plain")
    return downloads.table_response(table, fmt, filename_stem=stem)


# --------------------------------------------------------------------------------------------
# Stored responses: the full bytes of a hot endpoint's answer (config.stored_responses)
#
# The overview and mineral pages for anonymous visitors and the API's metrics report and
# minerals list are the same bytes for every caller of a data generation, day and query. The
# middleware serves them before sessions, authentication and templates; this is their store:
# a small least-recently-used table in the process (the bytes of one generation never change,
# so a process may keep them as long as it likes) in front of the default cache (shared by
# the workers with Redis, so one of them renders a page for all). Keys hold the generation, so
# a new generation reads new keys and nothing is ever invalidated by hand.

STORABLE_ATTRIBUTE = "lodestone_storable"


def mark_storable(request: HttpRequest, storable: bool = True) -> None:
    """The view's answer to this request may be stored for every caller (a valid, public query)."""
    setattr(request, STORABLE_ATTRIBUTE, storable)


def is_storable(request: HttpRequest) -> bool:
    return bool(getattr(request, STORABLE_ATTRIBUTE, False))


@dataclass(frozen=True)
class StoredResponse:
    """A stored 200 answer: its headers (without Content-Length, Date, ETag and cookies), body
    and strong ETag (a digest of the body: the same bytes, the same tag), and the body
    compressed once when stored, per content coding in order of preference: a page is 50-430 kB
    of HTML (the figures' JSON), 5-10x less compressed, and compressing it per request would
    cost more than serving it."""

    headers: tuple[tuple[str, str], ...]
    body: bytes
    etag: str
    encoded: tuple[tuple[str, bytes], ...] = ()

    def representation(self, accept_encoding: str) -> tuple[str | None, bytes, str]:
        """(content coding or None, bytes, strong ETag) for a caller's Accept-Encoding. Each
        coding has its own ETag (RFC 9110 8.8.3: a strong validator names one representation)."""
        accepted = accepted_codings(accept_encoding)
        for coding, body in self.encoded:
            if coding in accepted:
                return coding, body, f'{self.etag[:-1]}-{coding}"'
        return None, self.body, self.etag


# Below this a compressed copy saves less than its headers' bytes (GZipMiddleware's threshold).
_COMPRESS_FROM_BYTES = 200


def compressed_copies(body: bytes) -> tuple[tuple[str, bytes], ...]:
    """brotli (quality 5: most of quality 11's gain at a few ms for 400 kB) and gzip (for
    clients without brotli), each kept only when smaller than the body."""
    if len(body) < _COMPRESS_FROM_BYTES:
        return ()
    copies = (("br", brotli.compress(body, quality=5)), ("gzip", gzip.compress(body, compresslevel=6, mtime=0)))
    return tuple((coding, data) for coding, data in copies if len(data) < len(body))


def accepted_codings(accept_encoding: str) -> frozenset[str]:
    """The content codings an Accept-Encoding header allows (q=0 refuses one; `*` is not
    taken as a promise to decode brotli or gzip)."""
    accepted = set()
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        quality = params.strip().lower().removeprefix("q=")
        if params and quality.replace(".", "", 1).isdigit() and float(quality) == 0:
            continue
        accepted.add(coding.strip().lower())
    return frozenset(accepted)


_local: OrderedDict[str, StoredResponse] = OrderedDict()
_local_lock = threading.Lock()
_LEFT_OUT_HEADERS = frozenset({"content-length", "date", "etag", "set-cookie"})


def stored_key(name: str, generation: str, parts: tuple[Any, ...]) -> str:
    return page_key(f"response:{name}", generation, *parts)


def stored_get(key: str) -> StoredResponse | None:
    with _local_lock:
        found = _local.get(key)
        if found is not None:
            _local.move_to_end(key)
            return found
    shared = cache.get(key)
    if isinstance(shared, StoredResponse):
        _remember(key, shared)
        return shared
    return None


def stored_put(key: str, response: HttpResponse) -> StoredResponse:
    body = bytes(response.content)
    stored = StoredResponse(
        headers=tuple((k, v) for k, v in response.items() if k.lower() not in _LEFT_OUT_HEADERS),
        body=body,
        etag=quote_etag(hashlib.sha256(body).hexdigest()[:32]),
        encoded=compressed_copies(body),
    )
    cache.set(key, stored, settings.LODESTONE_PAGE_CACHE_SECONDS)
    _remember(key, stored)
    return stored


def stored_clear() -> None:
    """Forget this process's stored responses (tests)."""
    with _local_lock:
        _local.clear()


def _remember(key: str, stored: StoredResponse) -> None:
    with _local_lock:
        _local[key] = stored
        _local.move_to_end(key)
        while len(_local) > settings.LODESTONE_STORED_RESPONSES_IN_PROCESS:
            _local.popitem(last=False)
