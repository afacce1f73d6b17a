"""Nuxeo upload batches: numbered file slots, each an upload session."""

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
        if Batch.objects.select_for_update().filter(pk=batch.pk).first() is None:
            raise NotFound("No such batch.")
        session = batch_session(batch, batch_index)
        if session is not None and (reuse is None or reuse(session)):
            return session, False
        session = services.session_create(
            ctx=ctx, file_name=file_name, content_type=content_type, size=size,
            chunk_size=chunk_size, chunk_count=chunk_count, dialect=dialect, batch=batch,
            batch_index=batch_index, meta=meta,
        )
        batch_slot_replace(batch=batch, batch_index=batch_index, keep=session)
    return session, True


def batch_slot_replace(*, batch: Batch, batch_index: str, keep: UploadSession) -> None:
    """A new upload of a slot replaces the slot's older ones (Nuxeo overwrites the file)."""
    older = (
        batch.sessions.filter(batch_index=str(batch_index))
        .exclude(pk=keep.pk)
        .exclude(state__in=[State.CANCELLED, State.EXPIRED])
    )
    for session in older:
        services.session_cancel(session=session)


def batch_drop(*, batch: Batch) -> None:
    """Cancel every upload of the batch and delete it (under its row lock, so a file being added
    to it at the same time either lands before and is cancelled, or finds the batch gone: 404)."""
    with transaction.atomic():
        if Batch.objects.select_for_update().filter(pk=batch.pk).first() is None:
            return
        for session in batch.sessions.exclude(state__in=[State.CANCELLED, State.EXPIRED]):
            services.session_cancel(session=session)
        batch.delete()
