"""DocumentNo under real concurrency: threads with their own connections (PostgreSQL only).

SQLite serializes writers with a database lock instead of row locks, so this runs where the
row lock matters: with ``DATABASE_URL`` pointing at PostgreSQL (``.ci/run``).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from apps.erp import services
from apps.erp.models import Order

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL"
)

WORKERS = 8
ORDERS_EACH = 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_order_creation_gives_unique_sequential_numbers(
    garden, garden_hq, joe, products
):
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []
    created: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(ORDERS_EACH):
                order = services.order_create(
                    client=garden, org=garden_hq, bpartner=joe,
                    lines=[services.OrderLineInput(product=products["Oak Tree"],
                                                   qty_ordered=Decimal(1))],
                )
                with lock:
                    created.append(order.pk)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    numbers = sorted(int(n) for n in Order.objects.filter(pk__in=created)
                     .values_list("document_no", flat=True))
    assert len(numbers) == WORKERS * ORDERS_EACH
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert all(o.grand_total == Decimal("61.75") for o in Order.objects.filter(pk__in=created))


@pytest.mark.django_db(transaction=True)
def test_concurrent_line_inserts_keep_grand_total(new_order, products):
    """Lines added from many threads at once: GrandTotal is the sum of all of them."""
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(ORDERS_EACH):
                services.order_line_create(
                    order=Order.objects.get(pk=new_order.pk), product=products["Rose Bush"],
                    qty_ordered=1,
                )
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    new_order.refresh_from_db()
    assert new_order.lines.count() == 2 + WORKERS * ORDERS_EACH
    assert new_order.grand_total == Decimal("183.50") + WORKERS * ORDERS_EACH * Decimal("20.00")
    assert len(set(new_order.lines.values_list("line", flat=True))) == new_order.lines.count()
