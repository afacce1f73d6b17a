"""The upload engine's ingest: sessions and their chunks (DESIGN §8).

Every dialect (iDempiere, Nuxeo, tus, Axelor, Twake) ends in these functions. Request bodies are
streamed in bounded pieces straight to their place by the session's chunk store
(:mod:`apps.uploads.stores`), hashed while written; the session row is locked only to claim a chunk
and to record it, never while bytes flow, and the chunk's slot lock (:mod:`apps.uploads.locks`)
fences the writer for the whole body.

The rest of the engine: :mod:`~apps.uploads.finalize` (assembly, stored files from finished
uploads, completion hooks), :mod:`~apps.uploads.stored_files` (content-addressed bytes),
:mod:`~apps.uploads.batches` (Nuxeo), :mod:`~apps.uploads.purge`, and :mod:`~apps.uploads.wire`
(what the dialects' inputs become).
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import (
    BadRequest,
    Conflict,
    Gone,
    NotFound,
    PayloadTooLarge,
)
from apps.core.wire import parse_int
from apps.uploads import locks, quota, stored_files, stores, wire
from apps.uploads import storage as st
from apps.uploads.models import Batch, UploadChunk, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")

State = UploadSession.State
Mode = UploadSession.Mode


def session_storage(session: UploadSession) -> Any:
    return st.storage_for(session.storage_alias, session.storage_backend, session.storage_location)


def finalize_enqueue(session_id: int) -> None:
    """Finalize the upload after commit, on a worker (eagerly in the embedded mode). The task is
    found by name (``apps.py`` registers the tasks): the engine never imports its tasks module,
    which imports the engine."""
    task = current_app.tasks["apps.uploads.tasks.finalize_upload"]
    transaction.on_commit(lambda: task.delay(session_id))


def session_row_lock(session_id: int) -> UploadSession:
    """The session row, locked; 404 when it is gone (its batch was dropped meanwhile)."""
    locked = UploadSession.objects.select_for_update().filter(pk=session_id).first()
    if locked is None:
        raise NotFound("The upload no longer exists.")
    return locked


def session_raise_if_closed(session: UploadSession) -> None:
    if session.state == State.CANCELLED:
        raise Gone("The upload was cancelled.")
    if session.is_expired:
        raise Gone("The upload session has expired.")
    if session.state == State.FAILED:
        raise Conflict(f"The upload failed: {session.failure_reason}")


def session_create(
    *,
    ctx: Any,
    file_name: str,
    content_type: str = "",
    size: int | None,
    chunk_size: int | None = None,
    chunk_count: int | None = None,
    sha256: str | None = None,
    location: str = "",
    expires_in: int | None = None,
    dialect: str = "idempiere",
    batch: Batch | None = None,
    batch_index: str | None = None,
    meta: dict[str, Any] | None = None,
    mode: str | None = None,
) -> UploadSession:
    """A new upload session of the caller; sizes and counts bounded by the UPLOAD_* settings.

    ``meta`` is protocol metadata a dialect keeps with the session (e.g. tus Upload-Metadata);
    ``mode`` a storage mode the dialect needs (direct-to-S3), else chosen from the storage.
    """
    content_type = wire.normalize_content_type(content_type, dialect)
    max_file = int(settings.UPLOAD_MAX_FILE_SIZE)
    max_chunk = int(settings.UPLOAD_MAX_CHUNK_SIZE)
    max_chunks = int(settings.UPLOAD_MAX_CHUNKS)
    if size is not None:
        if isinstance(size, int) and not isinstance(size, bool) and size > max_file:
            raise PayloadTooLarge(f"The file is larger than the limit of {max_file} bytes.")
        size = parse_int(size, "fileSize", signed=True)
        if size < 0:
            raise BadRequest("fileSize must not be negative.")
        if size > max_file:
            raise PayloadTooLarge(f"The file is larger than the limit of {max_file} bytes.")
    if chunk_size is not None:
        chunk_size = parse_int(chunk_size, "chunkSize")
        if chunk_size < max(1, int(getattr(settings, "UPLOAD_MIN_CHUNK_SIZE", 1))):
            raise BadRequest("chunkSize is too small.")
        if chunk_size > max_chunk:
            raise PayloadTooLarge(f"chunkSize is larger than the limit of {max_chunk} bytes.")
    if chunk_count is not None:
        chunk_count = parse_int(chunk_count, "chunk count")
        if chunk_count < 1 or chunk_count > max_chunks:
            raise BadRequest(f"The chunk count must be between 1 and {max_chunks}.")
    if size is not None and chunk_size is not None:
        needed = max(1, math.ceil(size / chunk_size))
        if needed > max_chunks:
            raise BadRequest(f"{needed} chunks would exceed the limit of {max_chunks}.")
        if chunk_count is not None and chunk_count != needed:
            raise BadRequest(f"fileSize and chunkSize make {needed} chunks, not {chunk_count}.")
        chunk_count = needed
    if (
        size is not None and chunk_count is not None and chunk_size is None and size > 0
        and math.ceil(size / chunk_count) > max_chunk
    ):
        raise PayloadTooLarge("The chunks would be larger than the chunk size limit.")
    default_expiry = int(settings.UPLOAD_DEFAULT_EXPIRY_SECONDS)
    max_expiry = int(settings.UPLOAD_MAX_EXPIRY_SECONDS)
    expires_in = default_expiry if expires_in in (None, "") else parse_int(expires_in, "expiresInSeconds")
    if expires_in < 1 or expires_in > max_expiry:
        raise BadRequest(f"expiresInSeconds must be between 1 and {max_expiry}.")

    place = st.current_place()
    mode = mode or stores.choose_mode(place, chunk_size, chunk_count)

    with transaction.atomic():
        # A batch dropped meanwhile takes its slots with it: 404 rather than a dangling row.
        # FOR NO KEY UPDATE, as batches.py locks it: the batch's other uploads committing check
        # their foreign key to it (FOR KEY SHARE) and must not wait here.
        batch_row = Batch.objects.select_for_update(no_key=True).filter(pk=batch.pk) if batch else None
        if batch_row is not None and not batch_row.exists():
            raise NotFound("No such batch.")
        # A known length is reserved now, before the storage is opened (413 over the client's
        # quota); an unknown one is counted chunk by chunk (apps.uploads.quota).
        quota.quota_reserve(client_id=ctx.client_id, requested=size)
        session = UploadSession(
            client_id=ctx.client_id,
            org_id=ctx.org_id,
            created_by_id=ctx.user_id,
            updated_by_id=ctx.user_id,
            owner_id=ctx.user_id,
            file_name=wire.sanitize_file_name(file_name),
            content_type=content_type,
            size=size,
            chunk_size=chunk_size,
            chunk_count=chunk_count,
            sha256=wire.normalize_sha256(sha256),
            location=(location or "").strip().upper()[:40],
            dialect=dialect,
            expires_at=timezone.now() + timedelta(seconds=expires_in),
            mode=mode,
            storage_alias=place.alias,
            storage_backend=place.backend,
            storage_location=place.location,
            batch=batch,
            batch_index=str(batch_index or "")[:40],
            meta=dict(meta or {}),
        )
        session.storage_key = stores.session_key(session)
        stores.store_for(session).open(session)
        session.save()
    return session


def session_declare_size(*, session: UploadSession, size: int) -> UploadSession:
    """Set a size left open at creation (tus deferred length); may complete the upload."""
    size = parse_int(size, "size")
    if size < 0:
        raise BadRequest("The size must not be negative.")
    if size > int(settings.UPLOAD_MAX_FILE_SIZE):
        raise PayloadTooLarge("The file is larger than the limit.")
    with transaction.atomic():
        locked = session_row_lock(session.pk)
        session_raise_if_closed(locked)
        if locked.size is not None:
            if locked.size != size:
                raise Conflict("The upload's size is already declared.")
            return locked
        if locked.received_bytes > size:
            raise Conflict("More bytes than that were already received.")
        # The upload counted its received bytes; now it reserves the rest of its length.
        quota.quota_reserve(client_id=locked.client_id, requested=size - locked.received_bytes)
        locked.size = size
        if locked.is_open and locked.all_in():
            locked.state = State.PROCESSING
            finalize_enqueue(locked.pk)
        locked.save(update_fields=["size", "state", "updated"])
    return locked


def session_cancel(*, session: UploadSession) -> None:
    """Cancel: chunks and staging deleted; a finished upload's stored file released.

    The upload is closed first, so that no writer in flight can record anything more; its bytes
    go once those writers stopped (:func:`session_close`)."""
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().filter(pk=session.pk).first()
        if locked is None or locked.state == State.CANCELLED:
            return
        session_close(locked, State.CANCELLED)
    session.state = State.CANCELLED


def session_close(locked: UploadSession, state: str, *, guarded: bool = False) -> None:
    """End a session whose row the caller holds locked (CANCELLED, EXPIRED): its stored file's
    reference released, its chunk rows deleted, its bytes removed after commit — once no writer
    is live (the caller holds the session's guard: ``guarded``; else it is taken then, writers
    asked to stop; one that outlasts the wait is refused at its record and removes what it wrote
    itself)."""
    if locked.stored_file_id:
        stored_files.stored_file_release(stored_file=locked.stored_file)
    locked.state = state
    locked.save(update_fields=["state", "updated"])
    # Requests still receiving a chunk are asked to stop (their claim rows stay until they drop
    # them, so that they can see the request); what was received goes.
    locked.chunks.filter(received=False).update(stop_requested=True)
    locked.chunks.filter(received=True).delete()
    transaction.on_commit(lambda: session_bytes_cleanup(locked) if guarded else _cleanup_guarded(locked))


def _cleanup_guarded(session: UploadSession) -> None:
    guard = locks.session_guard_take(session=session)
    try:
        session_bytes_cleanup(session)
    finally:
        if guard is not None:
            guard.release()


def session_bytes_cleanup(session: UploadSession) -> None:
    """Remove everything an unfinished (or finished) session left in storage, except its file."""
    kept = session.stored_file.storage_key if session.stored_file_id else None
    stores.store_for(session).cleanup(session, kept)


def session_record_result(*, session: UploadSession, **refs: Any) -> UploadSession:
    """Record what a consumer made of the upload (e.g. ``imageId=123``) in ``result_refs``.

    Values must be JSON-serializable; a value ``None`` removes the key. Merged under the row lock.
    """
    with transaction.atomic():
        locked = session_row_lock(session.pk)
        merged = dict(locked.result_refs or {})
        for key, value in refs.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        locked.result_refs = merged
        locked.save(update_fields=["result_refs", "updated"])
    session.result_refs = merged
    return session


def session_concatenate(
    *,
    ctx: Any,
    parts: list[UploadSession],
    file_name: str,
    content_type: str = "",
    dialect: str = "tus",
    meta: dict[str, Any] | None = None,
) -> UploadSession:
    """A new upload made of finished uploads' bytes, in order (tus ``Upload-Concat: final``).

    ``parts`` are the caller's own COMPLETED uploads (the dialect resolves them, owner-scoped). The
    new session is staged with one received chunk per part, each pointing at the part's stored
    bytes, and finalized like any other upload: on S3 the parts become server-side part copies
    (UploadPartCopy) when each but the last has at least 5 MiB, so no byte passes through here;
    locally they are composed in the same pass that hashes them.
    """
    if not parts:
        raise BadRequest("A concatenation needs at least one partial upload.")
    for part in parts:
        if part.state != State.COMPLETED or part.stored_file_id is None:
            raise BadRequest(f"The partial upload {part.uid} is not finished.")
    stored = [part.stored_file for part in parts]
    place = {(f.storage_alias, f.storage_backend, f.storage_location) for f in stored}
    if len(place) != 1:
        raise Conflict("The partial uploads are kept in different storages.")
    size = sum(f.size for f in stored)
    max_file = int(settings.UPLOAD_MAX_FILE_SIZE)
    if size > max_file:
        raise PayloadTooLarge(f"The file would be larger than the limit of {max_file} bytes.")
    alias, backend, location = place.pop()
    expires_in = int(settings.UPLOAD_DEFAULT_EXPIRY_SECONDS)
    with transaction.atomic():
        # Its whole length is new bytes (each partial as often as it is named), whatever the
        # stored files the partials are: reserved against the client's quota.
        quota.quota_reserve(client_id=ctx.client_id, requested=size)
        session = UploadSession(
            client_id=ctx.client_id, org_id=ctx.org_id, created_by_id=ctx.user_id,
            updated_by_id=ctx.user_id, owner_id=ctx.user_id,
            file_name=wire.sanitize_file_name(file_name),
            content_type=wire.normalize_content_type(content_type, dialect),
            size=size, chunk_count=len(parts), dialect=dialect, state=State.PROCESSING,
            expires_at=timezone.now() + timedelta(seconds=expires_in), mode=Mode.STAGED,
            storage_alias=alias, storage_backend=backend, storage_location=location,
            received_bytes=size, meta=dict(meta or {}),
        )
        session.storage_key = stores.session_key(session)
        session.save()
        UploadChunk.objects.bulk_create(
            UploadChunk(session=session, index=n, offset=None, size=f.size, sha256=f.sha256,
                        storage_key=f.storage_key, received=True)
            for n, f in enumerate(stored)
        )
        finalize_enqueue(session.pk)
    return session

