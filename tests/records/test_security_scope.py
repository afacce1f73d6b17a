"""Scope of /batch (models calls only, no streams, no auth), /caches (a client's admin administers its own
client) and /forms, /reference (the role's table access)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from apps.accounts.models import Organization, Role, RoleOrgAccess, RoleTableAccess, User, UserRole
from apps.erp.models import BPartner, BPGroup
from apps.records import access
from apps.records.models import Column, Reference, Table
from tests.accounts.helpers import bearer_client

pytestmark = pytest.mark.django_db


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# --- POST /api/v1/batch -----------------------------------------------------------------------------
def _create_step(value: str) -> dict:
    group = BPGroup.objects.filter(client__name="GardenWorld").first()
    return {"method": "POST", "path": "models/c_bpartner", "body": {"Value": value, "Name": value, "C_BP_Group_ID": group.pk}}


def _joe() -> BPartner:
    return BPartner.objects.get(client__name="GardenWorld", name="Joe Block")


@pytest.mark.parametrize(
    "path",
    [
        "models/c_bpartner/JOE/attachments/zip",
        "/api/v1/models/c_bpartner/JOE/attachments",
        "uploads/123/file",
        "path/some/doc/@blob/file:content",
        "workflow",
    ],
)
def test_batch_step_outside_models_is_400_and_nothing_is_saved(garden_admin, path):
    path = path.replace("JOE", str(_joe().pk))
    steps = [_create_step("SEC1"), {"method": "GET", "path": path}]
    body = _problem(garden_admin.post("/api/v1/batch", steps, format="json"), 400)
    assert body["failedStep"] == 1
    assert "Step 1" in body["detail"] and path in body["detail"]
    assert body["results"][0]["statusCode"] == 201
    assert not BPartner.objects.filter(value="SEC1").exists()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "auth/tokens", {"userName": "GardenAdmin", "password": "GardenAdmin"}),
        ("POST", "/api/v1/auth", {"userName": "GardenAdmin", "password": "GardenAdmin"}),
        ("POST", "auth/refresh", {"refresh_token": "x"}),
        ("POST", "auth/logout", {"token": "x"}),
        ("GET", "auth/context", None),
        ("GET", "auth/roles?client=GardenWorld", None),
    ],
)
def test_batch_auth_step_is_400(garden_admin, method, path, body):
    steps = [_create_step("SEC3"), {"method": method, "path": path, "body": body}]
    problem = _problem(garden_admin.post("/api/v1/batch", steps, format="json"), 400)
    assert problem["failedStep"] == 1 and "Step 1" in problem["detail"]
    assert "token" not in problem["results"][1]["body"]
    assert not BPartner.objects.filter(value="SEC3").exists()
    # Not even as a step on its own.
    alone = garden_admin.post("/api/v1/batch?transaction=false", steps[1:], format="json")
    assert alone.status_code == 200
    assert [r["statusCode"] for r in alone.json()] == [400]
    # The caller's own session still works (nothing was logged out).
    assert garden_admin.get("/api/v1/auth/context").status_code == 200


def test_batch_models_steps_still_work(garden_admin):
    joe = _joe()
    steps = [
        _create_step("SEC4"),
        {"method": "GET", "path": "models"},
        {"method": "GET", "path": f"models/c_bpartner/{joe.pk}"},
        {"method": "GET", "path": f"/api/v1/models/c_bpartner/{joe.pk}/Name"},
        {"method": "PUT", "path": f"models/c_bpartner/{joe.pk}", "body": {"Description": "via batch"}},
        {"method": "GET", "path": "models/nope"},
    ]
    response = garden_admin.post("/api/v1/batch?transaction=false", steps, format="json")
    assert response.status_code == 200, response.content
    results = response.json()
    assert [r["statusCode"] for r in results] == [201, 200, 200, 200, 200, 404]
    assert results[3]["body"] == {"Name": "Joe Block"}
    joe.refresh_from_db()
    assert joe.description == "via batch"
    assert BPartner.objects.filter(value="SEC4").exists()


# --- /api/v1/caches ---------------------------------------------------------------------------------
def _role_entry(role: Role):
    return cache.get(access._access_key(role.pk))


def _caches(client) -> dict[str, dict]:
    response = client.get("/api/v1/caches")
    assert response.status_code == 200, response.content
    return {c["name"]: c for c in response.json()["caches"]}


def test_client_admin_neither_sees_nor_resets_other_clients_caches(garden_user, garden_admin, acme_admin):
    garden_role = Role.objects.get(name="GardenWorld User")
    assert garden_user.get("/api/v1/models/c_bpartner").status_code == 200
    assert _role_entry(garden_role) is not None

    listed = _caches(acme_admin)
    assert listed["records.table_access"]["size"] == 0
    assert "accounts.sysconfig" not in listed  # one entry holding every client's values: System only
    only = acme_admin.get("/api/v1/caches", {"table_name": "AD_Table_Access"}).json()["caches"]
    assert [(c["name"], c["size"]) for c in only] == [("records.table_access", 0)]

    row = RoleTableAccess.objects.get(role=garden_role, table_name="c_bpartner")
    for query in (
        f"table_name=AD_Role&record_id={garden_role.pk}",
        f"table_name=AD_Table_Access&record_id={row.pk}",
        "table_name=AD_Table_Access",
        "table_name=AD_SysConfig",
    ):
        response = acme_admin.delete("/api/v1/caches", QUERY_STRING=query)
        assert response.status_code == 200, response.content
        assert response.json() == {"entriesReset": 0}, query
        assert _role_entry(garden_role) is not None, query
    acme_admin.delete("/api/v1/caches")
    assert _role_entry(garden_role) is not None

    # GardenWorld's own admin still can.
    assert _caches(garden_admin)["records.table_access"]["size"] == 1
    response = garden_admin.delete("/api/v1/caches", QUERY_STRING=f"table_name=AD_Role&record_id={garden_role.pk}")
    assert response.json() == {"entriesReset": 1}
    assert _role_entry(garden_role) is None


def test_client_admin_reset_all_drops_only_its_own_roles(garden_user, garden_admin, acme_admin):
    garden_role = Role.objects.get(name="GardenWorld User")
    acme_role = Role.objects.get(name="Acme Admin")
    assert garden_user.get("/api/v1/models/c_bpartner").status_code == 200
    # An all-tables role is never cached: give Acme's a cached entry by asking for its access directly.
    acme_role.is_all_tables = False
    acme_role.save()
    RoleTableAccess.objects.create(role=acme_role, table_name="c_bpartner", can_read=True, can_write=True)
    assert acme_admin.get("/api/v1/models/c_bpartner").status_code == 200
    assert _role_entry(acme_role) is not None
    assert _caches(acme_admin)["records.table_access"]["size"] == 1

    response = acme_admin.delete("/api/v1/caches", QUERY_STRING="table_name=AD_Table_Access")
    assert response.json() == {"entriesReset": 1}
    assert _role_entry(acme_role) is None
    assert _role_entry(garden_role) is not None


def test_caches_authorization_matrix(anon_client, garden_user, garden_admin, acme_admin):
    assert _problem(anon_client.get("/api/v1/caches"), 401)
    assert _problem(garden_user.get("/api/v1/caches"), 403)
    assert _problem(garden_user.delete("/api/v1/caches"), 403)
    for admin in (garden_admin, acme_admin):
        assert admin.get("/api/v1/caches").status_code == 200
        assert admin.delete("/api/v1/caches").status_code == 200


def _system_admin():
    system_org = Organization.objects.get(pk=0)
    role = Role.objects.create(
        client_id=0, name="System Administrator", is_admin=True, is_all_tables=True, is_all_orgs=True
    )
    RoleOrgAccess.objects.get_or_create(role=role, org=system_org)
    user = User.objects.create(username="SystemAdmin", client_id=0)
    user.set_password("SystemAdmin")
    user.save()
    UserRole.objects.create(user=user, role=role, is_default=True, default_org=system_org)
    return bearer_client("SystemAdmin")


def test_system_admin_sees_and_resets_every_client(garden_user, demo):
    garden_role = Role.objects.get(name="GardenWorld User")
    system = _system_admin()
    assert garden_user.get("/api/v1/models/c_bpartner").status_code == 200
    listed = _caches(system)
    assert listed["records.table_access"]["size"] >= 1
    assert "accounts.sysconfig" in listed
    response = system.delete("/api/v1/caches", QUERY_STRING=f"table_name=AD_Role&record_id={garden_role.pk}")
    assert response.json() == {"entriesReset": 1}
    assert _role_entry(garden_role) is None


# --- /api/v1/forms and /api/v1/reference ------------------------------------------------------------
def _grant(table_name: str) -> None:
    role = Role.objects.get(name="GardenWorld User")
    RoleTableAccess.objects.create(role=role, table_name=table_name.lower(), can_read=True, can_write=False)
    access.reset_access_cache()


def test_forms_need_read_access_to_ad_form(garden_user, garden_admin):
    assert _problem(garden_user.get("/api/v1/models/ad_form"), 403)
    body = _problem(garden_user.get("/api/v1/forms"), 403)
    assert "AD_Form" in body["detail"]
    assert "forms" not in body
    assert len(garden_admin.get("/api/v1/forms").json()["forms"]) >= 1
    _grant("AD_Form")
    response = garden_user.get("/api/v1/forms")
    assert response.status_code == 200, response.content
    assert len(response.json()["forms"]) >= 1


def _table_reference(reference_table: str | None) -> Reference:
    ref = Reference.objects.create(name=f"Test Table Ref {reference_table}", validation_type="T")
    if reference_table:
        Column.objects.create(
            table=Table.objects.get(table_name="C_Order"), column_name="X_TestRef", name="Test Ref",
            data_type="Table", reference=ref, reference_table=reference_table,
        )
    return ref


def test_table_reference_needs_read_access_to_its_table(garden_user, garden_admin):
    ref = _table_reference("AD_Table")
    assert _problem(garden_user.get("/api/v1/models/ad_table"), 403)
    for ident in (ref.pk, ref.uid, ref.name):
        body = _problem(garden_user.get(f"/api/v1/reference/{ident}"), 403)
        assert "AD_Table" in body["detail"] and "reflist" not in body
    assert garden_admin.get(f"/api/v1/reference/{ref.pk}").status_code == 200
    _grant("AD_Table")
    assert garden_user.get(f"/api/v1/reference/{ref.pk}").status_code == 200


def test_table_reference_of_a_readable_table_is_readable(garden_user):
    ref = _table_reference("C_BPartner")
    response = garden_user.get(f"/api/v1/reference/{ref.pk}")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == ref.name


def test_table_reference_without_a_known_table_is_only_for_all_tables_roles(garden_user, garden_admin):
    ref = _table_reference(None)
    _problem(garden_user.get(f"/api/v1/reference/{ref.pk}"), 403)
    assert garden_admin.get(f"/api/v1/reference/{ref.pk}").status_code == 200


def test_list_references_stay_readable(garden_user):
    ref = Reference.objects.get(name="DocStatus")
    response = garden_user.get(f"/api/v1/reference/{ref.pk}")
    assert response.status_code == 200, response.content
    assert {"value": "CO", "name": "Completed"} in response.json()["reflist"]
    assert garden_user.get("/api/v1/reference/999999").status_code == 404
