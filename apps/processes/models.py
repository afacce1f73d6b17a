"""Processes and reports (AD_Process), their parameters, role access, runs and report files.

A process's code is a handler registered by name (:mod:`apps.processes.registry`); the rows here
say what the API lists, which parameters it takes and who may run it. System processes
(client 0) are offered to every client, as in iDempiere.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from apps.core.models import TableIdField, TenantModel

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
RESERVED_SLUGS = {"jobs"}


def slugify_value(value: str) -> str:
    """iDempiere REST's slug of a process search key: lower case, every other run of characters '-'."""
    return _SLUG_JUNK.sub("-", value.lower()).strip("-")


class Reference(models.IntegerChoices):
    """The parameter types, with iDempiere's AD_Reference ids."""

    STRING = 10, "String"
    INTEGER = 11, "Integer"
    AMOUNT = 12, "Amount"
    DATE = 15, "Date"
    DATETIME = 16, "Date+Time"
    LIST = 17, "List"
    TABLE_DIRECT = 19, "Table Direct"
    YES_NO = 20, "Yes-No"
    NUMBER = 22, "Number"
    QUANTITY = 29, "Quantity"
    SEARCH = 30, "Search"


class Process(TenantModel):
    """A process or report (AD_Process): what runs it (``handler``), and whether it renders a report."""

    value = models.CharField("search key", db_column="Value", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    help = models.TextField(db_column="Help", blank=True)
    is_report = models.BooleanField("report", db_column="IsReport", default=False)
    entity_type = models.CharField(db_column="EntityType", max_length=40, default="U")
    handler = models.CharField(
        db_column="Classname", max_length=60,
        help_text="Name of the registered handler that runs it (apps.processes.registry).",
    )

    class Meta:
        db_table = "AD_Process"
        verbose_name_plural = "processes"
        ordering = ("value",)
        constraints = (
            models.UniqueConstraint(fields=["client", "value"], name="ad_process_client_value_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.value} ({self.name})"

    @property
    def slug(self) -> str:
        return slugify_value(self.value)

    def clean(self) -> None:
        slug = slugify_value(self.value or "")
        if not slug or slug in RESERVED_SLUGS or slug.isdigit():
            raise ValidationError({
                "value": f"The slug of the search key must have a letter and not be {sorted(RESERVED_SLUGS)}."
            })


class ProcessPara(TenantModel):
    """A parameter of a process (AD_Process_Para); a range parameter also takes ``<name>_to``."""

    process = models.ForeignKey(
        Process, db_column="AD_Process_ID", on_delete=models.CASCADE, related_name="parameters"
    )
    seq_no = models.PositiveIntegerField("sequence", db_column="SeqNo", default=10)
    column_name = models.CharField("parameter name", db_column="ColumnName", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    help = models.TextField(db_column="Help", blank=True)
    reference = models.PositiveIntegerField(
        "type", db_column="AD_Reference_ID", choices=Reference.choices, default=Reference.STRING
    )
    ref_table = models.CharField(
        "referenced table", db_column="RefTableName", max_length=60, blank=True,
        help_text="For Table Direct / Search: the table whose record id the parameter takes.",
    )
    list_values = models.JSONField(
        "list values", db_column="ListValues", default=list, blank=True,
        help_text='For List: [{"value": "Y", "name": "Yes"}, ...].',
    )
    is_mandatory = models.BooleanField("mandatory", db_column="IsMandatory", default=False)
    is_range = models.BooleanField("range", db_column="IsRange", default=False)
    default_value = models.CharField(db_column="DefaultValue", max_length=255, blank=True)
    default_value2 = models.CharField(db_column="DefaultValue2", max_length=255, blank=True)
    field_length = models.PositiveIntegerField(db_column="FieldLength", default=0)

    class Meta:
        db_table = "AD_Process_Para"
        verbose_name = "process parameter"
        ordering = ("process_id", "seq_no", "id")
        constraints = (
            models.UniqueConstraint(fields=["process", "column_name"], name="ad_process_para_name_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.process.value}.{self.column_name}"


class ProcessAccess(models.Model):
    """A role's access to a process (AD_Process_Access), as AD_Table_Access is to a table:
    ``is_read_write`` runs it, without it the role only sees it. A role with ``IsAccessAllTables``
    reaches every process too."""

    id = TableIdField(primary_key=True)
    role = models.ForeignKey(
        "accounts.Role", db_column="AD_Role_ID", on_delete=models.CASCADE, related_name="process_access"
    )
    process = models.ForeignKey(
        Process, db_column="AD_Process_ID", on_delete=models.CASCADE, related_name="role_access"
    )
    is_read_write = models.BooleanField("may run", db_column="IsReadWrite", default=True)
    is_active = models.BooleanField(db_column="IsActive", default=True)

    class Meta:
        db_table = "AD_Process_Access"
        verbose_name_plural = "process access"
        constraints = (
            models.UniqueConstraint(fields=["role", "process"], name="ad_process_access_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.role}: {self.process.value} ({'run' if self.is_read_write else 'see'})"


class PInstance(TenantModel):
    """One run of a process (AD_PInstance), synchronous or as a job, with its result."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    DONE_STATES = (State.COMPLETED, State.FAILED)

    process = models.ForeignKey(
        Process, db_column="AD_Process_ID", on_delete=models.PROTECT, related_name="instances"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.CASCADE, related_name="+"
    )
    role = models.ForeignKey(
        "accounts.Role", db_column="AD_Role_ID", on_delete=models.CASCADE, related_name="+"
    )
    warehouse_id = models.BigIntegerField(db_column="M_Warehouse_ID", null=True, blank=True)
    language = models.CharField(db_column="AD_Language", max_length=10, default="en_US")
    parameters = models.JSONField(db_column="Parameters", default=dict, blank=True)
    report_type = models.CharField(db_column="ReportType", max_length=4, blank=True)
    record_id = models.BigIntegerField(db_column="Record_ID", null=True, blank=True)
    table_name = models.CharField(db_column="TableName", max_length=60, blank=True)
    is_run_as_job = models.BooleanField(db_column="IsRunAsJob", default=False)
    state = models.CharField(db_column="State", max_length=10, choices=State.choices, default=State.QUEUED)
    summary = models.TextField(db_column="Summary", blank=True)
    is_error = models.BooleanField(db_column="IsError", default=False)
    logs = models.JSONField(db_column="Logs", default=list, blank=True)
    errors = models.JSONField(db_column="Errors", default=list, blank=True)
    started_at = models.DateTimeField(db_column="Started", null=True, blank=True)
    finished_at = models.DateTimeField(db_column="Finished", null=True, blank=True)
    attempts = models.PositiveIntegerField(db_column="Attempts", default=0)

    class Meta:
        db_table = "AD_PInstance"
        verbose_name = "process run"
        ordering = ("-id",)
        indexes = (models.Index(fields=["client", "user", "state"], name="ad_pinstance_owner_idx"),)

    def __str__(self) -> str:
        return f"{self.process.value} #{self.pk} ({self.state})"

    @property
    def processing(self) -> bool:
        return self.state not in self.DONE_STATES


class ReportFile(TenantModel):
    """A file a run produced (a report), private to its requester, until ``expires_at``."""

    instance = models.ForeignKey(
        PInstance, db_column="AD_PInstance_ID", on_delete=models.CASCADE, related_name="files"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.CASCADE, related_name="+"
    )
    file_name = models.CharField(db_column="FileName", max_length=255)
    content_type = models.CharField(db_column="ContentType", max_length=100)
    size = models.BigIntegerField(db_column="FileSize")
    sha256 = models.CharField(db_column="SHA256", max_length=64)
    storage_key = models.CharField(db_column="StorageKey", max_length=255, editable=False)
    expires_at = models.DateTimeField(db_column="Expires")

    class Meta:
        db_table = "AD_ReportFile"
        verbose_name = "report file"
        ordering = ("-id",)

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @staticmethod
    def new_key(client_id: int) -> str:
        return f"reports/{client_id}/{uuid.uuid4().hex}"
