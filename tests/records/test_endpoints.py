"""GET /models, /forms, /caches, /reference and POST /batch."""

from __future__ import annotations

import pytest

from apps.erp.models import BPartner, BPGroup
from apps.records.models import Column, Form, Reference, Table

pytestmark = pytest.mark.django_db


def test_models_lists_dictionary_tables(garden_admin):
    body = garden_admin.get("/api/v1/models").json()
    names = {m["model-name"] for m in body["models"]}
    assert {"c_bpartner", "c_order", "c_orderline", "ad_table", "ad_column"} <= names
    first = body["models"][0]
    assert set(first) == {"id", "uid", "model-name", "name", "description"}
    filtered = garden_admin.get("/api/v1/models", {"$filter": "startswith(TableName,'C_Order')"}).json()
    assert {m["model-name"] for m in filtered["models"]} == {"c_order", "c_orderline"}
    assert garden_admin.get("/api/v1/models", {"$filter": "Bogus eq 1"}).status_code == 400


def test_dictionary_rows(demo):
    table = Table.objects.get(table_name="C_Order")
    columns = {c.column_name: c for c in Column.objects.filter(table=table)}
    assert columns["C_BPartner_ID"].data_type == "TableDir"
    assert columns["C_BPartner_ID"].reference_table == "C_BPartner"
    assert columns["DocumentNo"].is_identifier and not columns["DocumentNo"].is_updatable
    assert columns["DocStatus"].data_type == "List" and columns["DocStatus"].reference.name == "DocStatus"
    assert columns["C_Order_ID"].is_key
    assert {v.value for v in Reference.objects.get(name="PriorityRule").values.all()} == {"1", "3", "5", "7", "9"}
    assert Reference.objects.filter(name="AccountType").exists()


def test_dictionary_via_api(garden_admin):
    body = garden_admin.get(
        "/api/v1/models/ad_column",
        {"$filter": "ColumnName eq 'DocStatus'", "$expand": "AD_Table_ID($select=TableName)"},
    ).json()
    assert body["row-count"] == 1
    assert body["records"][0]["AD_Table_ID"]["TableName"] == "C_Order"


def test_reference_endpoint(garden_admin):
    ref = Reference.objects.get(name="DocStatus")
    for ident in (ref.pk, ref.uid):
        body = garden_admin.get(f"/api/v1/reference/{ident}").json()
        assert body["name"] == "DocStatus"
        assert {"value": "CO", "name": "Completed"} in body["reflist"]
    assert garden_admin.get("/api/v1/reference/999999").status_code == 404


def test_forms(garden_admin):
    body = garden_admin.get("/api/v1/forms").json()
    assert len(body["forms"]) == Form.objects.count() >= 1
    name = body["forms"][0]["name"]
    body = garden_admin.get("/api/v1/forms", {"$filter": f"Name eq '{name}'"}).json()
    assert [f["name"] for f in body["forms"]] == [name]
    assert garden_admin.get("/api/v1/forms", {"$filter": "Name eq"}).status_code == 400


def test_caches_admin_only(garden_admin, garden_user):
    garden_admin.get("/api/v1/models/c_bpartner")
    body = garden_admin.get("/api/v1/caches").json()
    caches = {c["name"]: c for c in body["caches"]}
    assert caches["records.dictionary"]["size"] >= 1
    assert set(caches["records.dictionary"]) == {"name", "table_name", "size", "expireMinutes", "maxSize", "distributed"}
    only = garden_admin.get("/api/v1/caches", {"table_name": "AD_Column"}).json()["caches"]
    assert [c["name"] for c in only] == ["records.dictionary"]
    reset = garden_admin.delete("/api/v1/caches").json()
    assert reset["entriesReset"] >= 1
    body = garden_admin.get("/api/v1/caches").json()
    assert {c["name"]: c for c in body["caches"]}["records.dictionary"]["size"] == 0
    assert garden_user.get("/api/v1/caches").status_code == 403
    assert garden_user.delete("/api/v1/caches").status_code == 403


def test_delete_caches_picks_up_access_changes(garden_user, garden_admin):
    from apps.accounts.models import RoleTableAccess

    assert garden_user.get("/api/v1/models/c_bpartner").status_code == 200
    RoleTableAccess.objects.filter(role__name="GardenWorld User", table_name="c_bpartner").delete()
    garden_admin.delete("/api/v1/caches", QUERY_STRING="table_name=AD_Table_Access")
    assert garden_user.get("/api/v1/models/c_bpartner").status_code == 403


def test_batch_all_or_nothing(garden_admin):
    group = BPGroup.objects.filter(client__name="GardenWorld").first()
    steps = [
        {"method": "POST", "path": "models/c_bpartner", "body": {"Value": "B1", "Name": "Batch 1", "C_BP_Group_ID": group.pk}},
        {"method": "POST", "path": "/api/v1/models/c_bpartner", "body": {"Value": "B2", "Name": "Batch 2", "C_BP_Group_ID": group.pk}},
        {"method": "GET", "path": "models/c_bpartner?$filter=startswith(Value,'B')"},
    ]
    response = garden_admin.post("/api/v1/batch", steps, format="json")
    assert response.status_code == 200, response.content
    results = response.json()
    assert [r["statusCode"] for r in results] == [201, 201, 200]
    assert results[2]["body"]["row-count"] == 2
    steps = [
        {"method": "POST", "path": "models/c_bpartner", "body": {"Value": "B3", "Name": "Batch 3", "C_BP_Group_ID": group.pk}},
        {"method": "PUT", "path": "models/c_bpartner/999999", "body": {"Name": "x"}},
    ]
    response = garden_admin.post("/api/v1/batch", steps, format="json")
    assert response.status_code == 404
    assert response.json()["failedStep"] == 1 and "Step 1" in response.json()["detail"]
    assert not BPartner.objects.filter(value="B3").exists()


def test_batch_without_transaction(garden_admin):
    group = BPGroup.objects.filter(client__name="GardenWorld").first()
    steps = [
        {"method": "POST", "path": "models/c_bpartner", "body": {"Value": "B4", "Name": "Batch 4", "C_BP_Group_ID": group.pk}},
        {"method": "POST", "path": "models/c_bpartner", "body": {"Nope": 1}},
    ]
    response = garden_admin.post("/api/v1/batch?transaction=false", steps, format="json")
    assert response.status_code == 200
    assert [r["statusCode"] for r in response.json()] == [201, 400]
    assert BPartner.objects.filter(value="B4").exists()


@pytest.mark.parametrize(
    "body",
    [{}, [], [1], [{"method": "PATCH", "path": "models"}], [{"method": "POST", "path": "batch"}], [{"method": "GET", "path": "nowhere"}]],
)
def test_batch_bad_input(garden_admin, body):
    response = garden_admin.post("/api/v1/batch", body, format="json")
    assert 400 <= response.status_code < 500
