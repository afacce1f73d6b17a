"""Writes of the business tables: document numbers, order totals and the order's document actions.

Every path that writes orders or lines — the records API (through :mod:`apps.erp.hooks`), the
Django admin and direct calls — goes through the functions here, so ``LineNetAmt`` and
``GrandTotal`` are always right:

* ``order_prepare`` / ``order_line_prepare`` run before a row is saved (derive columns, refuse
  edits of processed orders) and lock the order row;
* ``order_totals_update`` runs after a line is saved or deleted and rewrites ``GrandTotal`` from
  the lines, under the same lock.

Document actions (``CO`` complete, ``VO`` void) and the workflow's callbacks
(``order_approve_and_complete``, ``order_reject``) lock the order with ``select_for_update`` and
change its state only from the states they accept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from apps.accounts.models import Client, Organization, User, Warehouse
from apps.core.context import RequestContext
from apps.core.errors import BadRequest, Conflict, Forbidden
from apps.core.models import SYSTEM_CLIENT_ID
from apps.erp.models import AMOUNT, BPartner, DocSequence, DocType, Order, OrderLine, Product

ORDER_SEQUENCE = "DocumentNo_C_Order"
ORDER_TABLE = "C_Order"
CENT = Decimal("0.01")
LINE_STEP = 10

Actor = RequestContext | User | int | None

# Header columns an order keeps once it is processed or awaiting approval (everything else but
# these free-text/choice columns is frozen).
ORDER_FROZEN_FIELDS = (
    "client_id", "org_id", "bpartner_id", "date_ordered", "is_sotrx", "doc_type_target_id",
)
# Columns only the document actions change: a generic write never sets them. (IsApproved is
# written by the approval workflow, see ``_guard_approval``.)
ORDER_STATE_FIELDS = ("document_no", "doc_status", "doc_action", "processed", "grand_total")
# States in which an order's lines may not change.
LINES_LOCKED_STATES = (
    Order.DocStatus.COMPLETED, Order.DocStatus.VOIDED, Order.DocStatus.IN_PROGRESS,
)


def _actor_user_id(actor: Actor) -> int | None:
    if actor is None:
        return None
    if isinstance(actor, RequestContext):
        return actor.user_id
    if isinstance(actor, User):
        return actor.pk
    return int(actor)


def _stamp(obj: Any, actor: Actor, *, creating: bool) -> None:
    user_id = _actor_user_id(actor)
    if user_id is None:
        return
    if creating and obj.created_by_id is None:
        obj.created_by_id = user_id
    obj.updated_by_id = user_id


# Amount columns hold 20 digits with 2 decimals: anything from 10**18 up does not fit.
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT["max_digits"] - AMOUNT["decimal_places"])


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _amount(value: Decimal, column: str) -> Decimal:
    """``value`` rounded to cents; 400 naming ``column`` when it does not fit an amount column."""
    if not value.is_finite() or abs(value) >= AMOUNT_LIMIT:
        raise BadRequest({column: f"The amount is out of range (at most {AMOUNT_LIMIT - CENT})."})
    return _money(value)


# --- Document numbers -----------------------------------------------------------------------------


@transaction.atomic
def document_no_next(*, client_id: int, name: str = ORDER_SEQUENCE) -> str:
    """The next number of the client's sequence ``name``; the row lock serializes concurrent callers.

    The counter row is created on first use (a unique constraint makes concurrent creation safe),
    then taken with ``SELECT ... FOR UPDATE`` and advanced: no ``MAX()+1`` race, and a rolled-back
    transaction gives its number back.
    """
    DocSequence.objects.get_or_create(client_id=client_id, name=name)
    sequence = DocSequence.objects.select_for_update().get(client_id=client_id, name=name)
    number = sequence.current_next
    sequence.current_next = number + sequence.increment
    sequence.save(update_fields=["current_next", "updated"])
    return f"{sequence.prefix}{number}{sequence.suffix}"


def sequence_next_value(client_id: int, name: str) -> str:
    """The records dictionary's sequence source (``@Sequence=name@`` column defaults)."""
    return document_no_next(client_id=client_id, name=name)


def _default_doc_type_id(order: Order) -> int | None:
    """The client's default document type for the order's IsSOTrx (iDempiere's MOrder rule)."""
    return (
        DocType.objects.filter(client_id=order.client_id, is_sotrx=order.is_sotrx, is_active=True)
        .order_by("-is_default", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def _order_document_no(order: Order) -> str:
    """The next number of the order's document type's sequence (else the client's C_Order one).

    No document type: the default one for its IsSOTrx; a document type sets IsSOTrx."""
    name = ORDER_SEQUENCE
    if order.doc_type_target_id is None:
        order.doc_type_target_id = _default_doc_type_id(order)
    if order.doc_type_target_id is not None:
        doc_type = DocType.objects.select_related("docno_sequence").filter(pk=order.doc_type_target_id).first()
        if doc_type is None or doc_type.client_id != order.client_id:
            raise BadRequest("The document type belongs to another client.")
        if doc_type.docno_sequence is not None:
            name = doc_type.docno_sequence.name
        order.is_sotrx = doc_type.is_sotrx
    return document_no_next(client_id=order.client_id, name=name)


# --- Orders: the parts every write path shares ----------------------------------------------------


def _lock_order(order_id: int) -> Order:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise BadRequest(f"Order {order_id} does not exist.")
    return order


def order_lock(*, order_id: int) -> Order:
    """Lock an order row (before any of its lines: the one lock order of every write path)."""
    return _lock_order(order_id)


def _lines_total(order_id: int) -> Decimal:
    total = OrderLine.objects.filter(order_id=order_id).aggregate(total=Sum("line_net_amt"))["total"]
    return _amount(total or Decimal(0), "GrandTotal")


def order_prepare(*, order: Order, creating: bool, actor: Actor = None) -> None:
    """Before an order row is saved: defaults and document number, or the frozen-column guard.

    A generic write never changes the state columns (document number, status, processed, total)
    and sets IsApproved only with the authority to approve (``_guard_approval``); an order that
    is completed, voided or awaiting approval keeps its partner, date and type.
    """
    if order.bpartner_id is not None:
        partner_client = BPartner.objects.filter(pk=order.bpartner_id).values_list(
            "client_id", flat=True
        ).first()
        if partner_client != order.client_id:
            raise BadRequest("The business partner belongs to another client.")
    if order.sales_rep_id is not None:
        rep_client = User.objects.filter(pk=order.sales_rep_id).values_list(
            "client_id", flat=True
        ).first()
        if rep_client not in (None, order.client_id):
            raise BadRequest("The sales representative belongs to another client.")
    if order.date_ordered is None:
        order.date_ordered = timezone.localdate()
    if order.warehouse_id is not None:
        warehouse_client = Warehouse.objects.filter(pk=order.warehouse_id).values_list(
            "client_id", flat=True
        ).first()
        if warehouse_client != order.client_id:
            raise BadRequest("The warehouse belongs to another client.")
    if creating:
        order.document_no = _order_document_no(order)
        order.doc_status = Order.DocStatus.DRAFTED
        order.doc_action = Order.DocAction.COMPLETE
        order.is_approved = False
        order.processed = False
        order.grand_total = Decimal(0)
    else:
        current = _lock_order(order.pk)
        if current.doc_status in LINES_LOCKED_STATES:
            changed = [f for f in ORDER_FROZEN_FIELDS if getattr(order, f) != getattr(current, f)]
            if changed:
                raise Conflict(
                    f"Order {current.document_no} is {current.get_doc_status_display()}: "
                    f"{', '.join(Order._meta.get_field(f.removesuffix('_id')).db_column for f in changed)} "
                    "can no longer change."
                )
        for field_name in ORDER_STATE_FIELDS:
            setattr(order, field_name, getattr(current, field_name))
        order.grand_total = _lines_total(order.pk)
        _guard_approval(order, current, actor)
    _stamp(order, actor, creating=creating)


def _guard_approval(order: Order, current: Order, actor: Actor) -> None:
    """IsApproved may be written (the approval workflow does so), but only within the rules.

    Approving needs the authority: a caller whose role's approval amount is below the order's
    total cannot set it (403). A completed or voided order keeps its value.
    """
    if current.doc_status in (Order.DocStatus.COMPLETED, Order.DocStatus.VOIDED):
        order.is_approved = current.is_approved
    if order.is_approved == current.is_approved:
        return
    if order.is_approved and isinstance(actor, RequestContext) and approval_needed(
        ctx=actor, amount=order.grand_total
    ):
        raise Forbidden(
            f"Your role may approve up to {actor.role.approval_amount}; order "
            f"{current.document_no} totals {order.grand_total}."
        )


def order_delete_check(*, order: Order) -> None:
    """Only draft or rejected orders may be deleted (their lines go with them)."""
    current = _lock_order(order.pk)
    if current.doc_status in LINES_LOCKED_STATES:
        raise Conflict(
            f"Order {current.document_no} is {current.get_doc_status_display()} and cannot be "
            "deleted."
        )


def _editable_order_for_line(order_id: int | None) -> Order:
    if order_id is None:
        raise BadRequest("An order line needs its order (C_Order_ID).")
    order = _lock_order(order_id)
    if order.doc_status in LINES_LOCKED_STATES:
        raise Conflict(
            f"Order {order.document_no} is {order.get_doc_status_display()}: its lines cannot "
            "change."
        )
    return order


def order_line_prepare(*, line: OrderLine, creating: bool, actor: Actor = None) -> Order:
    """Before a line is saved: lock its order, refuse if processed, derive Line/PriceActual/LineNetAmt."""
    order = _editable_order_for_line(line.order_id)
    previous = None
    if not creating:
        previous = (
            OrderLine.objects.filter(pk=line.pk)
            .values("order_id", "product_id", "price_actual", "qty_entered", "qty_ordered")
            .first()
        )
        if previous is not None and previous["order_id"] != line.order_id:
            raise BadRequest("An order line cannot move to another order.")
        if (
            previous is not None
            and previous["product_id"] != line.product_id
            and previous["price_actual"] == line.price_actual
        ):
            # Another product without a new price: the new product's list price applies.
            line.price_actual = None
    line.client_id = order.client_id
    line.org_id = order.org_id
    product = Product.objects.filter(pk=line.product_id).only("client_id", "price_list").first()
    if product is None or product.client_id not in (order.client_id, SYSTEM_CLIENT_ID):
        raise BadRequest("The product does not exist for this client.")
    if line.price_actual is None:
        line.price_actual = product.price_list
    _line_quantities(line, previous)
    if not line.line:
        last = OrderLine.objects.filter(order_id=order.pk).aggregate(last=Max("line"))["last"]
        line.line = (last or 0) + LINE_STEP
    try:
        amount = Decimal(line.qty_ordered) * Decimal(line.price_actual)
    except (ArithmeticError, TypeError, ValueError):
        raise BadRequest({"LineNetAmt": "QtyOrdered × PriceActual is not a number."}) from None
    line.line_net_amt = _amount(amount, "LineNetAmt")
    _stamp(line, actor, creating=creating)
    return order


def _line_quantities(line: OrderLine, previous: dict[str, Any] | None) -> None:
    """QtyEntered and QtyOrdered follow each other (one unit of measure): a new line takes the one
    given for the other (neither: 1); a change of one alone carries over to the other."""
    if previous is not None:
        entered_changed = line.qty_entered != previous["qty_entered"]
        ordered_changed = line.qty_ordered != previous["qty_ordered"]
        if entered_changed and not ordered_changed and line.qty_entered is not None:
            line.qty_ordered = line.qty_entered
        elif ordered_changed and not entered_changed:
            line.qty_entered = line.qty_ordered
    if line.qty_ordered is None:
        line.qty_ordered = line.qty_entered if line.qty_entered is not None else Decimal(1)
    if line.qty_entered is None:
        line.qty_entered = line.qty_ordered


def order_line_delete_check(*, line: OrderLine) -> Order:
    return _editable_order_for_line(line.order_id)


def order_totals_update(*, order_id: int, actor: Actor = None) -> Decimal:
    """Rewrite the order's GrandTotal from its lines (after a line was saved or deleted)."""
    with transaction.atomic():
        _lock_order(order_id)
        total = _lines_total(order_id)
        changes: dict[str, Any] = {"grand_total": total, "updated": timezone.now()}
        user_id = _actor_user_id(actor)
        if user_id is not None:
            changes["updated_by_id"] = user_id
        Order.objects.filter(pk=order_id).update(**changes)
    return total


def _sync_cached_order(line: OrderLine, total: Decimal) -> None:
    # A caller holding the parent instance (records API child arrays, admin) sees the new total.
    cached = line._state.fields_cache.get("order")
    if cached is not None:
        cached.grand_total = total


# --- Orders: whole writes (admin and direct callers) ----------------------------------------------


@dataclass(frozen=True)
class OrderLineInput:
    product: Product
    qty_ordered: Decimal
    price_actual: Decimal | None = None
    description: str = ""


@transaction.atomic
def order_save(*, order: Order, actor: Actor = None) -> Order:
    """Insert or update an order header (the admin's and order_create's path)."""
    creating = order.pk is None or not Order.objects.filter(pk=order.pk).exists()
    order_prepare(order=order, creating=creating, actor=actor)
    order.save()
    return order


@transaction.atomic
def order_create(
    *,
    client: Client,
    bpartner: BPartner,
    org: Organization | None = None,
    date_ordered: date | None = None,
    is_sotrx: bool = True,
    description: str = "",
    priority_rule: str = Order.PriorityRule.MEDIUM,
    sales_rep: User | None = None,
    doc_type: DocType | None = None,
    lines: Iterable[OrderLineInput] = (),
    actor: Actor = None,
) -> Order:
    order = Order(
        client=client,
        doc_type_target=doc_type,
        org_id=org.pk if org is not None else 0,
        bpartner=bpartner,
        date_ordered=date_ordered or timezone.localdate(),
        is_sotrx=is_sotrx,
        description=description,
        priority_rule=priority_rule,
        sales_rep=sales_rep,
    )
    order_save(order=order, actor=actor)
    for item in lines:
        order_line_create(
            order=order, product=item.product, qty_ordered=item.qty_ordered,
            price_actual=item.price_actual, description=item.description, actor=actor,
        )
    order.refresh_from_db()
    return order


@transaction.atomic
def order_update(*, order: Order, values: dict[str, Any], actor: Actor = None) -> Order:
    """Change header attributes (model attribute names); the state columns are not writable."""
    for name, value in values.items():
        setattr(order, name, value)
    return order_save(order=order, actor=actor)


@transaction.atomic
def order_delete(*, order: Order) -> None:
    order_delete_check(order=order)
    order.delete()


@transaction.atomic
def order_line_save(*, line: OrderLine, actor: Actor = None) -> OrderLine:
    """Insert or update a line, then the order's GrandTotal."""
    creating = line.pk is None or not OrderLine.objects.filter(pk=line.pk).exists()
    order_line_prepare(line=line, creating=creating, actor=actor)
    line.save()
    _sync_cached_order(line, order_totals_update(order_id=line.order_id, actor=actor))
    return line


@transaction.atomic
def order_line_create(
    *,
    order: Order,
    product: Product,
    qty_ordered: Decimal | int | str,
    price_actual: Decimal | int | str | None = None,
    line_no: int = 0,
    description: str = "",
    actor: Actor = None,
) -> OrderLine:
    line = OrderLine(
        order=order,
        product=product,
        qty_ordered=Decimal(str(qty_ordered)),
        price_actual=None if price_actual is None else Decimal(str(price_actual)),
        line=line_no,
        description=description,
    )
    return order_line_save(line=line, actor=actor)


@transaction.atomic
def order_line_update(*, line: OrderLine, values: dict[str, Any], actor: Actor = None) -> OrderLine:
    for name, value in values.items():
        setattr(line, name, value)
    return order_line_save(line=line, actor=actor)


@transaction.atomic
def order_line_delete(*, line: OrderLine, actor: Actor = None) -> Decimal:
    """Delete a line of an editable order; returns the order's new GrandTotal."""
    order_line_delete_check(line=line)
    order_id = line.order_id
    line.delete()
    total = order_totals_update(order_id=order_id, actor=actor)
    _sync_cached_order(line, total)
    return total


# --- Document actions -----------------------------------------------------------------------------


def _set_state(order: Order, actor: Actor, **state: Any) -> Order:
    for name, value in state.items():
        setattr(order, name, value)
    order.updated_by_id = _actor_user_id(actor) or order.updated_by_id
    order.save(update_fields=[*state, "updated", "updated_by"])
    return order


def _approved_and_completed(order: Order, actor: Actor) -> Order:
    return _set_state(
        order, actor,
        doc_status=Order.DocStatus.COMPLETED, doc_action=Order.DocAction.CLOSE,
        is_approved=True, processed=True,
    )


def approval_needed(*, ctx: RequestContext, amount: Decimal) -> bool:
    """True when ``amount`` exceeds what the caller's role may approve (None = unlimited)."""
    limit = ctx.role.approval_amount
    return limit is not None and amount > limit


@transaction.atomic
def order_complete(*, ctx: RequestContext, order: Order | int) -> Order:
    """Document action CO: complete at once, or go to IP and start the approval workflow.

    Within the caller's approval amount the order is approved and completed (CO, DocAction CL).
    Above it the order waits in IP, not approved, and every registered approval starter is called
    (the workflow app registers the *Order Approval* process); without one it simply stays in IP.
    """
    from apps.records.registry import approval_starters

    order = _lock_order(order if isinstance(order, int) else order.pk)
    if order.client_id != ctx.client_id:
        raise BadRequest("The order belongs to another client.")
    status = order.doc_status
    if status == Order.DocStatus.IN_PROGRESS:
        raise Conflict(f"Order {order.document_no} is already waiting for approval.")
    if status in (Order.DocStatus.COMPLETED, Order.DocStatus.VOIDED):
        raise Conflict(f"Order {order.document_no} is {order.get_doc_status_display()}.")
    if not OrderLine.objects.filter(order_id=order.pk).exists():
        raise BadRequest(f"Order {order.document_no} has no lines.")
    order.grand_total = _lines_total(order.pk)
    if not approval_needed(ctx=ctx, amount=order.grand_total):
        order.save(update_fields=["grand_total"])
        return _approved_and_completed(order, ctx)
    _set_state(
        order, ctx,
        doc_status=Order.DocStatus.IN_PROGRESS, doc_action=Order.DocAction.COMPLETE,
        is_approved=False, processed=False, grand_total=order.grand_total,
    )
    for start_approval in approval_starters(ORDER_TABLE):
        start_approval(ctx, order)
    return order


@transaction.atomic
def order_approve_and_complete(*, order: Order | int, actor: Actor = None) -> Order:
    """The workflow approved the order: IsApproved=Y, DocStatus CO. Idempotent on a completed order."""
    order = _lock_order(order if isinstance(order, int) else order.pk)
    if order.doc_status == Order.DocStatus.COMPLETED:
        return order
    if order.doc_status not in (Order.DocStatus.IN_PROGRESS, Order.DocStatus.DRAFTED):
        raise Conflict(
            f"Order {order.document_no} is {order.get_doc_status_display()} and cannot be "
            "approved."
        )
    order.grand_total = _lines_total(order.pk)
    order.save(update_fields=["grand_total"])
    return _approved_and_completed(order, actor)


@transaction.atomic
def order_reject(*, order: Order | int, actor: Actor = None) -> Order:
    """The workflow rejected the order: DocStatus NA, not approved; it may be edited and completed again.

    Idempotent on an order already rejected.
    """
    order = _lock_order(order if isinstance(order, int) else order.pk)
    if order.doc_status == Order.DocStatus.NOT_APPROVED:
        return order
    if order.doc_status not in (Order.DocStatus.IN_PROGRESS, Order.DocStatus.DRAFTED):
        raise Conflict(
            f"Order {order.document_no} is {order.get_doc_status_display()} and cannot be "
            "rejected."
        )
    return _set_state(
        order, actor,
        doc_status=Order.DocStatus.NOT_APPROVED, doc_action=Order.DocAction.COMPLETE,
        is_approved=False, processed=False,
    )


@transaction.atomic
def order_void(*, order: Order | int, actor: Actor = None) -> Order:
    """Document action VO for an order that is not completed (DR, IP or NA)."""
    order = _lock_order(order if isinstance(order, int) else order.pk)
    if isinstance(actor, RequestContext) and order.client_id != actor.client_id:
        raise BadRequest("The order belongs to another client.")
    if order.doc_status in (Order.DocStatus.COMPLETED, Order.DocStatus.VOIDED):
        raise Conflict(
            f"Order {order.document_no} is {order.get_doc_status_display()} and cannot be voided."
        )
    return _set_state(
        order, actor,
        doc_status=Order.DocStatus.VOIDED, doc_action=Order.DocAction.NONE,
        is_approved=False, processed=True,
    )


def doc_action_complete(ctx: RequestContext, order: Order) -> Order:
    """``register_doc_action("C_Order", "CO", ...)`` handler."""
    return order_complete(ctx=ctx, order=order)


def doc_action_approve(ctx: RequestContext, order: Order) -> Order:
    """``register_doc_action("C_Order", "AP", ...)``: the approval workflow's *Complete* step.

    Only an order already approved (IsApproved set by its approver) or a caller whose role may
    approve its total can be completed this way, so nobody approves their own order through it.
    """
    current = _lock_order(order.pk)
    if current.client_id != ctx.client_id:
        raise BadRequest("The order belongs to another client.")
    if (
        current.doc_status != Order.DocStatus.COMPLETED
        and not current.is_approved
        and approval_needed(ctx=ctx, amount=_lines_total(current.pk))
    ):
        raise Forbidden(
            f"Order {current.document_no} is not approved and exceeds your approval amount."
        )
    return order_approve_and_complete(order=current, actor=ctx)


def doc_action_reject(ctx: RequestContext, order: Order) -> Order:
    """``register_doc_action("C_Order", "RJ", ...)``: the approval workflow's *Reject* step."""
    if order.client_id != ctx.client_id:
        raise BadRequest("The order belongs to another client.")
    return order_reject(order=order, actor=ctx)


def doc_action_void(ctx: RequestContext, order: Order) -> Order:
    """``register_doc_action("C_Order", "VO", ...)`` handler."""
    return order_void(order=order, actor=ctx)
