"""Webhooks: signed POSTs of an organization's alerts to its partner systems, nothing lost.

Outbox: the fan-out writes one WebhookDelivery per (endpoint, event) in the event's transaction.
A Celery task per endpoint claims the due ones (a lease, so two runs never send the same rows at
once), POSTs them in batches of up to WEBHOOK_BATCH events, logs the attempt (WebhookAttempt:
status code or error) and marks them delivered on a 2xx. Anything else, a redirect included
(never followed), schedules a retry with exponential backoff; after WEBHOOK_DISABLE_AFTER failed
POSTs in a row the endpoint is disabled. Delivery is at least once: a receiver deduplicates by
each event's `idempotency_key` (a worker lost after the POST sends it again when the lease ends).

Signature (docs/api.md): `Lodestone-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>." + body)>`, the timestamp also in `Lodestone-Timestamp`.

SSRF: a URL must be https (http only to loopback, and loopback at all only when
LODESTONE_WEBHOOK_ALLOW_LOOPBACK, on with DEBUG); its host is resolved and every address must be
public (no private, loopback, link-local, multicast, reserved or unspecified one). The POST goes
to the address checked, with the name in the Host header and for TLS (no second lookup that a
rebinding DNS could answer differently).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts.fanout import dispatch
from alerts.models import DeliveryStatus, Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "Lodestone-Signature"
TIMESTAMP_HEADER = "Lodestone-Timestamp"
SIGNATURE_TOLERANCE_SECONDS = 300
# A claimed batch is the run's for this long: above the POST timeout, below the beat's patience.
LEASE = timedelta(seconds=120)
POST_TIMEOUT = urllib3.Timeout(connect=3.0, read=10.0)
MAX_ATTEMPTS = 12  # ~4 days of backoff before a delivery is given up (then redeliver by hand)


class UnsafeURL(ValueError):
    """A webhook URL refused: wrong scheme, unresolvable, or an address that is not public."""


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


# -- signing


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def signature_verify(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """What a receiver does (the docs' snippet): recompute, compare in constant time, refuse old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), parts.get("v1", ""))


# -- SSRF


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address the POST connects to


def _allowed(address: str, *, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def target_resolve(url: str, *, allow_loopback: bool | None = None) -> Target:
    """The address to POST to, or UnsafeURL. Every address the name resolves to must be allowed."""
    if allow_loopback is None:
        allow_loopback = settings.LODESTONE_WEBHOOK_ALLOW_LOOPBACK
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL("The URL must be https://host/...")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are refused: the signature authenticates Lodestone.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:
        raise UnsafeURL(f"The host does not resolve: {error}") from error
    addresses = sorted({str(info[4][0]) for info in infos})
    refused = [a for a in addresses if not _allowed(a, allow_loopback=allow_loopback)]
    if not addresses or refused:
        raise UnsafeURL(f"The host resolves to an address that is not public: {', '.join(refused)}")
    loopback_only = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
    if parts.scheme == "http" and not loopback_only:
        raise UnsafeURL("Plain http is accepted only to loopback in development: use https.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


def _post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST to the checked address; never follows a redirect; returns the status code."""
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address, target.port, timeout=POST_TIMEOUT, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
        )  # fmt: skip
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=POST_TIMEOUT, retries=False, maxsize=1)
    try:
        response = pool.urlopen(
            "POST", target.path, body=body, headers={**headers, "Host": host_header},
            redirect=False, retries=False, preload_content=True,
        )  # fmt: skip
        return int(response.status)
    finally:
        pool.close()


# -- the endpoint service


def endpoint_create(*, organization_id: int, url: str, description: str = "") -> WebhookEndpoint:
    """Add an endpoint after checking its URL (checked again at every POST: DNS changes)."""
    try:
        target_resolve(url)
    except UnsafeURL as error:
        raise ValidationError({"url": str(error)}) from error
    endpoint = WebhookEndpoint(organization_id=organization_id, url=url, description=description, secret=new_secret())
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def endpoint_enable(*, endpoint_id: int, organization_id: int) -> bool:
    """Re-enable a disabled endpoint (its pending deliveries are sent from now)."""
    return bool(
        WebhookEndpoint.objects.filter(pk=endpoint_id, organization_id=organization_id).update(
            is_active=True, consecutive_failures=0, disabled_reason=""
        )
    )


def redeliver(*, delivery_ids: list[int], organization_id: int | None = None, endpoint_id: int | None = None) -> int:
    """Manual redelivery: the deliveries become due now (delivered or given up alike)."""
    deliveries = WebhookDelivery.objects.filter(pk__in=delivery_ids)
    if organization_id is not None:
        deliveries = deliveries.filter(endpoint__organization_id=organization_id)
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    endpoint_ids = set(deliveries.values_list("endpoint_id", flat=True))
    count = deliveries.update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), delivered_at=None)
    transaction.on_commit(lambda: dispatch(endpoint_ids, email=False), robust=True)
    return count


# -- delivering


def event_payload(event: Event, mineral_slugs: list[str], organization_slug: str | None) -> dict[str, Any]:
    """One event as a webhook carries it (the fields of /api/v1/events/ and its idempotency key)."""
    return {
        "idempotency_key": f"lodestone-event-{event.pk}",
        "id": event.pk,
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "title": event.title,
        "measure": event.measure_key,
        "measure_type": event.measure_type,
        "issuer": event.issuer_id,
        "minerals": mineral_slugs,
        "due_on": event.due_on.isoformat() if event.due_on else None,
        "organization": organization_slug,
        "details": event.details,
        "dedupe_key": event.dedupe_key,
    }


def backoff_seconds(attempts: int) -> float:
    """Exponential: 10 s, 20 s, 40 s ... capped at 6 hours."""
    return float(min(settings.LODESTONE_WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), 6 * 3600))


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    delivered: int
    more: bool  # due deliveries are left (the batch budget ran out)
    retry_in: float | None  # the last POST failed: try again after this


def _claim(endpoint_id: int, batch: int) -> list[tuple[int, int, int]]:
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("event_id")
            .values_list("id", "event_id", "attempts")[:batch]
        )
        if rows:
            WebhookDelivery.objects.filter(pk__in=[r[0] for r in rows]).update(next_attempt_at=now + LEASE)
    return rows


# Events never change once written, and every endpoint told of one gets the same bytes: a worker
# keeps the latest PAYLOAD_CACHE_SIZE serialized events (a burst to 100 endpoints builds each once),
# keyed by id and the unique dedupe key (an id can come back after a rolled-back insert).
PAYLOAD_CACHE_SIZE = 20_000
_payload_cache: OrderedDict[tuple[int, str], bytes] = OrderedDict()


def _payloads(event_ids: list[int]) -> list[bytes]:
    """Each event's JSON, in id order: one query, two more for the events not cached yet."""
    keys = sorted(Event.objects.filter(pk__in=event_ids).values_list("pk", "dedupe_key"))
    missing = [pk for pk, dedupe_key in keys if (pk, dedupe_key) not in _payload_cache]
    if missing:
        slugs: dict[int, list[str]] = {i: [] for i in missing}
        for event_id, slug in Event.minerals.through.objects.filter(event_id__in=missing).values_list(
            "event_id", "mineral__slug"
        ):
            slugs[event_id].append(slug)
        for e in Event.objects.filter(pk__in=missing).select_related("organization"):
            payload = event_payload(e, sorted(slugs[e.pk]), e.organization.slug if e.organization else None)
            _payload_cache[(e.pk, e.dedupe_key)] = json.dumps(payload, separators=(",", ":")).encode()
        while len(_payload_cache) > PAYLOAD_CACHE_SIZE:
            _payload_cache.popitem(last=False)
    return [_payload_cache[key] for key in keys if key in _payload_cache]


def endpoint_deliver(*, endpoint_id: int, max_batches: int = 20) -> DeliveryRun:
    """Send the endpoint's due deliveries, a batch per POST, until none is due or a POST fails."""
    delivered = 0
    for _ in range(max_batches):
        endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).first()
        if endpoint is None:
            return DeliveryRun(delivered, more=False, retry_in=None)
        claimed = _claim(endpoint_id, settings.LODESTONE_WEBHOOK_BATCH)
        if not claimed:
            return DeliveryRun(delivered, more=False, retry_in=None)
        ids = [r[0] for r in claimed]
        event_ids = [r[1] for r in claimed]
        body = b'{"endpoint":%d,"events":[%s]}' % (endpoint.pk, b",".join(_payloads(event_ids)))
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Lodestone-Webhooks/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(endpoint.secret, timestamp, body),
        }
        started, clock = timezone.now(), time.perf_counter()
        status: int | None = None
        error = ""
        try:
            status = _post(target_resolve(endpoint.url), body, headers)
            if not 200 <= status < 300:
                error = "redirect not followed" if 300 <= status < 400 else f"HTTP {status}"
        except UnsafeURL as refused:
            error = f"refused: {refused}"
        except (urllib3.exceptions.HTTPError, OSError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        now = timezone.now()
        WebhookAttempt.objects.create(
            endpoint=endpoint, started_at=started, duration_ms=(time.perf_counter() - clock) * 1000,
            status_code=status, error=error[:300], event_ids=event_ids,
        )  # fmt: skip
        if not error:
            WebhookDelivery.objects.filter(pk__in=ids).update(
                status=DeliveryStatus.DELIVERED, delivered_at=now, last_status_code=status, attempts=F("attempts") + 1
            )
            if endpoint.consecutive_failures:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
            delivered += len(ids)
            continue
        attempts = max(r[2] for r in claimed) + 1
        retry_in = backoff_seconds(attempts)
        with transaction.atomic():
            pending = WebhookDelivery.objects.filter(pk__in=ids)
            pending.update(
                attempts=F("attempts") + 1, last_status_code=status, next_attempt_at=now + timedelta(seconds=retry_in)
            )
            pending.filter(attempts__gte=MAX_ATTEMPTS).update(status=DeliveryStatus.FAILED)
            failures = endpoint.consecutive_failures + 1
            disable = failures >= settings.LODESTONE_WEBHOOK_DISABLE_AFTER
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                consecutive_failures=failures,
                is_active=not disable,
                disabled_reason=f"Disabled after {failures} failed deliveries in a row; last: {error}"[:300]
                if disable
                else "",
            )
        return DeliveryRun(delivered, more=False, retry_in=None if disable else retry_in)
    return DeliveryRun(delivered, more=True, retry_in=None)


def endpoints_due() -> list[int]:
    """Active endpoints with a due delivery (for the beat sweep: broker down, lease expired)."""
    return list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now(), endpoint__is_active=True
        )
        .values_list("endpoint_id", flat=True)
        .distinct()
        .order_by("endpoint_id")
    )
