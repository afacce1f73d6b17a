"""The demo reports (load_demo creates their AD_Process rows): Order Detail and Open Items.

Both read through the records selectors (``read_queryset``), so the caller's table access, tenant
and visible organizations apply exactly as to ``GET /api/v1/models/...``.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from apps.core.context import RequestContext
from apps.processes.registry import ProcessOutcome, Report, ReportColumn, ReportGroup
from apps.records.selectors import read_queryset

ORDER_DETAIL = "order_detail"
OPEN_ITEMS = "open_items"


def _partner_line(params: dict[str, Any]) -> str | None:
    partner = params.get("C_BPartner_ID")
    return f"Business partner: {partner.name}" if partner is not None else None


def order_detail_report(ctx: RequestContext, params: dict[str, Any]) -> ProcessOutcome:
    """Orders with their lines and totals, for a range of DateOrdered and optionally one partner."""
    orders = read_queryset(ctx, "C_Order").select_related("bpartner")
    lines_qs = read_queryset(ctx, "C_OrderLine").select_related("product")
    since, until = params.get("DateOrdered"), params.get("DateOrdered_to")
    if since:
        orders = orders.filter(date_ordered__gte=since)
    if until:
        orders = orders.filter(date_ordered__lte=until)
    if params.get("C_BPartner_ID") is not None:
        orders = orders.filter(bpartner_id=params["C_BPartner_ID"].pk)
    if params.get("IsSOTrx") is not None:
        orders = orders.filter(is_sotrx=params["IsSOTrx"])
    orders = list(orders.order_by("date_ordered", "document_no", "id"))
    by_order: dict[int, list[Any]] = {order.pk: [] for order in orders}
    for line in lines_qs.filter(order_id__in=list(by_order)).order_by("order_id", "line", "id"):
        by_order[line.order_id].append(line)

    groups, grand_total, line_count = [], Decimal(0), 0
    for order in orders:
        rows = [
            {
                "DocumentNo": order.document_no,
                "DateOrdered": order.date_ordered,
                "BPartner": order.bpartner.name,
                "DocStatus": order.doc_status,
                "Line": line.line,
                "Product": line.product.name,
                "QtyOrdered": line.qty_ordered,
                "PriceActual": line.price_actual if line.price_actual is not None else line.product.price_list,
                "LineNetAmt": line.line_net_amt,
            }
            for line in by_order[order.pk]
        ]
        line_count += len(rows)
        grand_total += order.grand_total
        groups.append(ReportGroup(
            heading=f"Order {order.document_no}: {order.bpartner.name}, {order.date_ordered.isoformat()}, "
                    f"{order.get_doc_status_display()}",
            rows=rows,
            total={"Product": f"Total of order {order.document_no}", "LineNetAmt": order.grand_total},
        ))
    criteria = [
        f"Date ordered: {since.isoformat() if since else 'any'} to {until.isoformat() if until else 'any'}",
    ]
    if (line := _partner_line(params)) is not None:
        criteria.append(line)
    report = Report(
        title="Order Detail",
        base_name="Order_Detail",
        criteria=criteria,
        columns=[
            ReportColumn("DocumentNo", "Document No", width=11),
            ReportColumn("DateOrdered", "Date", width=12),
            ReportColumn("BPartner", "Business Partner", width=15),
            ReportColumn("DocStatus", "Status", width=7),
            ReportColumn("Line", "Line", numeric=True, width=6),
            ReportColumn("Product", "Product"),
            ReportColumn("QtyOrdered", "Quantity", numeric=True, width=9),
            ReportColumn("PriceActual", "Price", numeric=True, width=9, money=True),
            ReportColumn("LineNetAmt", "Line Amount", numeric=True, width=12, money=True),
        ],
        groups=groups,
        total={"Product": "Grand Total", "LineNetAmt": grand_total},
    )
    summary = f"{len(orders)} orders, {line_count} lines, grand total {grand_total:.2f}"
    return ProcessOutcome(summary=summary, logs=[summary], report=report)


def open_items_report(ctx: RequestContext, params: dict[str, Any]) -> ProcessOutcome:
    """Per business partner, the orders still open as of a date (not voided), with days since
    ordered and the open amount (the demo has no invoices or payments: an order is open for its
    grand total), and a subtotal per partner."""
    as_of: date = params.get("StatementDate") or timezone.localdate()
    orders = (
        read_queryset(ctx, "C_Order").select_related("bpartner")
        .exclude(doc_status="VO").filter(date_ordered__lte=as_of)
    )
    if params.get("C_BPartner_ID") is not None:
        orders = orders.filter(bpartner_id=params["C_BPartner_ID"].pk)
    if params.get("IsSOTrx") is not None:
        orders = orders.filter(is_sotrx=params["IsSOTrx"])
    per_partner: OrderedDict[int, list[Any]] = OrderedDict()
    for order in orders.order_by("bpartner__name", "date_ordered", "document_no", "id"):
        per_partner.setdefault(order.bpartner_id, []).append(order)

    groups, total = [], Decimal(0)
    for items in per_partner.values():
        partner = items[0].bpartner
        subtotal = sum((order.grand_total for order in items), Decimal(0))
        total += subtotal
        groups.append(ReportGroup(
            heading=f"{partner.name} ({partner.value})",
            rows=[
                {
                    "BPartner": partner.name,
                    "DocumentNo": order.document_no,
                    "DateOrdered": order.date_ordered,
                    "DocStatus": order.doc_status,
                    "DaysDue": (as_of - order.date_ordered).days,
                    "OpenAmt": order.grand_total,
                }
                for order in items
            ],
            total={"DocumentNo": f"Total {partner.name}", "OpenAmt": subtotal},
        ))
    criteria = [f"Open as of {as_of.isoformat()}"]
    if (line := _partner_line(params)) is not None:
        criteria.append(line)
    report = Report(
        title="Open Items",
        base_name="Open_Items",
        criteria=criteria,
        columns=[
            ReportColumn("BPartner", "Business Partner", width=25),
            ReportColumn("DocumentNo", "Document No"),
            ReportColumn("DateOrdered", "Date", width=12),
            ReportColumn("DocStatus", "Status", width=8),
            ReportColumn("DaysDue", "Days", numeric=True, width=8),
            ReportColumn("OpenAmt", "Open Amount", numeric=True, width=15, money=True),
        ],
        groups=groups,
        total={"DocumentNo": "Total", "OpenAmt": total},
    )
    count = sum(len(items) for items in per_partner.values())
    summary = f"{len(per_partner)} business partners, {count} open items, total {total:.2f}"
    return ProcessOutcome(summary=summary, logs=[summary], report=report)
