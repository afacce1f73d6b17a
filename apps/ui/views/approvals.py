"""The approvals inbox: the caller's suspended workflow activities, and the actions the API's
``/api/v1/workflow`` offers (approve, reject, user choice, acknowledge, forward), with a message."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.selectors import active_users_of_client
from apps.core.context import RequestContext
from apps.core.errors import BadRequest
from apps.dms.access import record_resolve
from apps.erp import selectors as erp_selectors
from apps.records import access
from apps.ui.navigation import page
from apps.ui.session import ui_page
from apps.ui.views.params import form_id
from apps.workflow import records_bridge
from apps.workflow import selectors as workflow_selectors
from apps.workflow import services as workflow_services
from apps.workflow.models import NodeAction

MESSAGE_MAX = 2000
ACTIONS = {
    "approve": ("Approved", NodeAction.APPROVAL),
    "reject": ("Rejected", NodeAction.APPROVAL),
    "choose": ("Value set", NodeAction.USER_CHOICE),
    "acknowledge": ("Acknowledged", NodeAction.NOTICE),
    "forward": ("Forwarded", None),
}


def _inbox_items(ctx: RequestContext) -> list[dict]:
    activities = workflow_selectors.pending_activities(ctx=ctx, user_id=ctx.user_id)
    order_ids = {a.record_id for a in activities if a.table_name.lower() == "c_order"}
    orders = {}
    if order_ids and access.can_read(ctx, "C_Order"):
        orders = {o.pk: o for o in erp_selectors.order_list(ctx=ctx).filter(pk__in=order_ids)}
    now = timezone.now()
    items = []
    for activity in activities:
        order = orders.get(activity.record_id) if activity.table_name.lower() == "c_order" else None
        choices = None
        if activity.node.action == NodeAction.USER_CHOICE:
            try:
                choices = records_bridge.column_choices(
                    records_bridge.table_model(activity.table_name), activity.node.column_name
                )
            except Exception:  # noqa: BLE001 - a free text choice then
                choices = None
        items.append({
            "activity": activity,
            "order": order,
            "age": now - activity.created,
            "choices": choices,
            "history": list(activity.process.events.all()),
        })
    return items


@require_GET
@ui_page
def inbox_view(request: HttpRequest, ctx: RequestContext) -> HttpResponse:
    users = active_users_of_client(ctx.client_id).exclude(pk=ctx.user_id).order_by("username")
    return page(request, ctx, "ui/approvals.html", {
        "items": _inbox_items(ctx),
        "users": list(users.only("id", "username")[:200]),
    }, section="approvals")


@require_POST
@ui_page
def activity_action_view(
    request: HttpRequest, ctx: RequestContext, activity_id: int, action: str
) -> HttpResponse:
    if action not in ACTIONS:
        raise BadRequest("Unknown action.")
    message = (request.POST.get("message") or "").strip()[:MESSAGE_MAX]
    activity = workflow_selectors.activity_get(ctx=ctx, ref=activity_id)
    if action == "approve":
        workflow_services.activity_approve(ctx=ctx, activity_ref=activity.pk, message=message)
    elif action == "reject":
        workflow_services.activity_reject(ctx=ctx, activity_ref=activity.pk, message=message)
    elif action == "choose":
        value = request.POST.get("value") or ""
        if not value:
            raise BadRequest("Choose a value first.")
        workflow_services.activity_set_user_choice(
            ctx=ctx, activity_ref=activity.pk, value=value, message=message
        )
    elif action == "acknowledge":
        workflow_services.activity_acknowledge(ctx=ctx, activity_ref=activity.pk, message=message)
    else:
        # The page's select sends a user's id (the API's userTo also takes a name; the form never does).
        user_to = form_id(request, "user", "the user to forward it to")
        workflow_services.activity_forward(
            ctx=ctx, activity_ref=activity.pk, user_to=user_to, message=message,
        )
    messages.success(request, f"{ACTIONS[action][0]}: {activity.summary or activity.node.name}.")
    return redirect("ui:approvals")


@require_GET
@ui_page
def history_view(request: HttpRequest, ctx: RequestContext, table: str, record_id: int) -> HttpResponse:
    """The workflow history of one document (the order page shows the same); another tenant's
    document, or a table the role may not read, answers as the records API does (404, 403)."""
    record = record_resolve(ctx, table, record_id, write=False)
    table_name = record._meta.db_table
    events = list(
        workflow_selectors.process_history(ctx=ctx, table_name=table_name, record_id=record.pk)
        .order_by("created", "id")
    )
    return page(request, ctx, "ui/history.html", {
        "events": events, "table": table_name, "record": record,
    }, section="approvals")
