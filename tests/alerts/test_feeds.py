"""The change feed: /api/v1/events/ (scope events:read, organization-bound) and /policies/feed/ (Atom)."""

from __future__ import annotations

import datetime as dt
import secrets
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from rest_framework.test import APIClient

from alerts.deadlines import suspension_deadlines_fire
from alerts.models import Event, EventKind
from minerals.api.authentication import forget_tokens
from suppliers.models import ApplicationOrganization, Membership, Organization

ATOM = "{http://www.w3.org/2005/Atom}"


def _token_client(scope: str, organization: Organization | None) -> APIClient:
    app = Application.objects.create(
        name=f"partner-{secrets.token_hex(3)}",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    if organization is not None:
        ApplicationOrganization.objects.create(application=app, organization=organization)
    raw = secrets.token_urlsafe(30)
    AccessToken.objects.create(application=app, token=raw, scope=scope, expires=timezone.now() + timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def events(demo: None) -> dict[str, Any]:
    cache.clear()  # throttle counters
    suspension_deadlines_fire(dt.date(2026, 12, 4))
    org_a = Organization.objects.get(name="Demo Buyer Inc.")
    org_b = Organization.objects.create(name="Other Buyer LLC", slug="other-buyer", country_id="USA", is_fictional=True)
    now = timezone.now()
    own = {
        org: Event.objects.create(
            kind=EventKind.POLICY_CHANGED,
            occurred_at=now,
            title=f"Private to {org.slug}",
            organization=org,
            dedupe_key=f"test:{org.slug}",
        )
        for org in (org_a, org_b)
    }
    return {"org_a": org_a, "org_b": org_b, "own": own, "public": Event.objects.filter(organization__isnull=True)}


def _all_pages(client: APIClient, url: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        rows += response.json()["results"]
        url = response.json()["next"]
    return rows


@pytest.mark.django_db
def test_a_token_sees_public_events_and_its_organizations_never_anothers(events) -> None:  # type: ignore[no-untyped-def]
    client = _token_client("events:read", events["org_a"])
    rows = _all_pages(client, "/api/v1/events/?page_size=2")  # several pages: the cursor walks them all
    ids = [row["id"] for row in rows]
    assert ids == sorted(set(ids))  # oldest first, no duplicates across pages
    assert [r["title"] for r in rows if r["organization"]] == ["Private to demo-buyer-inc"]
    assert len(rows) == events["public"].count() + 1
    lapse = next(r for r in rows if r["kind"] == "suspension.lapsed" and r["measure"] == "cn-2024-46-us-ban")
    assert lapse["due_on"] == "2026-11-28"
    assert set(lapse["minerals"]) == {"gallium", "germanium", "antimony"}
    # Polling for what is new.
    last = ids[-2]
    assert [r["id"] for r in client.get(f"/api/v1/events/?after={last}").json()["results"]] == [ids[-1]]


@pytest.mark.django_db
def test_a_session_sees_its_own_organizations_events_only(events, django_user_model) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("events-b")
    Membership.objects.create(user=user, organization=events["org_b"])
    client = APIClient()
    client.force_login(user)
    rows = _all_pages(client, "/api/v1/events/")
    private = [r["title"] for r in rows if r["organization"]]
    assert private == ["Private to other-buyer"]


@pytest.mark.django_db
def test_the_scope_is_required(events) -> None:  # type: ignore[no-untyped-def]
    assert _token_client("reference:read portfolio:read", events["org_a"]).get("/api/v1/events/").status_code == 403
    assert APIClient().get("/api/v1/events/").status_code == 401


@pytest.mark.django_db
def test_events_query_count_does_not_grow_with_the_page(events) -> None:  # type: ignore[no-untyped-def]
    client = _token_client("events:read", events["org_a"])
    counts = []
    for size in (1, 5):
        forget_tokens()  # each count reads its token (kept in the process for 10 s otherwise)
        with CaptureQueriesContext(connection) as queries:
            assert len(client.get(f"/api/v1/events/?page_size={size}").json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # token, its binding to the organization, the events, their minerals (+ throttle-free cache).
    assert counts[0] <= 5, counts


@pytest.mark.django_db
def test_the_atom_feed_lists_public_policy_events(client, events) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/policies/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)  # noqa: S314 (our own response, not untrusted input)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == events["public"].count()
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert not any(t.startswith("Private to") for t in titles)
    links = {
        e.find(f"{ATOM}link").get("href").removeprefix("http://testserver")
        for e in entries
        if "applies again from 2026-11-28" in e.findtext(f"{ATOM}title")
    }
    assert links == {"/policies/cn-2024-46-us-ban/", "/policies/cn-2024-46-us-graphite/"}
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids)
