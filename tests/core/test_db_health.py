"""The PostgreSQL health check without a round trip (apps.core.db.postgresql).

What a deployment relies on: a persistent connection the server ended (restart, terminate, idle
timeout) is replaced before the request's first query, and a healthy one costs no ``SELECT 1``.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend only"),
]


def _new_request() -> None:
    """What Django does between two requests on a persistent connection."""
    connection.close_if_unusable_or_obsolete()  # request_finished: marks the check as not done
    connection.close_if_health_check_failed()  # the next request's first query


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_connection_the_server_ended_is_replaced_before_the_next_query(settings):
    assert connection.settings_dict["ENGINE"] == "apps.core.db.postgresql"
    assert connection.health_check_enabled
    old_pid = _backend_pid()
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"},
                         autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [old_pid]).fetchone()[0]
    time.sleep(0.2)  # the server's notice and the end of the stream reach the socket
    _new_request()
    assert connection.connection is None  # closed by the check, not by a failed query
    assert _backend_pid() != old_pid  # the request's query ran on a new connection


def test_a_healthy_connection_costs_no_query(monkeypatch):
    _backend_pid()
    raw = connection.connection

    def no_round_trip():
        raise AssertionError("the health check sent a query")

    monkeypatch.setattr(connection, "is_usable", no_round_trip)
    _new_request()
    assert connection.connection is raw
    assert connection.health_check_done
    assert _backend_pid() > 0
