"""DELETE /api/v1/caches?table_name=&record_id= resets only that record's entries."""

from __future__ import annotations

from apps.accounts.models import Role, RoleTableAccess
from apps.records import access
from apps.records.dictionary import _META_CACHE
from apps.records.models import Column, Table


def _warm(client, *tables):
    for table in tables:
        assert client.get(f"/api/v1/models/{table}").status_code == 200


def test_record_id_on_ad_table_resets_only_that_table(garden_admin):
    _warm(garden_admin, "c_bpartner", "m_product")
    table = Table.objects.get(table_name__iexact="C_BPartner")
    response = garden_admin.delete(
        "/api/v1/caches", QUERY_STRING=f"table_name=AD_Table&record_id={table.pk}"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"entriesReset": 1}
    assert "c_bpartner" not in _META_CACHE
    assert "m_product" in _META_CACHE
    again = garden_admin.delete(
        "/api/v1/caches", QUERY_STRING=f"table_name=AD_Table&record_id={table.pk}"
    )
    assert again.json() == {"entriesReset": 0}


def test_record_id_on_ad_column_resets_its_table(garden_admin):
    _warm(garden_admin, "c_bpartner", "m_product")
    column = Column.objects.filter(table__table_name__iexact="M_Product").first()
    response = garden_admin.delete(
        "/api/v1/caches", QUERY_STRING=f"table_name=AD_Column&record_id={column.pk}"
    )
    assert response.json() == {"entriesReset": 1}
    assert "m_product" not in _META_CACHE
    assert "c_bpartner" in _META_CACHE


def test_record_id_on_table_access_resets_only_that_role(garden_admin, garden_user):
    _warm(garden_user, "c_bpartner")
    user_role = Role.objects.get(name="GardenWorld User")
    row = RoleTableAccess.objects.get(role=user_role, table_name="c_bpartner")
    assert access.reset_role_access(user_role.pk + 10_000) == 0
    response = garden_admin.delete(
        "/api/v1/caches", QUERY_STRING=f"table_name=AD_Table_Access&record_id={row.pk}"
    )
    assert response.json() == {"entriesReset": 1}
    row.delete()
    assert garden_user.get("/api/v1/models/c_bpartner").status_code == 403
    by_role = garden_admin.delete(
        "/api/v1/caches", QUERY_STRING=f"table_name=AD_Role&record_id={user_role.pk}"
    )
    assert by_role.json() == {"entriesReset": 1}


def test_record_id_of_unknown_record_resets_nothing(garden_admin):
    _warm(garden_admin, "c_bpartner")
    response = garden_admin.delete(
        "/api/v1/caches", QUERY_STRING="table_name=AD_Table&record_id=987654"
    )
    assert response.json() == {"entriesReset": 0}
    assert "c_bpartner" in _META_CACHE


def test_record_id_must_be_an_integer_with_a_table(garden_admin):
    bad = garden_admin.delete("/api/v1/caches", QUERY_STRING="table_name=AD_Table&record_id=abc")
    assert bad.status_code == 400
    assert set(bad.json()) >= {"title", "status", "detail"}
    lone = garden_admin.delete("/api/v1/caches", QUERY_STRING="record_id=5")
    assert lone.status_code == 400
