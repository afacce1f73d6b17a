"""The approver's approval amount (iDempiere): an approver whose role's AmtApproval is below the
order's GrandTotal cannot finally approve; the approval passes on to their supervisor.

GardenUser (limit 10,000) orders 12,350: the approval goes to GardenUser's supervisor, here a
"Manager" with a role of their own; admin and unlimited roles approve at once.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import Client
from apps.erp.models import Order
from apps.workflow.models import EventType, WFActivity, WFEventAudit, WFProcess, WFState
from tests.accounts.helpers import bearer_client
from tests.workflow.conftest import (
    BIG_QTY,
    garden_person,
    node_for,
    nodes_of,
    order_complete,
    order_create,
    supervise,
    user,
)


def _approval_for(requester: APIClient, approver_name: str) -> tuple[int, WFActivity]:
    """A GardenUser order of 12,350 completed: its approval activity, waiting for the approver."""
    order = order_create(requester, BIG_QTY)
    response = order_complete(requester, order["id"])
    assert response.status_code == 200, response.content
    activity = WFActivity.objects.get(record_id=order["id"], table_name="C_Order",
                                      state=WFState.SUSPENDED)
    assert activity.responsible.username == approver_name
    return order["id"], activity


def _approve(client: APIClient, activity: WFActivity, message: str = ""):
    return client.put(f"/api/v1/workflow/approve/{activity.pk}", {"message": message},
                      format="json")


def _snapshot(order_id: int, activity: WFActivity) -> tuple:
    activity = WFActivity.objects.get(pk=activity.pk)
    order = Order.objects.get(pk=order_id)
    return (
        activity.state, activity.responsible_id, activity.processed, activity.updated,
        WFProcess.objects.get(pk=activity.process_id).state,
        order.doc_status, order.is_approved, order.updated,
        WFEventAudit.objects.filter(process_id=activity.process_id).count(),
        WFActivity.objects.filter(process_id=activity.process_id).count(),
    )


@pytest.fixture
def manager(demo):
    """GardenUser's supervisor: a Manager who approves up to 5,000, supervised by GardenAdmin."""
    person = garden_person("Manager", limit=Decimal(5000), supervisor=user("GardenAdmin"))
    supervise("GardenUser", person)
    return person


def test_limit_too_low_passes_to_supervisor_with_history(garden_user, garden_admin, manager):
    order_id, activity = _approval_for(garden_user, "Manager")
    boss = bearer_client("Manager")

    response = _approve(boss, activity, "fine by me")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"msg", "node"}  # the shape of every action's answer
    assert "forwarded to GardenAdmin" in body["msg"]
    assert body["node"]["id"] == activity.pk
    assert body["node"]["state"] == WFState.SUSPENDED
    assert body["node"]["responsible-id"] == user("GardenAdmin").pk

    # not approved yet: the order waits, the activity is now the supervisor's
    order = Order.objects.get(pk=order_id)
    assert (order.doc_status, order.is_approved) == (Order.DocStatus.IN_PROGRESS, False)
    assert nodes_of(boss) == []
    node = node_for(garden_admin, order_id)
    assert node["id"] == activity.pk and node["node-name"] == "Approve order"
    passed = node["history-records"][-1]
    assert passed["eventType"] == EventType.FORWARDED
    assert (passed["user"], passed["columnName"], passed["oldValue"], passed["newValue"]) == (
        "Manager", "AD_User_ID", "Manager", "GardenAdmin"
    )
    assert passed["message"].startswith(
        "Approved by Manager, amount 12350.00 above Manager's limit 5000.00; "
        "forwarded to supervisor GardenAdmin"
    )
    assert "fine by me" in passed["message"]
    assert not WFEventAudit.objects.filter(activity=activity, event_type=EventType.APPROVED).exists()

    # the old approver can no longer act on it, not even a second time (no double pass)
    again = _approve(boss, activity)
    assert again.status_code == 403
    assert WFEventAudit.objects.filter(activity=activity, event_type=EventType.FORWARDED).count() == 1

    # the supervisor (admin role) approves finally; the priority choice is theirs
    response = _approve(garden_admin, activity, "ok")
    assert response.status_code == 200, response.content
    assert response.json()["msg"] == "Approved"
    order = Order.objects.get(pk=order_id)
    assert (order.doc_status, order.is_approved) == (Order.DocStatus.COMPLETED, True)
    assert node_for(garden_admin, order_id)["node-name"] == "Set order priority"


def test_a_chain_of_supervisors_until_one_may_approve(garden_user, demo):
    director = garden_person("Director", limit=Decimal(20000))
    manager = garden_person("Manager", limit=Decimal(5000), supervisor=director)
    supervise("GardenUser", manager)
    order_id, activity = _approval_for(garden_user, "Manager")

    assert _approve(bearer_client("Manager"), activity).status_code == 200
    activity.refresh_from_db()
    assert (activity.state, activity.responsible) == (WFState.SUSPENDED, director)

    # 20,000 ≥ 12,350: a limited (not admin, not unlimited) role that is high enough approves
    response = _approve(bearer_client("Director"), activity)
    assert response.status_code == 200, response.content
    assert response.json()["msg"] == "Approved"
    order = Order.objects.get(pk=order_id)
    assert (order.doc_status, order.is_approved) == (Order.DocStatus.COMPLETED, True)
    approved = WFEventAudit.objects.get(activity=activity, event_type=EventType.APPROVED)
    assert approved.user == director


def test_no_supervisor_is_a_403_and_changes_nothing(garden_user, demo):
    garden_person("Manager", limit=Decimal(5000))  # nobody above
    supervise("GardenUser", user("Manager"))
    order_id, activity = _approval_for(garden_user, "Manager")
    before = _snapshot(order_id, activity)

    response = _approve(bearer_client("Manager"), activity, "fine by me")
    assert response.status_code == 403, response.content
    problem = response.json()
    assert problem["status"] == 403 and problem["title"] == "Forbidden"
    assert "12350.00 exceeds the approval amount 5000.00" in problem["detail"]
    assert "no supervisor" in problem["detail"]
    assert _snapshot(order_id, activity) == before


@pytest.mark.parametrize("case", ["inactive", "other client", "requester", "self"])
def test_unfit_supervisor_counts_as_none(garden_user, demo, case):
    manager = garden_person("Manager", limit=Decimal(5000))
    supervise("GardenUser", manager)
    if case == "inactive":
        above = garden_person("Director", limit=None)
        above.is_active = False
        above.save(update_fields=["is_active"])
    elif case == "other client":
        above = user("AcmeAdmin")
    elif case == "requester":
        above = user("GardenUser")
    else:
        above = manager
    supervise("Manager", above)
    if case == "other client":
        assert above.client == Client.objects.get(value="Acme")
    order_id, activity = _approval_for(garden_user, "Manager")
    before = _snapshot(order_id, activity)

    response = _approve(bearer_client("Manager"), activity)
    assert response.status_code == 403, response.content
    assert "no supervisor" in response.json()["detail"]
    assert _snapshot(order_id, activity) == before


def test_unlimited_role_approves(garden_user, demo):
    garden_person("Manager", limit=None, supervisor=user("GardenAdmin"))
    supervise("GardenUser", user("Manager"))
    order_id, activity = _approval_for(garden_user, "Manager")

    response = _approve(bearer_client("Manager"), activity)
    assert response.status_code == 200, response.content
    assert response.json()["msg"] == "Approved"
    order = Order.objects.get(pk=order_id)
    assert (order.doc_status, order.is_approved) == (Order.DocStatus.COMPLETED, True)
    assert not WFEventAudit.objects.filter(activity=activity,
                                           event_type=EventType.FORWARDED).exists()


def test_admin_role_approves_whatever_its_amount(garden_user, demo):
    garden_person("Manager", limit=Decimal(1), is_admin=True)
    supervise("GardenUser", user("Manager"))
    order_id, activity = _approval_for(garden_user, "Manager")

    response = _approve(bearer_client("Manager"), activity)
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=order_id).doc_status == Order.DocStatus.COMPLETED


def test_amount_equal_to_the_limit_approves(garden_user, demo):
    garden_person("Manager", limit=Decimal("12350.00"), supervisor=user("GardenAdmin"))
    supervise("GardenUser", user("Manager"))
    order_id, activity = _approval_for(garden_user, "Manager")
    assert Order.objects.get(pk=order_id).grand_total == Decimal("12350.00")

    assert _approve(bearer_client("Manager"), activity).status_code == 200
    assert Order.objects.get(pk=order_id).doc_status == Order.DocStatus.COMPLETED


def test_a_low_limit_does_not_stop_a_rejection(garden_user, manager):
    order_id, activity = _approval_for(garden_user, "Manager")
    response = bearer_client("Manager").put(f"/api/v1/workflow/reject/{activity.pk}", {},
                                            format="json")
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=order_id).doc_status == Order.DocStatus.NOT_APPROVED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_two_simultaneous_approvals_pass_on_once(live_server, garden_user, manager):
    """The pass to the supervisor happens under the activity's row lock: the second request waits,
    then finds the activity someone else's (403); one FORWARDED event, nothing doubled."""
    from tests.workflow.test_concurrency import _race

    order_id, activity = _approval_for(garden_user, "Manager")
    url = f"{live_server.url}/api/v1/workflow/approve/{activity.pk}"
    statuses = _race(url, bearer_client("Manager").tokens["token"], [{}, {}])
    assert sorted(statuses) == [200, 403], statuses

    activity.refresh_from_db()
    assert (activity.state, activity.responsible.username) == (WFState.SUSPENDED, "GardenAdmin")
    assert WFEventAudit.objects.filter(activity=activity, event_type=EventType.FORWARDED).count() == 1
    assert Order.objects.get(pk=order_id).doc_status == Order.DocStatus.IN_PROGRESS
