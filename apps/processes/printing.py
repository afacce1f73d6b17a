"""Print formats: a record of a table → a PDF, from a Django template (``GET .../{id}/print``).

A print format is a callable registered per table (``register_print_format``); the demo has one for
C_Order (header, partner, lines, totals). The record is read through the records selectors, so the
role's table access, the tenant and the visible orgs apply as they do to ``GET /models/...``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from apps.core.context import RequestContext
from apps.core.errors import NotFound
from apps.processes.pdf import html_to_pdf
from apps.records.registry import table_spec
from apps.records.selectors import record_get


@dataclass(frozen=True)
class PrintedDocument:
    file_name: str
    content_type: str
    content: bytes


PrintFormat = Callable[[RequestContext, Any], tuple[str, str]]  # (ctx, obj) -> (html, base name)
_PRINT_FORMATS: dict[str, PrintFormat] = {}


def register_print_format(table_name: str, render: PrintFormat) -> None:
    _PRINT_FORMATS[table_name.lower()] = render


def money(value: Decimal | None) -> str:
    """``1234.5`` → ``1,234.50`` (two decimals, thousands separated)."""
    return f"{Decimal(value or 0):,.2f}"


def quantity(value: Decimal | None) -> str:
    text = f"{Decimal(value or 0):,.4f}".rstrip("0").rstrip(".")
    return text or "0"


def order_html(ctx: RequestContext, order: Any) -> tuple[str, str]:
    from apps.accounts.models import Client, Organization, User
    from apps.erp.models import OrderLine

    lines = [
        {
            "line": line.line,
            "product": line.product,
            "description": line.description,
            "qty": quantity(line.qty_ordered),
            "price": money(line.price_actual if line.price_actual is not None else line.product.price_list),
            "amount": money(line.line_net_amt),
        }
        for line in OrderLine.objects.filter(order_id=order.pk).select_related("product").order_by("line", "id")
    ]
    printer = User.objects.filter(pk=ctx.user_id).values_list("username", flat=True).first() or ""
    html = render_to_string("processes/order_print.html", {
        "title": "Sales Order" if order.is_sotrx else "Purchase Order",
        "order": order,
        "client": Client.objects.get(pk=order.client_id),
        "org": Organization.objects.filter(pk=order.org_id).first(),
        "partner": order.bpartner,
        "lines": lines,
        "grand_total": money(order.grand_total),
        "printed": timezone.now(),
        "printed_by": printer,
    })
    return html, f"Order_{order.document_no or order.pk}"


def record_print(ctx: RequestContext, table_name: str, record: str) -> PrintedDocument:
    """The PDF of one record the caller may read; 404 for a table without a print format."""
    spec = table_spec(table_name)
    render = _PRINT_FORMATS.get(spec.key)
    obj = record_get(ctx, spec.table_name, record)
    if render is None:
        raise NotFound(f"Table '{spec.table_name}' has no print format.")
    html, base_name = render(ctx, obj)
    pdf = html_to_pdf(html, title=base_name)
    return PrintedDocument(file_name=f"{base_name}.pdf", content_type="application/pdf", content=pdf)
