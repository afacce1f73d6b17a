"""Tenants, organizations, roles, warehouses, users and their access; auth sessions; SysConfig."""

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

from apps.accounts import table_access_cache
from apps.core.models import AuditedModel, TableIdField, TableUUField, TenantModel


class Client(AuditedModel):
    """A tenant (AD_Client). Client 0 is *System*: shared, read-only rows."""

    value = models.CharField("search key", db_column="Value", max_length=60, unique=True)
    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    language = models.CharField(db_column="AD_Language", max_length=10, default="en_US")
    # The most bytes the client may store (apps.uploads.quota): its stored files, once each, and
    # its uploads in flight. Empty = unlimited.
    storage_quota = models.PositiveBigIntegerField(
        "storage quota (bytes)", db_column="StorageQuota", null=True, blank=True,
        help_text="Most bytes the client may store: its files (a file stored once counts once) "
                  "and its uploads in progress. Empty = unlimited.",
    )

    class Meta:
        db_table = "AD_Client"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Organization(AuditedModel):
    """An organization of a client (AD_Org). Org 0 (``*``) belongs to System and means any org."""

    client = models.ForeignKey(
        Client, db_column="AD_Client_ID", on_delete=models.PROTECT, related_name="organizations"
    )
    value = models.CharField("search key", db_column="Value", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)

    class Meta:
        db_table = "AD_Org"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "value"], name="ad_org_client_value_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class Role(TenantModel):
    """A role (AD_Role): which tables it reads/writes, which orgs it sees, how much it approves."""

    name = models.CharField(db_column="Name", max_length=120)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    is_admin = models.BooleanField(
        "client administrator",
        db_column="IsClientAdministrator",
        default=False,
        help_text="Administers the client: caches, other users' workflow activities.",
    )
    is_all_tables = models.BooleanField(
        "all tables", db_column="IsAccessAllTables", default=False,
        help_text="Reads and writes every exposed table; the table access list is ignored.",
    )
    is_all_orgs = models.BooleanField(
        "all organizations", db_column="IsAccessAllOrgs", default=False,
        help_text="Sees the rows of every organization of the client.",
    )
    approval_amount = models.DecimalField(
        db_column="AmtApproval", max_digits=20, decimal_places=2, null=True, blank=True,
        help_text="Largest document total this role approves; empty = unlimited.",
    )
    orgs = models.ManyToManyField(
        Organization, through="RoleOrgAccess", related_name="roles", blank=True
    )

    class Meta:
        db_table = "AD_Role"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="ad_role_client_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class RoleOrgAccess(models.Model):
    id = TableIdField(primary_key=True)
    role = models.ForeignKey(Role, db_column="AD_Role_ID", on_delete=models.CASCADE)
    org = models.ForeignKey(Organization, db_column="AD_Org_ID", on_delete=models.CASCADE)
    is_read_only = models.BooleanField(db_column="IsReadOnly", default=False)

    class Meta:
        db_table = "AD_Role_OrgAccess"
        verbose_name_plural = "role org access"
        constraints = [
            models.UniqueConstraint(fields=["role", "org"], name="ad_role_orgaccess_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.role} → {self.org}"


class RoleTableAccessQuerySet(models.QuerySet):
    """Bulk writes invalidate the cached table access too (see :class:`RoleTableAccess`)."""

    def _role_ids(self) -> list[int]:
        return list(self.order_by().values_list("role_id", flat=True).distinct())

    def update(self, **kwargs):
        role_ids = self._role_ids()
        rows = super().update(**kwargs)
        moved = kwargs.get("role_id", getattr(kwargs.get("role"), "pk", None))
        table_access_cache.generation_bump([*role_ids, moved] if moved else role_ids)
        return rows

    def delete(self):
        role_ids = self._role_ids()
        result = super().delete()
        table_access_cache.generation_bump(role_ids)
        return result

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.table_name = obj.table_name.lower()
        created = super().bulk_create(objs, *args, **kwargs)
        table_access_cache.generation_bump(obj.role_id for obj in objs)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        role_ids = self.filter(pk__in=[obj.pk for obj in objs])._role_ids()
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        table_access_cache.generation_bump([*role_ids, *(obj.role_id for obj in objs)])
        return rows


class RoleTableAccess(models.Model):
    """Table access of a role, by table name (case-insensitive, stored lower-case).

    Role table access is cached (``apps.records.access``). Every write through the ORM (save,
    delete, the queryset's update/delete/bulk writes: so the admin, its inlines and actions, and
    the services) bumps the cache generation: the change applies at the next request, on every
    node sharing ``CACHE_URL``. This is cache coherence, kept next to the rows so that no write
    path can forget it; the writes themselves are in ``apps.accounts.services``.
    """

    id = TableIdField(primary_key=True)
    role = models.ForeignKey(
        Role, db_column="AD_Role_ID", on_delete=models.CASCADE, related_name="table_access"
    )
    table_name = models.CharField(db_column="TableName", max_length=60)
    can_read = models.BooleanField(db_column="IsCanRead", default=True)
    can_write = models.BooleanField(db_column="IsCanWrite", default=False)

    objects = RoleTableAccessQuerySet.as_manager()

    class Meta:
        db_table = "AD_Table_Access"
        verbose_name_plural = "role table access"
        constraints = [
            models.UniqueConstraint(fields=["role", "table_name"], name="ad_table_access_uniq")
        ]

    def __str__(self) -> str:
        mode = "read/write" if self.can_write else "read" if self.can_read else "none"
        return f"{self.role}: {self.table_name} ({mode})"

    def save(self, *args, **kwargs):
        self.table_name = self.table_name.lower()
        # A row moved to another role (the admin allows it) changes the access of both.
        before = type(self).objects.filter(pk=self.pk).values_list("role_id", flat=True).first() \
            if self.pk else None
        super().save(*args, **kwargs)
        table_access_cache.generation_bump([self.role_id, before] if before else [self.role_id])

    def delete(self, *args, **kwargs):
        role_id = self.role_id
        result = super().delete(*args, **kwargs)
        table_access_cache.generation_bump([role_id])
        return result


class Warehouse(TenantModel):
    value = models.CharField("search key", db_column="Value", max_length=60)
    name = models.CharField(db_column="Name", max_length=120)

    class Meta:
        db_table = "M_Warehouse"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A login (AD_User). ``client`` is the home tenant; access comes from :class:`UserRole` rows."""

    id = TableIdField(primary_key=True, db_column="AD_User_ID")
    uid = TableUUField(db_column="AD_User_UU")
    client = models.ForeignKey(
        Client, db_column="AD_Client_ID", on_delete=models.PROTECT, null=True, blank=True,
        related_name="users",
    )
    supervisor = models.ForeignKey(
        "self", db_column="Supervisor_ID", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="subordinates",
    )
    roles = models.ManyToManyField(Role, through="UserRole", related_name="users", blank=True)

    objects = UserManager()

    class Meta:
        db_table = "AD_User"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.username


class UserRole(models.Model):
    """A user's access to a role (and through it, to the role's client and orgs)."""

    id = TableIdField(primary_key=True)
    user = models.ForeignKey(User, db_column="AD_User_ID", on_delete=models.CASCADE)
    role = models.ForeignKey(Role, db_column="AD_Role_ID", on_delete=models.CASCADE)
    is_default = models.BooleanField(db_column="IsDefault", default=False)
    default_org = models.ForeignKey(
        Organization, db_column="Default_Org_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+",
    )
    default_warehouse = models.ForeignKey(
        Warehouse, db_column="Default_Warehouse_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+",
    )
    is_active = models.BooleanField(db_column="IsActive", default=True)

    class Meta:
        db_table = "AD_User_Roles"
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="ad_user_roles_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role}"


class AuthSession(models.Model):
    """One login: the context its tokens carry and the refresh-token chain that rotates in it.

    Every access and refresh token names its session (``sid``). Revoking the session (logout, or
    the reuse of a spent refresh token) kills every token of the chain at once.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="+")
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    language = models.CharField(max_length=10, default="en_US")
    refresh_jti = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now)
    last_refresh = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=60, blank=True)

    class Meta:
        db_table = "AD_Session"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.client}/{self.role} ({self.created:%Y-%m-%d %H:%M})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class SysConfig(models.Model):
    """System-wide (client empty) or per-client configuration value (AD_SysConfig)."""

    id = TableIdField(primary_key=True)
    uid = TableUUField()
    client = models.ForeignKey(
        Client, db_column="AD_Client_ID", on_delete=models.CASCADE, null=True, blank=True,
        help_text="Empty: a system-wide value. A client's own value overrides it.",
    )
    name = models.CharField(db_column="Name", max_length=100)
    value = models.CharField(db_column="Value", max_length=255, blank=True)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    is_active = models.BooleanField(db_column="IsActive", default=True)
    updated = models.DateTimeField(db_column="Updated", auto_now=True)

    class Meta:
        db_table = "AD_SysConfig"
        ordering = ["name", "client_id"]
        verbose_name = "system configurator"
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="ad_sysconfig_client_name_uniq"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(client__isnull=True),
                name="ad_sysconfig_system_name_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
