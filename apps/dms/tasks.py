"""Document tasks: fetch by id, call a service, nothing else."""

from __future__ import annotations

from celery import shared_task


# acks_late: a task whose worker died runs again; ``thumbnails_build`` records each render attempt
# before it starts and gives up after THUMBNAIL_MAX_ATTEMPTS, so a redelivery never loops. Only
# storage errors (OSError) are retried here; what the file does to the renderer is not an error.
@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def thumbnails_make(stored_file_id: int) -> int:
    from apps.dms.services import thumbnails_build

    return len(thumbnails_build(stored_file_id=stored_file_id))
