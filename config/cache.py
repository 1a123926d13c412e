"""The default cache on Redis, with one redis-py client per connection pool.

Django's RedisCacheClient.get_client builds a new `redis.Redis` for every cache operation, and
redis-py's constructor fills its table of about 170 response callbacks each time. A stored
answer (config.stored_responses) makes two cache operations (the data generation; for the API,
the throttle's counter), so building clients cost more than the rest of a hit: measured in
process with benchmarks/hit_path.py. A `redis.Redis` may be shared by threads (each command
borrows a connection from the pool and returns it) and its pool notices a fork, so one client per
pool serves every call of the process.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class KeptClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # The two private names are Django's own (RedisCacheClient), absent from its stubs.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))  # type: ignore[attr-defined]
        return client


class KeptClientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = KeptClientRedisCacheClient
