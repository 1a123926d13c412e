"""/policies/feed/: an Atom feed of public policy events (changes, suspensions, lapses)."""

from __future__ import annotations

import datetime as dt

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from alerts import selectors
from alerts.models import Event

FEED_SIZE = 50


class PolicyChangesFeed(Feed):
    feed_type = Atom1Feed
    title = "Lodestone: policy measure changes"
    subtitle = "Export controls on critical minerals added, changed, suspended, ended, and suspensions running out."

    def link(self) -> str:
        return reverse("dashboards:policies")

    def items(self) -> list[Event]:
        return list(selectors.public_events(FEED_SIZE))

    def item_title(self, item: Event) -> str:
        return item.title

    def item_description(self, item: Event) -> str:
        return f"{item.get_kind_display()} ({item.measure_key})."

    def item_link(self, item: Event) -> str:
        if item.measure_id:
            return reverse("dashboards:policy", args=[item.measure_key])
        return reverse("dashboards:policies")

    def item_guid(self, item: Event) -> str:
        # One entry per event, stable across runs (the event's own key).
        return f"tag:lodestone,2026:event:{item.dedupe_key}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Event) -> dt.datetime:
        return item.occurred_at

    def item_updateddate(self, item: Event) -> dt.datetime:
        return item.occurred_at

    def item_categories(self, item: Event) -> list[str]:
        return [item.kind]
