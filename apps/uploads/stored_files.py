"""Stored files: bytes kept once per SHA-256 per tenant per storage, reference-counted; the last
release frees them (a task, after commit)."""

from __future__ import annotations

import logging
from typing import IO, Any

from celery import current_app
from django.db import transaction
from django.db.models import F

from apps.uploads import storage as st
from apps.uploads.models import StoredFile, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")


def stored_file_storage_of(stored_file: StoredFile) -> Any:
    return st.storage_for(
        stored_file.storage_alias, stored_file.storage_backend, stored_file.storage_location
    )


def _enqueue_free(stored_file_id: int) -> None:
    task = current_app.tasks["apps.uploads.tasks.free_stored_file"]  # by name: see services
    transaction.on_commit(lambda: task.delay(stored_file_id))


def stored_file_storage(stored_file: StoredFile) -> Any:
    """The storage that holds a stored file's bytes (recorded on the row)."""
    return stored_file_storage_of(stored_file)


def stored_file_open(stored_file: StoredFile) -> IO[bytes]:
    """A streaming reader over the stored bytes (the caller closes it)."""
    storage = stored_file_storage_of(stored_file)
    return st.open_read(storage, stored_file.storage_backend, stored_file.storage_key)


def stored_file_retain(*, stored_file: StoredFile) -> None:
    StoredFile.objects.filter(pk=stored_file.pk).update(ref_count=F("ref_count") + 1)
    stored_file.ref_count += 1


def stored_file_release(*, stored_file: StoredFile) -> None:
    """Drop one reference; when none is left a task frees the bytes (after commit)."""
    with transaction.atomic():
        StoredFile.objects.filter(pk=stored_file.pk, ref_count__gt=0).update(
            ref_count=F("ref_count") - 1
        )
        remaining = StoredFile.objects.filter(pk=stored_file.pk).values_list(
            "ref_count", flat=True
        ).first()
        if remaining is not None:
            stored_file.ref_count = remaining
            if remaining == 0:
                _enqueue_free(stored_file.pk)


def stored_file_free(*, stored_file_id: int) -> bool:
    """Delete the bytes and the row of a stored file nobody references any more."""
    from django.db.models import ProtectedError

    with transaction.atomic():
        stored = StoredFile.objects.select_for_update().filter(pk=stored_file_id).first()
        if stored is None or stored.ref_count > 0:
            return False
        try:
            with transaction.atomic():
                UploadSession.objects.filter(stored_file=stored).update(stored_file=None)
                stored.delete()
        except ProtectedError:
            logger.warning("Stored file %s has no references but is still in use", stored.pk)
            return False
        storage = stored_file_storage_of(stored)
        st.delete(storage, stored.storage_backend, stored.storage_key)
    return True
