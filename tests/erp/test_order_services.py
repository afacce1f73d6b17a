"""Order services: document numbers, LineNetAmt/GrandTotal on every change, state guards."""

from decimal import Decimal

import pytest

from apps.core.errors import BadRequest, Conflict
from apps.erp import services
from apps.erp.models import Order, OrderLine


def _numbers(orders: list[Order]) -> list[int]:
    return [int(order.document_no) for order in orders]


def _order(client, org, partner, actor=None) -> Order:
    return services.order_create(client=client, org=org, bpartner=partner, actor=actor)


def test_document_no_sequential_per_client(garden, garden_hq, joe, acme):
    from apps.erp.models import BPartner

    runner = BPartner.objects.get(client=acme, name="Road Runner")
    acme_hq = runner.client.organizations.get(value="HQ")
    garden_orders, acme_orders = [], []
    for _ in range(3):
        garden_orders.append(_order(garden, garden_hq, joe))
        acme_orders.append(_order(acme, acme_hq, runner))
    garden_numbers, acme_numbers = _numbers(garden_orders), _numbers(acme_orders)
    assert garden_numbers == list(range(garden_numbers[0], garden_numbers[0] + 3))
    assert acme_numbers == list(range(acme_numbers[0], acme_numbers[0] + 3))
    # The demo's two GardenWorld orders came first; Acme's sequence is its own.
    demo_numbers = sorted(
        int(n) for n in Order.objects.filter(client=garden).exclude(
            pk__in=[o.pk for o in garden_orders]).values_list("document_no", flat=True)
    )
    assert garden_numbers[0] == demo_numbers[-1] + 1
    assert acme_numbers[0] == 1000


def test_document_no_rolled_back_transaction_gives_number_back(garden, garden_hq, joe):
    from django.db import transaction

    first = _order(garden, garden_hq, joe)
    with pytest.raises(RuntimeError), transaction.atomic():
        _order(garden, garden_hq, joe)
        raise RuntimeError("abort")
    second = _order(garden, garden_hq, joe)
    assert int(second.document_no) == int(first.document_no) + 1


def test_document_no_interleaved_writers_never_collide(garden, garden_hq, joe):
    """Many numbers drawn in nested transactions and direct calls: all distinct, no gaps."""
    from django.db import transaction

    drawn = []
    for index in range(20):
        if index % 2:
            with transaction.atomic():
                drawn.append(services.document_no_next(client_id=garden.pk))
        else:
            drawn.append(_order(garden, garden_hq, joe).document_no)
    values = [int(v) for v in drawn]
    assert len(set(values)) == 20
    assert values == list(range(values[0], values[0] + 20))


def test_new_order_lines_and_total(new_order):
    lines = list(new_order.lines.order_by("line"))
    assert [line.line for line in lines] == [10, 20]
    assert [line.price_actual for line in lines] == [Decimal("61.75"), Decimal("20.00")]
    assert [line.line_net_amt for line in lines] == [Decimal("123.50"), Decimal("60.00")]
    assert new_order.grand_total == Decimal("183.50")
    assert new_order.doc_status == Order.DocStatus.DRAFTED
    assert new_order.doc_action == Order.DocAction.COMPLETE
    assert new_order.document_no


def test_line_update_and_delete_keep_total(new_order, products, user_ctx):
    oak, rose = new_order.lines.order_by("line")
    services.order_line_update(
        line=oak, values={"qty_ordered": Decimal(4), "price_actual": Decimal(50)}, actor=user_ctx
    )
    oak.refresh_from_db()
    assert oak.line_net_amt == Decimal("200.00")
    assert oak.updated_by_id == user_ctx.user_id
    new_order.refresh_from_db()
    assert new_order.grand_total == Decimal("260.00")

    holly = services.order_line_create(
        order=new_order, product=products["Holly Bush"], qty_ordered="1.5", actor=user_ctx
    )
    assert holly.line == 30
    assert holly.line_net_amt == Decimal("45.00")
    assert new_order.grand_total == Decimal("305.00")  # the cached parent follows

    total = services.order_line_delete(line=rose, actor=user_ctx)
    assert total == Decimal("245.00")
    new_order.refresh_from_db()
    assert new_order.grand_total == Decimal("245.00")
    assert new_order.grand_total == sum(line.line_net_amt for line in new_order.lines.all())


def test_line_rounding_and_explicit_zero_price(new_order, products):
    line = services.order_line_create(
        order=new_order, product=products["Elm Tree"], qty_ordered="0.333", price_actual="10.00"
    )
    assert line.line_net_amt == Decimal("3.33")
    free = services.order_line_create(
        order=new_order, product=products["Elm Tree"], qty_ordered=1, price_actual=0
    )
    assert free.price_actual == Decimal(0) and free.line_net_amt == Decimal("0.00")


def test_header_update_cannot_set_state_columns(new_order):
    services.order_update(
        order=new_order,
        values={"grand_total": Decimal(1), "doc_status": "CO", "document_no": "X",
                "description": "changed"},
    )
    new_order.refresh_from_db()
    assert new_order.grand_total == Decimal("183.50")
    assert new_order.doc_status == Order.DocStatus.DRAFTED
    assert new_order.document_no != "X"
    assert new_order.description == "changed"


def test_line_of_other_client_product_refused(new_order, acme):
    from apps.erp.models import Product, ProductCategory

    category = ProductCategory.objects.create(client=acme, value="X", name="X")
    foreign = Product.objects.create(client=acme, value="X", name="X", product_category=category)
    with pytest.raises(BadRequest):
        services.order_line_create(order=new_order, product=foreign, qty_ordered=1)


def test_order_with_other_client_partner_refused(garden, garden_hq, acme):
    from apps.erp.models import BPartner

    with pytest.raises(BadRequest):
        _order(garden, garden_hq, BPartner.objects.get(client=acme, name="Road Runner"))


# --- document actions -----------------------------------------------------------------------------


def test_complete_small_order_within_approval_amount(small_order, user_ctx):
    order = services.order_complete(ctx=user_ctx, order=small_order)
    assert order.doc_status == Order.DocStatus.COMPLETED
    assert order.is_approved is True
    assert order.processed is True
    assert order.doc_action == Order.DocAction.CLOSE
    assert order.grand_total == Decimal("337.50")


def test_complete_large_order_over_approval_amount_waits(large_order, user_ctx, monkeypatch):
    started = []
    monkeypatch.setattr(
        "apps.records.registry.approval_starters",
        lambda table: [lambda ctx, obj: started.append((table, obj.pk)) or True],
    )
    order = services.order_complete(ctx=user_ctx, order=large_order)
    order.refresh_from_db()
    assert order.doc_status == Order.DocStatus.IN_PROGRESS
    assert order.is_approved is False
    assert order.processed is False
    assert started == [("C_Order", large_order.pk)]


def test_complete_large_order_without_workflow_stays_in_progress(large_order, user_ctx, monkeypatch):
    monkeypatch.setattr("apps.records.registry.approval_starters", lambda table: [])
    order = services.order_complete(ctx=user_ctx, order=large_order)
    assert (order.doc_status, order.is_approved) == (Order.DocStatus.IN_PROGRESS, False)
    with pytest.raises(Conflict):
        services.order_complete(ctx=user_ctx, order=large_order)


def test_complete_large_order_unlimited_role(large_order, admin_ctx):
    order = services.order_complete(ctx=admin_ctx, order=large_order)
    assert (order.doc_status, order.is_approved) == (Order.DocStatus.COMPLETED, True)


def test_complete_twice_and_empty_order(small_order, garden, garden_hq, joe, user_ctx):
    services.order_complete(ctx=user_ctx, order=small_order)
    with pytest.raises(Conflict):
        services.order_complete(ctx=user_ctx, order=small_order)
    with pytest.raises(BadRequest):
        services.order_complete(ctx=user_ctx, order=_order(garden, garden_hq, joe))


def test_completed_order_refuses_line_changes(small_order, products, user_ctx):
    services.order_complete(ctx=user_ctx, order=small_order)
    line = small_order.lines.first()
    with pytest.raises(Conflict):
        services.order_line_update(line=line, values={"qty_ordered": Decimal(99)})
    with pytest.raises(Conflict):
        services.order_line_create(order=small_order, product=products["Oak Tree"], qty_ordered=1)
    with pytest.raises(Conflict):
        services.order_line_delete(line=line)
    with pytest.raises(Conflict):
        services.order_delete(order=small_order)
    with pytest.raises(Conflict):
        services.order_void(order=small_order)
    # Free-text and priority columns of a completed order may still change.
    services.order_update(order=small_order, values={"priority_rule": "1", "description": "x"})
    small_order.refresh_from_db()
    assert small_order.priority_rule == "1"
    assert small_order.lines.count() == 2
    assert small_order.grand_total == Decimal("337.50")


def test_approve_and_complete_is_idempotent(large_order, user_ctx, admin_ctx, monkeypatch):
    monkeypatch.setattr("apps.records.registry.approval_starters", lambda table: [])
    services.order_complete(ctx=user_ctx, order=large_order)
    first = services.order_approve_and_complete(order=large_order, actor=admin_ctx)
    again = services.order_approve_and_complete(order=large_order.pk, actor=admin_ctx)
    assert first.doc_status == again.doc_status == Order.DocStatus.COMPLETED
    assert again.is_approved is True
    assert again.updated_by_id == admin_ctx.user_id
    with pytest.raises(Conflict):
        services.order_reject(order=large_order, actor=admin_ctx)


def test_reject_then_edit_and_complete_again(large_order, user_ctx, admin_ctx, monkeypatch):
    monkeypatch.setattr("apps.records.registry.approval_starters", lambda table: [])
    services.order_complete(ctx=user_ctx, order=large_order)
    rejected = services.order_reject(order=large_order, actor=admin_ctx)
    assert (rejected.doc_status, rejected.is_approved) == (Order.DocStatus.NOT_APPROVED, False)
    assert services.order_reject(order=large_order, actor=admin_ctx).doc_status == "NA"
    with pytest.raises(Conflict):
        services.order_approve_and_complete(order=large_order, actor=admin_ctx)
    # A rejected order can be made smaller and completed within the user's amount.
    oak = large_order.lines.get(product__name="Oak Tree")
    services.order_line_update(line=oak, values={"qty_ordered": Decimal(10)})
    order = services.order_complete(ctx=user_ctx, order=large_order)
    assert order.grand_total == Decimal("6117.50")
    assert order.doc_status == Order.DocStatus.COMPLETED


def test_void_draft_order(new_order, user_ctx):
    voided = services.order_void(order=new_order, actor=user_ctx)
    assert (voided.doc_status, voided.processed, voided.doc_action) == ("VO", True, "--")
    with pytest.raises(Conflict):
        services.order_line_create(
            order=new_order, product=OrderLine.objects.first().product, qty_ordered=1
        )
    with pytest.raises(Conflict):
        services.order_void(order=new_order, actor=user_ctx)


def test_approval_column_needs_authority(large_order, user_ctx, admin_ctx, monkeypatch):
    from apps.core.errors import Forbidden

    monkeypatch.setattr("apps.records.registry.approval_starters", lambda table: [])
    services.order_complete(ctx=user_ctx, order=large_order)
    with pytest.raises(Forbidden):
        services.order_update(order=large_order, values={"is_approved": True}, actor=user_ctx)
    with pytest.raises(Forbidden):
        services.doc_action_approve(user_ctx, large_order)
    services.order_update(order=large_order, values={"is_approved": True}, actor=admin_ctx)
    order = services.doc_action_approve(user_ctx, large_order)  # approved by the supervisor
    assert (order.doc_status, order.is_approved) == ("CO", True)


def test_product_change_reprices_unless_price_given(new_order, products):
    oak, rose = new_order.lines.order_by("line")
    services.order_line_update(line=oak, values={"product": products["Holly Bush"]})
    assert (oak.price_actual, oak.line_net_amt) == (Decimal("30.00"), Decimal("60.00"))
    services.order_line_update(
        line=rose, values={"product": products["Elm Tree"], "price_actual": Decimal("1.25")}
    )
    assert (rose.price_actual, rose.line_net_amt) == (Decimal("1.25"), Decimal("3.75"))
    new_order.refresh_from_db()
    assert new_order.grand_total == Decimal("63.75")


def test_selectors_scope_by_tenant(user_ctx, acme):
    from apps.accounts.models import User
    from apps.accounts.services import context_default_for_user
    from apps.core.errors import NotFound
    from apps.erp import selectors

    acme_ctx = context_default_for_user(User.objects.get(username="AcmeAdmin"))
    assert [p.name for p in selectors.bpartner_list(ctx=acme_ctx)] == ["Road Runner"]
    assert not selectors.order_list(ctx=acme_ctx).exists()
    assert not selectors.product_list(ctx=acme_ctx).exists()
    garden_orders = list(selectors.order_list(ctx=user_ctx))
    assert len(garden_orders) == 2
    with pytest.raises(NotFound):
        selectors.order_get(ctx=acme_ctx, order_id=garden_orders[0].pk)
    order = selectors.order_get(ctx=user_ctx, order_id=garden_orders[0].pk)
    assert selectors.order_line_list(ctx=user_ctx, order_id=order.pk).count() == 2
    assert selectors.element_value_list(ctx=user_ctx).filter(is_summary=True).exists()
