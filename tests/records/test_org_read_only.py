"""RoleOrgAccess.IsReadOnly: a role sees that org's rows but may not write them (403)."""

from __future__ import annotations

import pytest

from apps.accounts.models import Organization, Role, RoleOrgAccess
from apps.erp.models import BPartner
from tests.accounts.helpers import basic_client, bearer_client

BP_URL = "/api/v1/models/c_bpartner"


@pytest.fixture
def store_read_only(demo):
    role = Role.objects.get(name="GardenWorld User")
    hq = Organization.objects.get(client__name="GardenWorld", value="HQ")
    store, _ = Organization.objects.get_or_create(
        client=hq.client, value="Store", defaults={"name": "Store"}
    )
    role.is_all_orgs = False
    role.save()
    RoleOrgAccess.objects.update_or_create(role=role, org=hq, defaults={"is_read_only": False})
    RoleOrgAccess.objects.update_or_create(role=role, org=store, defaults={"is_read_only": True})
    joe = BPartner.objects.get(client__name="GardenWorld", name="Joe Block")
    in_store = BPartner.objects.create(
        client=joe.client, org=store, value="StoreBP", name="Store partner", bp_group=joe.bp_group
    )
    in_hq = BPartner.objects.create(
        client=joe.client, org=hq, value="HqBP", name="HQ partner", bp_group=joe.bp_group
    )
    return {"hq": hq, "store": store, "in_store": in_store, "in_hq": in_hq, "group": joe.bp_group}


@pytest.fixture(params=["bearer", "basic"])
def user_client(request, store_read_only):
    return bearer_client("GardenUser") if request.param == "bearer" else basic_client("GardenUser")


def test_read_only_org_rows_are_readable(user_client, store_read_only):
    row = store_read_only["in_store"]
    response = user_client.get(f"{BP_URL}/{row.pk}")
    assert response.status_code == 200, response.content


def test_read_only_org_rows_cannot_be_changed_or_deleted(user_client, store_read_only):
    row = store_read_only["in_store"]
    put = user_client.put(f"{BP_URL}/{row.pk}", {"Description": "changed"}, format="json")
    assert put.status_code == 403, put.content
    assert user_client.delete(f"{BP_URL}/{row.pk}").status_code == 403
    row.refresh_from_db()
    assert row.description != "changed"
    assert BPartner.objects.filter(pk=row.pk).exists()


def test_no_insert_into_or_move_to_a_read_only_org(user_client, store_read_only):
    store, group = store_read_only["store"], store_read_only["group"]
    post = user_client.post(
        BP_URL,
        {"Value": "New", "Name": "New", "C_BP_Group_ID": group.pk, "AD_Org_ID": store.pk},
        format="json",
    )
    assert post.status_code == 403, post.content
    assert not BPartner.objects.filter(value="New").exists()
    moved = store_read_only["in_hq"]
    put = user_client.put(f"{BP_URL}/{moved.pk}", {"AD_Org_ID": store.pk}, format="json")
    assert put.status_code == 403
    moved.refresh_from_db()
    assert moved.org_id == store_read_only["hq"].pk


def test_writable_org_rows_still_writable(user_client, store_read_only):
    row = store_read_only["in_hq"]
    put = user_client.put(f"{BP_URL}/{row.pk}", {"Description": "fine"}, format="json")
    assert put.status_code == 200, put.content
    post = user_client.post(
        BP_URL, {"Value": "Hq2", "Name": "Hq2", "C_BP_Group_ID": store_read_only["group"].pk}, format="json"
    )
    assert post.status_code == 201, post.content


def test_read_only_in_a_batch_rolls_back(user_client, store_read_only):
    steps = [
        {"method": "PUT", "path": f"models/c_bpartner/{store_read_only['in_hq'].pk}", "body": {"Description": "b1"}},
        {"method": "PUT", "path": f"models/c_bpartner/{store_read_only['in_store'].pk}", "body": {"Description": "b2"}},
    ]
    response = user_client.post("/api/v1/batch", steps, format="json")
    assert response.status_code == 403, response.content
    store_read_only["in_hq"].refresh_from_db()
    assert store_read_only["in_hq"].description != "b1"
