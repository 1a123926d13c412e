"""The caller's organization, and who may read or write its portfolio.

A session user acts for the organization of their membership (the first by name if they
have several); a token acts for the organization its application is bound to
(ApplicationOrganization). Reads: members of any role, or `portfolio:read`; writes: members
with the analyst or admin role, or `portfolio:write`. No organization: 403.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from minerals.api.permissions import request_token, token_has_scope
from suppliers.models import ApplicationOrganization, Membership, Organization

PORTFOLIO_READ = "portfolio:read"
PORTFOLIO_WRITE = "portfolio:write"
WRITER_ROLES = {Membership.Role.ANALYST, Membership.Role.ADMIN}
_UNSET = object()


def caller_membership(request: Request) -> tuple[Organization | None, str | None]:
    """(organization, role) of the caller, resolved once per request (one query)."""
    cached = getattr(request, "_lodestone_organization", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    resolved: tuple[Organization | None, str | None] = (None, None)
    token = request_token(request)
    if token is not None:
        binding = (
            ApplicationOrganization.objects.select_related("organization__country")
            .filter(application_id=token.application_id)
            .first()
        )
        if binding is not None:
            resolved = (binding.organization, None)
    elif request.user and request.user.is_authenticated:
        membership = (
            Membership.objects.select_related("organization__country")
            .filter(user=request.user)
            .order_by("organization__name")
            .first()
        )
        if membership is not None:
            resolved = (membership.organization, membership.role)
    request._lodestone_organization = resolved  # type: ignore[attr-defined]
    return resolved


def caller_organization(request: Request) -> Organization | None:
    return caller_membership(request)[0]


class PortfolioAccess(BasePermission):
    scopes = (PORTFOLIO_READ, PORTFOLIO_WRITE)  # (read, write), documented per operation

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request_token(request)
        if token is None and not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401
        organization, role = caller_membership(request)
        if organization is None:
            return False
        if token is not None:
            return token_has_scope(token, PORTFOLIO_READ if request.method in SAFE_METHODS else PORTFOLIO_WRITE)
        return request.method in SAFE_METHODS or role in WRITER_ROLES
