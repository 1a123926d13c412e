from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Lodestone curation"
admin.site.site_title = "Lodestone admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("dashboards.urls")),
]
