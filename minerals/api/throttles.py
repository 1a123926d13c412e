"""Per-caller, per-scope rate limits (429 with Retry-After, set by DRF from `wait()`).

The scope is the view's `throttle_scope` (reference, metrics, portfolio, bulk); the caller is
the token's application, else the user, else the client address. Rates come from
settings.LODESTONE_API_THROTTLE_RATES at request time. Counts live in the default cache
(Redis when REDIS_URL is set, shared by every worker).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from django.conf import settings
from oauth2_provider.models import AbstractAccessToken
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from minerals.api.permissions import request_token


class CallerScopeThrottle(SimpleRateThrottle):
    cache_format = "lodestone:throttle:%(scope)s:%(ident)s"

    def __init__(self) -> None:  # the rate depends on the view: parsed in allow_request
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if getattr(view, "action", None) == "bulk":
            self.scope = "bulk"  # a bulk upsert costs thousands of rows: its own, lower rate
        if not self.scope:
            return True
        self.rate = settings.LODESTONE_API_THROTTLE_RATES.get(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        token = request_token(request)
        if token is not None:
            ident = f"app{token.application_id}"
        elif request.user and request.user.is_authenticated:
            ident = f"user{request.user.pk}"
        else:
            ident = f"ip{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def token_call_allowed(token: AbstractAccessToken, scope: str) -> bool:
    """Count one call of `scope` by the token's application, as the views' throttle does; False
    when over the rate. For answers served before DRF runs (config.stored_responses): the same
    counter, so a caller's limit is one whichever path answers it."""
    caller = cast(Request, SimpleNamespace(auth=token))
    return CallerScopeThrottle().allow_request(caller, SimpleNamespace(throttle_scope=scope))
