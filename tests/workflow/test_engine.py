"""The engine on definitions other than the demo: automatic nodes, conditions, ends, guards."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import Client
from apps.accounts.services import context_default_for_user
from apps.core.errors import BadRequest, Conflict
from apps.erp import services as erp_services
from apps.erp.models import BPartner, Order, Product
from apps.workflow import services
from apps.workflow.demo import ORDER_APPROVAL_VALUE, order_approval_load
from apps.workflow.models import (
    EventType,
    NodeAction,
    ResponsibleType,
    WFActivity,
    WFNode,
    WFNodeTransition,
    WFProcess,
    WFState,
    Workflow,
)
from tests.workflow.conftest import user


@pytest.fixture
def garden(demo) -> Client:
    return Client.objects.get(value="GardenWorld")


@pytest.fixture
def admin_ctx(demo):
    return context_default_for_user(user("GardenAdmin"))


@pytest.fixture
def user_ctx(demo):
    return context_default_for_user(user("GardenUser"))


@pytest.fixture
def draft_order(garden, user_ctx) -> Order:
    oak = Product.objects.get(client=garden, name="Oak Tree")
    return erp_services.order_create(
        client=garden, bpartner=BPartner.objects.get(client=garden, name="Joe Block"),
        lines=[erp_services.OrderLineInput(product=oak, qty_ordered=Decimal(2))], actor=user_ctx,
    )


def _workflow(garden, value="Test", **fields) -> Workflow:
    return Workflow.objects.create(client=garden, value=value, name=value, table_name="C_Order",
                                   **fields)


def _node(workflow, value, action, **fields) -> WFNode:
    return WFNode.objects.create(client=workflow.client, workflow=workflow, value=value,
                                 name=value, action=action, **fields)


def _link(source, target, condition="", seq_no=10) -> WFNodeTransition:
    return WFNodeTransition.objects.create(client=source.client, node=source, next_node=target,
                                           condition=condition, seq_no=seq_no)


def test_automatic_nodes_run_and_first_true_condition_wins(garden, user_ctx, draft_order):
    wf = _workflow(garden)
    start = _node(wf, "SetDescription", NodeAction.SET_VALUE, column_name="Description",
                  attribute_value="checked by workflow", seq_no=10)
    big = _node(wf, "Big", NodeAction.NOTICE, seq_no=20, message="big @DocumentNo@")
    small = _node(wf, "Small", NodeAction.NOTICE, seq_no=30, message="small @DocumentNo@")
    _link(start, big, "GrandTotal gt 1000", seq_no=10)
    _link(start, small, "Description eq 'checked by workflow' and GrandTotal le 1000", seq_no=20)
    _link(start, big, "", seq_no=30)

    process = services.workflow_start(ctx=user_ctx, workflow=wf, obj=draft_order)

    draft_order.refresh_from_db()
    assert draft_order.description == "checked by workflow"
    waiting = WFActivity.objects.get(process=process, state=WFState.SUSPENDED)
    assert waiting.node == small
    assert waiting.summary == f"small {draft_order.document_no}"
    assert waiting.responsible.username == "GardenUser"  # invoker
    process.refresh_from_db()
    assert process.state == WFState.SUSPENDED
    value_set = process.events.get(event_type=EventType.VALUE_SET)
    assert (value_set.column_name, value_set.new_value) == ("Description", "checked by workflow")
    assert value_set.old_value == ""


def test_start_is_idempotent_and_process_ends(garden, user_ctx, draft_order):
    wf = _workflow(garden)
    notice = _node(wf, "Notice", NodeAction.NOTICE)
    first = services.workflow_start(ctx=user_ctx, workflow=wf, obj=draft_order)
    again = services.workflow_start(ctx=user_ctx, workflow=wf, obj=draft_order)
    assert first.pk == again.pk
    activity = WFActivity.objects.get(process=first, node=notice)
    services.activity_acknowledge(ctx=user_ctx, activity_ref=activity.uid, message="seen")
    first.refresh_from_db()
    assert (first.state, first.processed) == (WFState.COMPLETED, True)
    # a closed process does not block a new run
    assert services.workflow_start(ctx=user_ctx, workflow=wf, obj=draft_order).pk != first.pk


def test_no_transition_holds_ends_the_process(garden, user_ctx, draft_order):
    wf = _workflow(garden)
    start = _node(wf, "Set", NodeAction.SET_VALUE, column_name="PriorityRule",
                  attribute_value="9")
    never = _node(wf, "Never", NodeAction.NOTICE, seq_no=20)
    wf.start_node = start
    wf.save()
    _link(start, never, "GrandTotal gt 1000000")
    process = services.workflow_start(ctx=user_ctx, workflow=wf, obj=draft_order)
    process.refresh_from_db()
    assert process.state == WFState.COMPLETED
    draft_order.refresh_from_db()
    assert draft_order.priority_rule == "9"
    assert not WFActivity.objects.filter(process=process, node=never).exists()


def test_document_action_node(garden, admin_ctx, draft_order):
    wf = _workflow(garden)
    _node(wf, "Void", NodeAction.DOC_ACTION, attribute_value="VO")
    process = services.workflow_start(ctx=admin_ctx, workflow=wf, obj=draft_order)
    draft_order.refresh_from_db()
    assert draft_order.doc_status == Order.DocStatus.VOIDED
    event = process.events.get(event_type=EventType.DOC_ACTION)
    assert (event.old_value, event.new_value) == ("DR", "VO")


def test_unknown_document_action_is_refused(garden, admin_ctx, draft_order):
    wf = _workflow(garden)
    _node(wf, "Nope", NodeAction.DOC_ACTION, attribute_value="XX")
    with pytest.raises(BadRequest):
        services.workflow_start(ctx=admin_ctx, workflow=wf, obj=draft_order)
    assert not WFProcess.objects.filter(workflow=wf).exists()  # rolled back


def test_a_looping_definition_is_stopped(garden, admin_ctx, draft_order):
    wf = _workflow(garden)
    spin = _node(wf, "Spin", NodeAction.SET_VALUE, column_name="Description",
                 attribute_value="x")
    _link(spin, spin)
    with pytest.raises(Conflict):
        services.workflow_start(ctx=admin_ctx, workflow=wf, obj=draft_order)


def test_bad_condition_is_a_400(garden, admin_ctx, draft_order):
    wf = _workflow(garden)
    start = _node(wf, "Start", NodeAction.SET_VALUE, column_name="Description",
                  attribute_value="x")
    _link(start, _node(wf, "End", NodeAction.NOTICE, seq_no=20), "NoSuchColumn eq 1")
    with pytest.raises(BadRequest):
        services.workflow_start(ctx=admin_ctx, workflow=wf, obj=draft_order)


def test_string_user_choice_and_named_responsible(garden, user_ctx, admin_ctx, draft_order):
    wf = _workflow(garden)
    node = _node(wf, "Describe", NodeAction.USER_CHOICE, column_name="Description",
                 responsible_type=ResponsibleType.HUMAN, responsible_user=user("GardenAdmin"))
    process = services.workflow_start(ctx=user_ctx, workflow=wf, obj=draft_order)
    activity = WFActivity.objects.get(process=process, node=node)
    assert activity.responsible.username == "GardenAdmin"
    with pytest.raises(BadRequest):
        services.activity_set_user_choice(ctx=admin_ctx, activity_ref=activity.pk,
                                          value="x" * 300)
    services.activity_set_user_choice(ctx=admin_ctx, activity_ref=activity.pk,
                                      value="free text")
    draft_order.refresh_from_db()
    assert draft_order.description == "free text"


def test_supervisor_falls_back_to_invoker(garden, admin_ctx, draft_order):
    """GardenAdmin has no supervisor: the approval then waits for the invoker."""
    wf = _workflow(garden)
    node = _node(wf, "Approve", NodeAction.APPROVAL, column_name="IsApproved",
                 responsible_type=ResponsibleType.SUPERVISOR)
    process = services.workflow_start(ctx=admin_ctx, workflow=wf, obj=draft_order)
    activity = WFActivity.objects.get(process=process, node=node)
    assert activity.responsible.username == "GardenAdmin"


def test_system_workflow_applies_when_client_has_none(garden, user_ctx, draft_order):
    from apps.workflow.selectors import workflow_for_table

    Workflow.objects.filter(client=garden, value=ORDER_APPROVAL_VALUE).update(is_active=False)
    assert workflow_for_table(client_id=garden.pk, table_name="c_order") is None
    shared = Workflow.objects.create(client_id=0, value="Shared", name="Shared",
                                     table_name="C_Order")
    assert workflow_for_table(client_id=garden.pk, table_name="C_ORDER") == shared


def test_demo_load_is_idempotent(garden):
    first = order_approval_load(garden)
    nodes = list(first.nodes.values_list("pk", "value"))
    transitions = set(WFNodeTransition.objects.filter(node__workflow=first)
                      .values_list("node__value", "next_node__value", "condition"))
    second = order_approval_load(garden)
    assert first.pk == second.pk
    assert list(second.nodes.values_list("pk", "value")) == nodes
    assert set(WFNodeTransition.objects.filter(node__workflow=second)
               .values_list("node__value", "next_node__value", "condition")) == transitions
    assert second.start_node.value == "Approve"
    assert Workflow.objects.filter(value=ORDER_APPROVAL_VALUE).count() == 1
    assert not Workflow.objects.filter(client__value="Acme").exists()
