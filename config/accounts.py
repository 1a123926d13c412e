"""Login-related request handling of the project: the client address behind the TLS proxy (for
the login lockout), and the rate-limited password change."""

from __future__ import annotations

import ipaddress
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


class RateLimitedPasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, refused with 429 after LODESTONE_PASSWORD_CHANGE_MAX_FAILURES
    wrong current passwords in LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS: a stolen session must
    not become a way to guess the password (axes only watches the login)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and request.user.is_authenticated and self._too_many_failures():
            window = settings.LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS
            return HttpResponse(
                f"Too many wrong current passwords: try again in {window // 60} minutes.",
                status=429,
                content_type="text/plain; charset=utf-8",
                headers={"Retry-After": str(window)},
            )
        return super().dispatch(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        if "old_password" in form.errors:
            key = self._failures_key()
            cache.add(key, 0, timeout=settings.LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS)
            cache.incr(key)
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        cache.delete(self._failures_key())
        return super().form_valid(form)

    def _failures_key(self) -> str:
        return f"lodestone:password-change-failures:{self.request.user.pk}"

    def _too_many_failures(self) -> bool:
        return (cache.get(self._failures_key()) or 0) >= settings.LODESTONE_PASSWORD_CHANGE_MAX_FAILURES
