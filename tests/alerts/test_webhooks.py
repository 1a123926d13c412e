"""Webhooks: signatures, SSRF refusals, no redirects, backoff, disabling, redelivery."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts import webhooks
from alerts.fanout import notify
from alerts.models import DeliveryStatus, Event, EventKind, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from suppliers.models import Organization
from tests.alerts.receiver import Receiver, webhook_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


def _org_event(org: Organization, n: int = 1) -> list[Event]:
    events = [
        Event(
            kind=EventKind.POLICY_CHANGED,
            occurred_at=timezone.now(),
            title=f"Test event {i}",
            organization=org,
            dedupe_key=f"test-webhook:{org.pk}:{i}",
        )
        for i in range(n)
    ]
    Event.objects.bulk_create(events)
    created = list(Event.objects.filter(dedupe_key__startswith=f"test-webhook:{org.pk}:").order_by("id"))
    notify(created)  # writes the deliveries; on commit (here: the test's atomic block never commits)
    return created


# -- signature


def test_signature_verifies_and_a_tampered_body_does_not() -> None:
    body = b'{"events":[{"idempotency_key":"lodestone-event-1"}]}'
    header = webhooks.signature_header("whsec_test", 1_800_000_000, body)
    assert webhooks.signature_verify("whsec_test", header, body, now=1_800_000_010)
    assert not webhooks.signature_verify("whsec_test", header, body.replace(b"1", b"2"), now=1_800_000_010)
    assert not webhooks.signature_verify("whsec_other", header, body, now=1_800_000_010)
    assert not webhooks.signature_verify("whsec_test", header, body, now=1_800_000_000 + 301)  # replayed late
    assert not webhooks.signature_verify("whsec_test", "garbage", body)


def test_the_documented_snippet_verifies_a_real_signature() -> None:
    """docs/api.md's verification snippet, run as written, on what Lodestone sends."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    snippet = docs.split("```python webhook-verify\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation
    body = b'{"endpoint":1,"events":[]}'
    import time

    now = int(time.time())
    header = webhooks.signature_header("whsec_doc", now, body)
    assert namespace["verify"](b"whsec_doc", header, body) is True
    assert namespace["verify"](b"whsec_doc", header, body + b" ") is False


# -- SSRF


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "http://93.184.215.14/hook",  # plain http to a public host (an address: no DNS, offline)
        "ftp://93.184.215.14/hook",
        "https://user:pw@93.184.215.14/hook",
    ],
)
def test_ssrf_targets_are_refused_outside_development(url: str) -> None:
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.target_resolve(url, allow_loopback=False)


def test_every_address_a_name_resolves_to_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one private address (DNS rebinding) is refused."""

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(webhooks.UnsafeURL, match=r"10\.1\.2\.3"):
        webhooks.target_resolve("https://partner.example/hook", allow_loopback=False)


def test_loopback_http_is_allowed_in_development_only() -> None:
    target = webhooks.target_resolve("http://127.0.0.1:8123/in", allow_loopback=True)
    assert (target.address, target.port, target.path) == ("127.0.0.1", 8123, "/in")
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.target_resolve("http://127.0.0.1:8123/in", allow_loopback=False)


@pytest.mark.django_db
def test_an_endpoint_to_a_private_address_cannot_be_added(demo, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LODESTONE_WEBHOOK_ALLOW_LOOPBACK = False
    org = Organization.objects.get(name="Demo Buyer Inc.")
    with pytest.raises(ValidationError):
        webhooks.endpoint_create(organization_id=org.pk, url="https://169.254.169.254/")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_a_delivery_refused_at_send_time_is_not_sent(demo, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    """DNS (or the setting) changed after the endpoint was added: checked again at every POST."""
    org = Organization.objects.get(name="Demo Buyer Inc.")
    endpoint = webhooks.endpoint_create(organization_id=org.pk, url=f"{receiver.url}/in")
    _org_event(org)
    settings.LODESTONE_WEBHOOK_ALLOW_LOOPBACK = False
    run = webhooks.endpoint_deliver(endpoint_id=endpoint.pk)
    assert run.delivered == 0
    assert receiver.received == []
    assert WebhookAttempt.objects.get(endpoint=endpoint).error.startswith("refused:")


# -- delivering


@pytest.mark.django_db
def test_a_delivery_is_signed_and_carries_idempotency_keys(demo, receiver) -> None:  # type: ignore[no-untyped-def]
    org = Organization.objects.get(name="Demo Buyer Inc.")
    endpoint = webhooks.endpoint_create(organization_id=org.pk, url=f"{receiver.url}/in")
    events = _org_event(org, 3)
    run = webhooks.endpoint_deliver(endpoint_id=endpoint.pk)
    assert run.delivered == 3
    [post] = receiver.received
    header = post.headers[webhooks.SIGNATURE_HEADER]
    assert webhooks.signature_verify(endpoint.secret, header, post.body)
    assert post.headers[webhooks.TIMESTAMP_HEADER] == header.split(",")[0].removeprefix("t=")
    assert [e["idempotency_key"] for e in post.events] == [f"lodestone-event-{e.pk}" for e in events]
    assert post.events[0]["organization"] == org.slug
    assert set(WebhookDelivery.objects.values_list("status", "last_status_code")) == {(DeliveryStatus.DELIVERED, 204)}
    assert webhooks.endpoint_deliver(endpoint_id=endpoint.pk).delivered == 0  # nothing twice


@pytest.mark.django_db
def test_a_redirect_is_not_followed_and_counts_as_a_failure(demo, receiver) -> None:  # type: ignore[no-untyped-def]
    org = Organization.objects.get(name="Demo Buyer Inc.")
    receiver.responses["/in"] = (302, {"Location": f"{receiver.url}/elsewhere"})
    endpoint = webhooks.endpoint_create(organization_id=org.pk, url=f"{receiver.url}/in")
    _org_event(org)
    run = webhooks.endpoint_deliver(endpoint_id=endpoint.pk)
    assert [r.path for r in receiver.received] == ["/in"]  # /elsewhere never asked
    assert run.delivered == 0
    assert run.retry_in == 10.0
    attempt = WebhookAttempt.objects.get(endpoint=endpoint)
    assert (attempt.status_code, attempt.error) == (302, "redirect not followed")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 302)


@pytest.mark.django_db
def test_backoff_doubles_and_the_endpoint_is_disabled_after_repeated_failures(demo, receiver, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LODESTONE_WEBHOOK_DISABLE_AFTER = 3
    org = Organization.objects.get(name="Demo Buyer Inc.")
    receiver.responses["/in"] = (500, {})
    endpoint = webhooks.endpoint_create(organization_id=org.pk, url=f"{receiver.url}/in")
    _org_event(org)
    waits = []
    for _ in range(3):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))  # time passes
        waits.append(webhooks.endpoint_deliver(endpoint_id=endpoint.pk).retry_in)
    assert waits == [10.0, 20.0, None]  # the third failure disables: no retry scheduled
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "3 failed deliveries" in endpoint.disabled_reason
    assert list(WebhookAttempt.objects.values_list("status_code", flat=True)) == [500, 500, 500]
    assert webhooks.endpoints_due() == []

    # The partner is fixed: the admin re-enables, redelivers, and it arrives.
    receiver.responses.clear()
    assert webhooks.endpoint_enable(endpoint_id=endpoint.pk, organization_id=org.pk)
    assert webhooks.redeliver(delivery_ids=list(WebhookDelivery.objects.values_list("pk", flat=True))) == 1
    assert webhooks.endpoint_deliver(endpoint_id=endpoint.pk).delivered == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


@pytest.mark.django_db
def test_redelivery_of_a_delivered_event_sends_it_again_with_the_same_key(demo, receiver) -> None:  # type: ignore[no-untyped-def]
    org = Organization.objects.get(name="Demo Buyer Inc.")
    other = Organization.objects.exclude(pk=org.pk).first()
    endpoint = webhooks.endpoint_create(organization_id=org.pk, url=f"{receiver.url}/in")
    _org_event(org)
    webhooks.endpoint_deliver(endpoint_id=endpoint.pk)
    delivery = WebhookDelivery.objects.get()
    if other is not None:  # another organization cannot redeliver it
        assert webhooks.redeliver(delivery_ids=[delivery.pk], organization_id=other.pk) == 0
    assert webhooks.redeliver(delivery_ids=[delivery.pk], organization_id=org.pk) == 1
    webhooks.endpoint_deliver(endpoint_id=endpoint.pk)
    assert receiver.keys() == [f"lodestone-event-{delivery.event_id}"] * 2  # the receiver dedups
