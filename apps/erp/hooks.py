"""Records-API hooks of the business tables: every generic write keeps the derived columns right.

The records service calls these inside its transaction around ``obj.save()`` / ``obj.delete()``;
they only delegate to :mod:`apps.erp.services`.
"""

from __future__ import annotations

from apps.core.context import RequestContext
from apps.erp import services
from apps.erp.models import Order, OrderLine
from apps.records.registry import RecordHooks


class OrderHooks(RecordHooks):
    """C_Order: document number on insert; state columns and processed orders are protected."""

    def before_save(self, ctx: RequestContext, obj: Order, *, creating: bool) -> None:
        services.order_prepare(order=obj, creating=creating, actor=ctx)

    def before_delete(self, ctx: RequestContext, obj: Order) -> None:
        services.order_delete_check(order=obj)


class OrderLineHooks(RecordHooks):
    """C_OrderLine: LineNetAmt before the save, the order's GrandTotal after every change."""

    def lock_parents(self, ctx: RequestContext, obj: OrderLine) -> None:
        # Order row, then line: deleting an order locks it and then its lines (cascade).
        if obj.order_id is not None:
            services.order_lock(order_id=obj.order_id)

    def before_save(self, ctx: RequestContext, obj: OrderLine, *, creating: bool) -> None:
        services.order_line_prepare(line=obj, creating=creating, actor=ctx)

    def after_save(self, ctx: RequestContext, obj: OrderLine, *, created: bool) -> None:
        total = services.order_totals_update(order_id=obj.order_id, actor=ctx)
        services._sync_cached_order(obj, total)

    def before_delete(self, ctx: RequestContext, obj: OrderLine) -> None:
        services.order_line_delete_check(line=obj)

    def after_delete(self, ctx: RequestContext, obj: OrderLine) -> None:
        total = services.order_totals_update(order_id=obj.order_id, actor=ctx)
        services._sync_cached_order(obj, total)
