"""Who may write where: the role's table access (``apps.records.access``), its tenant-scoped lookup
(``record_get``) for the records files are attached to, and the role's org access
(``RoleOrgAccess.IsReadOnly``) for every DMS row that is created, changed or deleted."""

from __future__ import annotations

from typing import Any

from apps.core.context import RequestContext
from apps.core.errors import BadRequest, Forbidden, NotFound


def org_write_check(ctx: RequestContext, org_id: int | None, *, what: str = "documents") -> None:
    """403 unless the role may write rows of organization ``org_id``.

    A read-only org (RoleOrgAccess.IsReadOnly) is readable but never written; an org the role does
    not see at all is not writable either (reads already answer 404 for its rows).
    """
    if ctx.can_write_org(org_id):
        return
    if org_id in ctx.read_only_org_ids:
        raise Forbidden(
            f"Your role has read-only access to organization {org_id}: {what} cannot be "
            "created, changed or deleted there.",
            code="org_read_only",
        )
    raise Forbidden(
        f"Your role may not write {what} of organization {org_id}.", code="org_not_writable"
    )


def record_org_check(ctx: RequestContext, record: Any) -> None:
    """403 when ``record`` belongs to an org the role may only read (attach/detach is a write)."""
    org_id = getattr(record, "org_id", None)
    if org_id is not None:
        org_write_check(ctx, org_id, what=f"attachments of {record._meta.db_table} records")


def record_resolve(ctx: RequestContext, table_name: str, record_ref: Any, *, write: bool) -> Any:
    """The record ``record_ref`` (id or uuid) of exposed table ``table_name`` in the caller's client.

    404 for an unknown table or a record of another client (or of an org the role does not see);
    403 without (write) access to the table, and with ``write`` for a record of a read-only org.
    Shared System rows can be read but not attached to.
    """
    from apps.records import access
    from apps.records.registry import table_spec
    from apps.records.selectors import record_get

    if not table_name:
        raise BadRequest("tableName is required.", code="table_required")
    if record_ref in (None, ""):
        raise BadRequest("recordId is required.", code="record_required")
    spec = table_spec(table_name)
    if write:
        access.check_write(ctx, spec.table_name)
    record = record_get(ctx, spec.table_name, record_ref)
    if write:
        if getattr(record, "client_id", ctx.client_id) != ctx.client_id:
            raise NotFound(f"No record {record_ref} in table '{spec.table_name}'.")
        record_org_check(ctx, record)
    return record
