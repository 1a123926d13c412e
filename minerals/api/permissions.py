"""Who may do what: OAuth2 scopes for tokens, model permissions for curators' sessions.

A caller is either a browser session (a user) or a client-credentials token (an application,
its owner and its scopes). Reference data: anyone signed in, or a token with
`reference:read`, reads; curators write: staff users with the model permission, or tokens
with `reference:write` of an application owned by such a staff user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from oauth2_provider.models import AbstractAccessToken
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:
    from django.contrib.auth.models import User

REFERENCE_READ = "reference:read"
REFERENCE_WRITE = "reference:write"

_PERM_BY_METHOD = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def request_token(request: Request) -> AbstractAccessToken | None:
    return request.auth if isinstance(request.auth, AbstractAccessToken) else None


def acting_user(request: Request) -> User | None:
    """Who a write is recorded against: the session user, or the token application's owner."""
    token = request_token(request)
    if token is not None:
        return token.application.user if token.application_id else None
    return request.user if request.user.is_authenticated else None


def token_has_scope(token: AbstractAccessToken, scope: str) -> bool:
    return token.is_valid([scope])


def _curator(user: User | None, model: type[models.Model] | None, method: str) -> bool:
    if user is None or not user.is_active or not user.is_staff:
        return False
    if model is None:
        return True
    meta = model._meta
    return user.has_perm(f"{meta.app_label}.{_PERM_BY_METHOD.get(method, 'change')}_{meta.model_name}")


def is_curator(request: Request, model: type[models.Model] | None = None) -> bool:
    """Staff with the model permission (session), or a `reference:write` token of a staff owner."""
    # None only for a hand-built HttpRequest; "" then means "change", as None did.
    method = request.method or ""
    token = request_token(request)
    if token is not None:
        return token_has_scope(token, REFERENCE_WRITE) and _curator(acting_user(request), model, method)
    return _curator(request.user if request.user.is_authenticated else None, model, method)


def _view_model(view: Any) -> type[models.Model] | None:
    queryset = getattr(view, "queryset", None)
    model = getattr(view, "write_model", None) or (queryset.model if queryset is not None else None)
    return model


class ReferenceAccess(BasePermission):
    """Reads with `reference:read` (or any session); writes by curators only."""

    scopes = (REFERENCE_READ, REFERENCE_WRITE)  # (read, write), documented per operation

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            token = request_token(request)
            if token is not None:
                return token_has_scope(token, REFERENCE_READ)
            return bool(request.user and request.user.is_authenticated)
        return is_curator(request, _view_model(view))
