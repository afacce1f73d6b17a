"""Celery tasks of the upload engine: fetch by id, call a service, nothing else."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.uploads import services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def finalize_upload(session_id: int) -> None:
    services.session_finalize(session_id=session_id)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def free_stored_file(stored_file_id: int) -> None:
    services.stored_file_free(stored_file_id=stored_file_id)


@shared_task(acks_late=True)
def purge_uploads() -> dict:
    return services.uploads_purge()
