"""Detail rows edited with their master in one PUT: add (no id), change (id), delete ("(delete)": true).

All or nothing, under the master's rules (a completed order's lines do not change); only the
master's own detail rows can be named, never another order's or another client's.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import Organization
from apps.erp import services
from apps.erp.models import BPartner, Order, OrderLine, Product, ProductCategory


def _url(order) -> str:
    return f"/api/v1/models/c_order/{order.pk}"


def _lines(order) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (line.product.name, line.qty_ordered, line.line_net_amt)
        for line in OrderLine.objects.filter(order=order).select_related("product").order_by("line")
    ]


def _problem(response, status: int) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and isinstance(body["detail"], str)
    return body["detail"]


@pytest.fixture
def acme_line(acme) -> OrderLine:
    category = ProductCategory.objects.create(client=acme, value="Anvils", name="Anvils")
    anvil = Product.objects.create(
        client=acme, value="Anvil", name="Anvil", product_category=category, price_list=Decimal("99")
    )
    order = services.order_create(
        client=acme, org=Organization.objects.get(client=acme, value="HQ"),
        bpartner=BPartner.objects.get(client=acme, value="RoadRunner"),
        lines=[services.OrderLineInput(product=anvil, qty_ordered=Decimal(1))],
    )
    return order.lines.get()


def test_put_adds_changes_and_deletes_lines(garden_user, new_order, products):
    oak, rose = new_order.lines.order_by("line")
    response = garden_user.put(_url(new_order), {
        "Description": "edited with its lines",
        "C_OrderLine": [
            {"id": oak.pk, "(delete)": True},
            {"M_Product_ID": products["Holly Bush"].pk, "QtyEntered": 1},
            {"id": str(rose.pk), "QtyEntered": 4},
        ],
    }, format="json")
    assert response.status_code == 200, response.content
    assert Decimal(str(response.json()["GrandTotal"])) == Decimal("110.00")
    assert _lines(new_order) == [
        ("Rose Bush", Decimal(4), Decimal("80.00")), ("Holly Bush", Decimal(1), Decimal("30.00")),
    ]
    new_order.refresh_from_db()
    assert new_order.description == "edited with its lines"
    assert new_order.grand_total == Decimal("110.00")
    assert not OrderLine.objects.filter(pk=oak.pk).exists()


def test_one_refused_item_refuses_the_whole_put(garden_user, new_order, products):
    oak, rose = new_order.lines.order_by("line")
    before = _lines(new_order)
    detail = _problem(garden_user.put(_url(new_order), {
        "Description": "never saved",
        "C_OrderLine": [
            {"id": oak.pk, "(delete)": True},
            {"id": rose.pk, "QtyEntered": 9},
            {"M_Product_ID": 999999999},
        ],
    }, format="json"), 400)
    assert detail.startswith("C_OrderLine[2]: ")
    assert _lines(new_order) == before
    new_order.refresh_from_db()
    assert new_order.description == "" and new_order.grand_total == Decimal("183.50")


def test_another_orders_line_is_404_and_untouched(garden_user, new_order, small_order):
    foreign = small_order.lines.order_by("line").first()
    for item in ({"id": foreign.pk, "(delete)": True}, {"id": foreign.pk, "QtyEntered": 99}):
        detail = _problem(garden_user.put(_url(new_order), {"C_OrderLine": [item]}, format="json"), 404)
        assert detail.startswith("C_OrderLine[0]: ")
    assert OrderLine.objects.get(pk=foreign.pk).qty_ordered == foreign.qty_ordered


def test_another_clients_line_is_404_and_untouched(garden_user, new_order, acme_line):
    for item in ({"id": acme_line.pk, "(delete)": True}, {"uid": str(acme_line.uid), "QtyEntered": 5}):
        _problem(garden_user.put(_url(new_order), {"C_OrderLine": [item]}, format="json"), 404)
    acme_line.refresh_from_db()
    assert acme_line.qty_ordered == Decimal(1)


def test_a_line_cannot_move_to_another_order(garden_user, new_order, small_order):
    rose = new_order.lines.order_by("line").last()
    _problem(garden_user.put(_url(new_order), {
        "C_OrderLine": [{"id": rose.pk, "C_Order_ID": small_order.pk}],
    }, format="json"), 400)
    assert OrderLine.objects.get(pk=rose.pk).order_id == new_order.pk


@pytest.mark.parametrize("item", [
    {"(delete)": True},
    {"id": 1, "(delete)": "yes"},
    {"id": {"x": 1}, "QtyEntered": 1},
    {"id": [1], "(delete)": True},
    {"id": 1.5, "QtyEntered": 1},
])
def test_malformed_items_are_400(garden_user, new_order, item):
    before = _lines(new_order)
    _problem(garden_user.put(_url(new_order), {"C_OrderLine": [item]}, format="json"), 400)
    assert _lines(new_order) == before


def test_completed_orders_lines_do_not_change(garden_user, small_order, products):
    assert garden_user.put(_url(small_order), {"doc-action": "CO"}, format="json").status_code == 200
    small_order.refresh_from_db()
    assert small_order.doc_status == Order.DocStatus.COMPLETED
    before = _lines(small_order)
    first = small_order.lines.order_by("line").first()
    for item in ({"id": first.pk, "(delete)": True}, {"M_Product_ID": products["Oak Tree"].pk}):
        _problem(garden_user.put(_url(small_order), {"C_OrderLine": [item]}, format="json"), 409)
    assert _lines(small_order) == before


def test_item_etag_is_checked(garden_user, new_order):
    rose = new_order.lines.order_by("line").last()
    line_url = f"/api/v1/models/c_orderline/{rose.pk}"
    stale = garden_user.get(line_url)["ETag"]
    assert garden_user.put(line_url, {"Description": "changed"}, format="json").status_code == 200
    _problem(garden_user.put(_url(new_order), {
        "C_OrderLine": [{"id": rose.pk, "QtyEntered": 7, "@odata.etag": stale}],
    }, format="json"), 412)
    fresh = garden_user.get(line_url)["ETag"]
    response = garden_user.put(_url(new_order), {
        "C_OrderLine": [{"id": rose.pk, "QtyEntered": 7, "@odata.etag": fresh}],
    }, format="json")
    assert response.status_code == 200, response.content
    rose.refresh_from_db()
    assert rose.qty_ordered == Decimal(7)


def test_nested_two_levels_partner_orders_lines(garden_user, joe, new_order, products):
    """C_BPartner → C_Order → C_OrderLine in one PUT: change an order and its lines, add an order."""
    oak, rose = new_order.lines.order_by("line")
    response = garden_user.put(f"/api/v1/models/c_bpartner/{joe.pk}", {
        "Description": "partner with orders",
        "C_Order": [
            {"id": new_order.pk, "Description": "nested", "C_OrderLine": [
                {"id": oak.pk, "(delete)": True},
                {"id": rose.pk, "QtyEntered": 2},
            ]},
            {"Description": "new nested order", "C_OrderLine": [
                {"M_Product_ID": products["Elm Tree"].pk, "QtyEntered": 2},
            ]},
        ],
    }, format="json")
    assert response.status_code == 200, response.content
    new_order.refresh_from_db()
    assert new_order.description == "nested"
    assert _lines(new_order) == [("Rose Bush", Decimal(2), Decimal("40.00"))]
    added = Order.objects.get(bpartner=joe, description="new nested order")
    assert added.grand_total == Decimal("110.00") and added.document_no
    joe.refresh_from_db()
    assert joe.description == "partner with orders"


def test_nested_refusal_deep_down_rolls_back_every_level(garden_user, joe, new_order):
    oak, _rose = new_order.lines.order_by("line")
    detail = _problem(garden_user.put(f"/api/v1/models/c_bpartner/{joe.pk}", {
        "Description": "never",
        "C_Order": [{"id": new_order.pk, "Description": "never", "C_OrderLine": [
            {"id": oak.pk, "(delete)": True},
            {"M_Product_ID": None},
        ]}],
    }, format="json"), 400)
    assert detail.startswith("C_Order[0]: C_OrderLine[1]: ")
    joe.refresh_from_db()
    new_order.refresh_from_db()
    assert joe.description != "never" and new_order.description != "never"
    assert OrderLine.objects.filter(pk=oak.pk).exists()


def test_answer_carries_the_rows_added_and_changed(garden_user, new_order, products):
    """As iDempiere: a client learns an added line's id from the PUT's answer (deleted rows: not there)."""
    oak, rose = new_order.lines.order_by("line")
    response = garden_user.put(_url(new_order), {
        "c_orderline": [
            {"id": oak.pk, "(delete)": True},
            {"M_Product_ID": products["Holly Bush"].pk, "QtyEntered": 1},
            {"id": rose.pk, "QtyEntered": 4},
        ],
    }, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    added = OrderLine.objects.get(order=new_order, product=products["Holly Bush"])
    assert [(line["id"], line["model-name"]) for line in body["C_OrderLine"]] == [
        (added.pk, "c_orderline"), (rose.pk, "c_orderline"),
    ]
    assert [line["LineNetAmt"] for line in body["C_OrderLine"]] == [30, 80]
    plain = garden_user.put(_url(new_order), {"Description": "no arrays"}, format="json").json()
    assert "C_OrderLine" not in plain


def test_created_record_answers_its_detail_rows_nested(garden_user, joe, products):
    response = garden_user.post("/api/v1/models/c_bpartner", {
        "Name": "Partner with an order",
        "C_Order": [{"Description": "first", "C_OrderLine": [
            {"M_Product_ID": products["Elm Tree"].pk}, {"M_Product_ID": products["Oak Tree"].pk},
        ]}],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(bpartner_id=body["id"])
    (answered,) = body["C_Order"]
    assert answered["id"] == order.pk and answered["GrandTotal"] == 116.75
    assert [line["id"] for line in answered["C_OrderLine"]] == list(
        order.lines.order_by("line").values_list("pk", flat=True)
    )
