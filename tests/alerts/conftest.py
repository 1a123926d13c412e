from __future__ import annotations

import pytest

from suppliers.models import Membership, Organization

# The real worker of the risk engine's integration tests (its own Redis database, flushed).
from tests.dashboards.conftest import celery_worker, real_broker, test_redis_url, wait_until  # noqa: F401


@pytest.fixture
def buyer(demo, django_user_model):  # type: ignore[no-untyped-def]
    """A viewer of Demo Buyer Inc. (fictional), whose portfolio requires rare earths, gallium, ..."""
    user = django_user_model.objects.create_user("alert-buyer", password="pw-alert-buyer-123")
    Membership.objects.create(user=user, organization=Organization.objects.get(name="Demo Buyer Inc."))
    return user


@pytest.fixture
def outsider(demo, django_user_model):  # type: ignore[no-untyped-def]
    """A user of no organization who watches nothing."""
    return django_user_model.objects.create_user("alert-outsider", password="pw-alert-outsider-123")
