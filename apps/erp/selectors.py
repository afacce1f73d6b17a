"""Reads of the business tables, already scoped to the caller's client and visible organizations."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from apps.core.context import RequestContext
from apps.core.errors import NotFound
from apps.erp.models import BPartner, ElementValue, Order, OrderLine, Product

M = TypeVar("M", bound=Model)


def _scoped(queryset: QuerySet[M], ctx: RequestContext) -> QuerySet[M]:
    queryset = queryset.filter(client_id=ctx.client_id)
    org_ids = ctx.visible_org_ids()
    if org_ids is not None:
        queryset = queryset.filter(org_id__in=org_ids)
    return queryset


def bpartner_list(*, ctx: RequestContext) -> QuerySet[BPartner]:
    return _scoped(BPartner.objects.select_related("bp_group"), ctx)


def product_list(*, ctx: RequestContext) -> QuerySet[Product]:
    return _scoped(Product.objects.select_related("product_category"), ctx)


def element_value_list(*, ctx: RequestContext) -> QuerySet[ElementValue]:
    return _scoped(ElementValue.objects.all(), ctx)


def order_list(*, ctx: RequestContext) -> QuerySet[Order]:
    return _scoped(Order.objects.select_related("bpartner"), ctx)


def order_get(*, ctx: RequestContext, order_id: int) -> Order:
    """One order of the caller's tenant; another tenant's order answers 404, like a missing one."""
    order = order_list(ctx=ctx).filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"Order {order_id} not found.")
    return order


def order_line_list(*, ctx: RequestContext, order_id: int) -> QuerySet[OrderLine]:
    return _scoped(OrderLine.objects.filter(order_id=order_id).select_related("product"), ctx)
