"""The approvals inbox without a browser: completing an order over the approval amount from its
page, then reject, forward (refused to the requester) and acknowledge in the inbox, with the history
written; another user's activity cannot be acted on from the UI either."""

from __future__ import annotations

import pytest

from apps.erp.models import Order
from apps.workflow.models import WFActivity, WFState

pytestmark = pytest.mark.django_db


def over_limit_order(garden_user) -> int:
    answer = garden_user.post("/api/v1/models/c_order", {
        "C_BPartner_ID": {"identifier": "Joe Block", "tableName": "C_BPartner"},
        "Description": "UI: a second orchard",
        "C_OrderLine": [{"M_Product_ID": {"identifier": "Elm Tree", "tableName": "M_Product"},
                         "QtyOrdered": 300, "PriceActual": 55}],
    }, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def pending(user: str, node: str) -> WFActivity:
    return WFActivity.objects.get(
        responsible__username=user, node__name=node, state=WFState.SUSPENDED, processed=False
    )


def test_reject_forward_acknowledge(garden_user, ui_user, ui_admin):
    order_id = over_limit_order(garden_user)
    answer = ui_user.post(f"/ui/orders/{order_id}/complete", {"csrfmiddlewaretoken": ui_user.csrf})
    assert answer.status_code == 302
    assert Order.objects.get(pk=order_id).doc_status == "IP"
    inbox = ui_admin.get("/ui/approvals/").content.decode()
    assert "Approve order" in inbox and "16500.00" in inbox
    assert 'data-testid="approvals-count">1<' in inbox

    approval = pending("GardenAdmin", "Approve order")
    post = {"csrfmiddlewaretoken": ui_admin.csrf}
    # Another user's activity: refused by the service, said in words.
    answer = ui_user.post(f"/ui/approvals/{approval.pk}/approve", {"csrfmiddlewaretoken": ui_user.csrf})
    assert answer.status_code == 403 and b"assigned to someone else" in answer.content
    user_id = WFActivity.objects.get(pk=approval.pk).process.initiator_id
    answer = ui_admin.post(f"/ui/approvals/{approval.pk}/forward", {**post, "user": str(user_id)})
    assert answer.status_code == 400 and b"cannot be forwarded to the requester" in answer.content
    answer = ui_admin.post(f"/ui/approvals/{approval.pk}/reject", {**post, "message": "Too many elms"})
    assert answer.status_code == 302
    assert Order.objects.get(pk=order_id).doc_status == "NA"

    notice = pending("GardenUser", "Order rejected")
    assert "Order rejected" in ui_user.get("/ui/approvals/").content.decode()
    answer = ui_user.post(f"/ui/approvals/{notice.pk}/acknowledge", {"csrfmiddlewaretoken": ui_user.csrf})
    assert answer.status_code == 302
    assert 'data-testid="approvals-count">0<' in ui_user.get("/ui/approvals/").content.decode()
    history = ui_user.get(f"/ui/history/c_order/{order_id}/").content.decode()
    assert "Too many elms" in history
    assert "Too many elms" in ui_user.get(f"/ui/orders/{order_id}/").content.decode()


def test_acknowledging_twice_is_a_conflict_in_words(garden_user, ui_user, ui_admin):
    order_id = over_limit_order(garden_user)
    ui_user.post(f"/ui/orders/{order_id}/complete", {"csrfmiddlewaretoken": ui_user.csrf})
    approval = pending("GardenAdmin", "Approve order")
    ui_admin.post(f"/ui/approvals/{approval.pk}/reject", {"csrfmiddlewaretoken": ui_admin.csrf})
    notice = pending("GardenUser", "Order rejected")
    post = {"csrfmiddlewaretoken": ui_user.csrf}
    assert ui_user.post(f"/ui/approvals/{notice.pk}/acknowledge", post).status_code == 302
    answer = ui_user.post(f"/ui/approvals/{notice.pk}/acknowledge", post)
    assert answer.status_code == 409 and b"already been processed" in answer.content


def test_other_tenants_activity_is_404(garden_user, ui_user, ui_acme):
    order_id = over_limit_order(garden_user)
    ui_user.post(f"/ui/orders/{order_id}/complete", {"csrfmiddlewaretoken": ui_user.csrf})
    approval = pending("GardenAdmin", "Approve order")
    answer = ui_acme.post(f"/ui/approvals/{approval.pk}/approve", {"csrfmiddlewaretoken": ui_acme.csrf})
    assert answer.status_code == 404
    assert WFActivity.objects.get(pk=approval.pk).state == WFState.SUSPENDED
