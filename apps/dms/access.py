"""Which records a caller may attach files to, on the records app's public pieces: the role's
table access (``apps.records.access``) and its tenant-scoped lookup (``record_get``)."""

from __future__ import annotations

from typing import Any

from apps.core.context import RequestContext
from apps.core.errors import BadRequest, NotFound


def record_resolve(ctx: RequestContext, table_name: str, record_ref: Any, *, write: bool) -> Any:
    """The record ``record_ref`` (id or uuid) of exposed table ``table_name`` in the caller's client.

    404 for an unknown table or a record of another client; 403 without (write) access to the table.
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
    if write and getattr(record, "client_id", ctx.client_id) != ctx.client_id:
        raise NotFound(f"No record {record_ref} in table '{spec.table_name}'.")
    return record
