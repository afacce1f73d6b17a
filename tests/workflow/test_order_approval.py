"""The demo *Order Approval* over HTTP: approved, rejected, forwarded, small orders, history."""

from __future__ import annotations

from apps.erp.models import Order
from apps.workflow.models import EventType, WFActivity, WFProcess, WFState
from tests.workflow.conftest import (
    SMALL_QTY,
    node_for,
    nodes_of,
    order_complete,
    order_create,
    user,
)


def test_approved_path(garden_user, garden_admin, big_order):
    order_id = big_order["id"]
    assert nodes_of(garden_user) == []  # the requester does not approve their own order

    node = node_for(garden_admin, order_id)
    assert node["model-name"] == "c_order"
    assert node["node-name"] == "Approve order"
    assert node["record_id"] == order_id
    assert isinstance(node["ad_table_id"], int)
    assert big_order["DocumentNo"] in node["summary"]
    assert {"id", "uid", "node-description", "priority", "node-help", "history-records"} <= set(node)

    response = garden_admin.put(
        f"/api/v1/workflow/approve/{node['id']}", {"message": "fine by me"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["msg"] == "Approved"

    order = Order.objects.get(pk=order_id)
    assert order.is_approved is True
    assert order.doc_status == Order.DocStatus.COMPLETED

    choice = node_for(garden_admin, order_id)
    assert choice["node-name"] == "Set order priority"
    response = garden_admin.put(
        f"/api/v1/workflow/setuserchoice/{choice['id']}", {"value": "3"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=order_id).priority_rule == "3"
    assert nodes_of(garden_admin) == []

    notice = node_for(garden_user, order_id)
    assert notice["node-name"] == "Order approved"
    assert "Order approved" in notice["summary"]
    response = garden_user.put(
        f"/api/v1/workflow/acknowledge/{notice['id']}", {"message": "thanks"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert nodes_of(garden_user) == []

    order = Order.objects.get(pk=order_id)
    assert (order.doc_status, order.is_approved, order.priority_rule) == ("CO", True, "3")
    process = WFProcess.objects.get(record_id=order_id, table_name="C_Order")
    assert process.state == WFState.COMPLETED and process.processed

    record = garden_user.get(f"/api/v1/models/c_order/{order_id}").json()
    assert _code(record["DocStatus"]) == "CO"
    assert _code(record["PriorityRule"]) == "3"
    assert record["IsApproved"] is True


def test_rejected_path(garden_user, garden_admin, big_order):
    order_id = big_order["id"]
    node = node_for(garden_admin, order_id)
    response = garden_admin.put(
        f"/api/v1/workflow/reject/{node['id']}", {"message": "too expensive"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["msg"] == "Rejected"

    order = Order.objects.get(pk=order_id)
    assert order.doc_status == Order.DocStatus.NOT_APPROVED
    assert order.is_approved is False
    assert nodes_of(garden_admin) == []

    notice = node_for(garden_user, order_id)
    assert notice["node-name"] == "Order rejected"
    assert "Order rejected" in notice["summary"]
    messages = [h["message"] for h in notice["history-records"]]
    assert "too expensive" in messages
    response = garden_user.put(f"/api/v1/workflow/acknowledge/{notice['id']}", {}, format="json")
    assert response.status_code == 200, response.content
    assert WFProcess.objects.get(record_id=order_id).state == WFState.COMPLETED
    assert Order.objects.get(pk=order_id).doc_status == Order.DocStatus.NOT_APPROVED


def test_small_order_completes_without_workflow(garden_user):
    order = order_create(garden_user, SMALL_QTY)
    response = order_complete(garden_user, order["id"])
    assert response.status_code == 200, response.content
    stored = Order.objects.get(pk=order["id"])
    assert (stored.doc_status, stored.is_approved) == ("CO", True)
    assert not WFProcess.objects.filter(record_id=order["id"], table_name="C_Order").exists()
    assert nodes_of(garden_user) == []


def test_forward(garden_user, garden_admin, big_order, demo_clerk):
    order_id = big_order["id"]
    node = node_for(garden_admin, order_id)
    response = garden_admin.put(
        f"/api/v1/workflow/forward/{node['id']}",
        {"userTo": demo_clerk.pk, "message": "please check"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["msg"] == "Forwarded"
    assert nodes_of(garden_admin) == []
    clerk = _client_of(demo_clerk)
    forwarded = node_for(clerk, order_id)
    assert forwarded["id"] == node["id"]

    # the old user can no longer act on it
    response = garden_admin.put(f"/api/v1/workflow/approve/{node['id']}", {}, format="json")
    assert response.status_code == 403

    # the new one can act; the order (12,350) is above the clerk's limit (10,000), so their
    # approval passes on to their supervisor (tests/workflow/test_approval_amount.py)
    response = clerk.put(f"/api/v1/workflow/approve/{node['id']}", {}, format="json")
    assert response.status_code == 200, response.content
    assert nodes_of(clerk) == []
    assert node_for(garden_admin, order_id)["id"] == node["id"]
    # the final approver approves; the priority choice then goes to whoever approved
    response = garden_admin.put(f"/api/v1/workflow/approve/{node['id']}", {}, format="json")
    assert response.status_code == 200, response.content
    choice = node_for(garden_admin, order_id)
    assert choice["node-name"] == "Set order priority"

    event = WFActivity.objects.get(pk=node["id"]).events.filter(event_type=EventType.FORWARDED)[0]
    assert (event.user.username, event.old_value, event.new_value, event.message) == (
        "GardenAdmin", "GardenAdmin", demo_clerk.username, "please check"
    )


def test_forward_needs_active_user_of_same_client(garden_admin, approval_activity, demo_clerk):
    url = f"/api/v1/workflow/forward/{approval_activity.pk}"
    assert garden_admin.put(url, {"userTo": user("AcmeAdmin").pk}, format="json").status_code == 400
    assert garden_admin.put(url, {"userTo": 999999}, format="json").status_code == 400
    assert garden_admin.put(url, {}, format="json").status_code == 400
    # no self-approval: an approval never goes to the order's requester
    assert garden_admin.put(url, {"userTo": "GardenUser"}, format="json").status_code == 400
    inactive = demo_clerk
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    assert garden_admin.put(url, {"userTo": inactive.pk}, format="json").status_code == 400
    approval_activity.refresh_from_db()
    assert approval_activity.responsible.username == "GardenAdmin"
    assert approval_activity.state == WFState.SUSPENDED


def test_history_content(garden_user, garden_admin, big_order):
    order_id = big_order["id"]
    node = node_for(garden_admin, order_id)
    garden_admin.put(f"/api/v1/workflow/approve/{node['id']}", {"message": "ok"}, format="json")
    choice = node_for(garden_admin, order_id)
    garden_admin.put(
        f"/api/v1/workflow/setuserchoice/{choice['id']}",
        {"value": "1", "message": "rush it"}, format="json",
    )
    notice = node_for(garden_user, order_id)
    history = notice["history-records"]
    kinds = [h["eventType"] for h in history]
    assert kinds[0] == EventType.PROCESS_STARTED
    assert history[0]["user"] == "GardenUser"
    approved = next(h for h in history if h["eventType"] == EventType.APPROVED)
    assert approved["user"] == "GardenAdmin"
    assert approved["message"] == "ok"
    assert (approved["columnName"], approved["oldValue"], approved["newValue"]) == (
        "IsApproved", "N", "Y"
    )
    assert approved["created"]
    chosen = next(h for h in history if h["eventType"] == EventType.USER_CHOICE)
    assert (chosen["user"], chosen["columnName"], chosen["oldValue"], chosen["newValue"]) == (
        "GardenAdmin", "PriorityRule", "5", "1"
    )
    assert chosen["message"] == "rush it"
    garden_user.put(f"/api/v1/workflow/acknowledge/{notice['id']}", {"message": "seen"},
                    format="json")
    process = WFProcess.objects.get(record_id=order_id)
    events = list(process.events.values_list("event_type", "user__username", "message"))
    assert (EventType.ACKNOWLEDGED, "GardenUser", "seen") in events
    assert events[-1][0] == EventType.PROCESS_COMPLETED


def _client_of(u):
    from rest_framework.test import APIClient

    client = APIClient()
    response = client.post(
        "/api/v1/auth/tokens",
        {"userName": u.username, "password": u.username, "parameters": {}},
        format="json",
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return client


def _code(value):
    return value["id"] if isinstance(value, dict) else value


def test_list_costs_a_constant_number_of_queries(garden_user, garden_admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.workflow.conftest import BIG_QTY

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            nodes_of(garden_admin)
        return len(queries)

    order_complete(garden_user, order_create(garden_user, BIG_QTY)["id"])
    one = count()
    for _ in range(3):
        order_complete(garden_user, order_create(garden_user, BIG_QTY)["id"])
    assert len(nodes_of(garden_admin)) == 4
    assert count() == one
