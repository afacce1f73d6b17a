"""Reads of the upload engine, scoped to the caller (owner-only; other users and tenants get 404)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.core import prepared
from apps.core.errors import Conflict, Gone, NotFound, NotReady
from apps.uploads.models import Batch, StoredFile, UploadChunk, UploadSession


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def sessions_of_owner(ctx: Any) -> QuerySet[UploadSession]:
    return UploadSession.objects.filter(client_id=ctx.client_id, owner_id=ctx.user_id)


# Every chunk of every dialect looks its session up: one statement planned once per connection.
_owner_session = prepared.ModelRead(UploadSession, "client", "owner", "uid")


def session_for_owner(ctx: Any, upload_id: Any) -> UploadSession:
    """The caller's upload session: 404 for other users and tenants and once cancelled (tus
    termination, iDempiere DELETE: the upload no longer exists), 410 once expired."""
    uid = _uuid(upload_id)
    session = _owner_session.first(ctx.client_id, ctx.user_id, uid) if uid else None
    if session is None or session.state == UploadSession.State.CANCELLED:
        raise NotFound("No such upload.")
    if session.is_expired:
        raise Gone("The upload session has expired.")
    return session


def session_for_signature(upload_id: Any) -> UploadSession:
    """The session a verified presigned URL names (the signature is the caller's capability);
    404 once cancelled, 410 once expired, as :func:`session_for_owner`."""
    uid = _uuid(upload_id)
    session = UploadSession.objects.filter(uid=uid).first() if uid else None
    if session is None or session.state == UploadSession.State.CANCELLED:
        raise NotFound("No such upload.")
    if session.is_expired:
        raise Gone("The upload session has expired.")
    return session


def sessions_pending_for_owner(ctx: Any) -> QuerySet[UploadSession]:
    """The caller's unfinished uploads that have not expired, oldest first."""
    return (
        sessions_of_owner(ctx)
        .filter(state__in=UploadSession.PENDING_STATES, expires_at__gt=timezone.now())
        .order_by("created", "id")
    )


def session_chunks(session: UploadSession) -> QuerySet[UploadChunk]:
    return session.chunks.filter(received=True).order_by("index")


def batch_for_owner(ctx: Any, batch_id: Any) -> Batch:
    """The caller's batch: 404 for other users and tenants, 410 once expired."""
    uid = _uuid(batch_id)
    batch = (
        Batch.objects.filter(client_id=ctx.client_id, owner_id=ctx.user_id, uid=uid).first()
        if uid
        else None
    )
    if batch is None:
        raise NotFound("No such batch.")
    if batch.is_expired:
        raise Gone("The batch has expired.")
    return batch


def batch_session(batch: Batch, batch_index: str) -> UploadSession | None:
    """The live upload in a batch's file slot (the newest, cancelled ones ignored)."""
    return (
        batch.sessions.filter(batch_index=str(batch_index))
        .exclude(state__in=[UploadSession.State.CANCELLED, UploadSession.State.EXPIRED])
        .order_by("-created", "-id")
        .first()
    )


def batch_slot(batch: Batch, batch_index: str) -> UploadSession:
    """The live upload in a batch's file slot; 404 when the slot is empty."""
    session = batch_session(batch, str(batch_index))
    if session is None:
        raise NotFound(f"No file {batch_index} in batch {batch.uid}.")
    return session


def session_wait_settled(session: UploadSession, *, seconds: float, poll: float = 0.1) -> str:
    """Wait up to ``seconds`` while a finished upload is being finalized (PROCESSING); its state.

    For dialects whose clients use an upload the moment its last byte was accepted (a Nuxeo batch
    file is a blob at once) while finalize runs on a worker. Call it outside a transaction."""
    deadline = time.monotonic() + seconds
    session.refresh_from_db(fields=["state", "stored_file"])
    while session.state == UploadSession.State.PROCESSING and time.monotonic() < deadline:
        time.sleep(poll)
        session.refresh_from_db(fields=["state", "stored_file"])
    return str(session.state)


def stored_file_by_id(stored_file_id: int) -> StoredFile | None:
    return StoredFile.objects.filter(pk=stored_file_id).first()


def session_finished_file(session: UploadSession) -> StoredFile:
    """The stored file of a finished upload, for its download: 409 + Retry-After while it is
    being finalized, 409 with how far it got before that."""
    if session.state == UploadSession.State.PROCESSING:
        raise NotReady("The upload is still being processed.", retry_after=1)
    if session.finished_file is None:
        total = session.size if session.size is not None else "an unknown number of"
        raise Conflict(
            f"The upload is {session.state.lower()}: {session.received_bytes} of {total} bytes.",
            headers={"Upload-Offset": str(session.received_bytes)},
        )
    return session.finished_file
