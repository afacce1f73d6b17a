"""Reads of workflow definitions and activities, scoped to the caller's client."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from apps.accounts.models import User
from apps.accounts.selectors import active_users_of_client
from apps.core.errors import Forbidden, NotFound
from apps.core.models import SYSTEM_CLIENT_ID
from apps.core.wire import parse_id_or_key
from apps.workflow.models import WFActivity, WFEventAudit, WFState, Workflow


def workflow_for_table(*, client_id: int, table_name: str) -> Workflow | None:
    """The active workflow of a table for a client: the client's own first, then System's."""
    candidates = Workflow.objects.filter(
        is_active=True, table_name__iexact=table_name, client_id__in=[client_id, SYSTEM_CLIENT_ID]
    ).select_related("start_node")
    own = [w for w in candidates if w.client_id == client_id]
    shared = [w for w in candidates if w.client_id != client_id]
    chosen = (own or shared or [None])[0]
    return chosen


def activities_qs(*, ctx: Any) -> QuerySet[WFActivity]:
    """Every activity of the caller's client."""
    return WFActivity.objects.filter(client_id=ctx.client_id)


def activity_get(*, ctx: Any, ref: Any) -> WFActivity:
    """One activity of the caller's client by id or uuid; 404 otherwise (also across tenants)."""
    text = str(ref).strip()
    key = parse_id_or_key(ref, "The activity id")
    qs = activities_qs(ctx=ctx)
    if isinstance(key, int):
        found = qs.filter(pk=key).first()
    else:
        try:
            found = qs.filter(uid=uuid.UUID(key)).first()
        except ValueError:
            found = None
    if found is None:
        raise NotFound(f"Workflow activity {text} not found.")
    return found


def pending_activities(*, ctx: Any, user_id: int) -> list[WFActivity]:
    """A user's suspended, unprocessed activities in the caller's client, with their history."""
    return list(
        activities_qs(ctx=ctx)
        .filter(responsible_id=user_id, state=WFState.SUSPENDED, processed=False)
        .select_related("node", "process")
        .prefetch_related(
            Prefetch(
                "process__events",
                queryset=WFEventAudit.objects.select_related("user", "node").order_by("id"),
            )
        )
        .order_by("-priority", "id")
    )


def user_for_activities(*, ctx: Any, user_ref: Any) -> User:
    """The user whose activities an admin asks for: admins only (403), same client only (404)."""
    if not ctx.is_admin:
        raise Forbidden("Only administrator roles may see other users' workflow activities.")
    text = str(user_ref).strip()
    key = parse_id_or_key(user_ref, "The user id")
    users = active_users_of_client(ctx.client_id)
    found = None
    if isinstance(key, int):
        found = users.filter(pk=key).first()
    else:
        try:
            found = users.filter(uid=uuid.UUID(key)).first()
        except ValueError:
            found = None
    if found is None:
        raise NotFound(f"User {text} not found.")
    return found


def process_history(*, ctx: Any, table_name: str, record_id: int) -> QuerySet[WFEventAudit]:
    return WFEventAudit.objects.filter(
        Q(client_id=ctx.client_id), table_name__iexact=table_name, record_id=record_id
    ).select_related("user", "node")
