"""Workflow part of the demo (DESIGN §7, §9): *Order Approval* on C_Order for GardenWorld.

approval (IsApproved) by the requester's supervisor
  ├─ approved (the order is approved and completed: CO) → user choice of PriorityRule by the same
  │   approver → notice "Order approved" to the requester
  └─ rejected (the order goes to NA) → notice "Order rejected" to the requester

Approving and rejecting C_Order run erp's document logic (see ``apps.workflow.registry``).

Idempotent: nodes and transitions are matched by their search keys and brought back to this shape.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from apps.accounts.models import Client
from apps.workflow.models import (
    NodeAction,
    ResponsibleType,
    WFNode,
    WFNodeTransition,
    Workflow,
)

ORDER_APPROVAL_VALUE = "OrderApproval"

NODES = (
    {
        "value": "Approve", "seq_no": 10, "name": "Approve order",
        "description": "Approve or reject the order (its total exceeds the requester's limit).",
        "help": "Approve sets IsApproved; rejecting sends the order back as Not Approved.",
        "action": NodeAction.APPROVAL, "column_name": "IsApproved",
        "responsible_type": ResponsibleType.SUPERVISOR,
        "message": "Approve order @DocumentNo@ (total @GrandTotal@)",
    },
    {
        "value": "Priority", "seq_no": 20, "name": "Set order priority",
        "description": "Choose the priority of the approved order.",
        "help": "One of 1 Urgent, 3 High, 5 Medium, 7 Low, 9 Minor.",
        "action": NodeAction.USER_CHOICE, "column_name": "PriorityRule",
        "responsible_type": ResponsibleType.PREVIOUS_ACTOR,
        "message": "Choose the priority of order @DocumentNo@",
    },
    {
        "value": "ApprovedNotice", "seq_no": 40, "name": "Order approved",
        "description": "Your order was approved.",
        "action": NodeAction.NOTICE, "responsible_type": ResponsibleType.INVOKER,
        "message": "Order approved: @DocumentNo@",
    },
    {
        "value": "RejectedNotice", "seq_no": 60, "name": "Order rejected",
        "description": "Your order was rejected.",
        "action": NodeAction.NOTICE, "responsible_type": ResponsibleType.INVOKER,
        "message": "Order rejected: @DocumentNo@",
    },
)

TRANSITIONS = (
    ("Approve", "Priority", 10, "IsApproved eq true"),
    ("Approve", "RejectedNotice", 20, "IsApproved eq false"),
    ("Priority", "ApprovedNotice", 10, ""),
)

NODE_DEFAULTS = {
    "description": "", "help": "", "column_name": "", "attribute_value": "",
    "responsible_type": ResponsibleType.INVOKER, "message": "",
}


def order_approval_load(client: Client) -> Workflow:
    """Create or refresh the Order Approval workflow of ``client``."""
    with transaction.atomic():
        workflow, _ = Workflow.objects.update_or_create(
            client=client, value=ORDER_APPROVAL_VALUE,
            defaults={
                "name": "Order Approval", "table_name": "C_Order", "priority": 5,
                "duration_hours": 24, "is_active": True,
                "description": "Orders above the role's approval amount need the supervisor.",
            },
        )
        nodes: dict[str, WFNode] = {}
        for spec in NODES:
            fields = {**NODE_DEFAULTS, **spec, "client": client, "is_active": True}
            value = fields.pop("value")
            nodes[value], _ = WFNode.objects.update_or_create(
                workflow=workflow, value=value, defaults=fields
            )
        wanted = set()
        for source, target, seq_no, condition in TRANSITIONS:
            transition, _ = WFNodeTransition.objects.update_or_create(
                node=nodes[source], next_node=nodes[target],
                defaults={"client": client, "seq_no": seq_no, "condition": condition,
                          "is_active": True},
            )
            wanted.add(transition.pk)
        WFNodeTransition.objects.filter(node__workflow=workflow).exclude(pk__in=wanted).delete()
        # Nodes dropped from the definition may still be referenced by old activities: retire them.
        WFNode.objects.filter(workflow=workflow).exclude(
            pk__in=[n.pk for n in nodes.values()]
        ).update(is_active=False)
        if workflow.start_node_id != nodes["Approve"].pk:
            workflow.start_node = nodes["Approve"]
            workflow.save(update_fields=["start_node", "updated"])
    return workflow


def load(log: Callable[[str], None]) -> None:
    garden = Client.objects.filter(value="GardenWorld").first()
    if garden is None:
        log("workflow: no GardenWorld client, Order Approval not loaded")
        return
    workflow = order_approval_load(garden)
    log(f"workflow: {workflow.name} ({workflow.nodes.count()} nodes) for {garden.name}")
