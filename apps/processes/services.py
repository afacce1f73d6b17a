"""Runs of processes: synchronous or as a Celery job; report files stored privately, expiring.

``process_run`` runs a process in the request and answers its result. ``process_job_start``
validates the parameters at once (a 400 comes back to the caller, not into a job), records an
AD_PInstance QUEUED and enqueues :func:`apps.processes.tasks.process_job_run` after commit. Both
end in :func:`instance_execute`, which marks the run COMPLETED or FAILED, never leaves it RUNNING
when the handler fails, and stores the rendered report as a :class:`ReportFile`.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import OperationalError, transaction
from django.utils import timezone

from apps.accounts import selectors as account_selectors
from apps.core.context import RequestContext
from apps.core.errors import ApplicationError
from apps.processes.models import PInstance, Process, ReportFile
from apps.processes.parameters import parameters_parse, report_type_parse
from apps.processes.registry import process_handler
from apps.processes.rendering import report_render

logger = logging.getLogger("ledgerdoc.processes")


def _ttl() -> int:
    return int(getattr(settings, "REPORT_FILE_TTL_SECONDS", 3600))


def _instance_new(ctx: RequestContext, process: Process, body: Any, *, job: bool) -> PInstance:
    _typed, given = parameters_parse(ctx, process, body)
    report_type = report_type_parse(process, body)
    return PInstance.objects.create(
        client_id=ctx.client_id, org_id=ctx.org_id, process=process, user_id=ctx.user_id,
        role_id=ctx.role_id, warehouse_id=ctx.warehouse_id, language=ctx.language,
        parameters=given, report_type=report_type, is_run_as_job=job,
        state=PInstance.State.QUEUED, created_by_id=ctx.user_id, updated_by_id=ctx.user_id,
    )


def process_run(*, ctx: RequestContext, process: Process, body: Any) -> PInstance:
    """Run ``process`` now with the parameters of ``body``; the finished run (COMPLETED/FAILED)."""
    with transaction.atomic():
        instance = _instance_new(ctx, process, body, job=False)
    return instance_execute(instance=instance, ctx=ctx)


def process_job_start(*, ctx: RequestContext, process: Process, body: Any) -> PInstance:
    """Record a QUEUED job of ``process``; the worker runs it after this transaction commits."""
    from apps.processes.tasks import process_job_run

    with transaction.atomic():
        instance = _instance_new(ctx, process, body, job=True)
        transaction.on_commit(lambda pk=instance.pk: _enqueue(process_job_run, pk))
    return instance


def _enqueue(task: Any, instance_id: int) -> None:
    """Hand a job to Celery; with the broker down it stays QUEUED for :func:`jobs_requeue_stale`."""
    try:
        task.delay(instance_id)
    except Exception:
        logger.exception("Job %s not enqueued; the sweep will enqueue it", instance_id)


def jobs_requeue_stale(*, now: Any = None) -> dict[str, int]:
    """The sweep (beat): jobs QUEUED for more than ``PROCESS_JOB_STALE_SECONDS`` are enqueued again (their
    message was lost, or never sent); jobs RUNNING past the job time limit (their worker died) are
    marked FAILED. A second runner of a QUEUED job finds it claimed and does nothing."""
    from apps.processes.tasks import process_job_run

    now = now or timezone.now()
    stale = timedelta(seconds=int(getattr(settings, "PROCESS_JOB_STALE_SECONDS", 300)))
    limit = timedelta(seconds=int(getattr(settings, "PROCESS_JOB_TIME_LIMIT", 600)) + 60)
    queued = list(
        PInstance.objects.filter(is_run_as_job=True, state=PInstance.State.QUEUED, created__lte=now - stale)
        .values_list("pk", flat=True)[:500]
    )
    for pk in queued:
        _enqueue(process_job_run, pk)
    dead = PInstance.objects.filter(
        is_run_as_job=True, state=PInstance.State.RUNNING, started_at__lte=now - limit,
    ).update(
        state=PInstance.State.FAILED, is_error=True, finished_at=now,
        summary="The job did not finish in time (its worker stopped).",
        errors=[{"title": "Job failed", "status": 503, "detail": "The job did not finish in time."}],
    )
    return {"requeued": len(queued), "failed": dead}


def context_for_instance(instance: PInstance) -> RequestContext:
    """The requester's context as it was when the job was submitted (client, role, org)."""
    org_ids, read_only = account_selectors.role_org_access(instance.role)
    return RequestContext(
        user_id=instance.user_id, client_id=instance.client_id, role_id=instance.role_id,
        org_id=instance.org_id, warehouse_id=instance.warehouse_id, language=instance.language,
        user=instance.user, role=instance.role, org_ids=org_ids, read_only_org_ids=read_only,
    )


def _claim(instance_id: int) -> bool:
    """QUEUED → RUNNING for exactly one runner (a redelivered task finds it taken)."""
    return bool(
        PInstance.objects.filter(pk=instance_id, state=PInstance.State.QUEUED).update(
            state=PInstance.State.RUNNING, started_at=timezone.now(), updated=timezone.now(),
        )
    )


def _store_file(instance: PInstance, content: bytes, content_type: str, file_name: str) -> ReportFile:
    key = default_storage.save(ReportFile.new_key(instance.client_id), ContentFile(content))
    return ReportFile.objects.create(
        client_id=instance.client_id, org_id=instance.org_id, instance=instance,
        user_id=instance.user_id, file_name=file_name, content_type=content_type,
        size=len(content), sha256=hashlib.sha256(content).hexdigest(), storage_key=key,
        expires_at=timezone.now() + timedelta(seconds=_ttl()),
        created_by_id=instance.user_id, updated_by_id=instance.user_id,
    )


def _finish(instance: PInstance, **fields: Any) -> PInstance:
    fields.setdefault("finished_at", timezone.now())
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.save(update_fields=[*fields, "updated"])
    return instance


def instance_execute(*, instance: PInstance, ctx: RequestContext | None = None) -> PInstance:
    """Run a QUEUED run to its end; a run already claimed by another runner is returned as it is.

    Transient database errors propagate (the job task retries them); any other failure marks the
    run FAILED with ``isError`` and the problem in ``errors``."""
    if not _claim(instance.pk):
        instance.refresh_from_db()
        return instance
    instance.refresh_from_db()
    instance.attempts += 1
    instance.save(update_fields=["attempts", "updated"])
    ctx = ctx or context_for_instance(instance)
    process = instance.process
    handler = process_handler(process.handler)
    try:
        if handler is None:
            raise ApplicationError(f"Process '{process.value}' has no handler '{process.handler}'.")
        typed, _given = parameters_parse(ctx, process, instance.parameters)
        outcome = handler(ctx, typed)
        if outcome.report is not None:
            rendered = report_render(outcome.report, instance.report_type or "PDF")
            stamp = timezone.now().strftime("%Y%m%d_%H%M%S")
            _store_file(
                instance, rendered.content, rendered.content_type,
                f"{outcome.report.base_name}_{instance.pk}_{stamp}.{rendered.extension}",
            )
    except OperationalError:
        PInstance.objects.filter(pk=instance.pk).update(state=PInstance.State.QUEUED)
        raise
    except ApplicationError as exc:
        return _finish(
            instance, state=PInstance.State.FAILED, is_error=True, summary=str(exc.detail),
            errors=[{"title": exc.title, "status": exc.status, "detail": exc.detail}],
        )
    except Exception as exc:
        logger.exception("Process %s (run %s) failed", process.value, instance.pk)
        return _finish(
            instance, state=PInstance.State.FAILED, is_error=True,
            summary=f"The process failed ({type(exc).__name__}).",
            errors=[{"title": "Process failed", "status": 500, "detail": type(exc).__name__}],
        )
    return _finish(
        instance, state=PInstance.State.COMPLETED, is_error=False, summary=outcome.summary,
        logs=list(outcome.logs),
    )


def instance_fail(*, instance_id: int, reason: str) -> None:
    """A job the worker gave up on: FAILED with ``reason`` (unless it already ended)."""
    PInstance.objects.filter(pk=instance_id).exclude(state__in=PInstance.DONE_STATES).update(
        state=PInstance.State.FAILED, is_error=True, summary=reason, finished_at=timezone.now(),
        errors=[{"title": "Job failed", "status": 503, "detail": reason}],
    )


def report_files_purge(*, now: Any = None) -> int:
    """Delete expired report files (row and bytes); the number deleted."""
    now = now or timezone.now()
    count = 0
    for report_file in ReportFile.objects.filter(expires_at__lte=now).iterator():
        try:
            default_storage.delete(report_file.storage_key)
        except Exception:  # noqa: BLE001 - bytes already gone: drop the row all the same
            logger.warning("Report file %s: bytes not deleted", report_file.storage_key)
        report_file.delete()
        count += 1
    return count
