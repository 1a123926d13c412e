from typing import Any

from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"

    def ready(self) -> None:
        # The lower apps announce committed changes; the risk engine listens (imports point up).
        from minerals.services import minerals_changed
        from suppliers.services import organizations_changed

        minerals_changed.connect(_minerals_changed, dispatch_uid="dashboards.recompute.minerals")
        organizations_changed.connect(_organizations_changed, dispatch_uid="dashboards.recompute.organizations")


def _minerals_changed(sender: Any, mineral_ids: list[int], **kwargs: Any) -> None:
    from dashboards.tasks import recompute_minerals_enqueue

    recompute_minerals_enqueue(mineral_ids)


def _organizations_changed(sender: Any, organization_ids: list[int], **kwargs: Any) -> None:
    from dashboards.tasks import recompute_organizations_enqueue

    recompute_organizations_enqueue(organization_ids)
