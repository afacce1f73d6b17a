"""Behind a transaction pooler (DATABASE_POOLER=transaction): no state is left on a pooled
connection, and a configuration that would leave some fails at startup.

What a pooler in transaction mode breaks is what a server session keeps between transactions:
SQL-level PREPARE (the next EXECUTE lands on another server connection: DuplicatePreparedStatement
or "does not exist"), server-side cursors, and session-level advisory locks (the upload locks,
which therefore need LOCK_DATABASE_URL straight to PostgreSQL). The live proof through a real
PgBouncer is tests/e2e/test_pgbouncer.py.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from tests.uploads.conftest import create, put_chunk, sha

SETTINGS = Path(__file__).resolve().parents[2] / "config" / "settings.py"
DIRECT = "postgres://postgres@127.0.0.1:5432/ledgerdoc_x"
POOLED = "postgres://postgres@127.0.0.1:6432/ledgerdoc_x"


def _settings(monkeypatch, **env: str) -> dict:
    """config/settings.py evaluated afresh under ``env`` (nothing connects)."""
    for name in ("DATABASE_POOLER", "LOCK_DATABASE_URL", "DATABASE_PROTOCOL_PREPARE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS), run_name="pooler_settings")


def test_direct_connections_by_default(monkeypatch):
    found = _settings(monkeypatch, DATABASE_URL=DIRECT)
    assert found["DATABASE_POOLER"] == "none"
    database = found["DATABASES"]["default"]
    assert not database.get("DISABLE_SERVER_SIDE_CURSORS")
    assert "server_side_binding" not in database.get("OPTIONS", {})


def test_transaction_pooler_disables_server_side_cursors(monkeypatch):
    found = _settings(monkeypatch, DATABASE_URL=POOLED, DATABASE_POOLER="transaction",
                      LOCK_DATABASE_URL=DIRECT)
    database = found["DATABASES"]["default"]
    assert found["DATABASE_POOLER"] == "transaction"
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert database["PORT"] == 6432 and found["LOCK_DATABASE"]["PORT"] == 5432
    # Neither SQL-level nor protocol-level preparation (Django's default: psycopg never prepares).
    assert "server_side_binding" not in database["OPTIONS"]
    assert "prepare_threshold" not in database["OPTIONS"]


def test_transaction_pooler_without_a_direct_lock_connection_fails_at_startup(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="needs LOCK_DATABASE_URL"):
        _settings(monkeypatch, DATABASE_URL=POOLED, DATABASE_POOLER="transaction")


def test_lock_connection_through_the_pooler_fails_at_startup(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="point it at PostgreSQL itself"):
        _settings(monkeypatch, DATABASE_URL=POOLED, DATABASE_POOLER="transaction",
                  LOCK_DATABASE_URL=POOLED)


def test_startup_options_are_refused_under_a_transaction_pooler(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="startup parameters"):
        _settings(monkeypatch, DATABASE_URL=POOLED + "?options=-c%20statement_timeout%3D5000",
                  DATABASE_POOLER="transaction", LOCK_DATABASE_URL=DIRECT)


def test_an_unknown_pooler_mode_fails_at_startup(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="expected none, transaction or session"):
        _settings(monkeypatch, DATABASE_URL=DIRECT, DATABASE_POOLER="pgbouncer")


def test_protocol_level_preparation_is_an_option(monkeypatch):
    found = _settings(monkeypatch, DATABASE_URL=POOLED, DATABASE_POOLER="transaction",
                      LOCK_DATABASE_URL=DIRECT, DATABASE_PROTOCOL_PREPARE="true")
    options = found["DATABASES"]["default"]["OPTIONS"]
    assert options["server_side_binding"] is True and options["prepare_threshold"] == 5


def test_session_pooler_keeps_server_side_cursors_and_needs_no_lock_url(monkeypatch):
    found = _settings(monkeypatch, DATABASE_URL=POOLED, DATABASE_POOLER="session")
    assert not found["DATABASES"]["default"].get("DISABLE_SERVER_SIDE_CURSORS")


# --- What a request leaves on its connection -------------------------------------------------------


def _prepared_on_this_connection() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements ORDER BY name")
        return [row[0] for row in cursor.fetchall()]


def _requests_that_prepare(client) -> None:
    """The bearer session read (accounts.selectors), an upload's create, chunk claim and record
    (uploads.claims, uploads.selectors): every caller of apps.core.prepared."""
    data = b"pooled bytes " * 100
    created = create(client, data, chunk_size=len(data))
    assert created.status_code == 201, created.content
    upload_id = created.json()["uploadId"]
    answer = put_chunk(client, upload_id, 1, data, total=1)
    assert answer.status_code == 200, answer.content
    assert answer.json()["isLastChunk"] is True
    status = client.get(f"/api/v1/uploads/{upload_id}")
    assert status.status_code == 200, status.content
    assert status.json()["status"] == "COMPLETED" and status.json()["sha256"] == sha(data)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PREPARE is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pooler", ["transaction", "none"])
def test_requests_prepare_nothing_under_a_transaction_pooler(garden_user, settings, pooler):
    settings.DATABASE_POOLER = pooler
    connection.close()  # a fresh connection: nothing prepared on it yet
    _requests_that_prepare(garden_user)
    prepared = _prepared_on_this_connection()
    if pooler == "transaction":
        assert prepared == []
    else:  # direct: what is fastest stays (each statement planned once per connection)
        assert prepared and all(name.startswith("ledgerdoc_") for name in prepared)
