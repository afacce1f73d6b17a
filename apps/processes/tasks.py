"""Celery tasks of processes: fetch by id, call a service, nothing else."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from apps.processes import services
from apps.processes.models import PInstance

logger = logging.getLogger("ledgerdoc.processes")
JOB_MAX_RETRIES = 3
JOB_TIME_LIMIT = int(getattr(settings, "PROCESS_JOB_TIME_LIMIT", 600))


@shared_task(
    bind=True, acks_late=True, max_retries=JOB_MAX_RETRIES,
    soft_time_limit=JOB_TIME_LIMIT, time_limit=JOB_TIME_LIMIT + 30,
)
def process_job_run(self, instance_id: int) -> None:
    instance = PInstance.objects.filter(pk=instance_id).select_related("process", "user", "role").first()
    if instance is None or instance.state != PInstance.State.QUEUED:
        return
    try:
        services.instance_execute(instance=instance)
    except OperationalError as error:
        if self.request.is_eager or self.request.retries >= JOB_MAX_RETRIES:
            services.instance_fail(
                instance_id=instance_id, reason=f"The job could not run ({type(error).__name__}).",
            )
            return
        raise self.retry(exc=error, countdown=min(120, 5 * 2**self.request.retries)) from error
    except Exception as error:
        logger.exception("Job %s failed", instance_id)
        services.instance_fail(instance_id=instance_id, reason=f"The job failed ({type(error).__name__}).")


@shared_task(acks_late=True)
def purge_report_files() -> int:
    return services.report_files_purge()


@shared_task(acks_late=True)
def requeue_stale_jobs() -> dict[str, int]:
    return services.jobs_requeue_stale()
