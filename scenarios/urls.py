from django.urls import path

from scenarios import views

app_name = "scenarios"
urlpatterns = [
    path("scenarios/", views.scenario_list, name="list"),
    path("scenarios/new/", views.scenario_edit, name="create"),
    path("scenarios/<int:pk>/", views.scenario_detail, name="detail"),
    path("scenarios/<int:pk>/edit/", views.scenario_edit, name="edit"),
    path("scenarios/<int:pk>/run/", views.scenario_run, name="run"),
]
