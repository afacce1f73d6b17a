"""Fixtures of the ERP tests: the demo's GardenWorld rows and request contexts of its users."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import Client, Organization, User
from apps.accounts.services import context_default_for_user
from apps.core.context import RequestContext
from apps.erp import services
from apps.erp.demo import LARGE_ORDER, SMALL_ORDER
from apps.erp.models import BPartner, Order, Product


@pytest.fixture
def garden(demo) -> Client:
    return Client.objects.get(value="GardenWorld")


@pytest.fixture
def acme(demo) -> Client:
    return Client.objects.get(value="Acme")


@pytest.fixture
def garden_hq(garden) -> Organization:
    return Organization.objects.get(client=garden, value="HQ")


@pytest.fixture
def joe(garden) -> BPartner:
    return BPartner.objects.get(client=garden, name="Joe Block")


@pytest.fixture
def products(garden) -> dict[str, Product]:
    return {p.name: p for p in Product.objects.filter(client=garden)}


@pytest.fixture
def user_ctx(demo) -> RequestContext:
    """GardenUser's default context: approval amount 10,000."""
    return context_default_for_user(User.objects.get(username="GardenUser"))


@pytest.fixture
def admin_ctx(demo) -> RequestContext:
    """GardenAdmin's default context: unlimited approval."""
    return context_default_for_user(User.objects.get(username="GardenAdmin"))


@pytest.fixture
def small_order(garden) -> Order:
    return Order.objects.get(client=garden, description=SMALL_ORDER)


@pytest.fixture
def large_order(garden) -> Order:
    return Order.objects.get(client=garden, description=LARGE_ORDER)


@pytest.fixture
def new_order(garden, garden_hq, joe, products) -> Order:
    """A draft order with two lines: 2 × Oak Tree (61.75) + 3 × Rose Bush (20.00) = 183.50."""
    return services.order_create(
        client=garden, org=garden_hq, bpartner=joe,
        lines=[
            services.OrderLineInput(product=products["Oak Tree"], qty_ordered=Decimal(2)),
            services.OrderLineInput(product=products["Rose Bush"], qty_ordered=Decimal(3)),
        ],
    )
