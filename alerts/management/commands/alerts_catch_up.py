"""Run every alert producer once, now (what beat does every minute and every day)."""

from typing import Any

from django.core.management.base import BaseCommand

from alerts.capture import policy_changes_capture
from alerts.deadlines import suspension_deadlines_fire
from alerts.editions import data_editions_capture
from alerts.tasks import sweep_deliveries
from alerts.thresholds import thresholds_evaluate


class Command(BaseCommand):
    help = (
        "Capture policy changes and import batches into events, fire today's suspension deadlines, "
        "evaluate thresholds, and send the deliveries that are due (idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        captured = policy_changes_capture()
        while captured:
            self.stdout.write(f"Policy changes captured: {captured} events.")
            captured = policy_changes_capture()
        self.stdout.write(f"Suspension deadlines fired: {suspension_deadlines_fire()} events.")
        self.stdout.write(f"Data editions and import batches: {data_editions_capture()} events.")
        self.stdout.write(f"Threshold crossings: {thresholds_evaluate()} events.")
        self.stdout.write(f"Webhook endpoints with deliveries due: {sweep_deliveries()}.")
