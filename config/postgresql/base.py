"""Django's PostgreSQL backend with a per-request health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request that
reuses a persistent connection: a second round trip on an API list that makes one, about a
seventh of its time under load (docs/performance.md, "Uncached lists"). When the server drops a
connection (a restart, a failover, pg_terminate_backend) it sends its last message and closes
the socket, so an idle connection whose socket has something to read is one the server is done
with: that is the check here, a zero-timeout poll of the socket. A dropped connection is
closed and the request opens a new one, as Django's check does; a connection that goes away
between the check and the query fails that query, as it could after Django's `SELECT 1`.
After a request with a database error Django still decides with `SELECT 1` (is_usable).
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        state: Any = self  # django-stubs lack the health check's attributes
        if self.connection is None or not state.health_check_enabled or state.health_check_done or self.pool:
            return
        if self.server_hung_up():
            self.close()
        state.health_check_done = True

    def server_hung_up(self) -> bool:
        """Whether the server has closed (or is closing) this idle connection: a read would not
        block. Anything unasked-for counts (a notice, a parameter change): a new connection is
        only a reconnect away."""
        connection = self.connection
        if connection.closed or connection.broken:
            return True
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
        return bool(readable)
