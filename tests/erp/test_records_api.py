"""The business tables through the records API (/api/v1/models): totals and document actions.

Every write path keeps LineNetAmt and GrandTotal right: here the generic records service, with
erp's hooks registered for C_Order and C_OrderLine.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.erp.models import BPartner, Order, OrderLine


def _amount(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _code(value) -> str:
    return value["id"] if isinstance(value, dict) else value


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.fixture
def posted_order(garden_user, joe, products) -> dict:
    response = garden_user.post("/api/v1/models/c_order", {
        "C_BPartner_ID": joe.pk,
        "Description": "via records API",
        "C_OrderLine": [
            {"M_Product_ID": products["Oak Tree"].pk, "QtyOrdered": 2},
            {"M_Product_ID": {"identifier": "Rose Bush", "tableName": "M_Product"},
             "QtyOrdered": 3, "PriceActual": 19.5},
        ],
    }, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_post_order_with_lines_computes_totals(posted_order, garden):
    assert posted_order["DocumentNo"]
    assert _code(posted_order["DocStatus"]) == "DR"
    assert _amount(posted_order["GrandTotal"]) == Decimal("182.00")
    order = Order.objects.get(pk=posted_order["id"])
    assert order.client_id == garden.pk
    lines = list(order.lines.order_by("line"))
    assert [line.line for line in lines] == [10, 20]
    assert [line.line_net_amt for line in lines] == [Decimal("123.50"), Decimal("58.50")]
    assert all(line.org_id == order.org_id for line in lines)


def test_put_and_delete_lines_keep_grand_total(garden_user, posted_order, products):
    order_id = posted_order["id"]
    oak, rose = OrderLine.objects.filter(order_id=order_id).order_by("line")

    response = garden_user.put(f"/api/v1/models/c_orderline/{oak.pk}", {"QtyOrdered": 4},
                               format="json")
    assert response.status_code == 200, response.content
    assert _amount(response.json()["LineNetAmt"]) == Decimal("247.00")
    order = garden_user.get(f"/api/v1/models/c_order/{order_id}").json()
    assert _amount(order["GrandTotal"]) == Decimal("305.50")

    response = garden_user.post("/api/v1/models/c_orderline", {
        "C_Order_ID": order_id, "M_Product_ID": products["Holly Bush"].pk, "QtyOrdered": 1,
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["Line"] == 30
    assert _amount(Order.objects.get(pk=order_id).grand_total) == Decimal("335.50")

    response = garden_user.delete(f"/api/v1/models/c_orderline/{rose.pk}")
    assert response.status_code == 200, response.content
    order = garden_user.get(f"/api/v1/models/c_order/{order_id}").json()
    assert _amount(order["GrandTotal"]) == Decimal("277.00")


def test_derived_columns_are_not_writable(garden_user, posted_order):
    order_id = posted_order["id"]
    for body in ({"GrandTotal": 1}, {"DocStatus": "CO"}, {"DocumentNo": "X"}):
        _problem(garden_user.put(f"/api/v1/models/c_order/{order_id}", body, format="json"), 400)
    line = OrderLine.objects.filter(order_id=order_id).first()
    _problem(garden_user.put(f"/api/v1/models/c_orderline/{line.pk}", {"LineNetAmt": 1},
                             format="json"), 400)


def test_doc_action_complete_small_order(garden_user, small_order):
    response = garden_user.put(f"/api/v1/models/c_order/{small_order.pk}", {"doc-action": "CO"},
                               format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert _code(body["DocStatus"]) == "CO"
    assert body["IsApproved"] is True
    small_order.refresh_from_db()
    assert (small_order.doc_status, small_order.is_approved) == ("CO", True)


def test_doc_action_complete_large_order_needs_approval(garden_user, large_order):
    response = garden_user.put(f"/api/v1/models/c_order/{large_order.pk}", {"doc-action": "CO"},
                               format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert _code(body["DocStatus"]) == "IP"
    assert body["IsApproved"] is False
    large_order.refresh_from_db()
    assert (large_order.doc_status, large_order.is_approved) == ("IP", False)
    # Approving one's own order through the column or the AP action is refused.
    _problem(garden_user.put(f"/api/v1/models/c_order/{large_order.pk}", {"IsApproved": True},
                             format="json"), 403)
    _problem(garden_user.put(f"/api/v1/models/c_order/{large_order.pk}", {"doc-action": "AP"},
                             format="json"), 403)
    large_order.refresh_from_db()
    assert (large_order.doc_status, large_order.is_approved) == ("IP", False)


def test_doc_action_complete_large_order_unlimited_admin(garden_admin, large_order):
    response = garden_admin.put(f"/api/v1/models/c_order/{large_order.pk}", {"doc-action": "CO"},
                                format="json")
    assert response.status_code == 200, response.content
    assert _code(response.json()["DocStatus"]) == "CO"
    assert response.json()["IsApproved"] is True


def test_completed_order_refuses_line_edits(garden_user, small_order, products):
    garden_user.put(f"/api/v1/models/c_order/{small_order.pk}", {"doc-action": "CO"}, format="json")
    line = small_order.lines.first()
    _problem(garden_user.put(f"/api/v1/models/c_orderline/{line.pk}", {"QtyOrdered": 99},
                             format="json"), 409)
    _problem(garden_user.post("/api/v1/models/c_orderline", {
        "C_Order_ID": small_order.pk, "M_Product_ID": products["Oak Tree"].pk, "QtyOrdered": 1,
    }, format="json"), 409)
    _problem(garden_user.delete(f"/api/v1/models/c_orderline/{line.pk}"), 409)
    _problem(garden_user.delete(f"/api/v1/models/c_order/{small_order.pk}"), 409)
    _problem(garden_user.put(f"/api/v1/models/c_order/{small_order.pk}", {"doc-action": "CO"},
                             format="json"), 409)
    small_order.refresh_from_db()
    assert small_order.grand_total == Decimal("337.50")
    assert small_order.lines.count() == 2


def test_void_draft_order(garden_user, small_order):
    response = garden_user.put(f"/api/v1/models/c_order/{small_order.pk}", {"doc-action": "VO"},
                               format="json")
    assert response.status_code == 200, response.content
    assert _code(response.json()["DocStatus"]) == "VO"


def test_unknown_doc_action(garden_user, small_order):
    _problem(garden_user.put(f"/api/v1/models/c_order/{small_order.pk}", {"doc-action": "XX"},
                             format="json"), 400)


def test_acme_sees_none_of_gardenworlds_rows(acme_admin, joe, small_order):
    body = acme_admin.get("/api/v1/models/c_bpartner").json()
    assert [r["Name"] for r in body["records"]] == ["Road Runner"]
    assert acme_admin.get(f"/api/v1/models/c_bpartner/{joe.pk}").status_code == 404
    assert acme_admin.get("/api/v1/models/c_order").json()["records"] == []
    assert acme_admin.get(f"/api/v1/models/c_order/{small_order.pk}").status_code == 404
    assert acme_admin.put(f"/api/v1/models/c_order/{small_order.pk}", {"doc-action": "CO"},
                          format="json").status_code == 404


def test_acme_cannot_use_gardenworld_partner(acme_admin, joe):
    response = acme_admin.post("/api/v1/models/c_order", {"C_BPartner_ID": joe.pk}, format="json")
    _problem(response, 400)
    assert not Order.objects.filter(bpartner=joe, client__value="Acme").exists()


def test_garden_user_cannot_write_accounts(garden_user):
    _problem(garden_user.post("/api/v1/models/c_elementvalue",
                              {"Value": "99", "Name": "X", "AccountType": "E"}, format="json"), 403)
    assert garden_user.get("/api/v1/models/c_elementvalue").status_code == 200


def test_expand_order_lines(garden_user, large_order):
    body = garden_user.get(
        f"/api/v1/models/c_order/{large_order.pk}?$expand=C_OrderLine($orderby=Line)"
    ).json()
    lines = body["C_OrderLine"]
    assert [line["Line"] for line in lines] == [10, 20]
    assert sum(_amount(line["LineNetAmt"]) for line in lines) == _amount(body["GrandTotal"])


def test_bpartner_list_with_filter(garden_user):
    body = garden_user.get("/api/v1/models/c_bpartner?$filter=IsCustomer eq true&$select=Name").json()
    names = {r["Name"] for r in body["records"]}
    assert "Joe Block" in names and "Seed Farm Inc." not in names
    assert BPartner.objects.filter(client__value="GardenWorld", is_customer=True).count() == len(names)
