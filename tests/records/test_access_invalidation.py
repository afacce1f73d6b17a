"""Role table access is cached, but every write to its rows applies at the next request:
admin change, admin delete, admin bulk delete, the accounts service, and bulk writes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client as DjangoClient

from apps.accounts import services
from apps.accounts.models import Role, RoleTableAccess, User

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/c_bpartner"


@pytest.fixture
def user_role(demo) -> Role:
    return Role.objects.get(name="GardenWorld User")


@pytest.fixture
def staff(demo) -> DjangoClient:
    client = DjangoClient()
    client.force_login(User.objects.get(username="admin"))
    return client


@pytest.fixture
def row(user_role) -> RoleTableAccess:
    return RoleTableAccess.objects.get(role=user_role, table_name="c_bpartner")


def _warm(client) -> None:
    assert client.get(URL).status_code == 200
    assert client.get(URL).status_code == 200  # now served from the cache


def _refused(client) -> None:
    response = client.get(URL)
    assert response.status_code == 403, response.content
    assert response.json()["status"] == 403


def test_admin_change_revokes_at_once(garden_user, staff, row):
    _warm(garden_user)
    response = staff.post(f"/admin/accounts/roletableaccess/{row.pk}/change/", {
        "role": row.role_id, "table_name": "c_bpartner", "can_write": "", "can_read": "",
    })
    assert response.status_code == 302, response.content[:2000]
    _refused(garden_user)


def test_admin_delete_revokes_at_once(garden_user, staff, row):
    _warm(garden_user)
    response = staff.post(f"/admin/accounts/roletableaccess/{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not RoleTableAccess.objects.filter(pk=row.pk).exists()
    _refused(garden_user)


def test_admin_bulk_delete_revokes_at_once(garden_user, staff, row):
    _warm(garden_user)
    response = staff.post("/admin/accounts/roletableaccess/", {
        "action": "delete_selected", "_selected_action": [row.pk], "post": "yes",
    })
    assert response.status_code == 302
    assert not RoleTableAccess.objects.filter(pk=row.pk).exists()
    _refused(garden_user)


def test_service_revoke_and_grant_apply_at_once(garden_user, user_role):
    _warm(garden_user)
    services.role_table_access_revoke(role=user_role, table_name="C_BPartner")
    _refused(garden_user)
    services.role_table_access_set(role=user_role, table_name="C_BPartner", can_read=True,
                                   can_write=False)
    assert garden_user.get(URL).status_code == 200


@pytest.mark.parametrize("how", ["update", "delete", "bulk_update"])
def test_bulk_writes_apply_at_once(garden_user, user_role, row, how):
    _warm(garden_user)
    rows = RoleTableAccess.objects.filter(pk=row.pk)
    if how == "update":
        rows.update(can_read=False, can_write=False)
    elif how == "delete":
        rows.delete()
    else:
        row.can_read = row.can_write = False
        RoleTableAccess.objects.bulk_update([row], ["can_read", "can_write"])
    _refused(garden_user)


def test_bulk_create_grants_at_once(garden_user, user_role, row):
    row.delete()
    _refused(garden_user)
    _refused(garden_user)
    RoleTableAccess.objects.bulk_create([RoleTableAccess(role=user_role, table_name="c_bpartner")])
    assert garden_user.get(URL).status_code == 200


def test_a_write_on_another_node_applies_here(garden_user, row):
    """The generation is kept in the database (a trigger bumps it) and read with the session on
    every request: a write from anywhere (here a raw UPDATE) applies here at once.
    More in ``test_access_generation.py``."""
    _warm(garden_user)
    meta = RoleTableAccess._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{meta.db_table}" SET "{meta.get_field("can_read").column}" = %s, '
            f'"{meta.get_field("can_write").column}" = %s WHERE "{meta.pk.column}" = %s',
            [False, False, row.pk],
        )
    _refused(garden_user)


def test_admin_moving_a_row_to_another_role_revokes_it_from_the_first(garden_user, staff, row):
    _warm(garden_user)
    other = Role.objects.get(name="Acme Admin")
    response = staff.post(f"/admin/accounts/roletableaccess/{row.pk}/change/", {
        "role": other.pk, "table_name": "c_bpartner", "can_read": "on", "can_write": "",
    })
    assert response.status_code == 302, response.content[:2000]
    _refused(garden_user)


def test_a_write_for_one_role_keeps_the_others_cached(garden_user, user_role):
    from django.core.cache import cache

    from apps.records import access

    _warm(garden_user)
    key = access._access_key(user_role.pk)
    assert cache.get(key) is not None
    services.role_table_access_set(role=Role.objects.get(name="Acme Admin"), table_name="c_order")
    assert access._access_key(user_role.pk) == key and cache.get(key) is not None
    services.role_table_access_set(role=user_role, table_name="c_order")
    assert access._access_key(user_role.pk) != key
