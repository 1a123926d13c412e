"""Request handling of the project around who is asking: the client address behind the TLS proxy
(for the login lockout), fixed-window rate limits counted in the cache, the rate-limited password
change and the rate limit of anonymous page views."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind LODESTONE_TRUSTED_PROXY_COUNT proxies the
    X-Forwarded-For entry the outermost of them appended (each proxy appends what it received
    from, so anything a client wrote itself is further left and never read)."""
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.LODESTONE_TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < hops:
        return remote  # the proxy did not set the header: better the proxy's address than a guess
    candidate = forwarded[-hops]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return candidate


@dataclass(frozen=True)
class WindowCounter:
    """Events per key in fixed windows of `window_seconds`, counted in the default cache (Redis in
    production: shared by every web worker). One cache entry per key and window, expiring with
    it, so the counters cannot grow without bound; the window's end is the exact Retry-After."""

    name: str
    window_seconds: int

    def _key(self, ident: str) -> str:
        return f"lodestone:{self.name}:{ident}:{int(time.time()) // self.window_seconds}"

    def hit(self, ident: str) -> int:
        """Count one event; the number counted in this window, this one included."""
        key = self._key(ident)
        cache.add(key, 0, timeout=self.window_seconds + 1)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: the window just ended
            cache.add(key, 1, timeout=self.window_seconds + 1)
            return 1

    def count(self, ident: str) -> int:
        return int(cache.get(self._key(ident)) or 0)

    def reset(self, ident: str) -> None:
        cache.delete(self._key(ident))

    def seconds_left(self) -> int:
        return self.window_seconds - int(time.time()) % self.window_seconds


def too_many_requests(message: str, retry_after: int) -> HttpResponse:
    return HttpResponse(
        message, status=429, content_type="text/plain; charset=utf-8", headers={"Retry-After": str(retry_after)}
    )


def _password_change_failures() -> WindowCounter:
    return WindowCounter("password-change-failures", settings.LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS)


class RateLimitedPasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, refused with 429 after LODESTONE_PASSWORD_CHANGE_MAX_FAILURES
    wrong current passwords in a window of LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS: a stolen
    session must not become a way to guess the password (axes only watches the login)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        failures = _password_change_failures()
        if (
            request.method == "POST"
            and request.user.is_authenticated
            and failures.count(str(request.user.pk)) >= settings.LODESTONE_PASSWORD_CHANGE_MAX_FAILURES
        ):
            wait = failures.seconds_left()
            return too_many_requests(
                f"Too many wrong current passwords: try again in {max(1, wait // 60)} minutes.", wait
            )
        return super().dispatch(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        if "old_password" in form.errors:
            _password_change_failures().hit(str(self.request.user.pk))
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        _password_change_failures().reset(str(self.request.user.pk))
        return super().form_valid(form)


class AnonymousPageRateLimitMiddleware:
    """Anonymous requests to the site's pages, per client address (as the login lockout reads it):
    at most LODESTONE_ANONYMOUS_PAGE_VIEWS in a window of LODESTONE_ANONYMOUS_PAGE_WINDOW_SECONDS,
    then 429 with Retry-After until the window ends (0 turns the limit off). Every distinct query
    a page accepts may render and cache a page: this bounds how fast one address can do that.
    Logged-in users are not counted; nor are the API (its own throttles), the admin, the login
    pages (a limited visitor must still be able to log in; axes guards them) and static files."""

    exempt_prefixes = ("/api/", "/admin/", "/accounts/", settings.STATIC_URL)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        counted = settings.LODESTONE_ANONYMOUS_PAGE_VIEWS and not request.path.startswith(self.exempt_prefixes)
        if counted and not request.user.is_authenticated and (refused := anonymous_page_view_refused(request)):
            return refused
        return self.get_response(request)


def anonymous_page_view_refused(request: HttpRequest) -> HttpResponse | None:
    """Count one anonymous page view of the client; the 429 answer once over the limit, else None.
    Also called by config.stored_responses, which answers anonymous pages before this middleware."""
    limit = settings.LODESTONE_ANONYMOUS_PAGE_VIEWS
    if not limit:
        return None
    views = WindowCounter("anonymous-page-views", settings.LODESTONE_ANONYMOUS_PAGE_WINDOW_SECONDS)
    if views.hit(client_ip(request) or "unknown") > limit:
        wait = views.seconds_left()
        return too_many_requests(f"Too many page views from your address: try again in {wait} s.", wait)
    return None
