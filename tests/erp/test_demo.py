from decimal import Decimal

from django.core.management import call_command

from apps.erp.models import BPartner, ElementValue, Order, OrderLine, Product


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (BPartner, Product, ElementValue, Order, OrderLine)
    }


def test_demo_rows_and_totals(garden, acme, small_order, large_order):
    names = set(BPartner.objects.filter(client=garden).values_list("name", flat=True))
    assert {"Joe Block", "C&W Construction", "Seed Farm Inc.", "Patio Fun, Inc.",
            "Tree Farm Inc."} <= names
    assert BPartner.objects.get(client=garden, name="Joe Block").is_customer
    products = set(Product.objects.filter(client=garden).values_list("name", flat=True))
    assert {"Azalea Bush", "Elm Tree", "Oak Tree", "Rose Bush", "Holly Bush"} <= products
    assert ElementValue.objects.filter(client=garden, is_summary=True).exists()
    assert set(ElementValue.objects.filter(client=garden).values_list("account_type", flat=True)) >= {
        "A", "L", "R", "E"}
    assert small_order.grand_total == Decimal("337.50")
    assert large_order.grand_total == Decimal("17850.00")
    for order in (small_order, large_order):
        assert order.doc_status == Order.DocStatus.DRAFTED
        assert order.grand_total == sum(line.line_net_amt for line in order.lines.all())
    assert list(BPartner.objects.filter(client=acme).values_list("name", flat=True)) == ["Road Runner"]


def test_load_demo_twice_gives_same_counts(demo):
    before = _counts()
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _counts() == before
