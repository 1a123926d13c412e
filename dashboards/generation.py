"""The data generation of the public pages, read from the cache instead of the database.

`page_selectors.data_generation()` is two aggregate queries (the minerals with their metrics
states, the policy history). Every page view and every stored response (page_cache) needs it
before anything else, so it is kept in the default cache beside an *epoch*: a random token
that every writer replaces, once at once and once more after its transaction commits
(`changed`). A cached generation is used only while the epoch it was read under is still the
current one. A reader that computed the generation from the database before a commit stores
it under the epoch it saw, which the commit has replaced by then: no reader can make an older
generation current again, so a request after a recompute always sees the new generation.

The cache must be shared by every process that writes (Redis: the web workers and the Celery
workers that recompute). With the in-process default cache (locmem) a recompute in another
process could not replace this process's epoch, so LODESTONE_GENERATION_CACHE_SECONDS is 0
there by default and every request reads the database (settings.py).

Each process also keeps the generation it read for LODESTONE_GENERATION_LOCAL_SECONDS (1 s by
default), so most requests make no cache round trip at all: that read was most of the cost of a
stored answer (benchmarks/hit_path.py). The writer's own process forgets it at once (every new
epoch does); another process sees a change at most that long later, which a recompute's
seconds already exceed.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from dashboards import page_selectors

GENERATION_KEY = "lodestone:generation"
EPOCH_KEY = "lodestone:generation-epoch"
# Every cache entry has a TTL (docs/operations.md, "Redis memory"); an expired epoch is simply
# started again, which only makes the next reader go to the database.
EPOCH_SECONDS = 7 * 24 * 3600
REQUEST_ATTRIBUTE = "lodestone_generation"

# (monotonic deadline, generation): replaced whole, so threads never see half of one.
_kept: tuple[float, str] | None = None


def current() -> str:
    """The data generation: the one this process read less than LODESTONE_GENERATION_LOCAL_SECONDS
    ago, else one cache read (get_many of the epoch and the entry) when cached, else the two
    queries of page_selectors.data_generation."""
    global _kept
    seconds = settings.LODESTONE_GENERATION_CACHE_SECONDS
    if seconds <= 0:
        return page_selectors.data_generation()
    kept, now = _kept, time.monotonic()
    if kept is not None and now < kept[0]:
        return kept[1]
    value = _shared(seconds)
    local_seconds = settings.LODESTONE_GENERATION_LOCAL_SECONDS
    _kept = (now + local_seconds, value) if local_seconds > 0 else None
    return value


def _shared(seconds: int) -> str:
    found = cache.get_many([EPOCH_KEY, GENERATION_KEY])
    epoch, entry = found.get(EPOCH_KEY), found.get(GENERATION_KEY)
    if epoch is not None and entry is not None and entry[0] == epoch:
        return str(entry[1])
    if epoch is None:
        # Evicted or never set: start one. If another process set one meanwhile, ours does not
        # match it and the entry below is simply not used.
        epoch = _token()
        cache.add(EPOCH_KEY, epoch, timeout=EPOCH_SECONDS)
    value = page_selectors.data_generation()
    cache.set(GENERATION_KEY, (epoch, value), timeout=seconds)
    return value


def for_request(request: HttpRequest) -> str:
    """The generation read once per request: config.stored_responses reads it before the view
    of a page it may store, and the view reuses it (the same key for the body and the answer)."""
    found = getattr(request, REQUEST_ATTRIBUTE, None)
    if found is None:
        found = current()
        setattr(request, REQUEST_ATTRIBUTE, found)
    return str(found)


def changed() -> None:
    """Data a public page shows changed, or will when the current transaction commits: a new
    epoch now (so this process's next read is right even before the commit, and inside tests'
    transactions) and again after the commit (so no reader keeps what it read before it)."""
    _new_epoch()
    transaction.on_commit(_new_epoch, robust=True)


def _new_epoch() -> None:
    forget_kept()
    cache.set(EPOCH_KEY, _token(), timeout=EPOCH_SECONDS)


def forget_kept() -> None:
    """Read the generation from the cache next time (a new epoch; tests, which start afresh)."""
    global _kept
    _kept = None


def _token() -> str:
    return secrets.token_hex(8)
