"""OAuth2 client credentials (django-oauth-toolkit) for partner systems."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.request import Request


class ClientCredentialsAuthentication(OAuth2Authentication):
    """A client-credentials token has no user (django-oauth-toolkit stores None).

    The request then carries an AnonymousUser and the token in `request.auth`: permissions
    look at the token's scopes and application, never at a user the token does not have.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        return (user if user is not None else AnonymousUser()), token
