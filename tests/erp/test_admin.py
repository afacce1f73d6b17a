"""The Django admin writes orders and lines through the services: totals stay right there too."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client as DjangoClient

from apps.accounts.models import User
from apps.erp.models import Order, OrderLine


@pytest.fixture
def admin_site(demo) -> DjangoClient:
    client = DjangoClient()
    client.force_login(User.objects.get(username="admin"))
    return client


def _line_forms(lines: list[dict], initial: int = 0) -> dict[str, str]:
    data = {
        "lines-TOTAL_FORMS": str(len(lines)), "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000",
    }
    for index, line in enumerate(lines):
        for key, value in line.items():
            data[f"lines-{index}-{key}"] = "" if value is None else str(value)
    return data


def _header(order_or_values) -> dict[str, str]:
    get = order_or_values.get if isinstance(order_or_values, dict) else (
        lambda name: getattr(order_or_values, name))
    return {
        "client": str(get("client_id")), "org": str(get("org_id")),
        "bpartner": str(get("bpartner_id")), "date_ordered": str(get("date_ordered")),
        "is_sotrx": "on", "description": get("description"), "priority_rule": get("priority_rule"),
        "sales_rep": "",
    }


def test_admin_pages_render(admin_site, small_order):
    for url in ("/admin/erp/order/", "/admin/erp/order/add/", f"/admin/erp/order/{small_order.pk}/change/",
                "/admin/erp/bpartner/?q=Joe", "/admin/erp/product/", "/admin/erp/orderline/",
                "/admin/erp/elementvalue/", "/admin/erp/bpgroup/", "/admin/erp/productcategory/",
                "/admin/erp/docsequence/"):
        response = admin_site.get(url)
        assert response.status_code == 200, url


def test_admin_add_order_with_lines_sets_number_and_totals(admin_site, garden, garden_hq, joe,
                                                          products):
    data = _header({"client_id": garden.pk, "org_id": garden_hq.pk, "bpartner_id": joe.pk,
                    "date_ordered": "2026-04-01", "description": "from admin", "priority_rule": "5"})
    data |= _line_forms([
        {"product": products["Oak Tree"].pk, "qty_ordered": "3", "price_actual": "", "line": ""},
        {"product": products["Rose Bush"].pk, "qty_ordered": "2", "price_actual": "19.50",
         "line": ""},
    ])
    response = admin_site.post("/admin/erp/order/add/", data)
    assert response.status_code == 302, response.content[:3000]
    order = Order.objects.get(description="from admin")
    assert order.document_no
    assert sorted(order.lines.values_list("line_net_amt", flat=True)) == [
        Decimal("39.00"), Decimal("185.25")]
    assert order.grand_total == Decimal("224.25")
    assert order.created_by.username == "admin"


def test_admin_change_and_delete_lines_keeps_total(admin_site, new_order):
    oak, rose = new_order.lines.order_by("line")
    data = _header(new_order) | _line_forms([
        {"id": oak.pk, "order": new_order.pk, "line": oak.line, "product": oak.product_id,
         "qty_ordered": "10", "price_actual": oak.price_actual},
        {"id": rose.pk, "order": new_order.pk, "line": rose.line, "product": rose.product_id,
         "qty_ordered": rose.qty_ordered, "price_actual": rose.price_actual, "DELETE": "on"},
    ], initial=2)
    response = admin_site.post(f"/admin/erp/order/{new_order.pk}/change/", data)
    assert response.status_code == 302, response.content[:3000]
    new_order.refresh_from_db()
    assert list(new_order.lines.values_list("pk", flat=True)) == [oak.pk]
    assert new_order.grand_total == Decimal("617.50")


def test_admin_line_page_and_delete_keep_total(admin_site, new_order, products):
    response = admin_site.post("/admin/erp/orderline/add/", {
        "order": new_order.pk, "line": "", "product": products["Holly Bush"].pk,
        "description": "", "qty_ordered": "2", "price_actual": "",
    })
    assert response.status_code == 302, response.content[:3000]
    new_order.refresh_from_db()
    assert new_order.grand_total == Decimal("243.50")
    holly = new_order.lines.get(product=products["Holly Bush"])
    response = admin_site.post(f"/admin/erp/orderline/{holly.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    new_order.refresh_from_db()
    assert new_order.grand_total == Decimal("183.50")


def test_admin_refuses_line_change_of_completed_order(admin_site, small_order, user_ctx):
    from apps.erp import services

    services.order_complete(ctx=user_ctx, order=small_order)
    line = small_order.lines.first()
    response = admin_site.post(f"/admin/erp/orderline/{line.pk}/change/", {
        "order": small_order.pk, "line": line.line, "product": line.product_id,
        "description": "", "qty_ordered": "99", "price_actual": line.price_actual,
    })
    assert response.status_code == 302  # back to the form with a message, nothing saved
    line.refresh_from_db()
    assert line.qty_ordered != Decimal(99)
    small_order.refresh_from_db()
    assert small_order.grand_total == Decimal("337.50")
    assert OrderLine.objects.filter(order=small_order).count() == 2


def test_admin_complete_action_uses_the_admins_role(demo, large_order):
    client = DjangoClient()
    client.force_login(User.objects.get(username="GardenAdmin"))
    User.objects.filter(username="GardenAdmin").update(is_staff=True, is_superuser=True)
    response = client.post("/admin/erp/order/", {
        "action": "complete_orders", "_selected_action": [large_order.pk],
    })
    assert response.status_code == 302
    large_order.refresh_from_db()
    assert (large_order.doc_status, large_order.is_approved) == ("CO", True)


def test_admin_doc_types_and_default_group(admin_site, garden):
    from apps.erp.models import BPGroup, DocType

    doc_type = DocType.objects.get(client=garden, name="Purchase Order")
    for url in ("/admin/erp/doctype/", "/admin/erp/doctype/add/", f"/admin/erp/doctype/{doc_type.pk}/change/",
                "/admin/erp/bpgroup/?is_default__exact=1"):
        response = admin_site.get(url)
        assert response.status_code == 200, url
    assert b"Standard Customers" in admin_site.get("/admin/erp/bpgroup/?is_default__exact=1").content
    assert BPGroup.objects.filter(client=garden, is_default=True).count() == 1
