"""Authorization matrix of /api/v1/models: anonymous, other client, role without access, read-only, full."""

from __future__ import annotations

import pytest

from apps.accounts.models import Client, Role, RoleTableAccess
from apps.erp.models import BPartner, BPGroup, ElementValue
from tests.records.helpers import BP_URL

pytestmark = pytest.mark.django_db


def login_client(username: str):
    from rest_framework.test import APIClient

    client = APIClient()
    response = client.post(
        "/api/v1/auth/tokens", {"userName": username, "password": username, "parameters": {}}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return client


def _joe() -> BPartner:
    return BPartner.objects.get(name="Joe Block")


def test_anonymous_is_401(demo, anon_client):
    joe = _joe()
    for method, url in [
        ("get", "/api/v1/models"),
        ("get", BP_URL),
        ("get", f"{BP_URL}/{joe.pk}"),
        ("put", f"{BP_URL}/{joe.pk}"),
        ("delete", f"{BP_URL}/{joe.pk}"),
        ("post", BP_URL),
        ("get", "/api/v1/forms"),
        ("get", "/api/v1/caches"),
        ("post", "/api/v1/batch"),
    ]:
        response = getattr(anon_client, method)(url, {}, format="json")
        assert response.status_code == 401, (method, url)
        assert response.json()["status"] == 401


def test_other_client_rows_are_404(acme_admin):
    joe = _joe()
    assert acme_admin.get(f"{BP_URL}/{joe.pk}").status_code == 404
    assert acme_admin.get(f"{BP_URL}/{joe.uid}").status_code == 404
    assert acme_admin.get(f"{BP_URL}/{joe.pk}/Name").status_code == 404
    assert acme_admin.put(f"{BP_URL}/{joe.pk}", {"Name": "x"}, format="json").status_code == 404
    assert acme_admin.delete(f"{BP_URL}/{joe.pk}").status_code == 404
    body = acme_admin.get(BP_URL).json()
    assert [r["Name"] for r in body["records"]] == ["Road Runner"]


def test_system_rows_readable_not_writable(garden_admin):
    system = Client.objects.get(pk=0)
    group = BPGroup.objects.filter(client__name="GardenWorld").first()
    shared = BPartner.objects.create(client=system, org_id=0, value="Shared", name="Shared Partner", bp_group=group)
    assert garden_admin.get(f"{BP_URL}/{shared.pk}").status_code == 200
    response = garden_admin.put(f"{BP_URL}/{shared.pk}", {"Name": "Mine"}, format="json")
    assert response.status_code == 403
    assert garden_admin.delete(f"{BP_URL}/{shared.pk}").status_code == 403
    shared.refresh_from_db()
    assert shared.name == "Shared Partner"


def test_role_without_table_access_is_403(garden_user):
    RoleTableAccess.objects.filter(role__name="GardenWorld User", table_name="c_bpartner").delete()
    from apps.records.access import reset_access_cache

    reset_access_cache()
    assert garden_user.get(BP_URL).status_code == 403
    assert garden_user.get(f"{BP_URL}/{_joe().pk}").status_code == 403
    assert garden_user.post(BP_URL, {"Name": "x"}, format="json").status_code == 403
    # Nor through an expansion.
    response = garden_user.get("/api/v1/models/c_order", {"$expand": "C_BPartner_ID"})
    assert response.status_code == 403
    # Nor listed.
    listed = {m["model-name"] for m in garden_user.get("/api/v1/models").json()["models"]}
    assert "c_bpartner" not in listed and "c_order" in listed


def test_read_only_table_is_403_on_write(garden_user):
    account = ElementValue.objects.filter(client__name="GardenWorld").first()
    url = f"/api/v1/models/c_elementvalue/{account.pk}"
    assert garden_user.get(url).status_code == 200
    response = garden_user.put(url, {"Name": "Renamed"}, format="json")
    assert response.status_code == 403
    assert "may not change" in response.json()["detail"]
    assert garden_user.delete(url).status_code == 403
    assert garden_user.post("/api/v1/models/c_elementvalue", {"Name": "x", "Value": "x"}, format="json").status_code == 403


def test_dictionary_tables_are_read_only(garden_admin):
    tables = garden_admin.get("/api/v1/models/ad_table", {"$filter": "TableName eq 'C_BPartner'"}).json()
    assert tables["row-count"] == 1
    table_id = tables["records"][0]["id"]
    response = garden_admin.put(f"/api/v1/models/ad_table/{table_id}", {"Name": "x"}, format="json")
    assert response.status_code == 403


def test_full_role_ok(garden_admin, garden_user):
    joe = _joe()
    for client in (garden_admin, garden_user):
        assert client.get(f"{BP_URL}/{joe.pk}").status_code == 200
        response = client.put(f"{BP_URL}/{joe.pk}", {"Description": "ok"}, format="json")
        assert response.status_code == 200, response.content


def test_org_access_limits_rows(garden_user):
    from apps.accounts.models import Organization, RoleOrgAccess

    role = Role.objects.get(name="GardenWorld User")
    hq = Organization.objects.get(client__name="GardenWorld", value="HQ")
    other, _ = Organization.objects.get_or_create(client=hq.client, value="Store", defaults={"name": "Store"})
    RoleOrgAccess.objects.filter(role=role, org=other).delete()
    joe = _joe()
    hidden = BPartner.objects.create(client=joe.client, org=other, value="Hidden", name="Hidden", bp_group=joe.bp_group)
    if role.is_all_orgs:
        role.is_all_orgs = False
        role.save()
        RoleOrgAccess.objects.get_or_create(role=role, org=hq)
    client = login_client("GardenUser")
    assert client.get(f"{BP_URL}/{hidden.pk}").status_code == 404
    names = [r["Name"] for r in client.get(BP_URL, {"$top": 100}).json()["records"]]
    assert "Hidden" not in names and "Joe Block" in names
    assert garden_user is not None


def test_secret_columns_never_out(garden_admin):
    from apps.records.models import ValRule
    from apps.records.registry import register_table

    rule = ValRule.objects.first()
    register_table(ValRule, secret=("Code",))
    try:
        body = garden_admin.get(f"/api/v1/models/ad_val_rule/{rule.pk}").json()
        assert "Code" not in body and body["Name"] == rule.name
        assert garden_admin.get(f"/api/v1/models/ad_val_rule/{rule.pk}/Code").status_code == 404
    finally:
        register_table(ValRule)
