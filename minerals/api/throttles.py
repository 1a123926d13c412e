"""Per-caller, per-scope rate limits (429 with Retry-After, set by DRF from `wait()`).

The scope is the view's `throttle_scope` (reference, metrics, portfolio, bulk); the caller is
the token's application, else the user, else the client address. Rates come from
settings.LODESTONE_API_THROTTLE_RATES at request time. Counts live in the default cache
(Redis when REDIS_URL is set, shared by every worker).

Fixed windows of the rate's period (a minute for "1200/min"): one counter per caller, scope and
window, incremented in the cache (one command on Redis), so a call costs the same whatever
the rate. DRF's
own throttle keeps the time of every call in the window as one list that each call reads and
writes whole: 60,000 floats at 1,000 calls a second, most of the cost of a cached answer. A
caller may thus make up to twice the rate across a window's edge; Retry-After is the time left
in the window.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
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
        limit, seconds = self.parse_rate(self.rate)
        if limit is None or seconds is None:
            return True  # no rate for this scope
        now = self.timer()
        window = int(now // seconds)
        self.left = (window + 1) * seconds - now
        key = f"{self.get_cache_key(request, view)}:{window}"
        return window_count(caches[DEFAULT_CACHE_ALIAS], key, seconds + 1) <= limit

    def wait(self) -> float:
        return self.left

    def get_cache_key(self, request: Request, view: Any) -> str:
        token = request_token(request)
        if token is not None:
            ident = f"app{token.application_id}"
        elif request.user and request.user.is_authenticated:
            ident = f"user{request.user.pk}"
        else:
            ident = f"ip{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


# Count a call and give the window's counter its expiry on the first one, as one command: one
# round trip and one reply, where SET NX EX + INCR in a MULTI pipeline took four replies and was
# most of the CPU of a stored answer (benchmarks/hit_path.py).
_COUNT_IN_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def window_count(cache: BaseCache, key: str, timeout: int) -> int:
    """Count one call in the window's counter `key` (created with `timeout`); the count so far.
    On Redis one round trip (a script: INCR, and EXPIRE on the window's first call; EVALSHA,
    loaded again by redis-py if the server lost it); elsewhere (the in-process cache) incr, or
    add for the window's first call."""
    if isinstance(cache, RedisCache):
        full = cache.make_and_validate_key(key)
        script = cache._cache.get_client(full, write=True).register_script(_COUNT_IN_WINDOW)
        return int(script(keys=[full], args=[timeout]))
    try:
        return int(cache.incr(key))
    except ValueError:  # the window's first call; if another thread added it meanwhile, count on theirs
        return 1 if cache.add(key, 1, timeout=timeout) else int(cache.incr(key))


def token_call_allowed(token: AbstractAccessToken, scope: str) -> bool:
    """Count one call of `scope` by the token's application, as the views' throttle does; False
    when over the rate. For answers served before DRF runs (config.stored_responses): the same
    counter, so a caller's limit is one whichever path answers it."""
    caller = cast(Request, SimpleNamespace(auth=token))
    return CallerScopeThrottle().allow_request(caller, SimpleNamespace(throttle_scope=scope))
