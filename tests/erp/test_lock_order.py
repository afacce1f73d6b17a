"""Editing a line while its draft order is deleted: both paths lock the order first (PostgreSQL).

Before, the records service locked the line and the line's hook then locked the order, while an
order delete locked the order and then (cascade) its lines: a deadlock. Now ``lock_parents`` takes
the order before the line, so the edit waits for the delete (or the other way round).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from apps.erp.hooks import OrderLineHooks
from apps.erp.models import Order, OrderLine
from apps.records import services as records

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL"
)


@pytest.mark.django_db(transaction=True)
def test_line_edit_and_order_delete_do_not_deadlock(admin_ctx, new_order, monkeypatch):
    line = new_order.lines.order_by("line").first()
    in_line_hook = threading.Event()
    original = OrderLineHooks.before_save

    def slow_before_save(self, ctx, obj, *, creating):
        # The line edit holds whatever it has locked by now while the delete starts.
        in_line_hook.set()
        time.sleep(1.5)
        return original(self, ctx, obj, creating=creating)

    monkeypatch.setattr(OrderLineHooks, "before_save", slow_before_save)
    outcomes: dict[str, object] = {}

    def edit() -> None:
        try:
            records.record_update(admin_ctx, "C_OrderLine", line.pk, {"QtyOrdered": 7})
            outcomes["edit"] = "ok"
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            outcomes["edit"] = error
        finally:
            connection.close()

    def delete() -> None:
        try:
            assert in_line_hook.wait(10)
            records.record_delete(admin_ctx, "C_Order", new_order.pk)
            outcomes["delete"] = "ok"
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            outcomes["delete"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=edit), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == {"edit": "ok", "delete": "ok"}, outcomes
    assert not Order.objects.filter(pk=new_order.pk).exists()
    assert not OrderLine.objects.filter(pk=line.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_line_delete_locks_order_first(admin_ctx, new_order, monkeypatch):
    """A line delete through the records API locks the order through order_lock; GrandTotal follows."""
    line = new_order.lines.order_by("line").first()
    taken: list[str] = []
    from apps.erp import services as erp

    original_lock = erp.order_lock

    def spy_lock(*, order_id):
        taken.append("order")
        return original_lock(order_id=order_id)

    monkeypatch.setattr(erp, "order_lock", spy_lock)
    records.record_delete(admin_ctx, "C_OrderLine", line.pk)
    assert taken[:1] == ["order"]
    new_order.refresh_from_db()
    assert new_order.grand_total == Decimal("183.50") - line.line_net_amt
