"""Django's PostgreSQL backend, with a health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request that
reuses a persistent connection: one more round trip per request, on every endpoint (a chunk PUT
or a record read makes three or four). Here the check looks at the connection's socket instead. An
idle connection has nothing to read: a server that ends it (shutdown, restart, an administrator's
``pg_terminate_backend``, an idle timeout) sends its notice and closes, and the socket turns
readable. Readable, closed or broken: the connection is closed and the request opens a new one, as
after a failed ``SELECT 1``.

What it cannot see, ``SELECT 1`` could not answer quickly either (a server gone without a word: the
query waits for the network's timeout); the request's own query then fails and Django drops the
connection at the request's end, as it does without health checks.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is None
            or self.pool
            or not self.health_check_enabled
            or self.health_check_done
        ):
            return
        if not self._socket_idle():
            self.close()
        self.health_check_done = True

    def _socket_idle(self) -> bool:
        """True when the connection is open and the server has sent nothing since our last
        query: no notice, no end of stream."""
        raw = self.connection
        if raw.closed or raw.broken:
            return False
        try:
            poller = select.poll()  # not select(): it fails on descriptors past 1023
            poller.register(raw.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)  # readable, hung up or in error: the server spoke or left
        except OSError:
            return False
