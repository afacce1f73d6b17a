"""ERP part of the demo (DESIGN §9): GardenWorld's partners, products, accounts and two orders;
Acme's own partner. Idempotent: rows are found by their search key, demo orders by description.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from apps.accounts.models import Client, Organization, User
from apps.core.models import ANY_ORG_ID
from apps.erp import services
from apps.erp.models import (
    BPartner,
    BPGroup,
    DocSequence,
    DocType,
    ElementValue,
    Order,
    Product,
    ProductCategory,
)

GARDEN_GROUPS = {
    "Standard": "Standard Customers",
    "Vendors": "Vendors",
}
# value: (name, group, is_customer, is_vendor)
GARDEN_PARTNERS = {
    "JoeBlock": ("Joe Block", "Standard", True, False),
    "C&W": ("C&W Construction", "Standard", True, False),
    "SeedFarm": ("Seed Farm Inc.", "Vendors", False, True),
    "PatioFun": ("Patio Fun, Inc.", "Vendors", False, True),
    "TreeFarm": ("Tree Farm Inc.", "Vendors", False, True),
}
GARDEN_CATEGORIES = {"Bush": "Bushes", "Tree": "Trees", "Service": "Garden Services"}
# value: (name, category, type, list price)
GARDEN_PRODUCTS = {
    "Azalea": ("Azalea Bush", "Bush", Product.ProductType.ITEM, "23.75"),
    "Elm": ("Elm Tree", "Tree", Product.ProductType.ITEM, "55.00"),
    "Oak": ("Oak Tree", "Tree", Product.ProductType.ITEM, "61.75"),
    "Rose": ("Rose Bush", "Bush", Product.ProductType.ITEM, "20.00"),
    "Holly": ("Holly Bush", "Bush", Product.ProductType.ITEM, "30.00"),
    "Planting": ("Planting Service", "Service", Product.ProductType.SERVICE, "45.00"),
}
# value: (name, account type, summary value or None, is_summary)
GARDEN_ACCOUNTS = {
    "1": ("Assets", "A", None, True),
    "11100": ("Checking Account", "A", "1", False),
    "12110": ("Accounts Receivable - Trade", "A", "1", False),
    "2": ("Liabilities", "L", None, True),
    "21100": ("Accounts Payable - Trade", "L", "2", False),
    "4": ("Sales", "R", None, True),
    "41000": ("Trade Revenue", "R", "4", False),
    "5": ("Cost of Goods Sold", "E", None, True),
    "51100": ("Product Expense", "E", "5", False),
}
# description: (date, [(product value, qty)]); one order under and one over GardenUser's 10,000.
SMALL_ORDER = "Demo: spring bushes for Joe Block"
LARGE_ORDER = "Demo: orchard planting for Joe Block"
GARDEN_ORDERS = {
    SMALL_ORDER: (date(2026, 3, 2), [("Azalea", 10), ("Rose", 5)]),  # 337.50
    LARGE_ORDER: (date(2026, 3, 9), [("Oak", 200), ("Elm", 100)]),  # 17,850.00
}


def _by_value(model, client: Client, value: str, **fields):
    obj, created = model.objects.get_or_create(client=client, value=value, defaults=fields)
    if not created:
        changed = [k for k, v in fields.items() if getattr(obj, k) != v]
        if changed:
            for key in changed:
                setattr(obj, key, fields[key])
            obj.save(update_fields=[*changed, "updated"])
    return obj


def _doc_types(client: Client) -> dict[str, DocType]:
    """Standard Order (the default sales type, numbered by DocumentNo_C_Order) and Purchase Order
    (the default purchase type, numbered PO-800000, PO-800001, ... by a sequence of its own)."""
    sales_seq, _ = DocSequence.objects.get_or_create(client=client, name=services.ORDER_SEQUENCE)
    purchase_seq, _ = DocSequence.objects.get_or_create(
        client=client, name="Purchase Order", defaults={"prefix": "PO-", "current_next": 800000}
    )
    types = {}
    for name, base, is_sotrx, sequence, is_default in (
        ("Standard Order", DocType.DocBaseType.SALES_ORDER, True, sales_seq, True),
        ("Purchase Order", DocType.DocBaseType.PURCHASE_ORDER, False, purchase_seq, True),
    ):
        types[name], _ = DocType.objects.update_or_create(
            client=client, name=name,
            defaults={
                "org_id": ANY_ORG_ID, "print_name": name, "doc_base_type": base, "is_sotrx": is_sotrx,
                "docno_sequence": sequence, "is_default": is_default,
            },
        )
    return types


def _garden(log: Callable[[str], None]) -> None:
    client = Client.objects.get(value="GardenWorld")
    hq = Organization.objects.get(client=client, value="HQ")
    requester = User.objects.filter(username="GardenUser").first()
    any_org = {"org_id": ANY_ORG_ID}

    groups = {
        value: _by_value(BPGroup, client, value, name=name, is_default=value == "Standard", **any_org)
        for value, name in GARDEN_GROUPS.items()
    }
    doc_types = _doc_types(client)
    partners = {
        value: _by_value(
            BPartner, client, value, name=name, bp_group=groups[group], is_customer=customer,
            is_vendor=vendor, **any_org,
        )
        for value, (name, group, customer, vendor) in GARDEN_PARTNERS.items()
    }
    categories = {
        value: _by_value(ProductCategory, client, value, name=name, **any_org)
        for value, name in GARDEN_CATEGORIES.items()
    }
    products = {
        value: _by_value(
            Product, client, value, name=name, product_category=categories[category],
            product_type=product_type, price_list=Decimal(price), **any_org,
        )
        for value, (name, category, product_type, price) in GARDEN_PRODUCTS.items()
    }
    accounts: dict[str, ElementValue] = {}
    for value, (name, account_type, parent, is_summary) in GARDEN_ACCOUNTS.items():
        accounts[value] = _by_value(
            ElementValue, client, value, name=name, account_type=account_type,
            is_summary=is_summary, parent=accounts[parent] if parent else None, **any_org,
        )

    joe = partners["JoeBlock"]
    for description, (ordered, lines) in GARDEN_ORDERS.items():
        if Order.objects.filter(client=client, bpartner=joe, description=description).exists():
            continue
        services.order_create(
            client=client, org=hq, bpartner=joe, date_ordered=ordered, description=description,
            sales_rep=requester, actor=requester, doc_type=doc_types["Standard Order"],
            lines=[
                services.OrderLineInput(product=products[value], qty_ordered=Decimal(qty))
                for value, qty in lines
            ],
        )
    log(
        f"erp: GardenWorld {len(partners)} business partners, {len(products)} products, "
        f"{len(accounts)} accounts, {len(doc_types)} document types, "
        f"{len(GARDEN_ORDERS)} orders of Joe Block"
    )


def _acme(log: Callable[[str], None]) -> None:
    client = Client.objects.get(value="Acme")
    group = _by_value(
        BPGroup, client, "Standard", name="Acme Customers", is_default=True, org_id=ANY_ORG_ID
    )
    _doc_types(client)
    _by_value(
        BPartner, client, "RoadRunner", name="Road Runner", bp_group=group, is_customer=True,
        org_id=ANY_ORG_ID,
    )
    log("erp: Acme business partner Road Runner")


def load(log: Callable[[str], None]) -> None:
    _garden(log)
    _acme(log)
