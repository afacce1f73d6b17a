"""The one place dms talks to the uploads engine (apps.uploads): sessions, batches, stored files.

Keeping the calls here lets the dialects stay small and the engine's API change in one spot.
"""

from __future__ import annotations

import io
import math
import time
from typing import IO, Any

from django.conf import settings

from apps.core.context import RequestContext
from apps.core.errors import NotFound


def _services() -> Any:
    from apps.uploads import services

    return services


def _finalize() -> Any:
    from apps.uploads import finalize

    return finalize


def _batches() -> Any:
    from apps.uploads import batches

    return batches


def _stored_files() -> Any:
    from apps.uploads import stored_files

    return stored_files


def _selectors() -> Any:
    from apps.uploads import selectors

    return selectors


# --- sessions -------------------------------------------------------------------------------------


def session_create(
    *, ctx: RequestContext, file_name: str, content_type: str, size: int | None,
    chunk_size: int | None, chunk_count: int | None, dialect: str, location: str = "", batch: Any = None,
    batch_index: Any = None, sha256: str = "", expires_in: int | None = None,
) -> Any:
    return _services().session_create(
        ctx=ctx, file_name=file_name, content_type=content_type, size=size,
        chunk_size=chunk_size, chunk_count=chunk_count, sha256=sha256, location=location,
        expires_in=expires_in, dialect=dialect, batch=batch, batch_index=batch_index,
    )


def chunk_accept(
    *, session: Any, stream: IO[bytes], length: int, index: int | None, offset: int | None,
    sha256: str | None = None,
) -> Any:
    """Index 0-based; ``index=None`` appends at ``offset``, which must be where the bytes end."""
    return _services().chunk_accept(
        session=session, stream=stream, length=length, index=index, offset=offset,
        sha256=sha256, checksum=None,
    )


def session_for_owner(ctx: RequestContext, session_ref: Any) -> Any:
    """The caller's own session (404 for anyone else's, 410 when expired)."""
    return _selectors().session_for_owner(ctx, str(session_ref))


def session_cancel(session: Any) -> None:
    """Cancel a session (its chunks go, and its own reference on a finished file is released)."""
    _services().session_cancel(session=session)


def session_finalize_now(session: Any) -> Any:
    """Run finalize in this process (idempotent; the queued task then finds it done)."""
    _finalize().session_finalize(session_id=session.pk)
    session.refresh_from_db()
    return session


def session_record_result(session: Any, **refs: Any) -> None:
    """Tell the engine what was made of an upload (``imageId`` shows in its GET answer)."""
    _services().session_record_result(session=session, **refs)


def completion_hook_register(hook: Any) -> None:
    """``hook(session)`` runs after an upload is COMPLETED (after commit, where it finalized)."""
    _finalize().register_completion_hook(hook)


def session_id(session: Any) -> str:
    return str(session.uid)


def session_state(session: Any) -> str:
    session.refresh_from_db(fields=["state", "stored_file"])
    return str(session.state)


def session_wait_settled(session: Any, *, seconds: float, poll: float = 0.1) -> str:
    """Wait up to ``seconds`` while a finished upload is being finalized (PROCESSING); its state.

    For dialects whose clients use an upload the moment its last byte was accepted (Nuxeo: a
    batch file is a blob at once) while finalize runs on a worker. Call it outside a transaction."""
    deadline = time.monotonic() + seconds
    state = session_state(session)
    while state == "PROCESSING" and time.monotonic() < deadline:
        time.sleep(poll)
        state = session_state(session)
    return state


def session_stored_file(session: Any) -> Any:
    if session.state != "COMPLETED" or session.stored_file_id is None:
        return None
    return session.stored_file


def session_file_name(session: Any) -> str:
    return session.file_name


def session_content_type(session: Any) -> str:
    return session.content_type or "application/octet-stream"


def session_location(session: Any) -> str:
    return session.location or ""


def session_size(session: Any) -> int | None:
    return session.size


def session_chunk_size(session: Any) -> int:
    return int(session.chunk_size or session.size or 1)


def session_chunk_count(session: Any) -> int:
    if session.chunk_count:
        return int(session.chunk_count)
    if session.size and session.chunk_size:
        return max(math.ceil(session.size / session.chunk_size), 1)
    return 1


def session_received_size(session: Any) -> int:
    session.refresh_from_db(fields=["received_bytes"])
    return int(session.received_bytes)


# --- batches (Nuxeo) ------------------------------------------------------------------------------


def batch_for_owner(ctx: RequestContext, batch_id: str) -> Any:
    return _selectors().batch_for_owner(ctx, batch_id)


def batch_session(batch: Any, file_idx: str) -> Any:
    session = _selectors().batch_session(batch, str(file_idx))
    if session is None:
        raise NotFound(f"No file {file_idx} in batch {batch.uid}.")
    return session


def batch_drop(ctx: RequestContext, batch: Any) -> None:
    _batches().batch_drop(batch=batch)


# --- stored files ---------------------------------------------------------------------------------


def stored_file_open(stored_file: Any) -> IO[bytes]:
    return _stored_files().stored_file_open(stored_file)


def stored_file_retain(*, stored_file: Any) -> None:
    _stored_files().stored_file_retain(stored_file=stored_file)


def stored_file_release(*, stored_file: Any) -> None:
    _stored_files().stored_file_release(stored_file=stored_file)


def stored_file_storage(stored_file: Any) -> Any:
    """The storage that holds a stored file's bytes (recorded on the row, so a worker whose
    default storage differs still finds them); its thumbnails are kept beside them."""
    return _stored_files().stored_file_storage(stored_file)


def stored_file_get(stored_file_id: int) -> Any:
    from apps.uploads.models import StoredFile

    return StoredFile.objects.filter(pk=stored_file_id).first()


def upload_from_bytes(*, ctx: RequestContext, data: bytes, file_name: str) -> Any:
    """A finished upload session for bytes already in memory (base64 JSON bodies)."""
    return upload_from_stream(ctx=ctx, stream=io.BytesIO(data), size=len(data), file_name=file_name)


def upload_from_stream(*, ctx: RequestContext, stream: Any, size: int, file_name: str) -> Any:
    """A finished upload session of ``size`` bytes read from ``stream`` in chunks of at most
    UPLOAD_MAX_CHUNK_SIZE, finalized here if no worker has yet (so call it outside a transaction,
    or finalize would wait for the commit). On any failure the session is cancelled: nothing of
    it stays behind."""
    upload_services = _services()
    piece = int(settings.UPLOAD_MAX_CHUNK_SIZE)
    count = max(1, math.ceil(size / piece))
    session = upload_services.session_create(
        ctx=ctx, file_name=file_name, size=size, chunk_size=piece if count > 1 else None,
        chunk_count=count, dialect="json",
    )
    try:
        for index in range(count):
            length = min(piece, size - index * piece) if count > 1 else size
            upload_services.chunk_accept(session=session, stream=stream, length=length, index=index)
        session.refresh_from_db()
        if session.stored_file_id is None and session.state in {"PROCESSING", "UPLOADING"}:
            session = session_finalize_now(session)
    except BaseException:
        session_cancel(session)
        raise
    return session


def stored_file_open_range(stored_file: Any, start: int, length: int) -> IO[bytes]:
    """A reader positioned at ``start`` (S3: a ranged GetObject, local: a seek)."""
    if length <= 0:
        return io.BytesIO(b"")
    if getattr(stored_file, "storage_backend", "local") == "s3" and start > 0:
        from apps.uploads import storage as st

        storage = st.storage_for(
            stored_file.storage_alias, stored_file.storage_backend, stored_file.storage_location
        )
        answer = st.s3_client(storage).get_object(
            Bucket=storage.bucket_name, Key=stored_file.storage_key,
            Range=f"bytes={start}-{start + length - 1}",
        )
        return answer["Body"]
    handle = stored_file_open(stored_file)
    if start:
        handle.seek(start)
    return handle


def stored_file_presigned_url(stored_file: Any, *, parameters: dict[str, Any], expire: int) -> str:
    """A short-lived presigned GET for a stored file on S3 (in whichever bucket holds it)."""
    from apps.uploads import storage as st

    storage = st.storage_for(
        stored_file.storage_alias, stored_file.storage_backend, stored_file.storage_location
    )
    return storage.url(stored_file.storage_key, parameters=parameters, expire=expire)
