"""Stored answers of the hot endpoints, served before sessions, authentication and templates.

The overview and a mineral page (for anonymous visitors: their header shows no user) and the
API's metrics report and minerals list (for a valid `reference:read` token) are the same bytes
for every caller of a data generation, day and query. This middleware, right after whitenoise,
serves them from dashboards.page_cache's store keyed by the data generation (one cache read,
dashboards.generation), the path, scheme and host (the list's next links are absolute), the day
and the query string (only the parameters the endpoint knows, each once: anything else goes
down the ordinary path and is answered uncached, as a junk query always was). A stored answer
carries a strong ETag (a digest of its bytes); If-None-Match answers 304 with no body.

What it does not serve, the ordinary path answers as before: any other method or page, a
visitor with a session cookie (a logged-in user's header is personal: their pages keep the
per-request layout around the cached body) or pending messages, an API call without a bearer
token (a session) or asking for CSV/XLSX, a token that is unknown, expired, revoked, without
the scope or over its rate (DRF then gives the 401/403/429). A miss also goes down the ordinary
path, and its answer is stored only when it is a 200 with no cookie and, for a page, the view
marked it storable (every control valid). Private data is never stored: the portfolio, plans
and every other organization-scoped answer are outside these four routes.

Skipped checks are done here: the allowed host, the anonymous page-view limit (counted on a
hit; a miss is counted by the ordinary middleware) and, for the API, the token (the one every
API call uses, kept in the process for LODESTONE_API_TOKEN_CACHE_SECONDS by
minerals.api.authentication: a revoked or deleted token is refused within that time; an expired
one at once, its expiry is checked on every call), its scope and its throttle (the views'
counter, minerals.api.throttles).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import parse_http_date_safe

from config.accounts import anonymous_page_view_refused
from dashboards import generation, page_cache
from dashboards import views as dashboard_views
from minerals.api.authentication import kept_read_token
from minerals.api.permissions import REFERENCE_READ
from minerals.api.throttles import token_call_allowed

# Browsers and shared caches may keep a page but revalidate it on every use (ETag -> 304);
# Vary: Cookie keeps a logged-in user's page (another header) apart from the anonymous one.
PAGE_CACHE_CONTROL = "no-cache"
# A token's answers: the caller's own cache only, revalidated on every use.
API_CACHE_CONTROL = "private, no-cache"
MESSAGES_COOKIE = "messages"  # django.contrib.messages' cookie storage


@dataclass(frozen=True)
class Route:
    name: str
    path: re.Pattern[str]
    allowed: frozenset[str]  # the query parameters stored answers may carry
    throttle_scope: str | None  # an API route's; None: an anonymous page

    @property
    def cache_control(self) -> str:
        return PAGE_CACHE_CONTROL if self.throttle_scope is None else API_CACHE_CONTROL


METRICS_QUERY = frozenset({"mineral", "stage", "year", "destination", "as_of", "edition"})
ROUTES = (
    Route("overview", re.compile(r"/\Z"), dashboard_views.SORTED_QUERY, None),
    # Django's slug converter; ?edition= and downloads are not stored (not in AS_OF_QUERY).
    Route("mineral", re.compile(r"/minerals/[-a-zA-Z0-9_]+/\Z"), dashboard_views.AS_OF_QUERY, None),
    Route("api-metrics", re.compile(r"/api/v1/metrics/\Z"), METRICS_QUERY, "metrics"),
    Route("api-minerals", re.compile(r"/api/v1/minerals/\Z"), frozenset({"cursor", "page_size"}), "reference"),
)
# DRF's first renderer (JSON) answers these; anything else (CSV, XLSX, JSON with an indent
# parameter) goes down the ordinary path.
JSON_ACCEPTS = frozenset({"*/*", "application/json"})


class StoredResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        route = _route(request)
        if route is None:
            return self.get_response(request)
        token = None
        if route.throttle_scope is not None:
            token = _token(request)
            if token is None:
                return self.get_response(request)
        parts = page_cache.query_parts(request.GET, route.allowed)
        try:
            host = request.get_host()
        except DisallowedHost:
            return self.get_response(request)  # CommonMiddleware answers 400
        if parts is None:
            return self.get_response(request)
        key_parts = (request.path, request.scheme, host, timezone.localdate(), parts)
        key = page_cache.stored_key(route.name, generation.for_request(request), key_parts)
        stored = page_cache.stored_get(key)
        if stored is None:
            response = self.get_response(request)
            if not _storable(route, request, response):
                return response
            assert isinstance(response, HttpResponse)  # _storable refuses streaming answers
            response["Cache-Control"] = route.cache_control
            caller = "Cookie" if route.throttle_scope is None else "Authorization"
            patch_vary_headers(response, (caller, "Accept-Encoding"))
            return _answer(request, page_cache.stored_put(key, response))
        # A hit skips the middleware and DRF that count calls: count it here.
        if route.throttle_scope is None:
            if refused := anonymous_page_view_refused(request):
                return refused
        elif not token_call_allowed(token, route.throttle_scope):
            return self.get_response(request)  # DRF answers the 429 (a refusal is not counted)
        return _answer(request, stored)


def _route(request: HttpRequest) -> Route | None:
    if request.method != "GET":
        return None
    path = request.path_info
    route = next((r for r in ROUTES if r.path.match(path)), None)
    if route is None:
        return None
    if route.throttle_scope is None:
        cookies = request.COOKIES
        anonymous = settings.SESSION_COOKIE_NAME not in cookies and MESSAGES_COOKIE not in cookies
        return route if anonymous else None
    accept = request.META.get("HTTP_ACCEPT", "").strip()
    if accept and any(part.strip() not in JSON_ACCEPTS for part in accept.split(",")):
        return None
    return route


def _storable(route: Route, request: HttpRequest, response: HttpResponseBase) -> bool:
    if response.status_code != 200 or not isinstance(response, HttpResponse) or response.cookies:
        return False
    if route.throttle_scope is None:
        return page_cache.is_storable(request)
    return str(response.get("Content-Type", "")).startswith("application/json")


def _answer(request: HttpRequest, stored: page_cache.StoredResponse) -> HttpResponseBase:
    """The stored bytes, compressed when the caller accepts it, or 304 when the caller's copy
    is current (If-None-Match: the strong ETag of that representation; If-Modified-Since: a
    stored Last-Modified, as the metrics report sends)."""
    coding, body, etag = stored.representation(request.META.get("HTTP_ACCEPT_ENCODING", ""))
    response = HttpResponse(body)
    for name, value in stored.headers:
        response[name] = value
    if coding is not None:
        response["Content-Encoding"] = coding
    response["ETag"] = etag
    response["Content-Length"] = str(len(body))  # CommonMiddleware's, skipped on a hit
    last_modified = parse_http_date_safe(response.get("Last-Modified") or "")
    conditional = get_conditional_response(request, etag=etag, last_modified=last_modified, response=response)
    return conditional if conditional is not None else response


def _token(request: HttpRequest) -> Any | None:
    """The request's bearer token when it may read reference data now, else None (the ordinary
    path then answers, whatever the reason). The token is the one every API call uses, kept
    LODESTONE_API_TOKEN_CACHE_SECONDS in the process (minerals.api.authentication); its expiry
    and scope are checked on every call."""
    token = kept_read_token(request, [REFERENCE_READ])
    return None if token is None or token.application_id is None else token
