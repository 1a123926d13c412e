"""API fixtures: two buyer organizations, their users, OAuth2 applications and tokens.

Tokens are made the way django-oauth-toolkit stores them (hashed at rest, RFC 9700), so the
real authentication path runs; one test also gets a token from the token endpoint.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, set_token_value
from rest_framework.test import APIClient

from minerals.models import CommodityCode, Country, DataSource, TradeFlow
from suppliers.models import ApplicationOrganization, Membership, Organization, Requirement, Sourcing

ORG_A = "Demo Buyer Inc."


@pytest.fixture(autouse=True)
def fast_hashers(settings: Any) -> None:
    # Client secrets and passwords are hashed on save; PBKDF2 would dominate the API tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def clear_throttles() -> None:
    from django.core.cache import cache

    cache.clear()


def make_application(*, name: str, owner: Any = None, organization: Organization | None = None) -> Application:
    app = Application.objects.create(
        name=name,
        user=owner,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret="secret-" + name,
        hash_client_secret=True,
    )
    if organization is not None:
        ApplicationOrganization.objects.create(application=app, organization=organization)
    return app


def make_token(app: Application, scope: str, *, expires_in: int = 3600) -> str:
    raw = secrets.token_urlsafe(30)
    token = AccessToken(application=app, user=None, scope=scope, expires=timezone.now() + timedelta(seconds=expires_in))
    set_token_value(token, raw)
    token.save()
    return raw


def client_credentials_token(client_id: str, secret: str, scope: str = "portfolio:read") -> Any:
    """The token endpoint's answer to a client-credentials grant (HTTP Basic, as clients send it)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return APIClient().post(
        "/api/v1/oauth/token/",
        urlencode({"grant_type": "client_credentials", "scope": scope}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@dataclass
class World:
    org_a: Organization
    org_b: Organization
    buyer_a: Any
    buyer_b: Any
    staff: Any
    app_a: Application
    app_curator: Application
    requirement_a: Requirement
    sourcing_a: Sourcing
    requirement_b: Requirement
    trade_flow: TradeFlow
    clients: dict[str, APIClient]


@pytest.fixture
def world(demo: None, django_user_model: Any) -> World:
    from suppliers import services

    org_a = Organization.objects.get(name=ORG_A)
    org_b = services.record_save(
        instance=Organization(name="Other Buyer LLC", slug="other-buyer", country_id="USA", is_fictional=True)
    )
    requirement_b = services.record_save(
        instance=Requirement(organization=org_b, mineral=org_a.requirements.first().mineral, annual_quantity=5)
    )
    buyer_a = django_user_model.objects.create_user("buyer-a")
    buyer_b = django_user_model.objects.create_user("buyer-b")
    Membership.objects.create(user=buyer_a, organization=org_a, role=Membership.Role.ANALYST)
    Membership.objects.create(user=buyer_b, organization=org_b, role=Membership.Role.ANALYST)
    staff = django_user_model.objects.create_user("staff-curator", is_staff=True, is_superuser=True)
    curator_owner = django_user_model.objects.create_user("curator-app-owner", is_staff=True, is_superuser=True)
    app_a = make_application(name="partner-a", organization=org_a)
    app_reference = make_application(name="reference-reader")
    app_curator = make_application(name="curator-system", owner=curator_owner)
    flow = TradeFlow.objects.create(
        year=2024,
        exporter=Country.objects.get(iso3="CHN"),
        importer=Country.objects.get(iso3="USA"),
        commodity_code=CommodityCode.objects.get(hs6="811292"),
        basis=TradeFlow.Basis.IMPORT_REPORTED,
        value_usd=1000.0,
        quantity_kg=2.0,
        source=DataSource.objects.get(key="usgs-mcs-2025"),
    )
    session_a, session_b, session_staff = APIClient(), APIClient(), APIClient()
    session_a.force_login(buyer_a)
    session_b.force_login(buyer_b)
    session_staff.force_login(staff)
    clients = {
        "anonymous": APIClient(),
        "buyer_a": session_a,
        "buyer_b": session_b,
        "token_a_portfolio_read": bearer(make_token(app_a, "portfolio:read")),
        "token_reference_read": bearer(make_token(app_reference, "reference:read")),
        "curator_token": bearer(make_token(app_curator, "reference:read reference:write")),
        "staff_session": session_staff,
    }
    return World(
        org_a=org_a,
        org_b=org_b,
        buyer_a=buyer_a,
        buyer_b=buyer_b,
        staff=staff,
        app_a=app_a,
        app_curator=app_curator,
        requirement_a=org_a.requirements.order_by("id").first(),
        sourcing_a=org_a.sourcing.order_by("id").first(),
        requirement_b=requirement_b,
        trade_flow=flow,
        clients=clients,
    )
