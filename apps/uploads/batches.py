"""Nuxeo upload batches: numbered file slots, each an upload session.

Lock order (PostgreSQL row locks): the batch row, then its sessions' rows in id order, then stored
files, then chunk rows. A chunk's record and finalize start at a session row; a batch DELETE takes
them all, in that order. The one lock taken out of order is a deferred foreign-key check's, below.

The batch row is locked here ``FOR NO KEY UPDATE``. A transaction that writes a session row twice
(a chunk's record that completes an upload counted by chunks) checks the row's deferred foreign
key to its batch at COMMIT, taking ``FOR KEY SHARE`` on the batch row while it holds the session
row. ``FOR UPDATE`` on the batch blocks that check, and its holder waiting for the session row
made the deadlock of a batch DELETE racing its uploads (issue 23); ``FOR NO KEY UPDATE`` still
serializes whoever locks the batch (opening a slot's upload, dropping the batch) and lets those
checks through. ``services.session_create`` locks it ``FOR UPDATE``: after that a transaction must
not wait for any session row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import NotFound
from apps.uploads import services
from apps.uploads.models import Batch, UploadSession

State = UploadSession.State


def batch_create(*, ctx: Any, expires_in: int | None = None) -> Batch:
    seconds = expires_in or int(settings.UPLOAD_DEFAULT_EXPIRY_SECONDS)
    return Batch.objects.create(
        client_id=ctx.client_id, org_id=ctx.org_id, owner_id=ctx.user_id,
        created_by_id=ctx.user_id, updated_by_id=ctx.user_id,
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )


def batch_slot_session(
    *,
    ctx: Any,
    batch: Batch,
    batch_index: str,
    reuse: Callable[[UploadSession], bool] | None = None,
    file_name: str,
    content_type: str = "",
    size: int | None,
    chunk_size: int | None = None,
    chunk_count: int | None = None,
    dialect: str = "nuxeo",
    meta: dict[str, Any] | None = None,
) -> tuple[UploadSession, bool]:
    """The upload of a batch's file slot: the live one when ``reuse(session)`` says it is the same
    upload, else a new one that replaces the slot's older uploads. Returns (session, created).

    Runs under a lock on the batch row, so parallel first chunks of a new file (Nuxeo) join one
    upload instead of each opening its own.
    """
    from apps.uploads.selectors import batch_session

    batch_index = str(batch_index)
    with transaction.atomic():
        if _lock_batch(batch) is None:
            raise NotFound("No such batch.")
        session = batch_session(batch, batch_index)
        if session is not None and (reuse is None or reuse(session)):
            return session, False
        # The slot's older uploads are cancelled before the new one is opened (all or nothing:
        # one transaction). session_create locks the batch row FOR UPDATE, which a chunk's record
        # committing checks against while it holds its session row: once we hold that lock we
        # must not wait for any session row.
        _slot_cancel(batch, batch_index)
        session = services.session_create(
            ctx=ctx, file_name=file_name, content_type=content_type, size=size,
            chunk_size=chunk_size, chunk_count=chunk_count, dialect=dialect, batch=batch,
            batch_index=batch_index, meta=meta,
        )
    return session, True


def _lock_batch(batch: Batch) -> Batch | None:
    """The batch row, locked FOR NO KEY UPDATE (see the module's docstring); None once dropped."""
    return Batch.objects.select_for_update(no_key=True).filter(pk=batch.pk).first()


def batch_slot_replace(*, batch: Batch, batch_index: str, keep: UploadSession) -> None:
    """A new upload of a slot replaces the slot's older ones (Nuxeo overwrites the file)."""
    _slot_cancel(batch, batch_index, keep=keep)


def _slot_cancel(batch: Batch, batch_index: str, keep: UploadSession | None = None) -> None:
    """Cancel the live uploads of a slot but ``keep``, in id order (as every path locks sessions)."""
    older = (
        batch.sessions.filter(batch_index=str(batch_index))
        .exclude(state__in=[State.CANCELLED, State.EXPIRED])
        .order_by("pk")
    )
    if keep is not None:
        older = older.exclude(pk=keep.pk)
    for session in older:
        services.session_cancel(session=session)


def batch_drop(*, batch: Batch) -> None:
    """Cancel every upload of the batch and delete it (under its row lock, so a file being added
    to it at the same time either lands before and is cancelled, or finds the batch gone: 404).

    Every session row of the batch is locked, in id order, before any stored file or chunk row is
    touched: a finalize or a chunk's record holding one of them waits for nothing the drop holds
    (the drop waits for it instead), whatever files the batch's uploads share."""
    with transaction.atomic():
        if _lock_batch(batch) is None:
            return
        sessions = list(
            UploadSession.objects.select_for_update().filter(batch_id=batch.pk).order_by("pk")
        )
        for session in sessions:
            if session.state not in (State.CANCELLED, State.EXPIRED):
                services.session_close(session, State.CANCELLED)
        batch.delete()
