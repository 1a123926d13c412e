from django.urls import path

from dashboards import plan_views, views

app_name = "dashboards"
urlpatterns = [
    path("", views.overview, name="overview"),
    # Browsers ask for /favicon.ico whatever the page says: answer instead of logging a 404.
    path("favicon.ico", views.favicon),
    path("minerals/<slug:slug>/", views.mineral, name="mineral"),
    path("minerals/<slug:slug>/briefing/", views.briefing, name="briefing"),
    path("compare/", views.compare, name="compare"),
    path("policies/", views.policies, name="policies"),
    path("policies/<slug:key>/", views.policy, name="policy"),
    path("portfolio/", views.portfolio, name="portfolio"),
    # The edit page of the user's first organization; listed before the organization pages, so
    # an organization whose slug were "edit" would only be reachable as the first organization.
    path("portfolio/edit/", views.portfolio_edit, name="portfolio_edit"),
    path("portfolio/briefing/", views.portfolio_briefing, name="portfolio_briefing"),
    # The transition plan of the user's first organization (same caveat as "edit" above).
    path("portfolio/plan/", plan_views.plan, name="plan"),
    path("portfolio/plan/edit/", plan_views.plan_edit, name="plan_edit"),
    path("portfolio/<slug:org>/", views.portfolio, name="portfolio_org"),
    path("portfolio/<slug:org>/edit/", views.portfolio_edit, name="portfolio_org_edit"),
    path("portfolio/<slug:org>/briefing/", views.portfolio_briefing, name="portfolio_org_briefing"),
    path("portfolio/<slug:org>/plan/", plan_views.plan, name="plan_org"),
    path("portfolio/<slug:org>/plan/edit/", plan_views.plan_edit, name="plan_org_edit"),
]
