"""Run both alert producers once, now (what beat does every minute and every day)."""

from typing import Any

from django.core.management.base import BaseCommand

from alerts.capture import policy_changes_capture
from alerts.deadlines import suspension_deadlines_fire


class Command(BaseCommand):
    help = "Capture policy changes into events and fire today's suspension deadlines (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        captured = policy_changes_capture()
        while captured:
            self.stdout.write(f"Policy changes captured: {captured} events.")
            captured = policy_changes_capture()
        self.stdout.write(f"Suspension deadlines fired: {suspension_deadlines_fire()} events.")
