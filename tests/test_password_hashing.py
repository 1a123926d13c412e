"""The app's own password hashers, end to end. The rest of the suite hashes with MD5 for speed
(tests/conftest.py, fast_password_hashing); here the hashers config/settings.py configures store a
password, log a user in through the login page and check an OAuth client secret at the token
endpoint, so that path stays covered."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import global_settings
from django.contrib.auth.hashers import identify_hasher

from tests.api.conftest import client_credentials_token, make_application

pytestmark = pytest.mark.django_db


def hasher_of(encoded: str) -> str:
    hasher = type(identify_hasher(encoded))
    return f"{hasher.__module__}.{hasher.__name__}"


@pytest.fixture
def app_hashers(settings: Any) -> list[str]:
    import config.settings

    configured = list(getattr(config.settings, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS))
    settings.PASSWORD_HASHERS = configured
    return configured


def test_the_configured_hasher_stores_passwords_and_logs_in(app_hashers, demo, client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    from suppliers import services as supplier_services
    from suppliers.models import Organization

    user = django_user_model.objects.create_user("hashing-buyer", password="pw-hashing-buyer-1")
    supplier_services.membership_grant(
        user=user, organization=Organization.objects.get(name="Demo Buyer Inc."), role="analyst"
    )
    stored = django_user_model.objects.get(pk=user.pk).password
    assert hasher_of(stored) == app_hashers[0]
    assert "pw-hashing-buyer-1" not in stored
    response = client.post(
        "/accounts/login/", {"username": "hashing-buyer", "password": "pw-hashing-buyer-1", "next": "/portfolio/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/portfolio/"
    assert client.post("/accounts/login/", {"username": "hashing-buyer", "password": "wrong"}).status_code == 200


def test_the_configured_hasher_checks_client_secrets_at_the_token_endpoint(app_hashers, demo) -> None:  # type: ignore[no-untyped-def]
    from suppliers.models import Organization

    secret = "s3cret-for-the-hashing-test"
    app = make_application(name="hashing-test", organization=Organization.objects.get(name="Demo Buyer Inc."))
    app.client_secret = secret
    app.save()
    assert hasher_of(app.client_secret) == app_hashers[0]
    response = client_credentials_token(app.client_id, secret)
    assert response.status_code == 200, response.content
