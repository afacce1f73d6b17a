"""Record calls as iDempiere's Postman collection sends them.

Batch step paths relative to /api/ or /api/v1/, in both transaction modes (a failing step's detail
is one readable sentence); bodies with a "tableName" key beside the columns.
"""

from __future__ import annotations

import pytest

from apps.accounts.models import Client
from apps.erp.models import BPartner, BPGroup

PATHS = ["v1/models/C_BPartner", "models/C_BPartner", "/api/v1/models/C_BPartner", "api/v1/models/c_bpartner",
         "/v1/models/c_bpartner"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("transaction", ["true", "false"])
def test_step_paths_relative_to_api_or_v1(garden_user, path, transaction):
    name = f"Batch {path} {transaction}"
    response = garden_user.post(
        f"/api/v1/batch?transaction={transaction}",
        [
            {"method": "POST", "path": path, "body": {"Name": name}},
            {"method": "GET", "path": f"{path}?$filter=Name eq '{name}'&$select=Name"},
        ],
        format="json",
    )
    assert response.status_code == 200, response.content
    created, listed = response.json()
    assert created["statusCode"] == 201, created
    assert [r["Name"] for r in listed["body"]["records"]] == [name]
    row = BPartner.objects.get(name=name)
    assert created["body"]["id"] == row.pk


def test_collection_style_put_and_delete_steps(garden_user):
    garden = Client.objects.get(value="GardenWorld")
    joe = BPartner.objects.get(client=garden, name="Joe Block")
    spare = BPartner.objects.create(
        client=garden, value="Spare", name="Spare", bp_group=BPGroup.objects.get(client=garden, value="Standard")
    )
    response = garden_user.post(
        "/api/v1/batch",
        [
            {"method": "PUT", "path": f"v1/models/c_bpartner/{joe.pk}", "body": {"Description": "via batch"}},
            {"method": "DELETE", "path": f"v1/models/c_bpartner/{spare.pk}"},
        ],
        format="json",
    )
    assert response.status_code == 200, response.content
    assert [step["statusCode"] for step in response.json()] == [200, 200]
    joe.refresh_from_db()
    assert joe.description == "via batch"
    assert not BPartner.objects.filter(pk=spare.pk).exists()


def test_unknown_route_under_api_still_404(garden_user):
    response = garden_user.post(
        "/api/v1/batch?transaction=false", [{"method": "GET", "path": "v1/nothing/here"}], format="json"
    )
    assert response.status_code == 200
    assert response.json()[0]["statusCode"] == 404


def test_non_records_route_still_refused(garden_user):
    response = garden_user.post("/api/v1/batch", [{"method": "GET", "path": "v1/auth/roles"}], format="json")
    assert response.status_code == 400, response.content
    assert "not allowed" in response.json()["detail"]


def test_failed_step_detail_is_readable_text_and_nothing_saved(garden_user):
    response = garden_user.post(
        "/api/v1/batch",
        [
            {"method": "POST", "path": "v1/models/C_BPartner", "body": {"Name": "Kept?"}},
            {"method": "POST", "path": "v1/models/C_BPartner", "body": {"Name": "", "Value": "X"}},
        ],
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["failedStep"] == 1
    detail = body["detail"]
    assert isinstance(detail, str)
    assert "Name: " in detail and "{" not in detail, detail
    assert not BPartner.objects.filter(name="Kept?").exists()


def test_collection_bodies_with_table_name_key(garden_user):
    """The collection's bodies carry "tableName" beside the columns; it is not a column here."""
    created = garden_user.post(
        "/api/v1/models/C_BPartner", {"name": "With tableName", "isActive": True, "tableName": "C_BPartner"},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    changed = garden_user.put(
        f"/api/v1/models/c_bpartner/{pk}", {"id": pk, "description": "x", "tableName": "C_BPartner"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert BPartner.objects.get(pk=pk).description == "x"
