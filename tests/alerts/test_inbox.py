"""The inbox: own notifications only, mark read, the unread count in the navigation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.deadlines import suspension_deadlines_fire
from alerts.models import Notification


@pytest.fixture
def lapsed(buyer, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """The November 2026 lapses, fired on 2026-12-04 into the demo buyer's inbox."""
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        suspension_deadlines_fire(dt.date(2026, 12, 4))
    return Notification.objects.filter(user=buyer)


@pytest.mark.django_db
def test_the_inbox_shows_the_november_lapses_and_only_the_users_own(client, buyer, outsider, lapsed) -> None:  # type: ignore[no-untyped-def]
    assert lapsed.count() >= 2
    client.force_login(buyer)
    page = client.get("/inbox/").content.decode()
    assert "applies again from 2026-11-11" in page
    assert "applies again from 2026-11-28" in page
    assert f"{lapsed.count()} unread" in page  # the navigation's count

    client.force_login(outsider)
    page = client.get("/inbox/").content.decode()
    assert "applies again from" not in page
    assert "unread" not in page
    # Another user's notification: 404, and it stays unread.
    mine = lapsed.first()
    assert client.post(f"/inbox/{mine.pk}/read/").status_code == 404
    assert client.post("/inbox/read/").status_code == 302
    mine.refresh_from_db()
    assert mine.read_at is None


@pytest.mark.django_db
def test_mark_read_and_mark_all_read_update_the_count(  # type: ignore[no-untyped-def]
    client, buyer, lapsed, django_capture_on_commit_callbacks
) -> None:
    client.force_login(buyer)
    total = lapsed.count()
    first = lapsed.order_by("id").first()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/inbox/{first.pk}/read/").status_code == 302
    assert f"{total - 1} unread" in client.get("/inbox/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/inbox/read/")
    page = client.get("/inbox/").content.decode()
    assert "unread" not in page
    assert not Notification.objects.filter(user=buyer, read_at__isnull=True).exists()
    assert client.get(f"/inbox/{first.pk}/read/").status_code == 405  # writes are POSTs


@pytest.mark.django_db
def test_inbox_needs_a_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_inbox_query_count_is_fixed_and_the_nav_count_is_cached(client, buyer, lapsed) -> None:  # type: ignore[no-untyped-def]
    client.force_login(buyer)
    client.get("/inbox/")  # warm: the session and the unread count
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/inbox/").status_code == 200
    # The user and the notifications with their events (sessions are cached); the unread count too.
    assert len(queries) == 2, [q["sql"] for q in queries]
    assert not any("COUNT" in q["sql"].upper() for q in queries)


@pytest.mark.django_db
def test_a_user_chooses_what_to_watch_and_only_removes_their_own(client, buyer, outsider) -> None:  # type: ignore[no-untyped-def]
    from alerts.models import Watch

    client.force_login(outsider)
    assert client.post("/inbox/watching/", {"mineral": "gallium"}).status_code == 302
    assert client.post("/inbox/watching/", {"mineral": "gallium"}).status_code == 302  # again: no second row
    assert client.post("/inbox/watching/", {"country": "CHN"}).status_code == 302
    both = client.post("/inbox/watching/", {"mineral": "gallium", "measure_type": "export_ban"})
    assert both.status_code == 400
    assert "Choose exactly one" in both.content.decode()
    watched = Watch.objects.filter(user=outsider)
    assert sorted((w.mineral.slug if w.mineral else w.country_id) for w in watched) == ["CHN", "gallium"]
    page = client.get("/inbox/watching/").content.decode()
    assert "Mineral: Gallium" in page
    assert "None: you are not a member" in page

    client.force_login(buyer)
    assert "Rare earths" in client.get("/inbox/watching/").content.decode()  # the portfolio's minerals
    theirs = Watch.objects.filter(user=outsider).first()
    assert client.post(f"/inbox/watching/{theirs.pk}/remove/").status_code == 404
    assert Watch.objects.filter(pk=theirs.pk).exists()
    client.force_login(outsider)
    assert client.post(f"/inbox/watching/{theirs.pk}/remove/").status_code == 302
    assert not Watch.objects.filter(pk=theirs.pk).exists()
