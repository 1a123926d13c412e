"""Alert pages: thresholds, e-mail, an organization admin's defaults and webhooks; the
authorization matrix of every alerts route (anonymous, admin of A, member of A, admin of B)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from alerts import email
from alerts.fanout import notify
from alerts.models import (
    DeliveryPreference,
    Event,
    EventKind,
    Notification,
    Threshold,
    ThresholdMetric,
    Watch,
    WebhookDelivery,
    WebhookEndpoint,
)
from suppliers.models import Membership, Organization
from tests.alerts.receiver import webhook_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs(demo, django_user_model):  # type: ignore[no-untyped-def]
    a = Organization.objects.get(name="Demo Buyer Inc.")
    b = Organization.objects.create(name="Other Buyer (fictional)", slug="other-buyer-alerts", country=a.country)
    users = {}
    for name, org, role in (("admin-a", a, "admin"), ("member-a", a, "viewer"), ("admin-b", b, "admin")):
        users[name] = django_user_model.objects.create_user(
            f"alerts-{name}", password="pw-alerts-123456", email=f"{name}@example.test"
        )
        Membership.objects.create(user=users[name], organization=org, role=role)
    endpoint = WebhookEndpoint.objects.create(organization=a, url="https://partner.example/hook", secret="whsec_a")
    event = Event.objects.create(kind=EventKind.THRESHOLD_CROSSED, occurred_at="2026-12-01T00:00:00Z", title="A's own",
                                 organization=a, dedupe_key="test-pages:a")  # fmt: skip
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, next_attempt_at="2026-12-01T00:00:00Z")
    return {"a": a, "b": b, "endpoint": endpoint, "delivery": delivery, **users}


ROLES = ("anonymous", "member-a", "admin-a", "admin-b")


def _routes(o: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...]]]:
    a, e, d = o["a"].slug, o["endpoint"].pk, o["delivery"].pk
    #          method  url                                                         anon member-a admin-a admin-b
    return [
        ("GET", "/inbox/", (302, 200, 200, 200)),
        ("GET", "/inbox/watching/", (302, 200, 200, 200)),
        ("GET", f"/inbox/organization/{a}/", (302, 404, 200, 404)),
        ("GET", f"/inbox/organization/{a}/webhooks/{e}/", (302, 404, 200, 404)),
        ("POST", f"/inbox/organization/{a}/webhooks/{e}/enable/", (302, 404, 302, 404)),
        ("POST", f"/inbox/organization/{a}/webhooks/{e}/redeliver/{d}/", (302, 404, 302, 404)),
        ("POST", f"/inbox/organization/{a}/threshold/999999/remove/", (302, 404, 404, 404)),
        ("POST", "/inbox/watching/email/", (302, 400, 400, 400)),
        ("POST", "/inbox/watching/thresholds/", (302, 400, 400, 400)),
    ]


def test_authorization_matrix_of_the_alerts_pages(client, orgs) -> None:  # type: ignore[no-untyped-def]
    for role_index, role in enumerate(ROLES):
        client.logout()
        if role != "anonymous":
            client.force_login(orgs[role])
        for method, url, expected in _routes(orgs):
            response = client.get(url) if method == "GET" else client.post(url, {})
            assert response.status_code == expected[role_index], (role, method, url)
    # The secret shows to A's admin only.
    client.force_login(orgs["admin-a"])
    assert (
        "whsec_a"
        in client.get(f"/inbox/organization/{orgs['a'].slug}/webhooks/{orgs['endpoint'].pk}/").content.decode()
    )


def test_events_api_shows_an_organizations_own_events_to_its_members_only(client, orgs) -> None:  # type: ignore[no-untyped-def]
    client.force_login(orgs["member-a"])
    assert "test-pages:a" in {e["dedupe_key"] for e in client.get("/api/v1/events/?page_size=1000").json()["results"]}
    client.force_login(orgs["admin-b"])
    assert "test-pages:a" not in {
        e["dedupe_key"] for e in client.get("/api/v1/events/?page_size=1000").json()["results"]
    }


def test_an_admin_sets_defaults_and_adds_a_loopback_webhook_in_development(client, orgs) -> None:  # type: ignore[no-untyped-def]
    client.force_login(orgs["admin-a"])
    url = f"/inbox/organization/{orgs['a'].slug}/"
    assert client.post(url, {"action": "threshold", "metric": "china_share", "level": "40"}).status_code == 302
    assert Threshold.objects.get(organization=orgs["a"], user=None).level == 0.4  # percent in, fraction stored
    assert client.post(url, {"action": "watch", "country": "CHN"}).status_code == 302
    assert Watch.objects.filter(organization=orgs["a"], country_id="CHN").exists()
    assert client.post(url, {"action": "email", "email": "daily"}).status_code == 302
    assert DeliveryPreference.objects.get(organization=orgs["a"]).email == "daily"
    assert email.email_modes({orgs["member-a"].pk})[orgs["member-a"].pk] == "daily"  # inherited
    response = client.post(url, {"action": "webhook", "url": "https://10.0.0.1/hook"})
    assert response.status_code == 400
    assert "not public" in response.content.decode()
    with webhook_receiver() as receiver:
        assert client.post(url, {"action": "webhook", "url": f"{receiver.url}/in"}).status_code == 302


def test_user_threshold_and_instant_email(client, orgs, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    member = orgs["member-a"]
    client.force_login(member)
    assert client.post("/inbox/watching/thresholds/", {"metric": "supply_risk", "level": "1.5"}).status_code == 302
    assert Threshold.objects.get(user=member).metric == ThresholdMetric.SUPPLY_RISK
    assert client.post("/inbox/watching/email/", {"email": "instant"}).status_code == 302
    event = Event.objects.create(kind=EventKind.POLICY_CHANGED, occurred_at="2026-12-02T00:00:00Z", title="Mail me",
                                 organization=orgs["a"], dedupe_key="test-pages:mail")  # fmt: skip
    notify([event])
    assert email.instant_emails_send() >= 1
    assert [m.subject for m in mail.outbox if member.email in m.to] == ["[Lodestone] Mail me"]
    assert email.instant_emails_send() == 0  # once
    assert Notification.objects.get(user=member, event=event).emailed_at is not None


def test_daily_digest_collects_the_days_alerts(orgs, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    member = orgs["member-a"]
    email.preference_set(user_id=member.pk, email="daily")
    events = [
        Event.objects.create(
            kind=EventKind.POLICY_CHANGED,
            occurred_at="2026-12-02T00:00:00Z",
            title=f"Digest {i}",
            organization=orgs["a"],
            dedupe_key=f"test-pages:digest:{i}",
        )
        for i in range(3)
    ]
    notify(events)
    assert email.instant_emails_send() == 0  # a digest reader gets no instant e-mail
    email.daily_digests_send()
    [digest] = [m for m in mail.outbox if member.email in m.to]
    assert digest.subject == "[Lodestone] 3 alerts today"
    assert all(f"Digest {i}" in digest.body for i in range(3))


# `orgs` first: the demo, restored after a transactional test, would drop the admin user and its session.
def test_the_webhook_admin_refuses_an_ssrf_url(orgs, admin_client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LODESTONE_WEBHOOK_ALLOW_LOOPBACK = False
    response = admin_client.post(
        "/admin/alerts/webhookendpoint/add/",
        {"organization": orgs["a"].pk, "url": "https://127.0.0.1/hook", "description": "", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "not public" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 1
