"""The tenant-scoped base every business table inherits.

Columns follow iDempiere: ``<Table>_ID`` primary key, ``AD_Client_ID``, ``AD_Org_ID``, ``IsActive``,
``Created``, ``CreatedBy``, ``Updated``, ``UpdatedBy`` and ``<Table>_UU``.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

SYSTEM_CLIENT_ID = 0
ANY_ORG_ID = 0


class TableIdField(models.BigAutoField):
    """Primary key stored as ``<db_table>_ID`` unless a column name is given."""

    def contribute_to_class(self, cls, name, **kwargs):
        super().contribute_to_class(cls, name, **kwargs)
        if not self.db_column and not cls._meta.abstract:
            self.db_column = f"{cls._meta.db_table}_ID"
            self.set_attributes_from_name(name)


class TableUUField(models.UUIDField):
    """Record UUID stored as ``<db_table>_UU``; accepted wherever an id is."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", uuid.uuid4)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("unique", True)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls, name, **kwargs):
        super().contribute_to_class(cls, name, **kwargs)
        if not self.db_column and not cls._meta.abstract:
            self.db_column = f"{cls._meta.db_table}_UU"
            self.set_attributes_from_name(name)


class AuditedModel(models.Model):
    """Standard iDempiere columns without the tenant (used by tenant-less system tables too)."""

    id = TableIdField(primary_key=True)
    uid = TableUUField()
    is_active = models.BooleanField(db_column="IsActive", default=True)
    created = models.DateTimeField(db_column="Created", default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        db_column="CreatedBy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated = models.DateTimeField(db_column="Updated", auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        db_column="UpdatedBy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        abstract = True


class TenantModel(AuditedModel):
    """A row owned by one client (tenant) and one of its organizations (0 = any org)."""

    client = models.ForeignKey(
        "accounts.Client", db_column="AD_Client_ID", on_delete=models.PROTECT, related_name="+"
    )
    org = models.ForeignKey(
        "accounts.Organization",
        db_column="AD_Org_ID",
        on_delete=models.PROTECT,
        related_name="+",
        default=ANY_ORG_ID,
    )

    class Meta:
        abstract = True
