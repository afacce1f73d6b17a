"""The data dictionary as rows: exposed tables, their columns, list references, validation rules, forms.

Rows are (re)built from the registry by :func:`apps.records.sync.sync_dictionary` after migrate; the
API itself reads column metadata from the in-process cache in :mod:`apps.records.dictionary`.
"""

from __future__ import annotations

from django.db import models

from apps.core.models import AuditedModel

ACCESS_LEVELS = [
    ("1", "Organization"),
    ("3", "Client+Organization"),
    ("4", "System only"),
    ("6", "System+Client"),
    ("7", "All"),
]


class Reference(AuditedModel):
    """A reference (data type or list of values) that columns point to."""

    VALIDATION_TYPES = (("D", "DataType"), ("L", "List Validation"), ("T", "Table Validation"))

    name = models.CharField(db_column="Name", max_length=120, unique=True)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    validation_type = models.CharField(
        db_column="ValidationType", max_length=1, choices=VALIDATION_TYPES, default="L"
    )

    class Meta:
        db_table = "AD_Reference"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class RefList(AuditedModel):
    """One value of a list reference (e.g. DocStatus ``CO`` = Completed)."""

    reference = models.ForeignKey(
        Reference, db_column="AD_Reference_ID", on_delete=models.CASCADE, related_name="values",
        verbose_name="Reference",
    )
    value = models.CharField(db_column="Value", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)
    seq_no = models.IntegerField(db_column="SeqNo", default=0)

    class Meta:
        db_table = "AD_Ref_List"
        ordering = ("reference", "seq_no", "value")
        constraints = (
            models.UniqueConstraint(fields=["reference", "value"], name="ad_ref_list_unique_value"),
        )

    def __str__(self) -> str:
        return f"{self.value} {self.name}"


class Table(AuditedModel):
    """An exposed table (AD_Table)."""

    table_name = models.CharField(db_column="TableName", max_length=60, unique=True)
    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    access_level = models.CharField(
        db_column="AccessLevel", max_length=1, choices=ACCESS_LEVELS, default="3"
    )
    app_label = models.CharField(db_column="EntityType", max_length=60, blank=True)

    class Meta:
        db_table = "AD_Table"
        ordering = ("table_name",)

    def __str__(self) -> str:
        return self.table_name


class Column(AuditedModel):
    """A column of an exposed table (AD_Column)."""

    table = models.ForeignKey(
        Table, db_column="AD_Table_ID", on_delete=models.CASCADE, related_name="columns",
        verbose_name="Table",
    )
    column_name = models.CharField(db_column="ColumnName", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)
    data_type = models.CharField(db_column="DataType", max_length=30)
    reference = models.ForeignKey(
        Reference, db_column="AD_Reference_Value_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+", verbose_name="Reference Key",
    )
    reference_table = models.CharField(db_column="ReferenceTableName", max_length=60, blank=True)
    field_length = models.IntegerField(db_column="FieldLength", default=0)
    seq_no = models.IntegerField(db_column="SeqNo", default=0)
    is_key = models.BooleanField(db_column="IsKey", default=False)
    is_mandatory = models.BooleanField(db_column="IsMandatory", default=False)
    is_updatable = models.BooleanField(db_column="IsUpdateable", default=True)
    is_identifier = models.BooleanField(db_column="IsIdentifier", default=False)
    is_secret = models.BooleanField(db_column="IsSecret", default=False)
    default_value = models.CharField(
        db_column="DefaultValue", max_length=255, blank=True,
        help_text="Default on create: a constant, @#ContextVariable@, @IsDefault@, @Sequence=Name@ "
        "or @Derived: ...@ (computed by the table's own rules).",
    )
    default_kind = models.CharField(
        db_column="DefaultKind", max_length=20, blank=True,
        choices=[(k, k) for k in ("Constant", "Context", "IsDefault", "Sequence", "Derived")],
    )

    class Meta:
        db_table = "AD_Column"
        ordering = ("table", "seq_no")
        constraints = (
            models.UniqueConstraint(fields=["table", "column_name"], name="ad_column_unique_name"),
        )

    def __str__(self) -> str:
        return f"{self.table_id}.{self.column_name}"


class ValRule(AuditedModel):
    """A stored filter in the query language, with ``@Name@`` context variables (AD_Val_Rule)."""

    name = models.CharField(db_column="Name", max_length=120, unique=True)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    code = models.TextField(db_column="Code")

    class Meta:
        db_table = "AD_Val_Rule"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Form(AuditedModel):
    """A special form of the UI (AD_Form)."""

    name = models.CharField(db_column="Name", max_length=120, unique=True)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    help = models.TextField(db_column="Help", blank=True)
    classname = models.CharField(db_column="Classname", max_length=255, blank=True)
    access_level = models.CharField(
        db_column="AccessLevel", max_length=1, choices=ACCESS_LEVELS, default="3"
    )

    class Meta:
        db_table = "AD_Form"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
