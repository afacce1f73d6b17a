"""$expand: detail tables and foreign keys, nested options, and a constant number of queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

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
    if connection.vendor == "postgresql":
        assert plain == baseline  # PostgreSQL renders a page, expansions and all, in one statement
    else:
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


# --- $top / $skip: one rule at the top level and in a nested $expand ------------------------------
def _max_records(value: str | None) -> None:
    from apps.accounts.models import SysConfig
    from apps.accounts.services import sysconfig_cache_clear

    if value is None:
        SysConfig.objects.filter(client=None, name="REST_MAX_RECORDS_SIZE").delete()
    else:
        SysConfig.objects.update_or_create(client=None, name="REST_MAX_RECORDS_SIZE", defaults={"value": value})
    sysconfig_cache_clear()


def _bulk_line_counts(client, top: str | None = None, nested: str | None = None) -> tuple[int, list[int]]:
    expand = "C_OrderLine" if nested is None else f"C_OrderLine($top={nested})"
    params = {"$filter": "startswith(Description,'bulk')", "$expand": expand, "$orderby": "id"}
    if top is not None:
        params["$top"] = top
    response = client.get(ORDER_URL, params)
    assert response.status_code == 200, response.content
    body = response.json()
    return body["array-count"], [len(record["C_OrderLine"]) for record in body["records"]]


@pytest.mark.parametrize(
    ("limit", "top", "rows", "lines"),
    [
        # Default cap (100): zero or missing $top is "no explicit top", so the cap applies.
        (None, None, 3, 4),
        (None, "0", 3, 4),
        (None, "2", 2, 2),
        # A cap of 2 limits any $top, at both levels.
        ("2", None, 2, 2),
        ("2", "0", 2, 2),
        ("2", "3", 2, 2),
        ("2", "1", 1, 1),
        # No cap (0): $top wins when given, everything otherwise.
        ("0", None, 3, 4),
        ("0", "0", 3, 4),
        ("0", "3", 3, 3),
    ],
)
def test_top_means_the_same_at_both_levels(garden_admin, limit, top, rows, lines):
    _more_orders(3, lines=4)
    _max_records(limit)
    array_count, line_counts = _bulk_line_counts(garden_admin, top=top, nested=top)
    assert array_count == rows
    assert line_counts == [lines] * rows


def test_nested_top_zero_returns_the_children(garden_admin):
    """The open item: $expand=C_OrderLine($top=0) used to return no children at all."""
    _more_orders(2, lines=3)
    assert _bulk_line_counts(garden_admin, nested="0") == (2, [3, 3])
    assert _bulk_line_counts(garden_admin, nested="") == (2, [3, 3])


def test_nested_skip_beyond_the_children_gives_empty_arrays(garden_admin):
    _more_orders(2, lines=3)
    body = garden_admin.get(
        ORDER_URL, {"$filter": "startswith(Description,'bulk')", "$expand": "C_OrderLine($skip=3;$top=0)"}
    ).json()
    assert [record["C_OrderLine"] for record in body["records"]] == [[], []]


@pytest.mark.parametrize(
    ("expand", "option"),
    [
        ("C_OrderLine($top=-1)", "$top"),
        ("C_OrderLine($top=abc)", "$top"),
        ("C_OrderLine($top=1.5)", "$top"),
        ("C_OrderLine($top=1e3)", "$top"),
        ("C_OrderLine($top=+3)", "$top"),
        ("C_OrderLine($top=\u00b2)", "$top"),
        ("C_OrderLine($top=99999999999999999999999)", "$top"),
        ("C_OrderLine($skip=-1)", "$skip"),
        ("C_OrderLine($skip=x)", "$skip"),
        ("C_OrderLine($skip=0x10)", "$skip"),
        ("C_OrderLine($expand=M_Product_ID($top=-2))", "$top"),
        ("C_BPartner_ID($top=x)", "$top"),
        ("C_BPartner_ID($skip=-1)", "$skip"),
    ],
)
def test_bad_nested_top_or_skip_is_a_400_naming_the_option(garden_admin, expand, option):
    response = garden_admin.get(ORDER_URL, {"$expand": expand})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == 400 and body["title"]
    assert option in body["detail"] and "$expand=" in body["detail"], body["detail"]


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "1e3", "+3", "\u00b2", " - 1", "99999999999999999999999"])
@pytest.mark.parametrize("option", ["$top", "$skip"])
def test_bad_top_or_skip_is_a_400_naming_the_option(garden_admin, option, value):
    response = garden_admin.get(ORDER_URL, {option: value})
    assert response.status_code == 400, response.content
    assert option in response.json()["detail"]


def test_zero_top_and_skip_are_accepted_on_a_foreign_key_expansion(garden_admin):
    response = garden_admin.get(ORDER_URL, {"$expand": "C_BPartner_ID($top=0;$skip=0;$select=Name)"})
    assert response.status_code == 200, response.content
    assert response.json()["records"][0]["C_BPartner_ID"]["Name"] == "Joe Block"
    response = garden_admin.get(ORDER_URL, {"$expand": "C_BPartner_ID($skip=1)"})
    assert response.status_code == 400 and "C_BPartner_ID" in response.json()["detail"]


def test_query_count_is_constant_with_nested_top_and_cap(garden_admin, django_assert_max_num_queries):
    params = {"$expand": "C_OrderLine($top=0;$expand=M_Product_ID),C_BPartner_ID"}
    _count_queries(garden_admin, django_assert_max_num_queries, {**params, "$top": 1})  # warm caches
    baseline = _count_queries(garden_admin, django_assert_max_num_queries, {**params, "$top": 1})
    _more_orders(12, lines=5)
    _max_records("3")
    _count_queries(garden_admin, django_assert_max_num_queries, {**params, "$top": 1})  # re-read SysConfig
    for top in (0, 1, 5, 13):
        assert _count_queries(garden_admin, django_assert_max_num_queries, {**params, "$top": top}) == baseline
    body = garden_admin.get(ORDER_URL, {**params, "$top": 0, "$filter": "startswith(Description,'bulk')"}).json()
    assert body["array-count"] == 3 and all(len(r["C_OrderLine"]) == 3 for r in body["records"])
