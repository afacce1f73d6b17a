"""Who may see and act on which activity: the authorization matrix and the error semantics."""

from __future__ import annotations

import pytest

from apps.erp.models import Order
from apps.workflow.models import WFActivity, WFState
from tests.workflow.conftest import node_for, nodes_of, user

ACTIONS = {
    "approve": {},
    "reject": {},
    "acknowledge": {},
    "setuserchoice": {"value": "3"},
    "forward": {"userTo": "GardenUser"},
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_anonymous_gets_401(anon_client, approval_activity, action):
    response = anon_client.put(
        f"/api/v1/workflow/{action}/{approval_activity.pk}", ACTIONS[action], format="json"
    )
    assert response.status_code == 401


def test_anonymous_list_gets_401(anon_client, demo):
    assert anon_client.get("/api/v1/workflow").status_code == 401
    assert anon_client.get(f"/api/v1/workflow/{user('GardenUser').pk}").status_code == 401


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_other_tenant_gets_404(acme_admin, approval_activity, action):
    response = acme_admin.put(
        f"/api/v1/workflow/{action}/{approval_activity.pk}", ACTIONS[action], format="json"
    )
    assert response.status_code == 404
    assert response.json()["status"] == 404
    approval_activity.refresh_from_db()
    assert approval_activity.state == WFState.SUSPENDED


def test_other_tenant_by_uuid_gets_404(acme_admin, approval_activity):
    response = acme_admin.put(f"/api/v1/workflow/approve/{approval_activity.uid}", {},
                              format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_someone_elses_activity_gets_403(garden_user, approval_activity, action):
    response = garden_user.put(
        f"/api/v1/workflow/{action}/{approval_activity.pk}", ACTIONS[action], format="json"
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=approval_activity.record_id).doc_status == "IP"


def test_unknown_activity_gets_404(garden_admin, demo):
    assert garden_admin.put("/api/v1/workflow/approve/999999", {}, format="json").status_code == 404
    assert garden_admin.put("/api/v1/workflow/approve/not-an-id", {},
                            format="json").status_code == 404


@pytest.mark.parametrize("action", ["acknowledge", "setuserchoice"])
def test_wrong_node_type_gets_400(garden_admin, approval_activity, action):
    response = garden_admin.put(
        f"/api/v1/workflow/{action}/{approval_activity.pk}", ACTIONS[action], format="json"
    )
    assert response.status_code == 400
    approval_activity.refresh_from_db()
    assert approval_activity.state == WFState.SUSPENDED


def test_approve_on_choice_and_notice_nodes_gets_400(garden_admin, garden_user, big_order):
    order_id = big_order["id"]
    node = node_for(garden_admin, order_id)
    assert garden_admin.put(f"/api/v1/workflow/approve/{node['id']}", {},
                            format="json").status_code == 200
    choice = node_for(garden_admin, order_id)
    for action in ("approve", "reject", "acknowledge"):
        response = garden_admin.put(f"/api/v1/workflow/{action}/{choice['id']}", {},
                                    format="json")
        assert response.status_code == 400, action
    assert garden_admin.put(f"/api/v1/workflow/setuserchoice/{choice['id']}", {"value": "9"},
                            format="json").status_code == 200
    notice = node_for(garden_user, order_id)
    for action, body in (("approve", {}), ("reject", {}), ("setuserchoice", {"value": "1"})):
        response = garden_user.put(f"/api/v1/workflow/{action}/{notice['id']}", body,
                                   format="json")
        assert response.status_code == 400, action


def test_already_done_gets_409(garden_admin, approval_activity):
    url = f"/api/v1/workflow/approve/{approval_activity.pk}"
    assert garden_admin.put(url, {}, format="json").status_code == 200
    response = garden_admin.put(url, {}, format="json")
    assert response.status_code == 409
    assert response.json()["title"] == "Conflict"
    assert garden_admin.put(f"/api/v1/workflow/reject/{approval_activity.pk}", {},
                            format="json").status_code == 409
    assert Order.objects.get(pk=approval_activity.record_id).doc_status == "CO"


@pytest.mark.parametrize("value", ["4", "Extreme", "", None, [], True])
def test_invalid_user_choice_gets_400(garden_admin, approval_activity, value):
    garden_admin.put(f"/api/v1/workflow/approve/{approval_activity.pk}", {}, format="json")
    choice = WFActivity.objects.get(process=approval_activity.process, state=WFState.SUSPENDED)
    response = garden_admin.put(f"/api/v1/workflow/setuserchoice/{choice.pk}", {"value": value},
                                format="json")
    assert response.status_code == 400
    choice.refresh_from_db()
    assert choice.state == WFState.SUSPENDED
    assert Order.objects.get(pk=approval_activity.record_id).priority_rule == "5"


def test_user_choice_accepts_list_name_and_po_json(garden_admin, approval_activity):
    garden_admin.put(f"/api/v1/workflow/approve/{approval_activity.pk}", {}, format="json")
    choice = WFActivity.objects.get(process=approval_activity.process, state=WFState.SUSPENDED)
    response = garden_admin.put(f"/api/v1/workflow/setuserchoice/{choice.pk}",
                                {"value": "Urgent"}, format="json")
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=approval_activity.record_id).priority_rule == "1"


def test_malformed_body_gets_400(garden_admin, approval_activity):
    response = garden_admin.put(f"/api/v1/workflow/approve/{approval_activity.pk}", "[1, 2",
                                content_type="application/json")
    assert response.status_code == 400
    response = garden_admin.put(f"/api/v1/workflow/approve/{approval_activity.pk}",
                                {"message": "x" * 5000}, format="json")
    assert response.status_code == 400


# --- GET /api/v1/workflow/{userid} ----------------------------------------------------------------


def test_admin_sees_other_users_activities(garden_admin, garden_user, big_order):
    node = node_for(garden_admin, big_order["id"])
    garden_admin.put(f"/api/v1/workflow/reject/{node['id']}", {}, format="json")
    requester = user("GardenUser")
    for ref in (requester.pk, requester.uid):
        response = garden_admin.get(f"/api/v1/workflow/{ref}")
        assert response.status_code == 200, response.content
        assert [n["node-name"] for n in response.json()["nodes"]] == ["Order rejected"]
    assert nodes_of(garden_admin) == []


def test_non_admin_cannot_see_other_users_activities(garden_user, approval_activity):
    response = garden_user.get(f"/api/v1/workflow/{user('GardenAdmin').pk}")
    assert response.status_code == 403
    # not even their own through this route: it is for admin roles
    assert garden_user.get(f"/api/v1/workflow/{user('GardenUser').pk}").status_code == 403


def test_admin_of_other_tenant_gets_404_for_user(acme_admin, approval_activity):
    response = acme_admin.get(f"/api/v1/workflow/{user('GardenAdmin').pk}")
    assert response.status_code == 404


def test_other_tenant_list_is_empty(acme_admin, approval_activity):
    assert nodes_of(acme_admin) == []
