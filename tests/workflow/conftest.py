"""Fixtures of the workflow tests: orders created and completed through the records API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import User
from apps.erp.models import BPartner, Order, Product
from apps.workflow.models import WFActivity, WFState

BIG_QTY = 200  # 200 × Oak Tree 61.75 = 12,350 > GardenUser's approval amount of 10,000
SMALL_QTY = 2


def order_create(client, qty: int, *, price: str | None = None) -> dict:
    """POST a GardenWorld order for Joe Block with one Oak Tree line; returns its PO-JSON."""
    joe = BPartner.objects.get(client__value="GardenWorld", name="Joe Block")
    oak = Product.objects.get(client__value="GardenWorld", name="Oak Tree")
    line = {"M_Product_ID": oak.pk, "QtyOrdered": qty}
    if price is not None:
        line["PriceActual"] = price
    response = client.post(
        "/api/v1/models/c_order",
        {"C_BPartner_ID": joe.pk, "Description": "workflow test", "C_OrderLine": [line]},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def order_complete(client, order_id: int):
    return client.put(f"/api/v1/models/c_order/{order_id}", {"doc-action": "CO"}, format="json")


def nodes_of(client) -> list[dict]:
    response = client.get("/api/v1/workflow")
    assert response.status_code == 200, response.content
    return response.json()["nodes"]


def node_for(client, order_id: int) -> dict:
    found = [n for n in nodes_of(client) if n["record_id"] == order_id]
    assert len(found) == 1, found
    return found[0]


def user(name: str) -> User:
    return User.objects.get(username=name)


WORKFLOW_DEMO_APPS = ("accounts", "records", "erp", "workflow")


@pytest.fixture
def demo(db):
    """The demo data the workflow needs (accounts, records, erp, workflow), not the file apps'."""
    from importlib import import_module
    from importlib.util import find_spec

    for app in WORKFLOW_DEMO_APPS:
        if find_spec(f"apps.{app}.demo") is not None:
            import_module(f"apps.{app}.demo").load(lambda _message: None)


@pytest.fixture
def big_order(garden_user) -> dict:
    """A GardenUser order above the role's approval amount, completed (CO) → IP + Order Approval."""
    order = order_create(garden_user, BIG_QTY)
    response = order_complete(garden_user, order["id"])
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=order["id"]).doc_status == Order.DocStatus.IN_PROGRESS
    return order


@pytest.fixture
def approval_activity(big_order) -> WFActivity:
    return WFActivity.objects.get(
        record_id=big_order["id"], table_name="C_Order", state=WFState.SUSPENDED
    )


def grand_total(order_id: int) -> Decimal:
    return Order.objects.get(pk=order_id).grand_total


@pytest.fixture
def demo_clerk(demo) -> User:
    """A second GardenWorld user (role GardenWorld User, supervisor GardenAdmin)."""
    from apps.accounts.models import Role, UserRole

    clerk = User.objects.create_user(
        "GardenClerk", password="GardenClerk", client=user("GardenAdmin").client,
        supervisor=user("GardenAdmin"),
    )
    role = Role.objects.get(name="GardenWorld User")
    template = UserRole.objects.get(user__username="GardenUser", role=role)
    UserRole.objects.create(
        user=clerk, role=role, is_default=True, default_org=template.default_org,
        default_warehouse=template.default_warehouse,
    )
    return clerk


def garden_person(
    name: str,
    *,
    limit: Decimal | None,
    supervisor: User | None = None,
    is_admin: bool = False,
    email: str | None = None,
) -> User:
    """A GardenWorld user (password = name) whose default role approves up to ``limit``
    (None = unlimited); the role has the same org access as GardenWorld User."""
    from apps.accounts.models import Role, RoleOrgAccess, UserRole

    template = UserRole.objects.get(user__username="GardenUser", role__name="GardenWorld User")
    client = template.role.client
    role = Role.objects.create(
        client=client, org=template.role.org, name=f"{name} role", is_admin=is_admin,
        is_all_tables=is_admin, is_all_orgs=is_admin, approval_amount=limit,
    )
    RoleOrgAccess.objects.create(role=role, org=template.default_org)
    person = User.objects.create_user(
        name, password=name, client=client, supervisor=supervisor,
        email=f"{name.lower()}@example.com" if email is None else email,
    )
    UserRole.objects.create(
        user=person, role=role, is_default=True, default_org=template.default_org,
        default_warehouse=template.default_warehouse,
    )
    return person


def supervise(subordinate: str, supervisor: User | None) -> None:
    User.objects.filter(username=subordinate).update(supervisor=supervisor)
