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
        DocType,
        ElementValue,
        Order,
        OrderLine,
        Product,
        ProductCategory,
    )
    from apps.records.registry import register_doc_action, register_sequence_source, register_table

    register_table(BPGroup, identifier=("Name",), description="Business partner group")
    register_table(
        BPartner,
        identifier=("Name",),
        # iDempiere: an empty Value takes the next number of the client's DocumentNo_C_BPartner.
        defaults={"Value": "@Sequence=DocumentNo_C_BPartner@", "C_BP_Group_ID": "@IsDefault@"},
        description="Business partner",
    )
    register_table(DocType, identifier=("Name",), description="Document type")
    register_table(ProductCategory, identifier=("Name",), description="Product category")
    register_table(
        Product,
        identifier=("Name",),
        # iDempiere fills any empty Value from the client's DocumentNo_<table> sequence.
        defaults={"Value": "@Sequence=DocumentNo_M_Product@"},
        description="Product or service",
    )
    register_table(ElementValue, identifier=("Name",), description="Account element")
    register_table(
        Order,
        identifier=("DocumentNo",),
        read_only=("DocumentNo", "DocStatus", "DocAction", "Processed", "GrandTotal"),
        hooks=hooks.OrderHooks(),
        defaults={
            "DocumentNo": "@Derived: next number of the document type's sequence "
            "(C_DocTypeTarget_ID.DocNoSequence_ID, else DocumentNo_C_Order)@",
            "C_DocTypeTarget_ID": "@Derived: the client's default document type for IsSOTrx@",
            "IsSOTrx": "@Derived: IsSOTrx of the document type (none given: Y)@",
            "DateOrdered": "@#Date@",
            "DatePromised": "@#Date@",
            "M_Warehouse_ID": "@#M_Warehouse_ID@",
            "SalesRep_ID": "@#AD_User_ID@",
            "PriorityRule": "5",
            "DocStatus": "DR",
            "DocAction": "CO",
        },
        description="Sales or purchase order",
    )
    register_table(
        OrderLine,
        identifier=("Line",),
        read_only=("LineNetAmt",),
        hooks=hooks.OrderLineHooks(),
        defaults={
            "Line": "@Derived: highest Line of the order + 10@",
            "QtyEntered": "@Derived: QtyOrdered@",
            "QtyOrdered": "@Derived: QtyEntered, else 1@",
            "PriceActual": "@Derived: the product's list price (PriceList)@",
            "LineNetAmt": "@Derived: QtyOrdered × PriceActual@",
        },
        description="Order line",
    )
    register_sequence_source(services.sequence_next_value)
    register_doc_action(Order._meta.db_table, "CO", services.doc_action_complete)
    register_doc_action(Order._meta.db_table, "VO", services.doc_action_void)
    # The Order Approval workflow's automatic steps (apps.workflow demo).
    register_doc_action(Order._meta.db_table, "AP", services.doc_action_approve)
    register_doc_action(Order._meta.db_table, "RJ", services.doc_action_reject)
