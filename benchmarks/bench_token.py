"""A `reference:read` token of the `bench` application that benchmarks/api_load.py made, for the
in-process benchmarks (api_list_profile.py, hit_path.py) run against its database."""

from __future__ import annotations

import secrets
import sys
from datetime import timedelta
from typing import Any


def bench_read_token() -> tuple[str, Any]:
    """(raw value, token row): the caller deletes the row when it is done. Needs Django set up."""
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, Application, set_token_value

    application = Application.objects.filter(name="bench").first()
    if application is None:
        sys.exit("no `bench` application: point DATABASE_URL at a database benchmarks/api_load.py prepared")
    raw = secrets.token_urlsafe(30)
    token = AccessToken(application=application, scope="reference:read", expires=timezone.now() + timedelta(hours=1))
    set_token_value(token, raw)
    token.save()
    return raw, token
