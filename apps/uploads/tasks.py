"""Celery tasks of the upload engine: fetch by id, call a service, nothing else.

Finalize never leaves an upload PROCESSING for good: transient errors (database, network) are
retried with backoff and, past the last retry, mark the upload FAILED with the reason; any other
error marks it FAILED at once. A worker killed mid-finalize loses its lock with its connection,
and the purge task enqueues the upload again.
"""

from __future__ import annotations

import contextlib
import logging

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError
from django.conf import settings
from django.db import OperationalError

from apps.core.errors import InsufficientStorage, ServiceUnavailable
from apps.uploads import finalize, purge, stored_files

logger = logging.getLogger("ledgerdoc.uploads")

# Worth another try: the database, the network, a full disk, a failing S3 or the lock connection
# may be back soon.
TRANSIENT = (OperationalError, ConnectionError, TimeoutError, InsufficientStorage,
             ServiceUnavailable)
FINALIZE_MAX_RETRIES = 5
FINALIZE_BUSY_RETRIES = 30


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=FINALIZE_MAX_RETRIES,
    soft_time_limit=settings.UPLOAD_FINALIZE_TIME_LIMIT,
    time_limit=settings.UPLOAD_FINALIZE_TIME_LIMIT + 30,
)
def finalize_upload(self, session_id: int) -> None:
    try:
        done = finalize.session_finalize(session_id=session_id)
    except TRANSIENT as error:
        if self.request.is_eager:
            # In the web process: the upload stays PROCESSING and the next purge finalizes it.
            logger.warning("Finalize of upload %s hit %r; purge will retry", session_id, error)
            return
        if self.request.retries >= FINALIZE_MAX_RETRIES:
            logger.error("Finalize of upload %s gave up: %r", session_id, error)
            finalize.session_fail(
                session_id=session_id,
                reason=f"The file could not be assembled ({type(error).__name__}); upload again.",
            )
            return
        raise self.retry(exc=error, countdown=min(300, 5 * 2**self.request.retries)) from error
    except Exception as error:
        logger.exception("Finalize of upload %s failed", session_id)
        finalize.session_fail(
            session_id=session_id,
            reason=f"The file could not be assembled ({type(error).__name__}).",
        )
        return
    if not done and not self.request.is_eager:
        # A writer of the upload still held it: soon again (the writer leaving enqueues it too,
        # and beat's refinalize catches an upload whose every try came too early).
        with contextlib.suppress(MaxRetriesExceededError):
            raise self.retry(countdown=2, max_retries=FINALIZE_BUSY_RETRIES)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def free_stored_file(stored_file_id: int) -> None:
    stored_files.stored_file_free(stored_file_id=stored_file_id)


@shared_task(acks_late=True)
def purge_uploads() -> dict:
    return purge.uploads_purge()


@shared_task(acks_late=True)
def refinalize_uploads() -> int:
    return finalize.uploads_refinalize()
