"""Amounts that do not fit the amount columns (20 digits, 2 decimals) are a 400, not a database error."""

from __future__ import annotations

import pytest

from apps.erp.models import BPartner, Order, Product

ORDER_URL = "/api/v1/models/c_order"


@pytest.fixture
def garden_ids(demo):
    return {
        "bp": BPartner.objects.get(client__name="GardenWorld", name="Joe Block").pk,
        "product": Product.objects.filter(client__name="GardenWorld").first().pk,
    }


def _order(garden_admin, ids, lines):
    body = {"C_BPartner_ID": ids["bp"], "C_OrderLine": [{"M_Product_ID": ids["product"], **line} for line in lines]}
    return garden_admin.post(ORDER_URL, body, format="json")


def test_line_amount_beyond_the_column_is_400(garden_admin, garden_ids):
    before = Order.objects.count()
    response = _order(garden_admin, garden_ids, [{"QtyOrdered": 1e15, "PriceActual": 1e15}])
    assert response.status_code == 400, response.content
    assert "LineNetAmt" in response.json()["detail"]
    assert Order.objects.count() == before


def test_grand_total_beyond_the_column_is_400(garden_admin, garden_ids):
    before = Order.objects.count()
    line = {"QtyOrdered": 900_000_000, "PriceActual": 900_000_000}
    response = _order(garden_admin, garden_ids, [line, line, line])
    assert response.status_code == 400, response.content
    assert "GrandTotal" in response.json()["detail"]
    assert Order.objects.count() == before


def test_large_amounts_still_fit(garden_admin, garden_ids):
    # (SQLite sums decimals as floats, so the very last cent below 10**18 is not testable there.)
    response = _order(garden_admin, garden_ids, [{"QtyOrdered": 1, "PriceActual": "123456789012.34"}])
    assert response.status_code == 201, response.content
    assert response.json()["GrandTotal"] == 123456789012.34
