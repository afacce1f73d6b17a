"""Orders: a paged list, and a detail page with lines, totals, status, the approval history and
an attachments panel. Completing an order is the API's document action (``doc-action: CO``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.context import RequestContext
from apps.core.errors import NotFound
from apps.dms import selectors as dms_selectors
from apps.dms import services as dms_services
from apps.dms.downloads import file_response
from apps.erp import selectors as erp_selectors
from apps.erp.models import Order
from apps.records import access
from apps.records import services as record_services
from apps.ui import uploads
from apps.ui.navigation import page
from apps.ui.session import ui_page
from apps.ui.views.params import page_number
from apps.workflow import selectors as workflow_selectors

ORDER_TABLE = "C_Order"
PAGE_SIZE = 50
SORTS = {
    "number": ("document_no", "id"), "-number": ("-document_no", "-id"),
    "date": ("date_ordered", "id"), "-date": ("-date_ordered", "-id"),
    "total": ("grand_total", "id"), "-total": ("-grand_total", "-id"),
}
COMPLETABLE = (Order.DocStatus.DRAFTED, Order.DocStatus.NOT_APPROVED)


def _order(ctx: RequestContext, order_id: int) -> Order:
    """One order the role may read in the caller's tenant: 403 without the table, 404 for
    another tenant's (or a missing) order."""
    access.check_read(ctx, ORDER_TABLE)
    return erp_selectors.order_get(ctx=ctx, order_id=order_id)


@require_GET
@ui_page
def orders_view(request: HttpRequest, ctx: RequestContext) -> HttpResponse:
    access.check_read(ctx, ORDER_TABLE)
    sort = request.GET.get("sort") or "-number"
    if sort not in SORTS:
        sort = "-number"
    query = (request.GET.get("q") or "").strip()[:60]
    rows = erp_selectors.order_list(ctx=ctx)
    if query:
        rows = rows.filter(document_no__icontains=query) | rows.filter(bpartner__name__icontains=query)
    paged = Paginator(rows.order_by(*SORTS[sort]), PAGE_SIZE).get_page(page_number(request))
    return page(request, ctx, "ui/orders.html", {
        "page": paged, "sort": sort, "query": query,
    }, section="orders")


def _attachments_context(ctx: RequestContext, order: Order) -> dict:
    return {
        "order": order,
        "attachments": list(dms_selectors.attachments_of(ctx, order)),
        "can_attach": access.can_write(ctx, ORDER_TABLE) and ctx.can_write_org(order.org_id),
        "chunk_size": uploads.UPLOAD_CHUNK_SIZE,
        "direct_s3": uploads.direct_uploads_offered(),
    }


@require_GET
@ui_page
def order_view(request: HttpRequest, ctx: RequestContext, order_id: int) -> HttpResponse:
    order = _order(ctx, order_id)
    lines = list(erp_selectors.order_line_list(ctx=ctx, order_id=order.pk).order_by("line", "id"))
    history = list(
        workflow_selectors.process_history(ctx=ctx, table_name=ORDER_TABLE, record_id=order.pk)
        .order_by("created", "id")
    )
    can_write = access.can_write(ctx, ORDER_TABLE) and ctx.can_write_org(order.org_id)
    return page(request, ctx, "ui/order.html", {
        **_attachments_context(ctx, order),
        "lines": lines,
        "history": history,
        "can_complete": can_write and order.doc_status in COMPLETABLE and bool(lines),
    }, section="orders")


@require_POST
@ui_page
def order_complete_view(request: HttpRequest, ctx: RequestContext, order_id: int) -> HttpResponse:
    order = _order(ctx, order_id)
    done = record_services.record_update(ctx, ORDER_TABLE, order.pk, {"doc-action": "CO"})
    if done.doc_status == Order.DocStatus.IN_PROGRESS:
        messages.success(
            request, f"Order {done.document_no} is above your approval amount: it waits for approval."
        )
    else:
        messages.success(request, f"Order {done.document_no} is {done.get_doc_status_display().lower()}.")
    return redirect("ui:order", order_id=order.pk)


def _attachment(ctx: RequestContext, order: Order, attachment_id: int):
    found = dms_selectors.attachments_of(ctx, order).filter(pk=attachment_id).first()
    if found is None:
        raise NotFound("No such attachment.")
    return found


@require_GET
@ui_page
def attachment_download_view(
    request: HttpRequest, ctx: RequestContext, order_id: int, attachment_id: int
) -> HttpResponse:
    attachment = _attachment(ctx, _order(ctx, order_id), attachment_id)
    return file_response(
        request, stored_file=attachment.stored_file, file_name=attachment.name,
        content_type=attachment.content_type,
    )


@require_http_methods(["GET", "POST"])
@ui_page
def attachment_delete_view(
    request: HttpRequest, ctx: RequestContext, order_id: int, attachment_id: int
) -> HttpResponse:
    order = _order(ctx, order_id)
    attachment = _attachment(ctx, order, attachment_id)
    if request.method == "POST":
        dms_services.attachment_remove(ctx=ctx, record=order, name=attachment.name)
        messages.success(request, f"Attachment '{attachment.name}' deleted.")
        return redirect(f"{reverse('ui:order', args=[order.pk])}#attachments")
    return page(request, ctx, "ui/attachment_delete.html", {
        "order": order, "attachment": attachment,
    }, section="orders")


@require_POST
@ui_page
def attachment_place_view(request: HttpRequest, ctx: RequestContext, order_id: int) -> HttpResponse:
    """A finished tus upload becomes an attachment of the order (the API's copy call); answers
    the attachments panel's new list."""
    order = _order(ctx, order_id)
    session = uploads.finished_upload(
        ctx, request.POST.get("upload") or "", request.POST.get("sha256") or ""
    )
    result = dms_services.upload_copy(
        ctx=ctx, session=session, location="ATTACHMENT", table_name=ORDER_TABLE, record_ref=order.pk
    )
    uploads.upload_done(session)
    panel = render_to_string("ui/_attachments_list.html", _attachments_context(ctx, order), request=request)
    return JsonResponse({"name": result.file_name, "list": panel}, status=201)
