"""Purge: what expired or was abandoned goes, and nothing stays PROCESSING for good."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.uploads import batches, finalize, locks, services, stored_files
from apps.uploads import storage as st
from apps.uploads.models import Batch, StoredFile, UploadSession

State = UploadSession.State


# Expired and cancelled session rows are kept this long (answering 410/404) before they go.
ROW_RETENTION = timedelta(days=7)


def uploads_purge(*, now: Any = None) -> dict[str, int]:
    """Finalize again what a dead process left PROCESSING, expire overdue sessions and batches,
    delete their bytes, abort abandoned multipart uploads, free unreferenced stored files. Safe
    to run anywhere, any time (beat, ``manage.py purge_uploads``, ``make run`` at start)."""
    now = now or timezone.now()
    counts = {
        "refinalized": 0, "expired": 0, "deleted": 0, "multipart_aborted": 0, "files_freed": 0,
        "batches": 0,
    }
    counts["refinalized"] = finalize.uploads_refinalize(now=now)
    expirable = (State.INITIATED, State.UPLOADING, State.PROCESSING, State.FAILED, State.COMPLETED)
    overdue = UploadSession.objects.filter(expires_at__lte=now, state__in=expirable)
    for session_id, uid, state in overdue.values_list("pk", "uid", "state").iterator():
        # A PROCESSING upload past its expiry is cleaned like any other unless a live process is
        # finalizing it right now (then the next purge sees it again).
        with locks.held(uid, locks.FINALIZE) as not_finalizing:
            if state == State.PROCESSING and not not_finalizing:
                continue
            # No writer of the upload is live while its bytes go (its guard, exclusively).
            guard = locks.session_guard_take(
                session=UploadSession(pk=session_id, uid=uid), wait=1.0
            )
            if guard is None:
                continue  # a writer outlasted the stop: the next purge sees it again
            with guard, transaction.atomic():
                session = UploadSession.objects.select_for_update().filter(pk=session_id).first()
                if session is None or session.expires_at > now or session.state not in expirable:
                    continue
                services.session_close(session, State.EXPIRED, guarded=True)
        counts["expired"] += 1
    old = UploadSession.objects.filter(
        state__in=[State.EXPIRED, State.CANCELLED], expires_at__lte=now - ROW_RETENTION
    )
    counts["deleted"] = old.delete()[0]
    for batch in Batch.objects.filter(expires_at__lte=now):
        batches.batch_drop(batch=batch)
        counts["batches"] += 1
    counts["multipart_aborted"] = _abort_abandoned_multipart(now)
    for stored_id in StoredFile.objects.filter(ref_count=0).values_list("pk", flat=True):
        counts["files_freed"] += int(stored_files.stored_file_free(stored_file_id=stored_id))
    return counts


def _abort_abandoned_multipart(now: Any) -> int:
    place = st.current_place()
    if not place.is_s3:
        return 0
    storage = st.storage_for(place.alias, place.backend, place.location)
    live = set(
        UploadSession.objects.filter(state__in=UploadSession.PENDING_STATES)
        .exclude(s3_upload_id="")
        .values_list("s3_upload_id", flat=True)
    )
    aborted = 0
    for key, upload_id, initiated in st.s3_list_multipart_uploads(storage, "blobs/"):
        if upload_id in live:
            continue
        if initiated is not None and initiated > now - timedelta(hours=1):
            continue  # maybe a finalize composing right now
        st.s3_abort(storage, key, upload_id)
        aborted += 1
    return aborted
