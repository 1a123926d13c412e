"""OAuth2 client credentials (django-oauth-toolkit) for partner systems, with the token kept
briefly in the process.

Every read call used to look its token up in the database through oauthlib (one query and about
a fifth of an uncached list's time, docs/performance.md "API"). A token is now read by its
checksum, as django-oauth-toolkit's validator reads it, and kept in the process for
LODESTONE_API_TOKEN_CACHE_SECONDS (10 s): a revoked or deleted token is refused within that
time. Its expiry is checked on every call, and its scopes by the permissions on every call.
The stored answers (config.stored_responses) use the same kept tokens.

Kept tokens serve safe methods only: a write looks its token up afresh through oauthlib, so the
application's owner (a curator's permissions) is never read from a kept object. Anything the
quick path does not accept (unknown, expired, audience-restricted or unusable tokens, a token in
the query string) goes through django-oauth-toolkit as before, which answers the same 401 and
WWW-Authenticate error as ever.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import AbstractAccessToken, get_access_token_model
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

_tokens: dict[str, tuple[float, AbstractAccessToken]] = {}
_tokens_lock = threading.Lock()
_TOKENS_KEPT = 1024  # distinct valid tokens a process remembers (then it starts again)
_clock = time.monotonic  # replaced by the tests of the token's lifetime


def bearer_value(meta: Mapping[str, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, as oauthlib reads it."""
    words = meta.get("HTTP_AUTHORIZATION", "").split()
    if len(words) != 2 or words[0].lower() != "bearer":
        return None
    return str(words[1])


def kept_token(raw: str) -> AbstractAccessToken | None:
    """The stored token of this value, read at most once per LODESTONE_API_TOKEN_CACHE_SECONDS
    in this process (unknown values are never kept). Not checked: the caller checks expiry and
    scope. The object is shared by the calls of the process: read it, never change it."""
    checksum = hashlib.sha256(raw.encode()).hexdigest()
    now = _clock()
    with _tokens_lock:
        entry = _tokens.get(checksum)
    if entry is not None and now - entry[0] < settings.LODESTONE_API_TOKEN_CACHE_SECONDS:
        return entry[1]
    found = (
        get_access_token_model().objects.select_related("application", "user").filter(token_checksum=checksum).first()
    )
    with _tokens_lock:
        if found is None:
            _tokens.pop(checksum, None)
            return None
        if len(_tokens) >= _TOKENS_KEPT:
            _tokens.clear()
        _tokens[checksum] = (now, found)
    return found


def usable_token(token: AbstractAccessToken, request: HttpRequest, scopes: list[str]) -> bool:
    """What django-oauth-toolkit's validator checks of a found token, but the audience: not
    expired, the scopes held, the application usable. Audience-restricted tokens (RFC 8707) are
    not usable here: their check needs the full path."""
    if token.resource or not token.is_valid(scopes):
        return False
    application = token.application
    return application is None or bool(application.is_usable(request))


def kept_read_token(request: HttpRequest, scopes: list[str]) -> AbstractAccessToken | None:
    """The bearer token of a read call from the process's copy, when usable with these scopes;
    None leaves the call to django-oauth-toolkit (a write, a token in the query string, which the
    full path refuses (RFC 9700), or anything the quick path does not accept)."""
    if request.method not in SAFE_METHODS or "access_token" in request.GET:
        return None
    raw = bearer_value(request.META)
    token = kept_token(raw) if raw is not None else None
    if token is None or not usable_token(token, request, scopes):
        return None
    return token


def forget_tokens() -> None:
    """Forget the tokens kept in this process (tests)."""
    with _tokens_lock:
        _tokens.clear()


class ClientCredentialsAuthentication(OAuth2Authentication):
    """A client-credentials token has no user (django-oauth-toolkit stores None).

    The request then carries an AnonymousUser and the token in `request.auth`: permissions
    look at the token's scopes and application, never at a user the token does not have.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = self._kept(request) or super().authenticate(request)
        if result is None:
            return None
        user, token = result
        return (user if user is not None else AnonymousUser()), token

    def _kept(self, request: Request) -> tuple[Any, Any] | None:
        token = kept_read_token(request._request, [])
        return None if token is None else (token.user, token)
