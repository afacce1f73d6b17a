"""Exposes the business tables to the records API and plugs in their hooks and document actions."""

from __future__ import annotations

from importlib.util import find_spec


def register_erp_tables() -> None:
    if find_spec("apps.records.registry") is None:  # the records app is optional for this one
        return
    from apps.erp import hooks, services
    from apps.erp.models import (
        BPartner,
        BPGroup,
        ElementValue,
        Order,
        OrderLine,
        Product,
        ProductCategory,
    )
    from apps.records.registry import register_doc_action, register_table

    register_table(BPGroup, identifier=("Name",), description="Business partner group")
    register_table(BPartner, identifier=("Name",), description="Business partner")
    register_table(ProductCategory, identifier=("Name",), description="Product category")
    register_table(Product, identifier=("Name",), description="Product or service")
    register_table(ElementValue, identifier=("Name",), description="Account element")
    register_table(
        Order,
        identifier=("DocumentNo",),
        read_only=("DocumentNo", "DocStatus", "DocAction", "Processed", "GrandTotal"),
        hooks=hooks.OrderHooks(),
        description="Sales or purchase order",
    )
    register_table(
        OrderLine,
        identifier=("Line",),
        read_only=("LineNetAmt",),
        hooks=hooks.OrderLineHooks(),
        description="Order line",
    )
    register_doc_action(Order._meta.db_table, "CO", services.doc_action_complete)
    register_doc_action(Order._meta.db_table, "VO", services.doc_action_void)
    # The Order Approval workflow's automatic steps (apps.workflow demo).
    register_doc_action(Order._meta.db_table, "AP", services.doc_action_approve)
    register_doc_action(Order._meta.db_table, "RJ", services.doc_action_reject)
