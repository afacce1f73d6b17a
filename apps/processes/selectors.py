"""Reads of processes, runs and report files, scoped to the caller (client, role, requester)."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from django.db.models import Q, QuerySet

from apps.core.context import RequestContext
from apps.core.errors import Forbidden, Gone, NotFound
from apps.core.models import SYSTEM_CLIENT_ID
from apps.core.wire import parse_id_or_key
from apps.processes.models import PInstance, Process, ReportFile, slugify_value
from apps.records.dictionary import build_table_meta
from apps.records.query import compile_filter


@lru_cache(maxsize=1)
def _process_meta():
    return build_table_meta(Process, identifier=("Value",))


def processes_of_client(ctx: RequestContext) -> QuerySet[Process]:
    """Active processes of the caller's client and the System's."""
    return Process.objects.filter(is_active=True, client_id__in=[ctx.client_id, SYSTEM_CLIENT_ID])


def process_access(ctx: RequestContext) -> dict[int, bool] | None:
    """``None`` when the role reaches every process, else ``{process id: may run}`` of visible ones
    (AD_Process_Access rows, as AD_Table_Access rows are for tables)."""
    if ctx.role.is_all_tables:
        return None
    from apps.processes.models import ProcessAccess

    return dict(
        ProcessAccess.objects.filter(role_id=ctx.role_id, is_active=True)
        .values_list("process_id", "is_read_write")
    )


def processes_visible(ctx: RequestContext, filter_text: str | None) -> list[Process]:
    """The processes the role may see, ordered by search key, filtered by ``$filter``."""
    qs = processes_of_client(ctx).filter(compile_filter(_process_meta(), filter_text))
    access = process_access(ctx)
    if access is not None:
        qs = qs.filter(pk__in=list(access))
    return list(qs.order_by("value", "id"))


def process_by_slug(ctx: RequestContext, slug: str, *, run: bool = False) -> Process:
    """The process whose slug is ``slug``: 404 when there is none, 403 when the role may not see
    it (or, with ``run``, may not run it), as iDempiere REST answers."""
    wanted = slugify_value(slug)
    candidates = [p for p in processes_of_client(ctx).order_by("-client_id", "id") if p.slug == wanted]
    if not candidates or wanted != slug.lower():
        raise NotFound(f"No process '{slug}'.")
    process = candidates[0]  # the client's own wins over a System process of the same slug
    access = process_access(ctx)
    if access is not None and (process.pk not in access or (run and not access[process.pk])):
        raise Forbidden(f"Your role may not {'run' if run else 'see'} process '{slug}'.")
    return process


def _owned(ctx: RequestContext) -> Q:
    return Q(client_id=ctx.client_id, user_id=ctx.user_id)


def job_get(ctx: RequestContext, job_id: Any) -> PInstance:
    """A job of the caller (same client and user); anyone else's is 404."""
    key = parse_id_or_key(job_id, "Job id")
    qs = PInstance.objects.filter(_owned(ctx), is_run_as_job=True).select_related("process", "user")
    found = qs.filter(pk=key).first() if isinstance(key, int) else None
    if found is None:
        raise NotFound(f"No job '{job_id}'.")
    return found


def jobs_pending(ctx: RequestContext) -> list[PInstance]:
    return list(
        PInstance.objects.filter(_owned(ctx), is_run_as_job=True)
        .exclude(state__in=PInstance.DONE_STATES).select_related("process", "user").order_by("id")
    )


def _uuid(text: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def report_file_get(ctx: RequestContext, file_id: str) -> ReportFile:
    """A report file of the caller: 404 for anyone else's (or an unknown id), 410 once expired."""
    key = _uuid(file_id)
    found = (
        ReportFile.objects.filter(_owned(ctx), uid=key).first() if key is not None else None
    )
    if found is None:
        raise NotFound(f"No file '{file_id}'.")
    if found.is_expired:
        raise Gone(f"File '{file_id}' has expired; run the report again.")
    return found
