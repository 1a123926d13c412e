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
        _watch_generation()


def _watch_generation() -> None:
    """Writes that move the public data generation (page_selectors.data_generation) replace the
    cached generation's epoch (dashboards.generation). The recompute, which writes the metrics
    states with UPDATE (no signal), calls generation.changed itself."""
    from django.db.models.signals import post_delete, post_save
    from simple_history.signals import post_create_historical_record

    from dashboards.models import MineralMetricsState
    from minerals.models import Mineral, PolicyMeasure
    from minerals.services import minerals_changed

    def moved(sender: Any, **kwargs: Any) -> None:
        from dashboards import generation

        generation.changed()

    def history(sender: Any, history_instance: Any, **kwargs: Any) -> None:
        if isinstance(history_instance, PolicyMeasure.history.model):
            moved(sender)

    for model in (Mineral, MineralMetricsState):
        post_save.connect(moved, sender=model, weak=False, dispatch_uid=f"dashboards.generation.save.{model.__name__}")
        post_delete.connect(moved, sender=model, weak=False, dispatch_uid=f"dashboards.generation.del.{model.__name__}")
    post_create_historical_record.connect(history, weak=False, dispatch_uid="dashboards.generation.policy-history")
    minerals_changed.connect(moved, weak=False, dispatch_uid="dashboards.generation.minerals")


def _minerals_changed(sender: Any, mineral_ids: list[int], **kwargs: Any) -> None:
    from dashboards.tasks import recompute_minerals_enqueue

    recompute_minerals_enqueue(mineral_ids)


def _organizations_changed(sender: Any, organization_ids: list[int], **kwargs: Any) -> None:
    from dashboards.tasks import recompute_organizations_enqueue

    recompute_organizations_enqueue(organization_ids)
