"""PO-JSON both ways: output shapes, create/update/delete, FK input forms, child arrays, doc actions."""

from __future__ import annotations

import pytest

from apps.erp.models import BPartner, BPGroup, Order, OrderLine, Product
from tests.records.helpers import BP_URL

pytestmark = pytest.mark.django_db
ORDER_URL = "/api/v1/models/c_order"


def _joe() -> BPartner:
    return BPartner.objects.get(name="Joe Block")


def test_record_shape(garden_admin):
    joe = _joe()
    body = garden_admin.get(f"{BP_URL}/{joe.pk}").json()
    assert body["id"] == joe.pk and body["uid"] == str(joe.uid) and body["model-name"] == "c_bpartner"
    assert body["Name"] == "Joe Block" and body["IsCustomer"] is True
    assert isinstance(body["SO_CreditLimit"], (int, float))
    assert body["C_BP_Group_ID"] == {
        "propertyLabel": "Business Partner Group",
        "id": joe.bp_group_id,
        "identifier": joe.bp_group.name,
        "model-name": "c_bp_group",
    }
    assert body["AD_Client_ID"]["identifier"] == "GardenWorld"
    assert body["Created"].endswith("Z")
    assert "C_BPartner_ID" not in body and "C_BPartner_UU" not in body
    # by UUID too
    assert garden_admin.get(f"{BP_URL}/{joe.uid}").json()["id"] == joe.pk
    assert garden_admin.get(f"{BP_URL}/not-a-record").status_code == 404
    assert garden_admin.get("/api/v1/models/no_such_table").status_code == 404


def test_list_and_dates(garden_admin):
    order = Order.objects.filter(client__name="GardenWorld").first()
    body = garden_admin.get(f"{ORDER_URL}/{order.pk}").json()
    assert body["DocStatus"] == {
        "propertyLabel": "Document Status",
        "id": "DR",
        "identifier": "Drafted",
        "model-name": "ad_ref_list",
    }
    assert body["DateOrdered"] == order.date_ordered.isoformat()
    assert body["C_BPartner_ID"]["identifier"] == "Joe Block"


def test_column_endpoint(garden_admin):
    joe = _joe()
    assert garden_admin.get(f"{BP_URL}/{joe.pk}/Name").json() == {"Name": "Joe Block"}
    assert garden_admin.get(f"{BP_URL}/{joe.pk}/name").json() == {"Name": "Joe Block"}
    assert garden_admin.get(f"{BP_URL}/{joe.pk}/C_BP_Group_ID").json()["C_BP_Group_ID"]["id"] == joe.bp_group_id
    assert garden_admin.get(f"{BP_URL}/{joe.pk}/Nope").status_code == 404


def test_attachments_segment_is_not_a_column():
    from django.urls import resolve

    match = resolve("/api/v1/models/c_bpartner/1/attachments")
    assert match.url_name != "records-column"
    assert resolve("/api/v1/models/c_bpartner/1/Name").url_name == "records-column"


def test_lowercase_column_names(garden_admin):
    from apps.accounts.models import SysConfig
    from apps.accounts.services import sysconfig_cache_clear

    SysConfig.objects.update_or_create(client=None, name="REST_COLUMNNAME_TOLOWERCASE", defaults={"value": "Y"})
    sysconfig_cache_clear()
    body = garden_admin.get(f"{BP_URL}/{_joe().pk}").json()
    assert body["name"] == "Joe Block" and body["isCustomer"] is True and "C_BP_Group_ID" in body
    response = garden_admin.put(f"{BP_URL}/{_joe().pk}", {"description": "lower"}, format="json")
    assert response.status_code == 200 and response.json()["description"] == "lower"


def test_create_update_delete(garden_admin):
    group = BPGroup.objects.filter(client__name="GardenWorld").first()
    response = garden_admin.post(
        BP_URL,
        {"Value": "NewBP", "Name": "New Partner", "IsCustomer": True, "C_BP_Group_ID": group.pk, "SO_CreditLimit": 12.5},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    created = BPartner.objects.get(pk=body["id"])
    assert created.client.name == "GardenWorld" and created.created_by.username == "GardenAdmin"
    assert body["CreatedBy"]["identifier"] == "GardenAdmin" and body["SO_CreditLimit"] == 12.5
    response = garden_admin.put(f"{BP_URL}/{created.uid}", {"Name": "Renamed", "IsVendor": "Y"}, format="json")
    assert response.status_code == 200 and response.json()["Name"] == "Renamed"
    assert response.json()["IsVendor"] is True
    response = garden_admin.delete(f"{BP_URL}/{created.pk}")
    assert response.status_code == 200 and response.json() == {"msg": "Deleted"}
    assert not BPartner.objects.filter(pk=created.pk).exists()


@pytest.mark.parametrize(
    "fk",
    ["pk", "str_pk", "uuid", "obj_id", "obj_uid", "identifier"],
)
def test_fk_input_forms(garden_admin, fk):
    group = BPGroup.objects.filter(client__name="GardenWorld").first()
    value = {
        "pk": group.pk,
        "str_pk": str(group.pk),
        "uuid": str(group.uid),
        "obj_id": {"id": group.pk},
        "obj_uid": {"uid": str(group.uid)},
        "identifier": {"identifier": group.name, "tableName": "C_BP_Group"},
    }[fk]
    response = garden_admin.post(BP_URL, {"Value": f"FK{fk}", "Name": fk, "C_BP_Group_ID": value}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["C_BP_Group_ID"]["id"] == group.pk


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"Nope": 1}, "Nope"),
        ({"Created": "2020-01-01"}, "Created"),
        ({"AD_Client_ID": 0}, "AD_Client_ID"),
        ({"C_BP_Group_ID": 999999}, "C_BP_Group_ID"),
        ({"C_BP_Group_ID": {"identifier": "No such group", "tableName": "C_BP_Group"}}, "C_BP_Group_ID"),
        ({"C_BP_Group_ID": {"identifier": "x", "tableName": "M_Product"}}, "C_BP_Group_ID"),
        ({"IsCustomer": "maybe"}, "IsCustomer"),
        ({"SO_CreditLimit": "lots"}, "SO_CreditLimit"),
        ({"Name": "x" * 500}, "Name"),
    ],
)
def test_bad_input_is_400_naming_column(garden_admin, payload, fragment):
    response = garden_admin.put(f"{BP_URL}/{_joe().pk}", payload, format="json")
    assert response.status_code == 400, response.content
    assert fragment in str(response.json()["detail"])


def test_mandatory_missing_is_400(garden_admin):
    response = garden_admin.post(BP_URL, {"Value": "X"}, format="json")
    assert response.status_code == 400
    assert "Name" in str(response.json()["detail"]) or "C_BP_Group_ID" in str(response.json()["detail"])


def test_other_clients_fk_is_rejected(acme_admin):
    group = BPGroup.objects.filter(client__name="GardenWorld").first()
    response = acme_admin.post(BP_URL, {"Value": "X", "Name": "X", "C_BP_Group_ID": group.pk}, format="json")
    assert response.status_code == 400


def test_order_with_lines_in_one_post(garden_admin):
    joe = _joe()
    products = list(Product.objects.filter(client__name="GardenWorld")[:2])
    response = garden_admin.post(
        ORDER_URL,
        {
            "C_BPartner_ID": {"identifier": "Joe Block", "tableName": "C_BPartner"},
            "Description": "Two lines",
            "PriorityRule": "3",
            "C_OrderLine": [
                {"M_Product_ID": products[0].pk, "QtyOrdered": 2, "PriceActual": 10},
                {"M_Product_ID": str(products[1].uid), "QtyOrdered": 1, "PriceActual": 5.5},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.bpartner == joe and order.lines.count() == 2
    assert float(order.grand_total) == 25.5
    assert response.json()["GrandTotal"] == 25.5
    assert response.json()["PriorityRule"]["id"] == "3"


def test_child_failure_rolls_back_the_header(garden_admin):
    count = Order.objects.count()
    response = garden_admin.post(
        ORDER_URL,
        {"C_BPartner_ID": _joe().pk, "C_OrderLine": [{"M_Product_ID": 999999, "QtyOrdered": 1}]},
        format="json",
    )
    assert response.status_code == 400
    assert "C_OrderLine[0]" in response.json()["detail"]
    assert Order.objects.count() == count


def test_doc_action(garden_admin):
    order = Order.objects.filter(client__name="GardenWorld").order_by("grand_total").first()
    response = garden_admin.put(f"{ORDER_URL}/{order.pk}", {"doc-action": "XX"}, format="json")
    assert response.status_code == 400 and "XX" in response.json()["detail"]
    response = garden_admin.put(f"{ORDER_URL}/{order.pk}", {"Description": "go", "doc-action": "CO"}, format="json")
    assert response.status_code == 200, response.content
    order.refresh_from_db()
    assert order.doc_status in {"CO", "IP"} and order.description == "go"
    assert response.json()["DocStatus"]["id"] == order.doc_status


def test_read_only_column_is_400(garden_admin):
    order = Order.objects.filter(client__name="GardenWorld").first()
    response = garden_admin.put(f"{ORDER_URL}/{order.pk}", {"GrandTotal": 1}, format="json")
    assert response.status_code == 400 and "GrandTotal" in response.json()["detail"]
    line = OrderLine.objects.filter(order=order).first()
    response = garden_admin.put(f"/api/v1/models/c_orderline/{line.pk}", {"LineNetAmt": 1}, format="json")
    assert response.status_code == 400
