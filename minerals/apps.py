from django.apps import AppConfig


class MineralsConfig(AppConfig):
    name = "minerals"
