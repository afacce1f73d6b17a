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

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from apps.core import prepared
from apps.core.errors import (
    ApplicationError,
    BadRequest,
    Conflict,
    Gone,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Unprocessable,
)
from apps.core.wire import parse_int
from apps.uploads import locks, stored_files, stores, wire
from apps.uploads import storage as st
from apps.uploads.models import Batch, UploadChunk, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")

State = UploadSession.State
Mode = UploadSession.Mode


class ChecksumMismatch(Unprocessable):
    """The body's hash differs from the one the client declared (tus maps this to 460)."""

    code = "checksum_mismatch"


@dataclass
class ChunkResult:
    session: UploadSession
    chunk: UploadChunk
    created: bool  # False: the same bytes were already in (idempotent retry)
    complete: bool  # every byte is in; finalize is (or was) enqueued


def _session_storage(session: UploadSession) -> Any:
    return st.storage_for(session.storage_alias, session.storage_backend, session.storage_location)


def _enqueue_finalize(session_id: int) -> None:
    from apps.uploads.tasks import finalize_upload

    transaction.on_commit(lambda: finalize_upload.delay(session_id))


def _lock_session(session_id: int) -> UploadSession:
    """The session row, locked; 404 when it is gone (its batch was dropped meanwhile)."""
    locked = UploadSession.objects.select_for_update().filter(pk=session_id).first()
    if locked is None:
        raise NotFound("The upload no longer exists.")
    return locked


def _raise_if_closed(session: UploadSession) -> None:
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
) -> UploadSession:
    """A new upload session of the caller; sizes and counts bounded by the UPLOAD_* settings.

    ``meta`` is protocol metadata a dialect keeps with the session (e.g. tus Upload-Metadata).
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
    mode = stores.choose_mode(place, chunk_size, chunk_count)

    with transaction.atomic():
        # A batch dropped meanwhile takes its slots with it: 404 rather than a dangling row.
        if batch is not None and not Batch.objects.select_for_update().filter(pk=batch.pk).exists():
            raise NotFound("No such batch.")
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
        locked = _lock_session(session.pk)
        _raise_if_closed(locked)
        if locked.size is not None:
            if locked.size != size:
                raise Conflict("The upload's size is already declared.")
            return locked
        if locked.received_bytes > size:
            raise Conflict("More bytes than that were already received.")
        locked.size = size
        if locked.is_open and _all_in(locked):
            locked.state = State.PROCESSING
            _enqueue_finalize(locked.pk)
        locked.save(update_fields=["size", "state", "updated"])
    return locked


def session_cancel(*, session: UploadSession) -> None:
    """Cancel: chunks and staging deleted; a finished upload's stored file released."""
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().filter(pk=session.pk).first()
        if locked is None or locked.state == State.CANCELLED:
            return
        session_close(locked, State.CANCELLED)
    session.state = State.CANCELLED


def session_close(locked: UploadSession, state: str) -> None:
    """End a session whose row the caller holds locked (CANCELLED, EXPIRED): its stored file's
    reference released, its chunk rows deleted, its bytes removed after commit."""
    if locked.stored_file_id:
        stored_files.stored_file_release(stored_file=locked.stored_file)
    locked.state = state
    locked.save(update_fields=["state", "updated"])
    locked.chunks.all().delete()
    transaction.on_commit(lambda: _cleanup_bytes(locked))


def _cleanup_bytes(session: UploadSession) -> None:
    """Remove everything an unfinished (or finished) session left in storage, except its file."""
    kept = session.stored_file.storage_key if session.stored_file_id else None
    stores.store_for(session).cleanup(session, kept)


def _all_in(session: UploadSession) -> bool:
    if _expected_length(session, 0) is not None:
        # Every received chunk holds exactly its expected length (checked on receipt), and a
        # chunk counts once: the bytes add up to the size exactly when every chunk is in.
        return session.received_bytes >= session.size
    if session.chunk_count is not None:
        done = session.chunks.filter(received=True).count()
        return done >= session.chunk_count
    return session.size is not None and session.received_bytes >= session.size


def _expected_length(session: UploadSession, index: int) -> int | None:
    if session.chunk_size is None or session.size is None or session.chunk_count is None:
        return None
    if index < session.chunk_count - 1:
        return session.chunk_size
    return session.size - session.chunk_size * (session.chunk_count - 1)


def chunk_accept(
    *,
    session: UploadSession,
    stream: Any,
    length: int | None,
    index: int | None = None,
    offset: int | None = None,
    sha256: str | None = None,
    checksum: tuple[str, str] | None = None,
    partial_ok: bool = False,
) -> ChunkResult:
    """Take one chunk's body from ``stream`` (``length`` bytes, or to EOF when None).

    ``index`` is 0-based; without it the chunk goes at ``offset`` (or at the end), which must be
    where the received bytes end (tus, Axelor). ``sha256``/``checksum`` are verified before the
    chunk counts: a mismatch answers 422 and nothing is kept. While the session's size is unknown,
    no chunk may take the received bytes past ``UPLOAD_MAX_FILE_SIZE`` (413, nothing kept).

    A body that ends before ``length`` bytes is refused (400) unless ``partial_ok`` (tus: the bytes
    that arrived count and the offset advances; ``ChunkResult.chunk.size`` says how many). Appends
    only (``index`` None) and local storage only: elsewhere a short body is still refused.
    """
    declared_sha = wire.normalize_sha256(sha256, "X-Content-SHA256")
    appending = index is None
    if checksum is not None:
        algo, digest = checksum[0].lower(), str(checksum[1]).lower()
        if algo not in wire.CHECKSUM_ALGORITHMS:
            raise BadRequest(f"Unsupported checksum algorithm {algo!r}.")
        checksum = (algo, digest)
    max_chunk = int(settings.UPLOAD_MAX_CHUNK_SIZE)
    if length is not None:
        length = parse_int(length, "Content-Length")
        if length < 0:
            raise BadRequest("Content-Length must not be negative.")
        if length > max_chunk:
            raise PayloadTooLarge(f"A chunk may not be larger than {max_chunk} bytes.")

    if index is not None:
        index = parse_int(index, "chunk index")
    # 0. Hold the slot's lock for the whole request (apps.uploads.locks): a busy slot's holder is
    #    asked to stop, and a claim found unreceived once we hold the lock is a dead request's.
    # 1. Claim the slot. An append takes its offset from the session under its row lock; an
    #    indexed chunk (every chunk's place known from the session) needs no session lock, and on
    #    PostgreSQL its lock and a new chunk's claim are taken in one statement.
    lock = locks.SlotLock(session.uid, locks.APPEND if appending else index)
    try:
        if appending:
            _acquire(lock, session, None)
            locked, index, chunk_offset, claim, existing, limit, expected = _claim_append(
                session, offset, length, max_chunk
            )
        else:
            locked = session
            chunk_offset, limit, expected = _indexed_place(session, index, offset, length, max_chunk)
            claim, existing = _claim_index(session, index, chunk_offset, lock)
        return _chunk_receive(
            locked=locked, session=session, lock=lock, stream=stream, length=length, index=index,
            chunk_offset=chunk_offset, claim=claim, existing=existing, limit=limit,
            expected=expected, declared_sha=declared_sha, checksum=checksum, partial_ok=partial_ok,
        )
    finally:
        lock.release()


def _acquire(lock: locks.SlotLock, session: UploadSession, index: int | None) -> None:
    """Take the slot's lock, asking a holder to stop and waiting for it; 503 when it stays busy."""
    if not lock.acquire(locks.wait_seconds(), on_busy=lambda: _request_stop(session, index)):
        what = "Another chunk of this upload" if index is None else f"Chunk {index + 1}"
        raise NotReady(f"{what} is being received by another request.", retry_after=1)


def _indexed_place(
    session: UploadSession, index: int, offset: Any, length: int | None, max_chunk: int
) -> tuple[int | None, int, int | None]:
    """Where chunk ``index`` goes: (its offset, the most bytes it may hold, its exact length when
    known); 410/400/413 when the session or the announced length rule it out."""
    if session.state == State.CANCELLED or session.is_expired:
        _raise_if_closed(session)
    if index < 0 or index >= int(settings.UPLOAD_MAX_CHUNKS) or (
        session.chunk_count is not None and index >= session.chunk_count
    ):
        raise BadRequest(f"Chunk {index + 1} is outside this upload's chunks.")
    if session.chunk_size is not None:
        chunk_offset = index * session.chunk_size
    elif index == 0:
        chunk_offset = 0
    else:
        chunk_offset = None if offset is None else parse_int(offset, "offset")
    limit, expected = _chunk_limit(session, index, chunk_offset, length, max_chunk)
    return chunk_offset, limit, expected


def _chunk_receive(
    *,
    locked: UploadSession,
    session: UploadSession,
    lock: locks.SlotLock,
    stream: Any,
    length: int | None,
    index: int,
    chunk_offset: int | None,
    claim: UploadChunk | None,
    existing: UploadChunk | None,
    limit: int,
    expected: int | None,
    declared_sha: str,
    checksum: tuple[str, str] | None,
    partial_ok: bool,
) -> ChunkResult:
    """Steps 2 and 3 of :func:`chunk_accept`, the slot's lock held and the chunk claimed."""
    appending = lock.slot == locks.APPEND
    extra_hashes = [checksum[0]] if checksum and checksum[0] != "sha256" else []
    reader = st.HashingReader(stream, length, limit, extra_hashes)
    store = stores.store_for(locked)
    # A short body can be kept where its bytes are already in their place when it ends: appended
    # in place or to a local staged file (an S3 PUT/part announced its length up front).
    reader.partial_ok = bool(
        partial_ok and appending and claim is not None and store.keeps_short_bodies
    )

    # 2a. A chunk already in: hash the body, keep nothing.
    if claim is None:
        with st.body_idle_timeout(stream):
            reader.drain()
        digest = reader.sha256.hexdigest()
        _verify(reader, declared_sha, checksum)
        if digest != existing.sha256 or reader.count != existing.size:
            raise Conflict(f"Chunk {index + 1} was already received with other bytes.")
        return ChunkResult(locked, existing, created=False, complete=not locked.is_open)

    # 2b. Stream the body to its place without holding any row lock (the slot lock fences it).
    watched = locks.stop_watch.watch(claim.pk, st.request_socket(stream))
    reader.should_stop = lambda: watched.stopped
    written = stores.Written("")
    try:
        with st.body_idle_timeout(stream), _unwatched_after(watched):
            written = store.write_chunk(locked, index, chunk_offset, reader, length)
        if length is None and expected is not None and reader.count != expected:
            raise BadRequest(f"Chunk {index + 1} must be {expected} bytes, not {reader.count}.")
        _verify(reader, declared_sha, checksum)
    except BaseException:
        _drop_claim(claim, locked, store, written)
        raise

    # 3. Record it; finalize is enqueued when the last byte is in. A refusal leaves the record's
    #    transaction first, so dropping the claim is not rolled back with it.
    fields = {
        "received": True, "stop_requested": False, "size": reader.count,
        "sha256": reader.sha256.hexdigest(), "storage_key": written.key,
    }
    if written.etag:
        fields.update(part_number=written.part_number, etag=written.etag)
    complete = _record(locked, claim, fields, lock)
    if complete is not None:
        for name, value in fields.items():
            setattr(claim, name, value)
        return ChunkResult(locked, claim, created=True, complete=complete)
    # Not recorded: say why, as the session stands now; nothing counts.
    locked = UploadSession.objects.filter(pk=session.pk).first()
    if locked is None:
        # Gone while its bytes streamed in (its batch was dropped): what this request wrote after
        # the session's cleanup must not stay behind.
        store.cleanup(session, None)
        raise NotFound("The upload no longer exists.")
    total = locked.received_bytes + reader.count
    if not locked.is_open:
        refusal = _closed_error(locked) or Conflict("The upload already has all its bytes.")
    elif locked.size is not None and total > locked.size:
        refusal = PayloadTooLarge("The chunks add up to more than the declared size.")
    elif locked.size is None and total > int(settings.UPLOAD_MAX_FILE_SIZE):
        refusal = PayloadTooLarge("The file would be larger than the limit.")
    else:  # the session would have taken it: a newer request took the claim over
        refusal = Conflict(f"Chunk {index + 1} was taken over by another request.")
    _drop_claim(claim, locked, store, written)
    if locked.state in (State.CANCELLED, State.EXPIRED):
        store.cleanup(locked, None)  # cancelled while this body streamed in: leave nothing
    raise refusal


class _NotRecorded(Exception):
    """The record step's conditions did not hold: its transaction is rolled back."""


_RECORD_SQL: dict[tuple[str, bool, bool], str] = {}


def _growth_sql(connection: Any, *, completes: bool = False, ours_exists: bool = False) -> str:
    """The record step's UPDATE of the session row: add a chunk's bytes to an open session within
    its size (or the file limit while the size is unknown), INITIATED becoming UPLOADING; RETURNING
    what completion is judged by. ``completes``: the chunk whose bytes complete the upload sets it
    PROCESSING (sessions whose bytes say so, :func:`_completes_by_bytes`). ``ours_exists``: only
    while the claim is still ours (:func:`_ours_sql`). Parameters: :func:`_growth_params`."""
    key = (connection.vendor, completes, ours_exists)
    sql = _RECORD_SQL.get(key)
    if sql is None:
        meta, qn = UploadSession._meta, connection.ops.quote_name

        def col(name: str) -> str:
            return qn(meta.get_field(name).column)

        received, state, size = col("received_bytes"), col("state"), col("size")
        case = f"CASE WHEN {state} = %s THEN %s ELSE {state} END"
        if completes:
            complete = (f"{size} IS NOT NULL AND ({col('chunk_count')} IS NULL"
                        f" OR {col('chunk_size')} IS NOT NULL) AND {received} + %s >= {size}")
            case = f"CASE WHEN {complete} THEN %s WHEN {state} = %s THEN %s ELSE {state} END"
        ours = ""
        if ours_exists:
            chunks = qn(UploadChunk._meta.db_table)
            ours = f" AND EXISTS (SELECT 1 FROM {chunks} WHERE {_ours_sql(connection)})"
        sql = _RECORD_SQL[key] = (
            f"UPDATE {qn(meta.db_table)} SET {received} = {received} + %s, {state} = {case},"
            f" {col('updated')} = %s WHERE {qn(meta.pk.column)} = %s AND {state} IN (%s, %s)"
            f" AND {received} + %s <= COALESCE({size}, %s){ours}"
            f" RETURNING {received}, {state}, {size}, {col('chunk_size')}, {col('chunk_count')}"
        )
    return sql


def _growth_params(
    connection: Any, session: UploadSession, size: int, now: Any, *, completes: bool = False,
    ours: Iterable[Any] = (),
) -> list[Any]:
    case = [size, State.PROCESSING] if completes else []
    return [
        size, *case, State.INITIATED, State.UPLOADING,
        connection.ops.adapt_datetimefield_value(now),
        session.pk, State.INITIATED, State.UPLOADING, size, int(settings.UPLOAD_MAX_FILE_SIZE),
        *ours,
    ]


def _ours_sql(connection: Any) -> str:
    """The claim's row while it is still ours: unreceived, and ``created`` as we made it (a newer
    request that took the claim over gave it a new one). Parameters: :func:`_ours_params`."""
    meta, qn = UploadChunk._meta, connection.ops.quote_name
    return (f"{qn(meta.pk.column)} = %s AND {qn(meta.get_field('created').column)} = %s"
            f" AND {qn(meta.get_field('received').column)} = %s")


def _ours_params(connection: Any, claim: UploadChunk) -> list[Any]:
    created = UploadChunk._meta.get_field("created")
    return [claim.pk, created.get_db_prep_value(claim.created, connection), False]


def _mark_sql(connection: Any, names: tuple[str, ...]) -> str:
    """Set the fields ``names`` on the claim's row while it is still ours."""
    meta, qn = UploadChunk._meta, connection.ops.quote_name
    sets = ", ".join(f"{qn(meta.get_field(name).column)} = %s" for name in names)
    return f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {_ours_sql(connection)}"


def _mark_params(connection: Any, fields: dict[str, Any]) -> list[Any]:
    meta = UploadChunk._meta
    return [
        meta.get_field(name).get_db_prep_save(value, connection) for name, value in fields.items()
    ]


_RECEIVED_SQL: dict[tuple[str, tuple[str, ...]], str] = {}


def _mark_received(connection: Any, claim: UploadChunk, fields: dict[str, Any]) -> bool:
    """Set ``fields`` on the claim's row while it is still ours."""
    names = tuple(fields)
    sql = _RECEIVED_SQL.get((connection.vendor, names))
    if sql is None:
        sql = _RECEIVED_SQL[(connection.vendor, names)] = _mark_sql(connection, names)
    with connection.cursor() as cursor:
        prepared.execute(connection, cursor, sql,
                         _mark_params(connection, fields) + _ours_params(connection, claim))
        return cursor.rowcount == 1


def _record(
    session: UploadSession, claim: UploadChunk, fields: dict[str, Any], lock: locks.SlotLock
) -> bool | None:
    """Record a received chunk: True/False (the upload is complete or not), or None when it may not
    count (the session is gone, closed or full; the claim was taken over), nothing changed.

    The session row's UPDATE adds the chunk's bytes (its lock is held to the commit: concurrent
    chunks add up one after the other, as under SELECT ... FOR UPDATE) and the claim's conditional
    UPDATE marks it received; finalize is enqueued by the chunk that completes the upload. On
    PostgreSQL outside a transaction that is :func:`_record_pg`; elsewhere one transaction with a
    durable commit. Every statement is planned once per connection (``apps.core.prepared``)."""
    connection = transaction.get_connection()
    if _autocommit_postgresql(connection) and lock.held and _completes_by_bytes(session):
        return _record_pg(connection, session, claim, fields, lock)
    now = timezone.now()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                prepared.execute(connection, cursor, _growth_sql(connection),
                                 _growth_params(connection, session, fields["size"], now))
                row = cursor.fetchone()
            if row is None:
                raise _NotRecorded
            if not _mark_received(connection, claim, fields):
                raise _NotRecorded
            (session.received_bytes, session.state, session.size, session.chunk_size,
             session.chunk_count) = row
            session.updated = now
            complete = _all_in(session)
            if complete:
                session.state = State.PROCESSING
                session.save(update_fields=["state", "updated"])
                _enqueue_finalize(session.pk)
    except _NotRecorded:
        return None
    return complete


def _autocommit_postgresql(connection: Any) -> bool:
    """PostgreSQL with every statement its own transaction (not inside one of the caller's)."""
    return (connection.vendor == "postgresql" and not connection.in_atomic_block
            and connection.get_autocommit())


def _completes_by_bytes(session: UploadSession) -> bool:
    """Whether the bytes received say when the upload is complete (:func:`_all_in`), rather than
    the count of received chunks: then the record statement itself can say it."""
    return session.chunk_count is None or (
        session.chunk_size is not None and session.size is not None
    )


_RECORD_PG_SQL: dict[tuple[str, ...], str] = {}
_DONE_PG_SQL: dict[str, str] = {}


def _record_pg_sql(connection: Any, names: tuple[str, ...]) -> str:
    """The record step as one statement: the session row grows (its row lock first, as everywhere)
    only while the claim is still ours, and the claim is marked received only if the session grew.
    The chunk whose bytes complete the upload sets it PROCESSING in the same statement (for
    sessions whose bytes say when they are complete: :func:`_completes_by_bytes`), so no crash can
    leave an upload with every byte in but never finalized.

    Should the claim be found not ours after all (only a request holding the slot's lock could
    change it, and we hold it), the division by the count of marked claims fails the statement:
    plain SQL's one way to roll back what it has done, rather than count bytes no chunk holds."""
    sql = _RECORD_PG_SQL.get(names)
    if sql is None:
        sql = _RECORD_PG_SQL[names] = (
            f"WITH grown AS ({_growth_sql(connection, completes=True, ours_exists=True)}),"
            f" marked AS ({_mark_sql(connection, names)} AND EXISTS (SELECT 1 FROM grown)"
            " RETURNING 1)"
            " SELECT grown.*, 1 / (SELECT count(*) FROM marked)::int,"
            " set_config('synchronous_commit', 'off', true) FROM grown"
        )
    return sql


def _done_pg_sql(connection: Any) -> str:
    """The statement after the record: a durable write, then the slot's lock given back.

    It rewrites the chunk's own row: its durable commit flushes the WAL up to it, and with it the
    record before it. (The lock is given back as the statement runs, a flush before the record is
    durable: a request that then takes the slot finds the chunk received; a database crash in
    that moment forgets the chunk, whose first request was not answered yet.)"""
    sql = _DONE_PG_SQL.get(connection.vendor)
    if sql is None:
        qn = connection.ops.quote_name
        meta = UploadChunk._meta
        sql = _DONE_PG_SQL[connection.vendor] = (
            f"WITH written AS (UPDATE {qn(meta.db_table)} SET"
            f" {qn(meta.get_field('stop_requested').column)} = false"
            f" WHERE {qn(meta.pk.column)} = %s RETURNING 1)"
            " SELECT (SELECT count(*) FROM written), pg_advisory_unlock(%s)"
        )
    return sql


def _record_pg(
    connection: Any, session: UploadSession, claim: UploadChunk, fields: dict[str, Any],
    lock: locks.SlotLock,
) -> bool | None:
    """The record step on PostgreSQL, in two statements outside a transaction.

    1. :func:`_record_pg_sql` grows the session and marks the claim (the last chunk sets the
       upload PROCESSING); its commit does not wait for the WAL flush, so the session row's lock
       is held for the statement only. Under a durable commit, concurrent chunks of one upload
       waited for each other's flush in turn.
    2. :func:`_done_pg_sql`: a durable write, then the lock given back. Its flush makes the record
       durable before the chunk is answered, and concurrent chunks' flushes are shared (group
       commit) instead of queued behind the session row. Finalize is enqueued after it.

    A crash between the two loses a record whose chunk was not answered yet (as a crash before a
    durable commit would), or keeps it: an upload left PROCESSING is finalized again by beat. The
    data's fsync came before both."""
    now = timezone.now()
    ours = _ours_params(connection, claim)
    params = [
        *_growth_params(connection, session, fields["size"], now, completes=True, ours=ours),
        *_mark_params(connection, fields), *ours,
    ]
    try:
        with connection.cursor() as cursor:
            prepared.execute(connection, cursor, _record_pg_sql(connection, tuple(fields)), params)
            row = cursor.fetchone()
    except DataError as error:
        if getattr(error.__cause__, "sqlstate", None) != "22012":  # division_by_zero: see the SQL
            raise
        logger.error("Chunk %s of %s: its claim was not ours at the record", claim.index,
                     session.uid)
        return None
    if row is None:
        return None
    (session.received_bytes, session.state, session.size, session.chunk_size,
     session.chunk_count) = row[:5]
    session.updated = now
    with connection.cursor() as cursor:
        prepared.execute(connection, cursor, _done_pg_sql(connection), [claim.pk, lock.key])
        cursor.fetchone()
    lock.held = False
    complete = session.state == State.PROCESSING  # set by this statement: it required an open one
    if complete:
        _enqueue_finalize(session.pk)
    return complete


def _chunk_limit(
    session: UploadSession, index: int, chunk_offset: int | None, length: int | None, max_chunk: int
) -> tuple[int, int | None]:
    """(the most bytes chunk ``index`` may hold, its exact length when known); 413/400 when the
    announced ``length`` breaks them."""
    expected = _expected_length(session, index)
    limit = max_chunk if expected is None else expected
    if session.size is not None and chunk_offset is not None:
        limit = min(limit, max(0, session.size - chunk_offset))
    if session.size is None:
        # Size unknown yet (tus deferred length, Nuxeo without X-File-Size): the file limit
        # bounds what may still come.
        max_file = int(settings.UPLOAD_MAX_FILE_SIZE)
        room = max(0, max_file - max(session.received_bytes, chunk_offset or 0))
        if length is not None and length > room:
            raise PayloadTooLarge(f"The file would be larger than the limit of {max_file} bytes.")
        limit = min(limit, room)
    if length is not None and length > limit:
        raise PayloadTooLarge(f"Chunk {index + 1} may hold at most {limit} bytes.")
    if expected is not None and length is not None and length != expected:
        raise BadRequest(f"Chunk {index + 1} must be {expected} bytes, not {length}.")
    return limit, expected


def _claim_append(
    session: UploadSession, offset: Any, length: int | None, max_chunk: int
) -> tuple[UploadSession, int, int, UploadChunk | None, UploadChunk | None, int, int | None]:
    """Claim the next chunk at the end of the received bytes (tus, Axelor), under the session's row
    lock: (session, index, offset, claim, None, limit, expected length)."""
    with transaction.atomic():
        locked = _lock_session(session.pk)
        if locked.state == State.CANCELLED or locked.is_expired:
            _raise_if_closed(locked)
        position = locked.received_bytes if offset is None else parse_int(offset, "offset")
        if position != locked.received_bytes:
            raise Conflict(
                f"The offset {position} does not match the {locked.received_bytes} bytes received.",
                extra={"offset": locked.received_bytes},
            )
        # We hold the append lock: an unreceived append claim is a dead request's. Its bytes lie
        # past the received ones and are overwritten (or cut off at finalize).
        locked.chunks.filter(received=False).delete()
        index = locked.chunks.count()
        limit, expected = _chunk_limit(locked, index, position, length, max_chunk)
        if not locked.is_open:
            _raise_if_closed(locked)
            raise Conflict("The upload already has all its bytes.")
        claim = UploadChunk.objects.create(
            session=locked, index=index, offset=position, received=False, created=timezone.now()
        )
    return locked, index, position, claim, None, limit, expected


def _commit_without_flush() -> None:
    """A claim need not survive a database crash (its request would not either): on PostgreSQL
    its commit does not wait for the WAL flush. What a chunk records stays a durable commit."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _claim_index(
    session: UploadSession, index: int, chunk_offset: int | None, lock: locks.SlotLock
) -> tuple[UploadChunk | None, UploadChunk | None]:
    """Take the slot's lock and claim chunk ``index``: (our claim, None), or (None, the chunk as
    already received). One INSERT when the chunk is new; no session row lock (the record step
    checks the session again under its lock). On PostgreSQL, outside a transaction, the lock and a
    new chunk's claim are one statement (:func:`_lock_and_claim`)."""
    now = timezone.now()
    if session.is_open:
        claim = _lock_and_claim(lock, session, index, chunk_offset, now)
        if claim is not None:
            return claim, None
    tried = lock.held  # the one-statement INSERT ran (and found the chunk's row) only with the lock
    if not lock.held:
        _acquire(lock, session, index)
    if session.is_open and not tried:
        try:
            with transaction.atomic():
                _commit_without_flush()
                claim = UploadChunk.objects.create(
                    session_id=session.pk, index=index, offset=chunk_offset, received=False,
                    created=now,
                )
            return claim, None
        except IntegrityError:
            pass  # the chunk has a row already (or the session is gone: below)
    existing = UploadChunk.objects.filter(session_id=session.pk, index=index).first()
    if existing is None:
        if not UploadSession.objects.filter(pk=session.pk).exists():
            raise NotFound("The upload no longer exists.")
        _raise_if_closed(session)
        raise Conflict("The upload already has all its bytes.")
    if existing.received:
        return None, existing
    if not session.is_open:
        _raise_if_closed(session)
        raise Conflict("The upload already has all its bytes.")
    # A dead request's claim (we hold the slot's lock): ours now, with a new identity.
    UploadChunk.objects.filter(pk=existing.pk, received=False).update(
        created=now, stop_requested=False
    )
    existing.created, existing.stop_requested = now, False
    return existing, None


_CLAIM_SQL: dict[str, tuple[str, list[Any]]] = {}


def _claim_sql(connection: Any) -> tuple[str, list[Any]]:
    """The lock-and-claim statement and the chunk fields it inserts, in their order."""
    built = _CLAIM_SQL.get(connection.vendor)
    if built is None:
        meta, qn = UploadChunk._meta, connection.ops.quote_name
        fields = [field for field in meta.concrete_fields if not field.primary_key]
        columns = ", ".join(qn(field.column) for field in fields)
        values = ", ".join(["%s"] * len(fields))
        unique = ", ".join(qn(meta.get_field(name).column) for name in ("session", "index"))
        pk = qn(meta.pk.column)
        sql = (
            "WITH slot AS MATERIALIZED (SELECT pg_try_advisory_lock(%s) AS held,"
            " set_config('synchronous_commit', 'off', true)),"
            f" claim AS (INSERT INTO {qn(meta.db_table)} ({columns}) SELECT {values} FROM slot"
            f" WHERE slot.held ON CONFLICT ({unique}) DO NOTHING RETURNING {pk})"
            f" SELECT slot.held, (SELECT {pk} FROM claim) FROM slot"
        )
        built = _CLAIM_SQL[connection.vendor] = (sql, fields)
    return built


def _lock_and_claim(
    lock: locks.SlotLock, session: UploadSession, index: int, chunk_offset: int | None, now: Any
) -> UploadChunk | None:
    """Take the slot's lock and insert a new chunk's claim in one statement, on PostgreSQL outside
    a transaction: the new claim, or None. ``lock.held`` says which None: the lock is held and the
    chunk has a row already (the caller looks at it), or nothing ran or the lock is busy (the
    caller takes the lock, waiting, then claims).

    A claim need not survive a database crash (its request would not either): its commit does not
    wait for the WAL flush."""
    connection = transaction.get_connection()
    if not _autocommit_postgresql(connection):
        return None
    sql, fields = _claim_sql(connection)
    claim = UploadChunk(
        session_id=session.pk, index=index, offset=chunk_offset, received=False, created=now
    )
    params = [lock.key, *(field.get_db_prep_save(getattr(claim, field.attname), connection)
                          for field in fields)]
    try:
        with connection.cursor() as cursor:
            prepared.execute(connection, cursor, sql, params)
            held, pk = cursor.fetchone()
    except IntegrityError:
        # The session went away under the INSERT (its row is referenced): the lock was taken
        # before. Give it back; the caller's slow path says what happened.
        lock.held = True
        lock.release()
        return None
    except Exception:
        # The lock may have been taken before the statement failed (a session-level lock
        # outlives the rollback): give it back (unlocking a lock not held only says false).
        lock.held = True
        lock.release()
        raise
    lock.held = bool(held)
    if pk is None:
        return None
    claim.pk = pk
    claim._state.adding, claim._state.db = False, connection.alias
    return claim


def _closed_error(session: UploadSession) -> ApplicationError | None:
    try:
        _raise_if_closed(session)
    except ApplicationError as error:
        return error
    return None


def _request_stop(session: UploadSession, index: int | None) -> None:
    """Ask the request receiving a chunk (``index``; None: the append in flight) to stop."""
    pending = UploadChunk.objects.filter(session_id=session.pk, received=False)
    if index is not None:
        pending = pending.filter(index=index)
    pending.update(stop_requested=True)


@contextlib.contextmanager
def _unwatched_after(watched: locks.Watched) -> Iterator[None]:
    try:
        yield
    finally:
        locks.stop_watch.unwatch(watched)


def session_quiesce(*, session: UploadSession) -> UploadSession:
    """Let an append in flight finish saving before its offset is answered (tusd's lock release).

    A status or append call on an upload whose bytes are still arriving asks that request to stop
    and waits up to ``UPLOAD_LOCK_WAIT`` seconds for it to record what it received; the session
    returned shows the true offset. A dead request's claim costs no wait (its lock is free).
    """
    if not UploadChunk.objects.filter(session_id=session.pk, received=False).exists():
        return session
    lock = locks.SlotLock(session.uid, locks.APPEND)
    lock.acquire(locks.wait_seconds(), on_busy=lambda: _request_stop(session, None))
    lock.release()
    session.refresh_from_db()
    return session


def _verify(
    reader: st.HashingReader, declared_sha: str, checksum: tuple[str, str] | None
) -> None:
    if declared_sha and reader.sha256.hexdigest() != declared_sha:
        raise ChecksumMismatch("The chunk's SHA-256 does not match X-Content-SHA256.")
    if checksum is not None:
        algo, digest = checksum
        actual = reader.sha256 if algo == "sha256" else reader.extra[algo]
        if actual.hexdigest() != digest:
            raise ChecksumMismatch(f"The chunk's {algo} checksum does not match.")


def _drop_claim(
    claim: UploadChunk, session: UploadSession, store: stores.ChunkStore, written: stores.Written
) -> None:
    """Forget a chunk that did not make it, and what the store kept of it (if anything)."""
    try:
        UploadChunk.objects.filter(pk=claim.pk, created=claim.created, received=False).delete()
        store.discard_chunk(session, written.key)
    except Exception:
        logger.exception("Dropping a failed chunk of %s", session.uid)


def session_record_result(*, session: UploadSession, **refs: Any) -> UploadSession:
    """Record what a consumer made of the upload (e.g. ``imageId=123``) in ``result_refs``.

    Values must be JSON-serializable; a value ``None`` removes the key. Merged under the row lock.
    """
    with transaction.atomic():
        locked = _lock_session(session.pk)
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
        _enqueue_finalize(session.pk)
    return session

