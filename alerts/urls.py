from django.urls import path

from alerts import feeds, views

app_name = "alerts"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.mark_all_read, name="mark_all_read"),
    path("inbox/<int:notification_id>/read/", views.mark_read, name="mark_read"),
    path("inbox/watching/", views.watching, name="watching"),
    path("inbox/watching/<int:watch_id>/remove/", views.unwatch, name="unwatch"),
    path("inbox/watching/thresholds/", views.threshold_add, name="threshold_add"),
    path("inbox/watching/thresholds/<int:threshold_id>/remove/", views.threshold_remove, name="threshold_remove"),
    path("inbox/watching/email/", views.email_set, name="email_set"),
    path("inbox/organization/<slug:slug>/", views.organization_settings, name="organization"),
    path(
        "inbox/organization/<slug:slug>/<str:kind>/<int:object_id>/remove/",
        views.organization_remove,
        name="organization_remove",
    ),
    path("inbox/organization/<slug:slug>/webhooks/<int:endpoint_id>/", views.webhook_detail, name="webhook"),
    path(
        "inbox/organization/<slug:slug>/webhooks/<int:endpoint_id>/enable/", views.webhook_enable, name="webhook_enable"
    ),
    path(
        "inbox/organization/<slug:slug>/webhooks/<int:endpoint_id>/redeliver/<int:delivery_id>/",
        views.webhook_redeliver,
        name="webhook_redeliver",
    ),
    # Before dashboards' policies/<key>/ in config/urls.py: a measure keyed "feed" would be shadowed.
    path("policies/feed/", feeds.PolicyChangesFeed(), name="policy_feed"),
]
