"""A change of a role's table access made in the database itself (raw SQL, committed, as operators
and iDempiere-style scripts make it) applies at the very next request, on bearer, HTTP Basic and
UI access alike: triggers on ``AD_Table_Access`` bump the role's generation, which each request
reads in the statement it makes anyway (the session read, Basic's default-role read)."""

from __future__ import annotations

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Role
from apps.records import access, caches
from tests.accounts.helpers import basic_client, bearer_client
from tests.ui.conftest import ui_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = "c_order"
API_URL = "/api/v1/models/c_order"
UI_URL = "/ui/orders/"


def _sql(statement: str, params=(), using=None) -> int:
    """Run ``statement`` on its own (autocommit: committed at once), as an operator's script would."""
    with (using or connection).cursor() as cursor:
        cursor.execute(statement, list(params))
        return cursor.rowcount


@pytest.fixture
def role(demo) -> Role:
    return Role.objects.get(name="GardenWorld User")


def _signed_in(way: str):
    """GardenUser over one of the three ways in, with how it reads the orders and how it is refused."""
    if way == "ui":
        client = ui_sign_in("GardenUser")
        url, refused = UI_URL, _ui_refused
    else:
        client = bearer_client("GardenUser") if way == "bearer" else basic_client("GardenUser")
        url, refused = API_URL, _api_refused
    client.way = way
    client.read = lambda: client.get(url)
    client.refused = lambda: refused(client.get(url))
    return client


@pytest.fixture(params=["bearer", "basic", "ui"])
def caller(request, demo):
    return _signed_in(request.param)


def _api_refused(response) -> None:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["status"] == 403 and "may not read table" in body["detail"], body


def _ui_refused(response) -> None:
    assert response.status_code == 403, response.content[:500]
    assert b"may not read table" in response.content


def _allowed(client) -> None:
    response = client.read()
    assert response.status_code == 200, response.content[:500]


def _warm(client, role) -> None:
    _allowed(client)
    _allowed(client)
    assert access.role_access_cached(role.pk)  # the second read was answered from the cache


def _set_access(role, *, read: bool, write: bool, table: str = TABLE) -> None:
    changed = _sql(
        'UPDATE "AD_Table_Access" SET "IsCanRead" = %s, "IsCanWrite" = %s '
        'WHERE "AD_Role_ID" = %s AND "TableName" = %s',
        [read, write, role.pk, table],
    )
    assert changed == 1


def test_raw_update_revokes_and_grants_at_the_next_request(caller, role):
    _warm(caller, role)
    _set_access(role, read=False, write=False)
    caller.refused()
    caller.refused()  # and stays refused once the refusal is cached
    _set_access(role, read=True, write=False)
    _allowed(caller)
    _allowed(caller)


def test_raw_delete_and_insert_apply_at_the_next_request(caller, role):
    _warm(caller, role)
    assert _sql(
        'DELETE FROM "AD_Table_Access" WHERE "AD_Role_ID" = %s AND "TableName" = %s', [role.pk, TABLE]
    ) == 1
    caller.refused()
    caller.refused()
    _sql(
        'INSERT INTO "AD_Table_Access" ("AD_Role_ID", "TableName", "IsCanRead", "IsCanWrite") '
        "VALUES (%s, %s, %s, %s)",
        [role.pk, TABLE, True, False],
    )
    _allowed(caller)


def test_raw_move_of_a_row_to_another_role_revokes_it_from_the_first(demo, role):
    client = _signed_in("bearer")
    _warm(client, role)
    other = Role.objects.get(name="Acme Admin")
    _sql(
        'UPDATE "AD_Table_Access" SET "AD_Role_ID" = %s WHERE "AD_Role_ID" = %s AND "TableName" = %s',
        [other.pk, role.pk, TABLE],
    )
    client.refused()


def test_wiping_the_table_applies_at_the_next_request(demo, role):
    """TRUNCATE on PostgreSQL (a statement trigger bumps every role), DELETE without WHERE on SQLite."""
    client = _signed_in("bearer")
    _warm(client, role)
    _sql('TRUNCATE "AD_Table_Access"' if connection.vendor == "postgresql" else 'DELETE FROM "AD_Table_Access"')
    client.refused()


def test_a_change_applies_once_its_transaction_commits(demo, role):
    """A request during the writer's open transaction still sees (and caches) the old rows; the
    request after the commit is refused: the rows are read after the generation, never before."""
    client = _signed_in("bearer")
    _warm(client, role)
    writer = connections.create_connection("default")
    try:
        writer.set_autocommit(False)
        _set_access_on(writer, role)
        _allowed(client)  # not committed yet
        writer.commit()
        client.refused()
    finally:
        writer.rollback()
        writer.close()


def _set_access_on(writer, role) -> None:
    with writer.cursor() as cursor:
        cursor.execute(
            'UPDATE "AD_Table_Access" SET "IsCanRead" = %s, "IsCanWrite" = %s '
            'WHERE "AD_Role_ID" = %s AND "TableName" = %s',
            [False, False, role.pk, TABLE],
        )


def test_no_extra_round_trip(caller, role):
    """A warm request reads the generation inside the session (or Basic's default-role) read and
    reads no access rows; after a raw change it makes exactly one more query: the rows."""
    _warm(caller, role)
    with CaptureQueriesContext(connection) as warm:
        _allowed(caller)
    reads = [q["sql"] for q in warm.captured_queries if "AD_Access_Generation" in q["sql"]]
    assert len(reads) == 1, reads
    home = "AD_User_Roles" if caller.way == "basic" else "AD_Session"
    assert home in reads[0]
    assert not [q for q in warm.captured_queries if '"AD_Table_Access"' in q["sql"]]

    _set_access(role, read=True, write=False)
    with CaptureQueriesContext(connection) as changed:
        _allowed(caller)
    assert len(changed.captured_queries) == len(warm.captured_queries) + 1, (
        [q["sql"][:120] for q in changed.captured_queries]
    )
    assert len([q for q in changed.captured_queries if '"AD_Table_Access"' in q["sql"]]) == 1


def test_a_change_for_one_role_keeps_the_others_cached(demo, role):
    admin = Role.objects.get(name="Acme Admin")
    before = access._access_key(role.pk)
    _sql(
        'INSERT INTO "AD_Table_Access" ("AD_Role_ID", "TableName", "IsCanRead", "IsCanWrite") '
        "VALUES (%s, %s, %s, %s)",
        [admin.pk, "c_order", True, True],
    )
    assert access._access_key(role.pk) == before
    _set_access(role, read=True, write=True)
    assert access._access_key(role.pk) != before


def test_resetting_every_cache_bumps_every_role(demo, role):
    """``DELETE /api/v1/caches`` of the System (every cache) makes every role's entries stale on
    every node; a client's admin's reset does so for the roles of its client only."""
    client = _signed_in("bearer")
    _warm(client, role)
    acme = Role.objects.get(name="Acme Admin")
    keys = {r.pk: access._access_key(r.pk) for r in (role, acme)}
    assert caches.cache_reset(client_id=None) >= 1
    assert all(access._access_key(pk) != key for pk, key in keys.items())
    assert not access.role_access_cached(role.pk)
    _allowed(client)

    keys = {r.pk: access._access_key(r.pk) for r in (role, acme)}
    response = bearer_client("GardenAdmin").delete("/api/v1/caches")
    assert response.status_code == 200, response.content
    assert response.json()["entriesReset"] >= 1
    assert access._access_key(role.pk) != keys[role.pk]
    assert access._access_key(acme.pk) == keys[acme.pk]


def test_the_triggers_are_installed(db):
    """A later migration that rebuilds AD_Table_Access (SQLite does for most field changes) must
    install them again."""
    if connection.vendor == "postgresql":
        names = _names(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = '\"AD_Table_Access\"'::regclass "
            "AND NOT tgisinternal"
        )
        expected = {"insert", "update", "delete", "truncate"}
    else:
        names = _names(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'AD_Table_Access'"
        )
        expected = {"insert", "update", "delete"}
    assert names == {f"ledgerdoc_table_access_{what}" for what in expected}


def _names(sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {row[0] for row in cursor.fetchall()}
