from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.accounts import RateLimitedPasswordChangeView

admin.site.site_header = "Lodestone curation"
admin.site.site_title = "Lodestone admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Buyers' login, logout and password change: Django's views, templates/registration/.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", RateLimitedPasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("api/v1/", include("config.api", namespace="api")),
    path("", include("alerts.urls")),
    path("", include("scenarios.urls")),
    path("", include("dashboards.urls")),
]
