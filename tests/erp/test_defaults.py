"""Column defaults and sequences: the minimal bodies integrators send create complete rows.

iDempiere fills a business partner's Value from its sequence and its group from the client's
default group; an order's document number from its document type's sequence, its dates, org,
warehouse and sales rep from the login context; a line's number, quantity and price.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from apps.accounts.models import User, Warehouse
from apps.erp.models import BPartner, BPGroup, DocSequence, DocType, Order, OrderLine, Product
from tests.accounts.helpers import bearer_client

BP_URL = "/api/v1/models/C_BPartner"
ORDER_URL = "/api/v1/models/c_order"


def _id(value):
    return value["id"] if isinstance(value, dict) else value


@pytest.fixture
def doc_types(garden) -> dict[str, DocType]:
    return {d.name: d for d in DocType.objects.filter(client=garden)}


def test_bpartner_from_name_only(garden_user, garden, garden_hq, acme):
    acme_before = list(BPartner.objects.filter(client=acme).values_list("value", flat=True))
    first = garden_user.post(BP_URL, {"Name": "Minimal Partner"}, format="json")
    second = garden_user.post(BP_URL, {"Name": "Minimal Partner 2"}, format="json")
    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    body = first.json()
    standard = BPGroup.objects.get(client=garden, is_default=True)
    assert _id(body["C_BP_Group_ID"]) == standard.pk
    assert _id(body["AD_Org_ID"]) == garden_hq.pk
    # Value from the client's DocumentNo_C_BPartner sequence, one after the other.
    assert int(second.json()["Value"]) == int(body["Value"]) + 1
    row = BPartner.objects.get(pk=body["id"])
    assert (row.client_id, row.value, row.bp_group_id) == (garden.pk, body["Value"], standard.pk)
    assert DocSequence.objects.filter(client=garden, name="DocumentNo_C_BPartner").exists()
    assert list(BPartner.objects.filter(client=acme).values_list("value", flat=True)) == acme_before
    assert not DocSequence.objects.filter(client=acme, name="DocumentNo_C_BPartner").exists()


def test_bpartner_lowercase_name_key_and_explicit_values_win(garden_user, garden):
    vendors = BPGroup.objects.get(client=garden, value="Vendors")
    response = garden_user.post(
        BP_URL, {"name": "Explicit", "Value": "EXPL-1", "C_BP_Group_ID": vendors.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    row = BPartner.objects.get(pk=response.json()["id"])
    assert (row.value, row.bp_group_id, row.name) == ("EXPL-1", vendors.pk, "Explicit")
    # An explicit value does not draw a number.
    assert not DocSequence.objects.filter(client=garden, name="DocumentNo_C_BPartner").exists()


def test_refused_create_gives_its_number_back(garden_user, garden):
    bad = garden_user.post(BP_URL, {"Name": "x" * 61}, format="json")
    assert bad.status_code == 400, bad.content
    ok = garden_user.post(BP_URL, {"Name": "After refusal"}, format="json")
    again = garden_user.post(BP_URL, {"Name": "After refusal 2"}, format="json")
    assert int(again.json()["Value"]) == int(ok.json()["Value"]) + 1
    assert ok.json()["Value"] == "1000"  # the refused create's number came back


def test_product_value_from_its_sequence(garden_user, garden):
    """iDempiere fills an empty Value from DocumentNo_<table>: a product needs a name and a category."""
    trees = {"identifier": "Trees", "tableName": "M_Product_Category"}
    first = garden_user.post("/api/v1/models/m_product", {"Name": "Maple", "M_Product_Category_ID": trees}, format="json")
    second = garden_user.post("/api/v1/models/m_product", {"name": "Birch", "M_Product_Category_ID": trees}, format="json")
    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    assert (first.json()["Value"], second.json()["Value"]) == ("1000", "1001")
    assert Product.objects.get(pk=second.json()["id"]).value == "1001"
    assert DocSequence.objects.filter(client=garden, name="DocumentNo_M_Product").exists()
    kept = garden_user.post(
        "/api/v1/models/m_product", {"Name": "Yew", "Value": "Yew", "M_Product_Category_ID": trees}, format="json"
    )
    assert kept.json()["Value"] == "Yew"


def test_no_default_group_is_a_400_not_a_500(garden_user, garden):
    BPGroup.objects.filter(client=garden).update(is_default=False)
    response = garden_user.post(BP_URL, {"Name": "No group"}, format="json")
    assert response.status_code == 400, response.content
    assert "C_BP_Group_ID" in str(response.json()["detail"])
    assert not BPartner.objects.filter(name="No group").exists()


def test_order_from_partner_and_doc_type(garden_user, garden, garden_hq, joe, doc_types):
    user = User.objects.get(username="GardenUser")
    response = garden_user.post(
        ORDER_URL,
        {"C_BPartner_ID": joe.pk, "C_DocTypeTarget_ID": doc_types["Standard Order"].pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    today = timezone.localdate().isoformat()
    assert body["DateOrdered"] == today and body["DatePromised"] == today
    assert _id(body["AD_Org_ID"]) == garden_hq.pk
    assert _id(body["SalesRep_ID"]) == user.pk
    assert _id(body["PriorityRule"]) == "5"
    assert _id(body["DocStatus"]) == "DR"
    assert body["IsSOTrx"] is True
    order = Order.objects.get(pk=body["id"])
    warehouse = Warehouse.objects.get(client=garden, value="HQ")
    assert order.warehouse_id == warehouse.pk
    assert order.document_no == body["DocumentNo"] and order.document_no.isdigit()


def test_order_number_comes_from_its_doc_type_sequence(garden_user, joe, doc_types):
    purchase = doc_types["Purchase Order"]
    first = garden_user.post(ORDER_URL, {"C_BPartner_ID": joe.pk, "C_DocTypeTarget_ID": purchase.pk}, format="json")
    second = garden_user.post(ORDER_URL, {"C_BPartner_ID": joe.pk, "C_DocTypeTarget_ID": purchase.pk}, format="json")
    assert first.status_code == 201, first.content
    assert (first.json()["DocumentNo"], second.json()["DocumentNo"]) == ("PO-800000", "PO-800001")
    assert first.json()["IsSOTrx"] is False
    # Without a document type: the client's default one for IsSOTrx (sales unless told otherwise).
    plain = garden_user.post(ORDER_URL, {"C_BPartner_ID": joe.pk}, format="json")
    assert plain.status_code == 201, plain.content
    assert _id(plain.json()["C_DocTypeTarget_ID"]) == doc_types["Standard Order"].pk
    bought = garden_user.post(ORDER_URL, {"C_BPartner_ID": joe.pk, "IsSOTrx": False}, format="json")
    assert bought.status_code == 201, bought.content
    assert _id(bought.json()["C_DocTypeTarget_ID"]) == purchase.pk
    assert bought.json()["IsSOTrx"] is False and bought.json()["DocumentNo"] == "PO-800002"


def test_order_explicit_values_win(garden_user, joe):
    response = garden_user.post(
        ORDER_URL,
        {"C_BPartner_ID": joe.pk, "DateOrdered": "2026-01-05", "PriorityRule": "1", "SalesRep_ID": None},
        format="json",
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.date_ordered, order.priority_rule, order.sales_rep_id) == (dt.date(2026, 1, 5), "1", None)


def test_other_clients_doc_type_is_refused(garden_user, joe, acme):
    acme_type = DocType.objects.get(client=acme, name="Standard Order")
    response = garden_user.post(ORDER_URL, {"C_BPartner_ID": joe.pk, "C_DocTypeTarget_ID": acme_type.pk}, format="json")
    assert response.status_code == 400, response.content
    assert not Order.objects.filter(doc_type_target=acme_type).exists()


def test_order_line_defaults(garden_user, joe, products):
    order = garden_user.post(ORDER_URL, {"C_BPartner_ID": joe.pk, "C_OrderLine": [
        {"M_Product_ID": products["Holly Bush"].pk, "QtyEntered": 3},
        {"M_Product_ID": products["Oak Tree"].pk},
        {"M_Product_ID": products["Rose Bush"].pk, "QtyOrdered": 2, "PriceActual": 15},
    ]}, format="json")
    assert order.status_code == 201, order.content
    lines = list(OrderLine.objects.filter(order_id=order.json()["id"]).order_by("line"))
    assert [line.line for line in lines] == [10, 20, 30]
    assert [(line.qty_entered, line.qty_ordered) for line in lines] == [
        (Decimal(3), Decimal(3)), (Decimal(1), Decimal(1)), (Decimal(2), Decimal(2)),
    ]
    assert [line.price_actual for line in lines] == [Decimal("30.00"), Decimal("61.75"), Decimal("15.00")]
    assert Order.objects.get(pk=order.json()["id"]).grand_total == Decimal("181.75")
    # A change of QtyEntered alone carries over to QtyOrdered.
    response = garden_user.put(f"/api/v1/models/c_orderline/{lines[0].pk}", {"QtyEntered": 5}, format="json")
    assert response.status_code == 200, response.content
    lines[0].refresh_from_db()
    assert (lines[0].qty_entered, lines[0].qty_ordered, lines[0].line_net_amt) == (
        Decimal(5), Decimal(5), Decimal("150.00"),
    )


def test_dictionary_shows_defaults_read_only(garden_admin):
    response = garden_admin.get(
        "/api/v1/models/ad_column",
        {"$filter": "DefaultValue neq null and DefaultValue neq ''", "$select": "ColumnName,DefaultValue,DefaultKind", "$top": 100},
    )
    assert response.status_code == 200, response.content
    shown = {(r["ColumnName"], r["DefaultValue"], _id(r["DefaultKind"])) for r in response.json()["records"]}
    assert ("Value", "@Sequence=DocumentNo_C_BPartner@", "Sequence") in shown
    assert ("Value", "@Sequence=DocumentNo_M_Product@", "Sequence") in shown
    assert ("C_BP_Group_ID", "@IsDefault@", "IsDefault") in shown
    assert ("PriorityRule", "5", "Constant") in shown
    assert ("M_Warehouse_ID", "@#M_Warehouse_ID@", "Context") in shown
    assert any(name == "Line" and kind == "Derived" for name, _, kind in shown)
    column_id = response.json()["records"][0]["id"]
    refused = garden_admin.put(f"/api/v1/models/ad_column/{column_id}", {"DefaultValue": "7"}, format="json")
    assert refused.status_code in (400, 403), refused.content


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_draw_distinct_gap_free_values(demo, garden):
    """Partners created at once from several clients: their sequence values are all different and
    consecutive (the sequence row is taken with SELECT ... FOR UPDATE)."""
    clients = [bearer_client("GardenUser"), bearer_client("GardenAdmin")] * 2
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def create(client, index: int) -> None:
        try:
            barrier.wait()
            for round_no in range(3):
                response = client.post(BP_URL, {"Name": f"Concurrent {index}.{round_no}"}, format="json")
                statuses.append(response.status_code)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=create, args=(c, i)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert statuses == [201] * 12
    values = sorted(int(v) for v in BPartner.objects.filter(name__startswith="Concurrent ").values_list("value", flat=True))
    assert values == list(range(values[0], values[0] + 12))
