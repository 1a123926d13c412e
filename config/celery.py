import os

from celery import Celery
from celery.signals import import_modules

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lodestone")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

NO_BROKER = (
    "No broker configured: set CELERY_BROKER_URL or REDIS_URL (e.g. redis://127.0.0.1:6379/0) "
    "before starting a Celery worker or beat. Without one, Lodestone runs its tasks in-process "
    "and needs neither."
)


@import_modules.connect
def _require_a_broker(**kwargs: object) -> None:
    """A worker or beat starting (both import the task modules first) needs a real broker:
    Celery would otherwise fall back to amqp://guest@localhost// and talk to whatever listens."""
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        # SystemExit prints the message alone, without a traceback, and exits with status 1.
        raise SystemExit(NO_BROKER)
