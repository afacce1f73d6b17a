"""The upload engine's ingest of one chunk (DESIGN §8): every dialect's bytes end in
:func:`chunk_accept` (directly, or through :func:`apps.uploads.ingest.body_accept` for bodies of
several engine chunks).

A body is streamed in bounded pieces straight to its place by the session's chunk store
(:mod:`apps.uploads.stores`), hashed while written. The writer holds the session's guard (shared)
and its slot (exclusively) for the whole body (:mod:`apps.uploads.locks`); the session row is
locked only to claim an append and to record a chunk (:mod:`apps.uploads.claims`), never while
bytes flow. A session takes one write shape (:class:`UploadSession.Shape`): numbered chunks or
offset appends, never both.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import (
    ApplicationError,
    BadRequest,
    Conflict,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Unprocessable,
)
from apps.core.wire import parse_int
from apps.uploads import claims, locks, quota, services, stores, wire
from apps.uploads import storage as st
from apps.uploads.models import UploadChunk, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")

State = UploadSession.State


class ChecksumMismatch(Unprocessable):
    """The body's hash differs from the one the client declared (tus maps this to 460)."""

    code = "checksum_mismatch"


@dataclass
class ChunkResult:
    session: UploadSession
    chunk: UploadChunk
    created: bool  # False: the same bytes were already in (idempotent retry)
    complete: bool  # every byte is in; finalize is (or was) enqueued
    finalize_due: bool = False  # this chunk completed the upload: finalize once its locks are free


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
    write_shape_check(session=session, appending=appending)
    # 0. Hold the session's guard (shared) and the slot (exclusively) for the whole request
    #    (apps.uploads.locks): a busy slot's holder is asked to stop, a claim found unreceived once
    #    we hold the slot is a dead request's, and no finalize promotes the bytes while we write.
    # 1. Claim the slot. An append takes its offset from the session under its row lock; an
    #    indexed chunk (every chunk's place known from the session) needs no session lock.
    lock = locks.writer(session.uid, locks.APPEND if appending else index)
    claim: UploadChunk | None = None
    result: ChunkResult | None = None
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
        result = _chunk_receive(
            locked=locked, session=session, lock=lock, stream=stream, length=length, index=index,
            chunk_offset=chunk_offset, claim=claim, existing=existing, limit=limit,
            expected=expected, declared_sha=declared_sha, checksum=checksum, partial_ok=partial_ok,
        )
        return result
    finally:
        lock.release()
        # Finalize runs once no writer holds the guard: the chunk that completed the upload
        # enqueues it after letting go; so does a refused writer, in case finalize gave up
        # waiting for it.
        if result is not None:
            due = result.finalize_due
        else:
            due = claim is not None and UploadSession.objects.filter(
                pk=session.pk, state=State.PROCESSING, stored_file__isnull=True
            ).exists()
        if due:
            services.finalize_enqueue(session.pk)


def write_shape_check(*, session: UploadSession, appending: bool) -> None:
    """409 when a request's shape is not the session's (:class:`UploadSession.Shape`): indexed
    chunks and offset appends never write to one session, whatever dialects they come through."""
    shape = UploadSession.Shape.APPENDS if appending else UploadSession.Shape.CHUNKS
    if session.write_shape == shape:
        return
    if session.write_shape == UploadSession.Shape.APPENDS:
        detail = ("This upload grows by offset appends (tus PATCH, Axelor /ws/files/upload); "
                  "numbered chunks cannot be written to it.")
    else:
        detail = ("This upload takes numbered chunks (iDempiere, Nuxeo, Twake); offset appends "
                  "cannot be written to it.")
    raise Conflict(detail, code="upload_shape", extra={"uploadShape": str(session.write_shape)})


def _acquire(lock: locks.Hold, session: UploadSession, index: int | None) -> None:
    """Take a writer's locks, asking the slot's holder to stop and waiting for it; 503 when they
    stay busy (another request has the slot, or the upload is being finalized or cancelled)."""
    if lock.acquire(locks.wait_seconds(), on_busy=lambda: locks.request_stop(session, index)):
        return
    current = UploadSession.objects.filter(pk=session.pk).first()
    if current is None:
        raise NotFound("The upload no longer exists.")
    if not current.is_open:
        services.session_raise_if_closed(current)
        raise Conflict("The upload already has all its bytes.")
    what = "Another chunk of this upload" if index is None else f"Chunk {index + 1}"
    raise NotReady(f"{what} is being received by another request.", retry_after=1)


def _indexed_place(
    session: UploadSession, index: int, offset: Any, length: int | None, max_chunk: int
) -> tuple[int | None, int, int | None]:
    """Where chunk ``index`` goes: (its offset, the most bytes it may hold, its exact length when
    known); 410/400/413 when the session or the announced length rule it out."""
    if session.state == State.CANCELLED or session.is_expired:
        services.session_raise_if_closed(session)
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
    lock: locks.Hold,
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

    # 2a. A chunk already in: hash the body, keep nothing (and hold nothing: no byte is written).
    if claim is None:
        lock.release()
        with st.body_idle_timeout(stream):
            reader.drain()
        digest = reader.sha256.hexdigest()
        _verify(reader, declared_sha, checksum)
        if digest != existing.sha256 or reader.count != existing.size:
            raise Conflict(f"Chunk {index + 1} was already received with other bytes.")
        return ChunkResult(locked, existing, created=False, complete=not locked.is_open)

    # 2b. Stream the body to its place without holding any row lock (the slot lock fences it).
    #     While the upload's length is unknown, its client's quota bounds each chunk: one announced
    #     over it is refused before a byte is read; each is counted at its record (step 3).
    try:
        quota.quota_precheck(session=locked, length=length)
    except quota.QuotaExceeded:
        _drop_claim(claim, locked, store, stores.Written(""))
        raise
    watched = locks.stop_watch.watch(claim.pk, st.request_socket(stream))
    reader.should_stop = lambda: watched.stopped
    written = stores.Written("")
    try:
        with st.body_idle_timeout(stream), _unwatched_after(watched):
            written = store.write_chunk(locked, index, chunk_offset, reader, length)
        if length is None and expected is not None and reader.count != expected:
            raise BadRequest(f"Chunk {index + 1} must be {expected} bytes, not {reader.count}.")
        _verify(reader, declared_sha, checksum)
    except BaseException as error:
        _drop_claim(claim, locked, store, written)
        if isinstance(error, st.BodySuperseded):
            # Stopped: by a newer request for the chunk, or because the upload was closed.
            current = UploadSession.objects.filter(pk=session.pk).first()
            closed = _closed_error(current) if current is not None else NotFound(
                "The upload no longer exists.")
            if closed is not None:
                if current is not None and current.state in (State.CANCELLED, State.EXPIRED):
                    store.cleanup(current, None)  # closed while this body streamed in
                raise closed from error
        raise

    # 3. Record it; finalize is enqueued when the last byte is in. A refusal leaves the record's
    #    transaction first, so dropping the claim is not rolled back with it.
    fields = {
        "received": True, "stop_requested": False, "size": reader.count,
        "sha256": reader.sha256.hexdigest(), "storage_key": written.key,
    }
    if written.etag:
        fields.update(part_number=written.part_number, etag=written.etag)
    if not lock.intact():
        logger.error("Chunk %s of %s: its locks were lost before the record", index, session.uid)
        complete = None
    else:
        try:
            complete = quota.chunk_record(locked, claim, fields)
        except quota.QuotaExceeded:
            _drop_claim(claim, locked, store, written)  # nothing of it counts, nor stays
            raise
    if complete is not None:
        for name, value in fields.items():
            setattr(claim, name, value)
        return ChunkResult(locked, claim, created=True, complete=complete, finalize_due=complete)
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


def _chunk_limit(
    session: UploadSession, index: int, chunk_offset: int | None, length: int | None, max_chunk: int
) -> tuple[int, int | None]:
    """(the most bytes chunk ``index`` may hold, its exact length when known); 413/400 when the
    announced ``length`` breaks them."""
    expected = session.expected_chunk_length(index)
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
        locked = services.session_row_lock(session.pk)
        if locked.state == State.CANCELLED or locked.is_expired:
            services.session_raise_if_closed(locked)
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
            services.session_raise_if_closed(locked)
            raise Conflict("The upload already has all its bytes.")
        claim = UploadChunk.objects.create(
            session=locked, index=index, offset=position, received=False, created=timezone.now()
        )
    return locked, index, position, claim, None, limit, expected


def _claim_index(
    session: UploadSession, index: int, chunk_offset: int | None, lock: locks.Hold
) -> tuple[UploadChunk | None, UploadChunk | None]:
    """Take the writer's locks and claim chunk ``index``: (our claim, None), or (None, the chunk as
    already received). One INSERT when the chunk is new; no session row lock (the record step
    checks the session again under its lock). A chunk already received is answered without
    waiting for busy locks (its body is only hashed, never written)."""
    if not lock.try_acquire():
        done = UploadChunk.objects.filter(session_id=session.pk, index=index, received=True).first()
        if done is not None:
            return None, done
        _acquire(lock, session, index)
    now = timezone.now()
    if session.is_open:
        claim = claims.claim_insert(session, index, chunk_offset, now)
        if claim is not None:
            return claim, None
    existing = UploadChunk.objects.filter(session_id=session.pk, index=index).first()
    if existing is None:
        if not UploadSession.objects.filter(pk=session.pk).exists():
            raise NotFound("The upload no longer exists.")
        services.session_raise_if_closed(session)
        raise Conflict("The upload already has all its bytes.")
    if existing.received:
        return None, existing
    if not session.is_open:
        services.session_raise_if_closed(session)
        raise Conflict("The upload already has all its bytes.")
    # A dead request's claim (we hold the slot's lock): ours now, with a new identity.
    UploadChunk.objects.filter(pk=existing.pk, received=False).update(
        created=now, stop_requested=False
    )
    existing.created, existing.stop_requested = now, False
    return existing, None


def _closed_error(session: UploadSession) -> ApplicationError | None:
    try:
        services.session_raise_if_closed(session)
    except ApplicationError as error:
        return error
    return None


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
        # No append in flight now; one may have been recorded since the caller read the row.
        return _reread(session)
    lock = locks.slot(session.uid, locks.APPEND)
    lock.acquire(locks.wait_seconds(), on_busy=lambda: locks.request_stop(session, None))
    lock.release()
    return _reread(session)


def _reread(session: UploadSession) -> UploadSession:
    try:
        session.refresh_from_db()
    except UploadSession.DoesNotExist as error:
        raise NotFound("The upload no longer exists.") from error
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
