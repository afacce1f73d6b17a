"""Wire shapes of DESIGN §5 and bad input that must answer 4xx problem bodies, never a 500."""

from __future__ import annotations

import json

import pytest

from apps.erp.models import BPartner, Order
from apps.records.models import Reference

BP_URL = "/api/v1/models/c_bpartner"
FIGURES = ("page-count", "records-size", "skip-records", "row-count", "array-count")


def test_list_body_and_headers_carry_the_same_five_figures(garden_admin):
    response = garden_admin.get(BP_URL, {"$top": 2, "$skip": 1})
    body = response.json()
    assert list(body) == [*FIGURES, "records"]
    for name in FIGURES:
        header = "X-" + "-".join(part.capitalize() for part in name.split("-"))
        assert response.headers[header] == str(body[name])
    assert body["records-size"] == 2 and body["skip-records"] == 1 and body["array-count"] == 2


def test_top_zero_means_the_default_page_size(garden_admin):
    body = garden_admin.get(BP_URL, {"$top": 0}).json()
    assert body["array-count"] == body["row-count"] >= 5
    assert body["records-size"] == 100


def test_po_json_starts_with_id_uid_model_name(garden_admin):
    joe = BPartner.objects.get(client__name="GardenWorld", name="Joe Block")
    one = garden_admin.get(f"{BP_URL}/{joe.uid}").json()
    assert list(one)[:3] == ["id", "uid", "model-name"] and one["model-name"] == "c_bpartner"
    listed = garden_admin.get(BP_URL, {"$select": "Name", "$top": 1}).json()["records"][0]
    assert list(listed) == ["id", "uid", "model-name", "Name"]
    fk = one["C_BP_Group_ID"]
    assert set(fk) == {"propertyLabel", "id", "identifier", "model-name"}


def test_single_column_reference_delete_shapes(garden_admin):
    joe = BPartner.objects.get(client__name="GardenWorld", name="Joe Block")
    assert garden_admin.get(f"{BP_URL}/{joe.pk}/Name").json() == {"Name": "Joe Block"}
    ref = Reference.objects.get(name="PriorityRule")
    body = garden_admin.get(f"/api/v1/reference/{ref.uid}").json()
    assert set(body) == {"name", "reflist"}
    assert body["reflist"][0] == {"value": "1", "name": "Urgent"}
    created = garden_admin.post(
        BP_URL, {"Value": "W1", "Name": "W1", "C_BP_Group_ID": joe.bp_group_id}, format="json"
    )
    assert created.status_code == 201
    assert garden_admin.delete(f"{BP_URL}/{created.json()['id']}").json() == {"msg": "Deleted"}
    models = garden_admin.get("/api/v1/models").json()
    assert list(models) == ["models"]


def test_batch_answers_status_statuscode_body(garden_admin):
    joe = BPartner.objects.get(client__name="GardenWorld", name="Joe Block")
    steps = [
        {"method": "GET", "path": "models/c_bpartner?$top=1"},
        {"method": "GET", "path": f"models/c_bpartner/{joe.pk}"},
        {"method": "GET", "path": f"models/c_bpartner/{joe.pk}/Name"},
    ]
    results = garden_admin.post("/api/v1/batch", steps, format="json").json()
    # A step that read or wrote one record adds the record's ETag, as the call's header.
    assert [set(r) for r in results] == [
        {"status", "statusCode", "body"},
        {"status", "statusCode", "body", "headers"},
        {"status", "statusCode", "body", "headers"},
    ]
    assert [r["statusCode"] for r in results] == [200, 200, 200]
    etag = garden_admin.get(f"{BP_URL}/{joe.pk}")["ETag"]
    assert results[1]["headers"] == results[2]["headers"] == {"ETag": etag}


BAD_INPUT = [
    ("get", f"{BP_URL}?$top=99999999999999999999999", None, 400),
    ("get", f"{BP_URL}?$top=-1", None, 400),
    ("get", f"{BP_URL}?$top=abc", None, 400),
    ("get", f"{BP_URL}?$skip=-5", None, 400),
    ("get", f"{BP_URL}?$skip=1e3", None, 400),
    ("get", "/api/v1/models/c_order?$expand=C_OrderLine($top=-1)", None, 400),
    ("get", "/api/v1/models/nope", None, 404),
    ("get", "/api/v1/models/nope/1", None, 404),
    ("get", f"{BP_URL}/abc", None, 404),
    ("get", f"{BP_URL}/-1", None, 404),
    ("get", f"{BP_URL}/99999999999999999999999999", None, 404),
    ("get", f"{BP_URL}/12345678-1234-1234-1234-12345678zzzz", None, 404),
    ("get", f"{BP_URL}/abc/Name", None, 404),
    ("get", f"{BP_URL}?$filter=C_BPartner_ID eq 'abc'", None, 400),
    ("get", f"{BP_URL}?$filter=C_BPartner_ID eq 999999999999999999999999", None, 400),
    ("get", f"{BP_URL}?$filter=C_BPartner_UU eq 'notauuid'", None, 400),
    ("get", f"{BP_URL}?$filter=Created gt '2024-13-45'", None, 400),
    ("get", f"{BP_URL}?$valrule=99999999999999999999999", None, 400),
    ("get", "/api/v1/reference/abc", None, 404),
    ("get", "/api/v1/reference/12345678-1234-1234-1234-12345678zzzz", None, 404),
    ("post", BP_URL, "{bad json", 400),
    ("post", BP_URL, "[1, 2]", 400),
    ("post", BP_URL, '"text"', 400),
    ("post", BP_URL, "null", 400),
    ("post", BP_URL, "123", 400),
    ("post", "/api/v1/models/nope", "{}", 404),
    ("post", BP_URL, json.dumps({"Name": "x", "Value": "y", "C_BP_Group_ID": "abc"}), 400),
    ("post", BP_URL, json.dumps({"Name": "x", "Value": "y", "C_BP_Group_ID": 10**23}), 400),
    ("post", BP_URL, json.dumps({"Name": "x", "Value": "y", "C_BP_Group_ID": [1]}), 400),
    ("post", BP_URL, json.dumps({"Name": "x", "Value": "y", "C_BP_Group_ID": {"uid": 5}}), 400),
    ("post", BP_URL, json.dumps({"Name": ["x"], "Value": {"a": 1}}), 400),
    ("post", BP_URL, json.dumps({"Name": "x", "Value": "y", "AD_Org_ID": 10**20}), 400),
    ("post", BP_URL, '{"Name": "x", "Value": "y", "SO_CreditLimit": 1e400}', 400),
    ("post", BP_URL, json.dumps({"Name": "x", "Value": "y", "SO_CreditLimit": 1e30}), 400),
    ("post", "/api/v1/models/c_order", json.dumps({"C_OrderLine": [1, "x"]}), 400),
    ("post", "/api/v1/models/c_order", json.dumps({"DateOrdered": "2024-02-30"}), 400),
    ("put", f"{BP_URL}/abc", "{}", 404),
    ("put", f"{BP_URL}/12345678-1234-1234-1234-12345678zzzz", "{}", 404),
    ("put", f"{BP_URL}/JOE", "[1]", 400),
    ("put", f"{BP_URL}/JOE", "{bad", 400),
    ("put", f"{BP_URL}/JOE", "null", 400),
    ("put", f"{BP_URL}/JOE", json.dumps({"doc-action": ["CO"]}), 400),
    ("put", "/api/v1/models/c_order/ORDER", json.dumps({"doc-action": {"x": 1}}), 400),
    ("delete", f"{BP_URL}/abc", None, 404),
    ("delete", f"{BP_URL}/99999999999999999999999", None, 404),
    ("delete", "/api/v1/caches?table_name=AD_Table&record_id=99999999999999999999999", None, 400),
    ("post", "/api/v1/batch", "{bad", 400),
    ("post", "/api/v1/batch", "{}", 400),
    ("post", "/api/v1/batch", "[1]", 400),
    ("post", "/api/v1/batch", json.dumps([{"method": 5, "path": 3}]), 400),
    ("post", "/api/v1/batch", json.dumps([{"method": "POST", "path": "models/c_bpartner", "body": [1]}]), 400),
    ("post", "/api/v1/batch", json.dumps([{"method": "GET", "path": "http://evil/x"}]), 404),
    # Digits Python's str.isdigit() accepts but int() does not.
    ("get", f"{BP_URL}?$top=\u00b2", None, 400),
    ("get", f"{BP_URL}?$skip=\u00b9", None, 400),
    ("get", f"{BP_URL}/\u00b2", None, 404),
    ("get", f"{BP_URL}/\u00b2/Name", None, 404),
    ("get", f"{BP_URL}?$valrule=\u00b2", None, 400),
    ("get", f"{BP_URL}?$filter=C_BPartner_ID eq '\u00b2'", None, 400),
    ("get", "/api/v1/reference/\u00b2", None, 400),
    ("put", f"{BP_URL}/\u00b2", "{}", 404),
    ("delete", f"{BP_URL}/\u00b2", None, 404),
    ("post", BP_URL, json.dumps({"Name": "x", "Value": "y", "C_BP_Group_ID": "\u00b2"}), 400),
    ("delete", "/api/v1/caches?table_name=AD_Table&record_id=\u00b2", None, 400),
    # A lone surrogate is valid JSON but no database can store it.
    ("post", BP_URL, '{"Name": "\\ud800", "Value": "y", "C_BP_Group_ID": 1}', 400),
    ("put", f"{BP_URL}/JOE", '{"Description": "a\\udfffb"}', 400),
    ("post", BP_URL, '{"Name": "x", "Value": "y", "C_BP_Group_ID": {"identifier": "\\ud800"}}', 400),
    ("post", "/api/v1/batch", '[{"method": "GET", "path": "models/c_bpartner?$filter=Name eq \'\\ud800\'"}]', 400),
    ("post", "/api/v1/batch", '[{"method": "G\\ud800", "path": "models/c_bpartner"}]', 400),
    ("post", BP_URL, '{"\\ud800": 1}', 400),
    ("get", f"{BP_URL}?$select=%ED%A0%80", None, 400),
]


@pytest.mark.parametrize(("method", "url", "body", "status"), BAD_INPUT)
def test_bad_input_is_a_problem_not_a_500(garden_admin, method, url, body, status):
    joe = BPartner.objects.get(client__name="GardenWorld", name="Joe Block")
    order = Order.objects.filter(client__name="GardenWorld").first()
    url = url.replace("JOE", str(joe.pk)).replace("ORDER", str(order.pk))
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    response = getattr(garden_admin, method)(url, **kwargs)
    assert response.status_code == status, response.content
    assert {"title", "status", "detail"} <= set(response.json())


def test_batch_without_transaction_reports_each_step(garden_admin):
    group = BPartner.objects.get(client__name="GardenWorld", name="Joe Block").bp_group_id
    steps = [
        {"method": "POST", "path": "models/c_bpartner", "body": {"Value": "NT1", "Name": "NT1", "C_BP_Group_ID": group}},
        {"method": "PATCH", "path": "models/c_bpartner"},
        {"method": "POST", "path": "models/c_bpartner", "body": {"Value": "NT2", "Name": "NT2", "C_BP_Group_ID": 10**9}},
        {"method": "GET", "path": "models/nope"},
        {"method": "POST", "path": "models/c_bpartner", "body": {"Value": "NT3", "Name": "NT3", "C_BP_Group_ID": group}},
    ]
    response = garden_admin.post("/api/v1/batch?transaction=false", steps, format="json")
    assert response.status_code == 200, response.content
    results = response.json()
    assert [r["statusCode"] for r in results] == [201, 400, 400, 404, 201]
    assert [set(r) - {"status", "statusCode", "body"} for r in results] == [{"headers"}, set(), set(), set(), {"headers"}]
    for result in (results[0], results[4]):
        assert result["headers"] == {"ETag": garden_admin.get(f"{BP_URL}/{result['body']['id']}")["ETag"]}
    assert set(BPartner.objects.filter(value__startswith="NT").values_list("value", flat=True)) == {"NT1", "NT3"}
