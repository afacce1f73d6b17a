"""On PostgreSQL a list page is rendered by the database (apps/records/sqljson.py); it must answer
exactly what the Python rendering answers, value for value, for every kind of column and $expand."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import SysConfig
from apps.accounts.services import sysconfig_cache_clear
from apps.erp.models import BPartner, Order, OrderLine, Product
from apps.records import selectors, sqljson

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL renders pages itself; elsewhere only the Python path exists",
    ),
]

REQUESTS = [
    ("c_bpartner", {}),
    ("c_bpartner", {"$select": "Value,Name,IsCustomer,C_BP_Group_ID", "$expand": "C_BP_Group_ID"}),
    ("c_bpartner", {"$filter": "IsCustomer eq true", "$orderby": "Name desc", "$top": "2", "$skip": "1"}),
    ("c_order", {}),
    ("c_order", {"$expand": "C_OrderLine"}),
    ("c_order", {"$expand": "C_OrderLine($select=Line,QtyOrdered;$filter=QtyOrdered gt 0;"
                 "$orderby=Line desc;$top=1;$expand=M_Product_ID($select=Name,Value))",
                 "$orderby": "id"}),
    ("c_order", {"$expand": "C_BPartner_ID($expand=C_BP_Group_ID),C_OrderLine($expand=M_Product_ID)"}),
    ("c_orderline", {"$select": "Line,QtyOrdered,PriceActual,LineNetAmt,M_Product_ID"}),
    ("m_product", {}),
    ("c_bp_group", {"$expand": "C_BPartner"}),
    ("m_product_category", {}),
    ("c_elementvalue", {}),
    ("ad_table", {"$expand": "AD_Column($top=3)", "$top": "3"}),
    ("ad_ref_list", {}),
]


def _more_rows() -> None:
    """Amounts with and without fractions, odd text, a datetime on a whole second."""
    joe = BPartner.objects.get(name="Joe Block")
    product = Product.objects.filter(client=joe.client).first()
    order = Order.objects.create(client=joe.client, org_id=0, bpartner=joe, description="It's 100% \"odd\"\n")
    OrderLine.objects.create(client=joe.client, org_id=0, order=order, line=10, product=product,
                             qty_ordered=Decimal("2.5"), price_actual=Decimal("3.33"))
    OrderLine.objects.create(client=joe.client, org_id=0, order=order, line=20, product=product,
                             qty_ordered=Decimal(4), price_actual=Decimal(0))
    Order.objects.filter(pk=order.pk).update(created="2026-01-02T03:04:05Z")


def _both(client, table: str, params: dict) -> tuple[dict, dict, int, int]:
    url = f"/api/v1/models/{table}"
    with CaptureQueriesContext(connection) as by_sql:
        in_sql = client.get(url, params)
    # The Python rendering: PostgreSQL not asked, and no statement kept from the first call.
    with mock.patch.object(sqljson, "supports", return_value=False), \
            mock.patch.object(selectors, "_COMPILED", OrderedDict()), \
            CaptureQueriesContext(connection) as by_python:
        in_python = client.get(url, params)
    assert in_sql.status_code == in_python.status_code == 200, (in_sql.content, in_python.content)
    assert any("json_build_object" in q["sql"] for q in by_sql), "PostgreSQL rendered the page"
    assert not any("json_build_object" in q["sql"] for q in by_python)
    return in_sql.json(), in_python.json(), len(by_sql), len(by_python)


@pytest.mark.parametrize(("table", "params"), REQUESTS)
def test_postgresql_renders_what_python_renders(demo, garden_admin, table, params):
    _more_rows()
    in_sql, in_python, sql_queries, python_queries = _both(garden_admin, table, params)
    assert in_sql == in_python
    assert in_sql["records"], "a page with rows"
    assert sql_queries <= python_queries


def test_the_page_is_one_query_whatever_it_expands(demo, garden_admin):
    _more_rows()
    params = {"$expand": "C_BPartner_ID($expand=C_BP_Group_ID),C_OrderLine($expand=M_Product_ID)"}
    with CaptureQueriesContext(connection) as captured:
        assert garden_admin.get("/api/v1/models/c_order", params).status_code == 200
    pages = [q["sql"] for q in captured if "json_build_object" in q["sql"]]
    assert len(pages) == 1


def test_lower_case_names_and_another_tenant(demo, garden_admin, acme_admin):
    SysConfig.objects.update_or_create(client=None, name="REST_COLUMNNAME_TOLOWERCASE",
                                       defaults={"value": "Y"})
    sysconfig_cache_clear()
    _more_rows()
    in_sql, in_python, *_ = _both(garden_admin, "c_order", {"$expand": "C_OrderLine"})
    assert in_sql == in_python
    assert "documentNo" in in_sql["records"][0] and "C_OrderLine" in in_sql["records"][0]
    # The other tenant sees none of GardenWorld's orders, by either path.
    in_sql, in_python, *_ = _both(acme_admin, "c_order", {"$expand": "C_OrderLine"})
    assert in_sql == in_python
    garden_ids = set(Order.objects.filter(client__name="GardenWorld").values_list("pk", flat=True))
    assert not garden_ids & {r["id"] for r in in_sql["records"]}
