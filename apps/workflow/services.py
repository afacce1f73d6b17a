"""The workflow engine: start a process, run automatic nodes, suspend at user nodes, act on them.

Every user action locks its activity row (``select_for_update``) and then claims it with a
conditional update on its state (``WHERE WFState='OS'``), so two simultaneous actions on one activity
give one success and one 409, on PostgreSQL and on SQLite alike. Record changes go through
``apps.records`` (see :mod:`apps.workflow.records_bridge`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.selectors import active_users_of_client
from apps.core.errors import BadRequest, Conflict, Forbidden
from apps.core.wire import parse_id_or_key
from apps.workflow import records_bridge as records
from apps.workflow import selectors
from apps.workflow.models import (
    EventType,
    NodeAction,
    ResponsibleType,
    WFActivity,
    WFEventAudit,
    WFNode,
    WFProcess,
    WFState,
    Workflow,
)
from apps.workflow.registry import approval_callback

logger = logging.getLogger("ledgerdoc.workflow")

MAX_STEPS = 100  # automatic nodes run in one go; a definition that loops is stopped here
MESSAGE_MAX = 2000


# --- history --------------------------------------------------------------------------------------


def _audit(
    process: WFProcess,
    event_type: str,
    *,
    user_id: int | None,
    activity: WFActivity | None = None,
    node: WFNode | None = None,
    state: str = "",
    column_name: str = "",
    old_value: Any = "",
    new_value: Any = "",
    message: str = "",
) -> WFEventAudit:
    return WFEventAudit.objects.create(
        client_id=process.client_id,
        org_id=process.org_id,
        process=process,
        activity=activity,
        node=node or (activity.node if activity else None),
        table_name=process.table_name,
        record_id=process.record_id,
        event_type=event_type,
        user_id=user_id,
        created_by_id=user_id,
        updated_by_id=user_id,
        state=state,
        column_name=column_name,
        old_value=_text(old_value),
        new_value=_text(new_value),
        message=(message or "")[:MESSAGE_MAX],
    )


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)[:MESSAGE_MAX]


# --- notices --------------------------------------------------------------------------------------


def _notice_enqueue(activity_id: int, user_id: int, event_id: int) -> None:
    """After commit, e-mail ``user_id`` that the activity is now theirs (``event_id`` says why).

    ``robust``: a broker that is down (or, when eager, a failing send) is logged and never turns
    the committed workflow step into an error.
    """
    from apps.workflow.tasks import activity_notice_send

    transaction.on_commit(
        lambda: activity_notice_send.delay(activity_id, user_id, event_id), robust=True
    )


# --- starting -------------------------------------------------------------------------------------


def workflow_start(*, ctx: Any, workflow: Workflow, obj: Any) -> WFProcess:
    """Start ``workflow`` for record ``obj`` (idempotent: an open process for it is returned)."""
    table_name = records.canonical_table_name(workflow.table_name)
    with transaction.atomic():
        existing = (
            WFProcess.objects.select_for_update()
            .filter(workflow=workflow, table_name=table_name, record_id=obj.pk)
            .exclude(state__in=WFState.closed())
            .first()
        )
        if existing is not None:
            return existing
        process = WFProcess.objects.create(
            client_id=obj.client_id,
            org_id=getattr(obj, "org_id", 0) or 0,
            workflow=workflow,
            table_name=table_name,
            record_id=obj.pk,
            state=WFState.RUNNING,
            initiator_id=ctx.user_id,
            priority=workflow.priority,
            created_by_id=ctx.user_id,
            updated_by_id=ctx.user_id,
        )
        _audit(process, EventType.PROCESS_STARTED, user_id=ctx.user_id, state=WFState.RUNNING,
               message=f"{workflow.name} started")
        start = workflow.start_node or workflow.nodes.filter(is_active=True).first()
        if start is None:
            raise BadRequest(f"Workflow '{workflow.name}' has no nodes.")
        _run_from(ctx, process, start, previous=None)
    return process


def approval_starter(ctx: Any, obj: Any) -> bool:
    """Registered with ``apps.records`` for C_Order: start the table's workflow if one is defined."""
    table_name = obj._meta.db_table
    workflow = selectors.workflow_for_table(client_id=obj.client_id, table_name=table_name)
    if workflow is None:
        return False
    workflow_start(ctx=ctx, workflow=workflow, obj=obj)
    return True


# --- running --------------------------------------------------------------------------------------


def _responsible_for(node: WFNode, process: WFProcess, previous: WFActivity | None) -> User:
    initiator = process.initiator
    if node.responsible_type == ResponsibleType.SUPERVISOR:
        supervisor = initiator.supervisor
        if supervisor is not None and supervisor.is_active:
            return supervisor
    elif node.responsible_type == ResponsibleType.PREVIOUS_ACTOR:
        actor = previous.actor or previous.responsible if previous is not None else None
        if actor is not None:
            return actor
    elif node.responsible_type == ResponsibleType.HUMAN and node.responsible_user is not None:
        return node.responsible_user
    elif node.responsible_type == ResponsibleType.INVOKER:
        return initiator
    # Nobody fits (no supervisor, no previous actor): the node's user, else the initiator.
    return node.responsible_user or initiator


def _duration_hours(node: WFNode) -> int | None:
    return node.duration_hours if node.duration_hours is not None else node.workflow.duration_hours


def _run_from(ctx: Any, process: WFProcess, node: WFNode | None, previous: WFActivity | None) -> None:
    """Run nodes from ``node`` on: automatic ones at once; stop at a user node or at the end."""
    steps = 0
    while node is not None:
        steps += 1
        if steps > MAX_STEPS:
            raise Conflict(f"Workflow '{process.workflow.name}' does not reach an end (loop).")
        obj = records.record_get(process.table_name, process.record_id)
        activity = WFActivity.objects.create(
            client_id=process.client_id,
            org_id=process.org_id,
            process=process,
            node=node,
            workflow_id=process.workflow_id,
            table_name=process.table_name,
            record_id=process.record_id,
            state=WFState.RUNNING,
            priority=node.priority or process.priority,
            summary=records.fill_placeholders(node.message or node.description or node.name, obj)[
                :MESSAGE_MAX
            ],
            help=node.help,
            created_by_id=ctx.user_id,
            updated_by_id=ctx.user_id,
        )
        if node.is_user_node:
            responsible = _responsible_for(node, process, previous)
            hours = _duration_hours(node)
            activity.responsible = responsible
            activity.state = WFState.SUSPENDED
            activity.due = timezone.now() + timedelta(hours=hours) if hours else None
            activity.save(update_fields=["responsible", "state", "due", "updated"])
            WFProcess.objects.filter(pk=process.pk).update(
                state=WFState.SUSPENDED, updated=timezone.now()
            )
            event = _audit(process, EventType.ACTIVITY_SUSPENDED, user_id=ctx.user_id,
                           activity=activity, state=WFState.SUSPENDED,
                           new_value=responsible.username,
                           message=f"Waiting for {responsible.username}: {activity.summary}")
            _notice_enqueue(activity.pk, responsible.pk, event.pk)
            return
        _run_automatic(ctx, process, activity, obj)
        _finish_activity(activity, actor_id=ctx.user_id)
        node = _next_node(process, node)
    _finish_process(ctx, process)


def _run_automatic(ctx: Any, process: WFProcess, activity: WFActivity, obj: Any) -> None:
    node = activity.node
    if node.action == NodeAction.SET_VALUE:
        old = records.column_value(obj, node.column_name)
        records.record_update(ctx, process.table_name, obj, {node.column_name: node.attribute_value})
        _audit(process, EventType.VALUE_SET, user_id=ctx.user_id, activity=activity,
               state=WFState.COMPLETED, column_name=node.column_name, old_value=old,
               new_value=node.attribute_value, message=activity.summary)
    elif node.action == NodeAction.DOC_ACTION:
        old = getattr(obj, "doc_status", "")
        obj = records.doc_action(ctx, process.table_name, obj, node.attribute_value)
        obj = records.record_get(process.table_name, process.record_id)
        _audit(process, EventType.DOC_ACTION, user_id=ctx.user_id, activity=activity,
               state=WFState.COMPLETED, column_name="DocAction", old_value=old,
               new_value=getattr(obj, "doc_status", node.attribute_value), message=activity.summary)


def _finish_activity(activity: WFActivity, *, actor_id: int | None) -> None:
    activity.state = WFState.COMPLETED
    activity.processed = True
    activity.actor_id = actor_id
    activity.updated_by_id = actor_id
    activity.save(update_fields=["state", "processed", "actor", "updated_by", "updated"])


def _next_node(process: WFProcess, node: WFNode) -> WFNode | None:
    """The target of the first transition (in sequence order) whose condition holds."""
    transitions = list(
        node.transitions.filter(is_active=True, next_node__is_active=True)
        .select_related("next_node").order_by("seq_no", "id")
    )
    if not transitions:
        return None
    obj = records.record_get(process.table_name, process.record_id)
    for transition in transitions:
        if records.condition_holds(process.table_name, obj, transition.condition):
            return transition.next_node
    return None


def _finish_process(ctx: Any, process: WFProcess) -> None:
    WFProcess.objects.filter(pk=process.pk).update(
        state=WFState.COMPLETED, processed=True, updated=timezone.now(), updated_by_id=ctx.user_id
    )
    process.state = WFState.COMPLETED
    _audit(process, EventType.PROCESS_COMPLETED, user_id=ctx.user_id, state=WFState.COMPLETED,
           message=f"{process.workflow.name} completed")


# --- user actions ---------------------------------------------------------------------------------


def _claim(ctx: Any, activity_ref: Any, actions: tuple[str, ...], verb: str) -> WFActivity:
    """Lock the caller's suspended activity and mark it running; 404/403/400/409 otherwise.

    Must run inside ``transaction.atomic``.
    """
    found = selectors.activity_get(ctx=ctx, ref=activity_ref)  # other tenant → 404
    activity = _lock_activity(found.pk)
    if activity.responsible_id != ctx.user_id:
        raise Forbidden("This workflow activity is assigned to someone else.")
    if activity.node.action not in actions:
        raise BadRequest(
            f"'{verb}' does not apply to node '{activity.node.name}' "
            f"({activity.node.get_action_display()})."
        )
    claimed = WFActivity.objects.filter(pk=activity.pk, state=WFState.SUSPENDED).update(
        state=WFState.RUNNING, updated=timezone.now(), updated_by_id=ctx.user_id
    )
    if claimed != 1:
        raise Conflict("This workflow activity has already been processed.")
    activity.state = WFState.RUNNING
    WFProcess.objects.select_for_update().filter(pk=activity.process_id).update(
        state=WFState.RUNNING, updated=timezone.now()
    )
    return activity


def _lock_activity(pk: int) -> WFActivity:
    return (
        WFActivity.objects.select_for_update(of=("self",))
        .select_related("node", "node__workflow", "process", "process__workflow",
                        "process__initiator", "responsible")
        .get(pk=pk)
    )


def _continue(ctx: Any, activity: WFActivity) -> None:
    _finish_activity(activity, actor_id=ctx.user_id)
    _run_from(ctx, activity.process, _next_node(activity.process, activity.node), previous=activity)


def _set_column(ctx: Any, activity: WFActivity, value: Any, event_type: str, message: str) -> None:
    process = activity.process
    obj = records.record_get(process.table_name, process.record_id)
    column = activity.node.column_name
    old = records.column_value(obj, column)
    records.record_update(ctx, process.table_name, obj, {column: value})
    _audit(process, event_type, user_id=ctx.user_id, activity=activity, state=WFState.COMPLETED,
           column_name=column, old_value=old, new_value=value, message=message)


def activity_approve(*, ctx: Any, activity_ref: Any, message: str = "") -> WFActivity:
    return _approval(ctx, activity_ref, True, message)


def activity_reject(*, ctx: Any, activity_ref: Any, message: str = "") -> WFActivity:
    return _approval(ctx, activity_ref, False, message)


def _approval(ctx: Any, activity_ref: Any, approved: bool, message: str) -> WFActivity:
    verb = "approve" if approved else "reject"
    event_type = EventType.APPROVED if approved else EventType.REJECTED
    with transaction.atomic():
        activity = _claim(ctx, activity_ref, (NodeAction.APPROVAL,), verb)
        process = activity.process
        if approved:
            amount = records.approval_amount(
                records.record_get(process.table_name, process.record_id)
            )
            if not _may_approve(ctx, amount):
                _pass_to_supervisor(ctx, activity, amount, message)
                return _reloaded(activity)
        column = activity.node.column_name
        callback = approval_callback(process.table_name, column, approved)
        if callback is None:
            _set_column(ctx, activity, approved, event_type, message)
        else:
            # The document's own approve/reject logic owns the column (e.g. approve = complete).
            obj = records.record_get(process.table_name, process.record_id)
            old = records.column_value(obj, column)
            callback(ctx, obj)
            obj = records.record_get(process.table_name, process.record_id)
            _audit(process, event_type, user_id=ctx.user_id, activity=activity,
                   state=WFState.COMPLETED, column_name=column, old_value=old,
                   new_value=records.column_value(obj, column), message=message)
        _continue(ctx, activity)
    return _reloaded(activity)


def _may_approve(ctx: Any, amount: Decimal | None) -> bool:
    """iDempiere's rule: the caller's role approves up to its AmtApproval; admin or empty = no limit."""
    limit = ctx.role.approval_amount
    return ctx.is_admin or limit is None or amount is None or amount <= limit


def _pass_to_supervisor(
    ctx: Any, activity: WFActivity, amount: Decimal | None, message: str
) -> None:
    """The approver's limit is too low: note their approval and hand the activity to their
    supervisor (active, same client, not the requester). Without one: 403, nothing changes (the
    caller's transaction rolls back the claim)."""
    approver = activity.responsible
    limit = ctx.role.approval_amount
    supervisor = (
        active_users_of_client(ctx.client_id).filter(pk=approver.supervisor_id).first()
        if approver.supervisor_id not in (None, approver.pk, activity.process.initiator_id)
        else None
    )
    if supervisor is None:
        raise Forbidden(
            f"The document's amount {amount} exceeds the approval amount {limit} of role "
            f"'{ctx.role.name}', and {approver.username} has no supervisor to pass the approval "
            "to.",
            code="approval_amount_exceeded",
        )
    WFActivity.objects.filter(pk=activity.pk, state=WFState.RUNNING).update(
        state=WFState.SUSPENDED, responsible=supervisor, updated=timezone.now(),
        updated_by_id=ctx.user_id,
    )
    WFProcess.objects.filter(pk=activity.process_id).update(
        state=WFState.SUSPENDED, updated=timezone.now()
    )
    note = (
        f"Approved by {approver.username}, amount {amount} above {approver.username}'s limit "
        f"{limit}; forwarded to supervisor {supervisor.username}"
    )
    event = _audit(activity.process, EventType.FORWARDED, user_id=ctx.user_id, activity=activity,
                   state=WFState.SUSPENDED, column_name="AD_User_ID",
                   old_value=approver.username, new_value=supervisor.username,
                   message=f"{note}: {message}" if message else note)
    _notice_enqueue(activity.pk, supervisor.pk, event.pk)


def activity_set_user_choice(
    *, ctx: Any, activity_ref: Any, value: Any, message: str = ""
) -> WFActivity:
    with transaction.atomic():
        activity = _claim(ctx, activity_ref, (NodeAction.USER_CHOICE,), "setuserchoice")
        checked = _checked_choice(activity, value)
        _set_column(ctx, activity, checked, EventType.USER_CHOICE, message)
        _continue(ctx, activity)
    return _reloaded(activity)


def _checked_choice(activity: WFActivity, value: Any) -> Any:
    model = records.table_model(activity.table_name)
    column = activity.node.column_name
    if isinstance(value, dict):  # a list value as PO-JSON renders it: {"id": "3", ...}
        value = value.get("id", value.get("value"))
    if value is None or isinstance(value, (dict, list)) or str(value).strip() == "":
        raise BadRequest("'value' is required.")
    text = str(value).strip()
    choices = records.column_choices(model, column)
    if choices is not None:
        allowed = {v for v, _ in choices}
        if text not in allowed:
            by_name = {label.lower(): v for v, label in choices}
            if text.lower() not in by_name:
                raise BadRequest(
                    f"'{text}' is not a valid value for {column}; allowed: {', '.join(sorted(allowed))}."
                )
            text = by_name[text.lower()]
        return text
    if records.is_yes_no(model, column):
        lowered = text.lower()
        if lowered in {"y", "yes", "true", "1"}:
            return True
        if lowered in {"n", "no", "false", "0"}:
            return False
        raise BadRequest(f"'{text}' is not a Yes/No value for {column}.")
    field = records.column_field(model, column)
    max_length = getattr(field, "max_length", None)
    if max_length and len(text) > max_length:
        raise BadRequest(f"The value for {column} is longer than {max_length} characters.")
    return text


def activity_acknowledge(*, ctx: Any, activity_ref: Any, message: str = "") -> WFActivity:
    with transaction.atomic():
        activity = _claim(ctx, activity_ref, (NodeAction.NOTICE,), "acknowledge")
        _audit(activity.process, EventType.ACKNOWLEDGED, user_id=ctx.user_id, activity=activity,
               state=WFState.COMPLETED, message=message or activity.summary)
        _continue(ctx, activity)
    return _reloaded(activity)


def activity_forward(
    *, ctx: Any, activity_ref: Any, user_to: Any, message: str = ""
) -> WFActivity:
    """Reassign the caller's suspended activity to another active user of the same client."""
    with transaction.atomic():
        activity = _claim(ctx, activity_ref, NodeAction.user_actions(), "forward")
        target = _forward_target(ctx, user_to)
        if target.pk == ctx.user_id:
            raise BadRequest("The activity is already assigned to you.")
        if activity.node.action == NodeAction.APPROVAL and target.pk == activity.process.initiator_id:
            raise BadRequest("An approval cannot be forwarded to the requester of the document.")
        old = activity.responsible
        WFActivity.objects.filter(pk=activity.pk).update(
            state=WFState.SUSPENDED, responsible=target, updated=timezone.now(),
            updated_by_id=ctx.user_id,
        )
        WFProcess.objects.filter(pk=activity.process_id).update(
            state=WFState.SUSPENDED, updated=timezone.now()
        )
        event = _audit(activity.process, EventType.FORWARDED, user_id=ctx.user_id,
                       activity=activity, state=WFState.SUSPENDED, column_name="AD_User_ID",
                       old_value=old.username if old else "", new_value=target.username,
                       message=message or f"Forwarded to {target.username}")
        _notice_enqueue(activity.pk, target.pk, event.pk)
    return _reloaded(activity)


def _forward_target(ctx: Any, user_to: Any) -> User:
    if isinstance(user_to, dict):
        user_to = user_to.get("id")
    if user_to is None or isinstance(user_to, bool) or str(user_to).strip() == "":
        raise BadRequest("'userTo' is required.")
    users = active_users_of_client(ctx.client_id)
    text = str(user_to).strip()
    key = parse_id_or_key(user_to, "'userTo'")
    if isinstance(key, int):
        target = users.filter(pk=key).first()
    else:
        target = users.filter(uid=text).first() if _looks_like_uuid(text) else None
        target = target or users.filter(username__iexact=text).first()
    if target is None:
        raise BadRequest(f"'userTo' {text!r} is not an active user of this client.")
    return target


def _looks_like_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _reloaded(activity: WFActivity) -> WFActivity:
    return (
        WFActivity.objects.select_related("node", "process", "responsible", "actor")
        .get(pk=activity.pk)
    )


# --- escalation -----------------------------------------------------------------------------------


def activities_escalate(*, now=None) -> int:
    """Hand every suspended activity past its due date to its responsible user's supervisor."""
    now = now or timezone.now()
    ids = list(
        WFActivity.objects.filter(state=WFState.SUSPENDED, due__lt=now).values_list("pk", flat=True)
    )
    escalated = 0
    for pk in ids:
        escalated += int(activity_escalate(activity_id=pk, now=now))
    return escalated


def activity_escalate(*, activity_id: int, now=None) -> bool:
    now = now or timezone.now()
    with transaction.atomic():
        activity = (
            WFActivity.objects.select_for_update(of=("self",))
            .select_related("responsible", "responsible__supervisor", "node", "node__workflow",
                            "process")
            .filter(pk=activity_id, state=WFState.SUSPENDED, due__lt=now)
            .first()
        )
        if activity is None:
            return False
        old = activity.responsible
        supervisor = old.supervisor if old is not None else None
        hours = _duration_hours(activity.node)
        next_due = now + timedelta(hours=hours) if hours else None
        if supervisor is None or not supervisor.is_active or supervisor.pk == old.pk:
            # Nobody above: keep it, but do not escalate again at every beat.
            WFActivity.objects.filter(pk=activity.pk).update(due=next_due, updated=now)
            _audit(activity.process, EventType.ESCALATED, user_id=None, activity=activity,
                   state=WFState.SUSPENDED, message=f"Overdue; {old} has no supervisor")
            return False
        WFActivity.objects.filter(pk=activity.pk, state=WFState.SUSPENDED).update(
            responsible=supervisor, due=next_due, escalation_level=activity.escalation_level + 1,
            updated=now,
        )
        event = _audit(activity.process, EventType.ESCALATED, user_id=None, activity=activity,
                       state=WFState.SUSPENDED, column_name="AD_User_ID",
                       old_value=old.username, new_value=supervisor.username,
                       message=f"Overdue since {activity.due:%Y-%m-%d %H:%M}; "
                               f"escalated to {supervisor}")
        _notice_enqueue(activity.pk, supervisor.pk, event.pk)
    return True

