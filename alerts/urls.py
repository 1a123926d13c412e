from django.urls import path

from alerts import feeds, views

app_name = "alerts"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.mark_all_read, name="mark_all_read"),
    path("inbox/<int:notification_id>/read/", views.mark_read, name="mark_read"),
    path("inbox/watching/", views.watching, name="watching"),
    path("inbox/watching/<int:watch_id>/remove/", views.unwatch, name="unwatch"),
    # Before dashboards' policies/<key>/ in config/urls.py: a measure keyed "feed" would be shadowed.
    path("policies/feed/", feeds.PolicyChangesFeed(), name="policy_feed"),
]
