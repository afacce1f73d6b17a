"""The sample business tables the records API exposes (DESIGN §6), named as in iDempiere.

Python attributes are snake_case; ``db_column`` is the iDempiere column name the API shows. Every
list column has ``choices`` (they become the dictionary's list references). Derived values
(``LineNetAmt``, ``GrandTotal``, ``DocumentNo``) are set by :mod:`apps.erp.services`, never here.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import TenantModel

AMOUNT = {"max_digits": 20, "decimal_places": 2}
QUANTITY = {"max_digits": 20, "decimal_places": 4}


class VersionedTenantModel(TenantModel):
    """A business row with a version the records API turns into its ``ETag`` (optimistic locking).

    The records service adds one to ``row_version`` on every change it makes, under the row lock,
    and refuses a change whose ``If-Match`` names an older version (412)."""

    row_version = models.PositiveBigIntegerField(db_column="RowVersion", default=1, editable=False)

    class Meta:
        abstract = True


class DocSequence(TenantModel):
    """A per-client document number counter (AD_Sequence); the next number is taken under a row lock."""

    name = models.CharField(db_column="Name", max_length=60)
    current_next = models.BigIntegerField(db_column="CurrentNext", default=1000)
    increment = models.PositiveIntegerField(db_column="IncrementNo", default=1)
    prefix = models.CharField(db_column="Prefix", max_length=20, blank=True)
    suffix = models.CharField(db_column="Suffix", max_length=20, blank=True)

    class Meta:
        db_table = "AD_Sequence"
        ordering = ("client_id", "name")
        constraints = (
            models.UniqueConstraint(fields=["client", "name"], name="ad_sequence_client_name_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.name} (next {self.prefix}{self.current_next}{self.suffix})"


class BPGroup(VersionedTenantModel):
    """Business partner group."""

    value = models.CharField("search key", db_column="Value", max_length=40)
    name = models.CharField(db_column="Name", max_length=60)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    is_default = models.BooleanField(
        "default", db_column="IsDefault", default=False,
        help_text="The group a new business partner gets when none is given.",
    )

    class Meta:
        db_table = "C_BP_Group"
        verbose_name = "business partner group"
        ordering = ("value",)
        constraints = (
            models.UniqueConstraint(fields=["client", "value"], name="c_bp_group_client_value_uniq"),
        )

    def __str__(self) -> str:
        return self.name


class BPartner(VersionedTenantModel):
    """Business partner: a customer, a vendor or both."""

    value = models.CharField("search key", db_column="Value", max_length=40)
    name = models.CharField(db_column="Name", max_length=60)
    name2 = models.CharField("name 2", db_column="Name2", max_length=60, blank=True)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    tax_id = models.CharField("tax ID", db_column="TaxID", max_length=20, blank=True)
    is_customer = models.BooleanField("customer", db_column="IsCustomer", default=False)
    is_vendor = models.BooleanField("vendor", db_column="IsVendor", default=False)
    bp_group = models.ForeignKey(
        BPGroup, db_column="C_BP_Group_ID", on_delete=models.PROTECT, related_name="bpartners",
        verbose_name="business partner group",
    )
    so_credit_limit = models.DecimalField(
        "credit limit", db_column="SO_CreditLimit", default=Decimal(0), **AMOUNT
    )
    total_open_balance = models.DecimalField(
        "open balance", db_column="TotalOpenBalance", default=Decimal(0), **AMOUNT
    )

    class Meta:
        db_table = "C_BPartner"
        verbose_name = "business partner"
        ordering = ("value",)
        constraints = (
            models.UniqueConstraint(fields=["client", "value"], name="c_bpartner_client_value_uniq"),
        )
        # startswith() on the search key or the name (the lookups iDempiere clients make) reads
        # the index, not the table: LIKE 'prefix%' needs the pattern operator class.
        indexes = (
            models.Index(fields=["client", "value"], name="c_bpartner_value_prefix",
                         opclasses=["int8_ops", "varchar_pattern_ops"]),
            models.Index(fields=["client", "name"], name="c_bpartner_name_prefix",
                         opclasses=["int8_ops", "varchar_pattern_ops"]),
        )

    def __str__(self) -> str:
        return self.name


class ProductCategory(VersionedTenantModel):
    """Product category."""

    value = models.CharField("search key", db_column="Value", max_length=40)
    name = models.CharField(db_column="Name", max_length=60)
    description = models.CharField(db_column="Description", max_length=255, blank=True)

    class Meta:
        db_table = "M_Product_Category"
        verbose_name_plural = "product categories"
        ordering = ("value",)
        constraints = (
            models.UniqueConstraint(
                fields=["client", "value"], name="m_product_category_client_value_uniq"
            ),
        )

    def __str__(self) -> str:
        return self.name


class Product(VersionedTenantModel):
    """Product or service that orders sell or buy."""

    class ProductType(models.TextChoices):
        ITEM = "I", "Item"
        SERVICE = "S", "Service"
        RESOURCE = "R", "Resource"
        EXPENSE = "E", "Expense type"
        ONLINE = "O", "Online"

    value = models.CharField("search key", db_column="Value", max_length=40)
    name = models.CharField(db_column="Name", max_length=60)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    product_category = models.ForeignKey(
        ProductCategory, db_column="M_Product_Category_ID", on_delete=models.PROTECT,
        related_name="products", verbose_name="product category",
    )
    product_type = models.CharField(
        db_column="ProductType", max_length=1, choices=ProductType.choices,
        default=ProductType.ITEM,
    )
    price_list = models.DecimalField(
        "list price", db_column="PriceList", default=Decimal(0), **AMOUNT
    )
    is_sold = models.BooleanField("sold", db_column="IsSold", default=True)
    is_purchased = models.BooleanField("purchased", db_column="IsPurchased", default=True)

    class Meta:
        db_table = "M_Product"
        ordering = ("value",)
        constraints = (
            models.UniqueConstraint(fields=["client", "value"], name="m_product_client_value_uniq"),
        )

    def __str__(self) -> str:
        return self.name


class DocType(VersionedTenantModel):
    """Document type (C_DocType): an order's kind, and the sequence its document numbers come from."""

    class DocBaseType(models.TextChoices):
        SALES_ORDER = "SOO", "Sales Order"
        PURCHASE_ORDER = "POO", "Purchase Order"

    name = models.CharField(db_column="Name", max_length=60)
    print_name = models.CharField("print text", db_column="PrintName", max_length=60, blank=True)
    doc_base_type = models.CharField(
        "document base type", db_column="DocBaseType", max_length=3, choices=DocBaseType.choices,
        default=DocBaseType.SALES_ORDER,
    )
    is_sotrx = models.BooleanField("sales transaction", db_column="IsSOTrx", default=True)
    is_default = models.BooleanField(
        "default", db_column="IsDefault", default=False,
        help_text="The document type a new order gets when none is given.",
    )
    docno_sequence = models.ForeignKey(
        DocSequence, db_column="DocNoSequence_ID", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name="document sequence",
        help_text="Empty: the client's DocumentNo_C_Order sequence.",
    )

    class Meta:
        db_table = "C_DocType"
        verbose_name = "document type"
        ordering = ("name",)
        constraints = (
            models.UniqueConstraint(fields=["client", "name"], name="c_doctype_client_name_uniq"),
        )

    def __str__(self) -> str:
        return self.name


class Order(VersionedTenantModel):
    """Sales or purchase order; completing it may need approval (DocAction CO)."""

    class PriorityRule(models.TextChoices):
        URGENT = "1", "Urgent"
        HIGH = "3", "High"
        MEDIUM = "5", "Medium"
        LOW = "7", "Low"
        MINOR = "9", "Minor"

    class DocStatus(models.TextChoices):
        DRAFTED = "DR", "Drafted"
        IN_PROGRESS = "IP", "In Progress"
        COMPLETED = "CO", "Completed"
        NOT_APPROVED = "NA", "Not Approved"
        VOIDED = "VO", "Voided"

    class DocAction(models.TextChoices):
        COMPLETE = "CO", "Complete"
        APPROVE = "AP", "Approve"
        REJECT = "RJ", "Reject"
        VOID = "VO", "Void"
        CLOSE = "CL", "Close"
        NONE = "--", "<None>"

    document_no = models.CharField(
        "document no", db_column="DocumentNo", max_length=30, blank=True, editable=False
    )
    bpartner = models.ForeignKey(
        BPartner, db_column="C_BPartner_ID", on_delete=models.PROTECT, related_name="orders",
        verbose_name="business partner",
    )
    doc_type_target = models.ForeignKey(
        DocType, db_column="C_DocTypeTarget_ID", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name="target document type",
    )
    date_ordered = models.DateField(
        "date ordered", db_column="DateOrdered", default=timezone.localdate
    )
    date_promised = models.DateField(
        "date promised", db_column="DatePromised", null=True, blank=True
    )
    warehouse = models.ForeignKey(
        "accounts.Warehouse", db_column="M_Warehouse_ID", on_delete=models.PROTECT, null=True,
        blank=True, related_name="+", verbose_name="warehouse",
    )
    is_sotrx = models.BooleanField("sales transaction", db_column="IsSOTrx", default=True)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    priority_rule = models.CharField(
        "priority", db_column="PriorityRule", max_length=1, choices=PriorityRule.choices,
        default=PriorityRule.MEDIUM,
    )
    doc_status = models.CharField(
        "document status", db_column="DocStatus", max_length=2, choices=DocStatus.choices,
        default=DocStatus.DRAFTED,
    )
    doc_action = models.CharField(
        "document action", db_column="DocAction", max_length=2, choices=DocAction.choices,
        default=DocAction.COMPLETE,
    )
    is_approved = models.BooleanField("approved", db_column="IsApproved", default=False)
    processed = models.BooleanField(db_column="Processed", default=False)
    grand_total = models.DecimalField(
        "grand total", db_column="GrandTotal", default=Decimal(0), **AMOUNT
    )
    sales_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="SalesRep_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+", verbose_name="sales representative",
    )

    class Meta:
        db_table = "C_Order"
        ordering = ("-date_ordered", "-id")
        constraints = (
            models.UniqueConstraint(
                fields=["client", "document_no"], condition=~models.Q(document_no=""),
                name="c_order_client_documentno_uniq",
            ),
        )

    def __str__(self) -> str:
        return self.document_no or f"Order {self.pk or '(new)'}"


class OrderLine(VersionedTenantModel):
    """Order line; LineNetAmt = QtyOrdered × PriceActual."""

    order = models.ForeignKey(
        Order, db_column="C_Order_ID", on_delete=models.CASCADE, related_name="lines",
        verbose_name="order",
    )
    line = models.PositiveIntegerField("line no", db_column="Line", default=0, blank=True)
    product = models.ForeignKey(
        Product, db_column="M_Product_ID", on_delete=models.PROTECT, related_name="order_lines",
        verbose_name="product",
    )
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    qty_entered = models.DecimalField(
        "quantity entered", db_column="QtyEntered", null=True, blank=True,
        help_text="Empty: QtyOrdered.", **QUANTITY,
    )
    # No model default: the line's rules tell "not given" (then QtyEntered, else 1) from a value.
    qty_ordered = models.DecimalField("quantity", db_column="QtyOrdered", blank=True, **QUANTITY)
    price_actual = models.DecimalField(
        "unit price", db_column="PriceActual", null=True, blank=True,
        help_text="Empty: the product's list price.", **AMOUNT,
    )
    line_net_amt = models.DecimalField(
        "line amount", db_column="LineNetAmt", default=Decimal(0), editable=False, **AMOUNT
    )

    class Meta:
        db_table = "C_OrderLine"
        verbose_name = "order line"
        ordering = ("order_id", "line", "id")

    def __str__(self) -> str:
        return f"{self.order} / {self.line}"


class ElementValue(VersionedTenantModel):
    """Account element (chart of accounts)."""

    class AccountType(models.TextChoices):
        ASSET = "A", "Asset"
        LIABILITY = "L", "Liability"
        OWNERS_EQUITY = "O", "Owner's Equity"
        REVENUE = "R", "Revenue"
        EXPENSE = "E", "Expense"
        MEMO = "M", "Memo"

    value = models.CharField("search key", db_column="Value", max_length=40)
    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    account_type = models.CharField(
        "account type", db_column="AccountType", max_length=1, choices=AccountType.choices,
        default=AccountType.EXPENSE,
    )
    is_summary = models.BooleanField("summary level", db_column="IsSummary", default=False)
    parent = models.ForeignKey(
        "self", db_column="Parent_ID", on_delete=models.PROTECT, null=True, blank=True,
        related_name="children", verbose_name="summary account",
    )

    class Meta:
        db_table = "C_ElementValue"
        verbose_name = "account element"
        ordering = ("value",)
        constraints = (
            models.UniqueConstraint(
                fields=["client", "value"], name="c_elementvalue_client_value_uniq"
            ),
        )

    def __str__(self) -> str:
        return f"{self.value} {self.name}"
