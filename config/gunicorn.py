"""gunicorn's settings for the web process: `gunicorn -c config/gunicorn.py config.wsgi`.

Command-line options (bind, workers) still come from the command; this file holds what the
command line cannot say: what a worker does once it has loaded the application.
"""

from __future__ import annotations

import gc
from typing import Any

# A collection of the youngest generation every 5,000 net allocations, not CPython's 700: an
# uncached 100-row API page allocates thousands of objects, so the default collected every other
# request for little garbage. Measured in process on that page (docs/performance.md, "Garbage
# collection"), both frozen: 284 -> 149 ms of collections over 3,000 requests; 20,000 made each
# young collection slower than the ones it saved.
YOUNG_GENERATION_THRESHOLD = 5_000


def post_worker_init(worker: Any) -> None:
    """Import every view, then move the objects that live as long as the worker (modules,
    classes, functions, settings: about 170,000) out of the collector's reach (gc.freeze).

    A full collection scanned all of them: about 60 ms, once every 1,500 requests or so, in
    whichever request happened to trigger it, the tail of the latency percentiles. Frozen, a
    full collection takes about 7 ms. Objects created later are collected as ever."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (the URL configuration imports the views)
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    worker.log.info("Froze %d start-up objects out of the garbage collector", gc.get_freeze_count())
