"""What every page's header shows: who is signed in where, and the counts beside the links."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.models import Client, Organization, Role, Warehouse
from apps.core.context import RequestContext
from apps.records import access
from apps.workflow.models import WFActivity, WFState


def pending_count(ctx: RequestContext) -> int:
    """The caller's activities waiting in the inbox (as ``workflow.selectors.pending_activities``)."""
    return WFActivity.objects.filter(
        client_id=ctx.client_id, responsible_id=ctx.user_id, state=WFState.SUSPENDED,
        processed=False,
    ).count()


def nav(ctx: RequestContext) -> dict[str, Any]:
    names = {
        "client": Client.objects.filter(pk=ctx.client_id).values_list("name", flat=True).first(),
        "role": Role.objects.filter(pk=ctx.role_id).values_list("name", flat=True).first(),
        "org": Organization.objects.filter(pk=ctx.org_id).values_list("name", flat=True).first(),
        "warehouse": Warehouse.objects.filter(pk=ctx.warehouse_id).values_list("name", flat=True).first()
        if ctx.warehouse_id else None,
    }
    return {
        "user_name": ctx.user.username,
        **names,
        "can_orders": access.can_read(ctx, "C_Order"),
        "pending": pending_count(ctx),
    }


def page(
    request: HttpRequest, ctx: RequestContext, template: str, data: dict[str, Any] | None = None,
    *, section: str = "", status: int = 200,
) -> HttpResponse:
    return render(
        request, template, {"nav": nav(ctx), "section": section, **(data or {})}, status=status
    )
