"""Finalize: assemble a finished upload through its chunk store, hash it in one pass, verify, and
make it a stored file. Idempotent, under the session's FINALIZE lock; failures that cannot heal
mark the upload FAILED; uploads whose finalizer died are enqueued again (:func:`uploads_refinalize`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.uploads import locks, services, stores, wire
from apps.uploads import storage as st
from apps.uploads.models import StoredFile, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")

State = UploadSession.State


def session_fail(*, session_id: int, reason: str) -> bool:
    """A finalize that cannot succeed: PROCESSING → FAILED with its reason (for the client)."""
    return bool(
        UploadSession.objects.filter(pk=session_id, state=State.PROCESSING).update(
            state=State.FAILED, failure_reason=reason[:500], updated=timezone.now()
        )
    )


def session_finalize(*, session_id: int) -> bool:
    """Assemble, hash in one pass, verify, produce the StoredFile. Idempotent; safe to re-run.

    Runs under the session's FINALIZE lock: while a live process finalizes, another run returns
    at once; when that process dies, its lock goes with it and the next run starts over. And it
    runs under the session's guard, held exclusively: no request of the session, through any
    dialect, can still write to the bytes it promotes. Writers still holding the guard are asked
    to stop; False when one outlasts ``UPLOAD_LOCK_WAIT`` (run again later: the last writer to
    leave enqueues it, the task retries, and beat's refinalize catches the rest).
    """
    session = UploadSession.objects.filter(pk=session_id).first()
    if session is None:
        return True
    with locks.held(session.uid, locks.FINALIZE) as mine:
        if not mine:
            return True
        guard = locks.session_guard_take(session=session)
        if guard is None:
            logger.info("Finalize of %s waits for a writer still holding the upload", session.uid)
            return False
        try:
            completed = _finalize_locked(session_id)
        finally:
            guard.release()
    if completed is not None:
        # Once nothing of the upload is held: a hook may well close the session (dms cancels a
        # placed file's upload), which takes its guard.
        transaction.on_commit(lambda: _run_completion_hooks(completed))
    return True


def _finalize_locked(session_id: int) -> UploadSession | None:
    """The upload, if this run completed it."""
    claimed = UploadSession.objects.filter(
        pk=session_id, state__in=[State.UPLOADING, State.PROCESSING]
    ).update(state=State.PROCESSING)
    if not claimed:
        return
    session = UploadSession.objects.get(pk=session_id)
    if not session.all_in():
        UploadSession.objects.filter(pk=session_id, state=State.PROCESSING).update(
            state=State.UPLOADING
        )
        return
    store = stores.store_for(session)
    storage = services.session_storage(session)
    digest, size = session.assembled_sha256, None

    if not (digest and not st.exists(storage, session.storage_backend, session.storage_key)):
        try:
            chunks = list(session.chunks.filter(received=True).order_by("index"))
            digest, size = store.assemble(session, chunks)
        except FileNotFoundError:
            session.refresh_from_db()
            if session.state != State.PROCESSING:
                return  # another run finished it meanwhile
            raise
        except stores.AssemblyError as error:
            session_fail(session_id=session.pk, reason=str(error))
            return
        if session.size is not None and size != session.size:
            _fail_unverified(session, f"Size mismatch: {size} bytes received, {session.size} declared.")
            return
        if session.sha256 and digest != session.sha256:
            _fail_unverified(session, f"SHA-256 mismatch: received {digest}, expected {session.sha256}.")
            return
        UploadSession.objects.filter(pk=session_id).update(assembled_sha256=digest)
    else:
        size = session.received_bytes
    return _record_stored_file(session, store, digest, size)


def _fail_unverified(session: UploadSession, reason: str) -> None:
    """FAILED: the bytes are not what the client declared. A direct-to-S3 upload's object goes at
    once (its client wrote it, unchecked, where no other request will look at it again)."""
    if session_fail(session_id=session.pk, reason=reason) and session.mode == UploadSession.Mode.DIRECT:
        services.session_bytes_cleanup(session)
        # Nothing of it is kept any more: it no longer counts against the client's quota.
        UploadSession.objects.filter(pk=session.pk).update(received_bytes=0)


def _record_stored_file(
    session: UploadSession, store: stores.ChunkStore, digest: str, size: int
) -> UploadSession | None:
    backend = session.storage_backend
    for attempt in range(3):
        try:
            with transaction.atomic():
                locked = UploadSession.objects.select_for_update().filter(pk=session.pk).first()
                if locked is None:
                    # Gone meanwhile (its batch was dropped): what was assembled goes too.
                    transaction.on_commit(lambda: services.session_bytes_cleanup(session))
                    return None
                if locked.state != State.PROCESSING:
                    return None
                stored = (
                    StoredFile.objects.select_for_update()
                    .filter(
                        storage_backend=backend,
                        storage_location=session.storage_location,
                        client_id=locked.client_id,
                        sha256=digest,
                    )
                    .first()
                )
                if stored is not None:
                    StoredFile.objects.filter(pk=stored.pk).update(ref_count=F("ref_count") + 1)
                    store.drop_duplicate(locked, stored.storage_key)
                else:
                    content_key = store.promote(locked, digest)
                    head = store.read_head(content_key)
                    stored = StoredFile.objects.create(
                        client_id=locked.client_id,
                        sha256=digest,
                        size=size,
                        content_type=wire.sniff_content_type(
                            head, locked.file_name, locked.content_type
                        )[:255],
                        storage_alias=locked.storage_alias,
                        storage_backend=backend,
                        storage_location=locked.storage_location,
                        storage_key=content_key,
                        ref_count=1,
                        created_by_id=locked.owner_id,
                    )
                locked.stored_file = stored
                locked.state = State.COMPLETED
                locked.completed_at = timezone.now()
                locked.failure_reason = ""
                locked.save()
                # The chunk rows stay as receipts (index, size, SHA-256) so that a chunk sent
                # again after completion is still answered idempotently; their bytes go.
                locked.chunks.update(storage_key="", etag="")
                transaction.on_commit(lambda done=locked: services.session_bytes_cleanup(done))
            return locked
        except IntegrityError:
            if attempt == 2:
                raise
        except stores.AssemblyError as error:
            session_fail(session_id=session.pk, reason=str(error))
            return


_completion_hooks: list[Callable[[UploadSession], None]] = []


def register_completion_hook(hook: Callable[[UploadSession], None]) -> Callable[[UploadSession], None]:
    """Call ``hook(session)`` after an upload became COMPLETED (after commit, in the finalizing
    process). This is how other apps react to finished uploads without uploads importing them;
    register from ``AppConfig.ready()``. Usable as a decorator; registering twice is a no-op.

    A hook's exception is logged and does not affect the upload or the other hooks. Hooks run once
    per completion, at most: a consumer that must not miss one also checks on read.
    """
    if hook not in _completion_hooks:
        _completion_hooks.append(hook)
    return hook


def unregister_completion_hook(hook: Callable[[UploadSession], None]) -> None:
    if hook in _completion_hooks:
        _completion_hooks.remove(hook)


def _run_completion_hooks(session: UploadSession) -> None:
    for hook in list(_completion_hooks):
        try:
            hook(session)
        except Exception:
            logger.exception("Completion hook %r failed for upload %s", hook, session.uid)


def uploads_refinalize(*, now: Any = None) -> int:
    """Enqueue finalize again for PROCESSING uploads that no live process is finalizing.

    With a broker, only those PROCESSING for ``UPLOAD_FINALIZE_STALE_SECONDS`` (their message may
    just be waiting for a worker); eagerly (embedded mode), every one: the process that was
    finalizing it is gone if its lock is free. Re-running finalize is harmless (idempotent, and
    serialized by its lock).
    """
    from config.celery import app

    now = now or timezone.now()
    stuck = UploadSession.objects.filter(state=State.PROCESSING, expires_at__gt=now)
    if not app.conf.task_always_eager:
        bound = now - timedelta(seconds=int(settings.UPLOAD_FINALIZE_STALE_SECONDS))
        stuck = stuck.filter(updated__lte=bound)
    count = 0
    for session_id, uid in stuck.values_list("pk", "uid"):
        if not locks.SlotLock(uid, locks.FINALIZE).is_free():
            continue
        UploadSession.objects.filter(pk=session_id, state=State.PROCESSING).update(updated=now)
        services.finalize_enqueue(session_id)
        count += 1
    return count
