"""Records part of the demo: a few forms and validation rules (the dictionary itself is synced)."""

from __future__ import annotations

from collections.abc import Callable

from apps.records.models import Form, ValRule
from apps.records.sync import ensure_synced

FORMS = [
    ("Generate Shipments (manual)", "Select orders to ship", "org.compiere.apps.form.VInOutGen"),
    ("Payment Allocation", "Allocate payments to invoices", "org.compiere.apps.form.VAllocation"),
    ("Match PO-Receipt-Invoice", "Match purchase orders, receipts and invoices", "org.compiere.apps.form.VMatch"),
]

VAL_RULES = [
    ("C_BPartner Customers", "Active customers", "IsCustomer eq true and IsActive eq true"),
    ("C_BPartner of Org", "Business partners of the context organization or any", "AD_Org_ID in (0, @#AD_Org_ID@)"),
    ("AD_Table by name", "Tables whose name starts with @Prefix@", "startswith(TableName, @Prefix@)"),
]


def load(log: Callable[[str], None] = print) -> None:
    ensure_synced(check=True)
    for name, description, classname in FORMS:
        Form.objects.update_or_create(name=name, defaults={"description": description, "classname": classname})
    for name, description, code in VAL_RULES:
        ValRule.objects.update_or_create(name=name, defaults={"description": description, "code": code})
    log(f"records: {len(FORMS)} forms, {len(VAL_RULES)} validation rules")
