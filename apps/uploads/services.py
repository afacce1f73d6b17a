"""The upload engine: sessions, chunks, finalize, content-addressed stored files (DESIGN §8).

Every dialect (iDempiere, Nuxeo, tus, Axelor, Twake) ends in these functions. Request bodies are
streamed in bounded pieces straight to their final place (local: in place at their offset in the
session's file; S3: multipart parts, or staged objects when too small for a part), hashed while
written; the session row is locked only to claim a chunk and to record it, never while bytes flow.
"""

from __future__ import annotations

import contextlib
import logging
import math
import mimetypes
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.downloads import MEDIA_TYPE_MAX_LENGTH, media_type_normalize
from apps.core.errors import (
    ApplicationError,
    BadRequest,
    Conflict,
    Gone,
    NotReady,
    PayloadTooLarge,
    Unprocessable,
)
from apps.uploads import locks, stores
from apps.uploads import storage as st
from apps.uploads.models import Batch, StoredFile, UploadChunk, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")

State = UploadSession.State
Mode = UploadSession.Mode

CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
# Expired/cancelled session rows are kept this long (answering 410) before they are deleted.
ROW_RETENTION = timedelta(days=7)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Where each dialect's clients send the content type, so a refusal names the field they know.
CONTENT_TYPE_FIELDS = {
    "idempiere": "contentType",
    "tus": "Upload-Metadata filetype",
    "nuxeo": "X-File-Type",
    "axelor": "X-File-Type",
    "twake": "type",
}


class ChecksumMismatch(Unprocessable):
    """The body's hash differs from the one the client declared (tus maps this to 460)."""

    code = "checksum_mismatch"


@dataclass
class ChunkResult:
    session: UploadSession
    chunk: UploadChunk
    created: bool  # False: the same bytes were already in (idempotent retry)
    complete: bool  # every byte is in; finalize is (or was) enqueued


# --- Helpers ---------------------------------------------------------------------------------------


def sanitize_file_name(name: str | None, default: str = "upload") -> str:
    """A display name safe anywhere: no separators, no control characters, length-capped."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    limit = int(getattr(settings, "FILE_NAME_MAX_LENGTH", 200))
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: limit - len(ext) - 1] + "." + ext
        else:
            name = name[:limit]
    return name or default


def _normalize_sha256(value: str | None, what: str = "sha256") -> str:
    if not value:
        return ""
    value = str(value).strip().lower()
    if not _HEX64.match(value):
        raise BadRequest(f"{what} must be 64 hexadecimal characters.")
    return value


def _normalize_content_type(value: str | None, dialect: str) -> str:
    """The declared content type as a media type (type/subtype lower-cased), "" when none.

    It is sent back later as a ``Content-Type`` header, so anything else (CR/LF, spaces, no
    subtype, non-ASCII, too long) is refused here rather than stored.
    """
    if value is None or value == "":
        return ""
    normalized = media_type_normalize(value)
    if normalized is None:
        field = CONTENT_TYPE_FIELDS.get(dialect, "The content type")
        raise BadRequest(
            f"{field} must be a media type such as text/plain: type/subtype with optional "
            f"';name=value' parameters, at most {MEDIA_TYPE_MAX_LENGTH} characters.",
            code="invalid_content_type",
        )
    return normalized


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)


def sniff_content_type(head: bytes, file_name: str = "", declared: str = "") -> str:
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            if mime == "application/zip" and declared and declared != "application/zip":
                return declared  # docx/xlsx/odt are zips: keep the more precise declared type
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if declared and declared != "application/octet-stream":
        return declared
    guessed = mimetypes.guess_type(file_name)[0] if file_name else None
    return guessed or declared or "application/octet-stream"


def _session_storage(session: UploadSession) -> Any:
    return st.storage_for(session.storage_alias, session.storage_backend, session.storage_location)


def _file_storage(stored_file: StoredFile) -> Any:
    return st.storage_for(
        stored_file.storage_alias, stored_file.storage_backend, stored_file.storage_location
    )


def _enqueue_finalize(session_id: int) -> None:
    from apps.uploads.tasks import finalize_upload

    transaction.on_commit(lambda: finalize_upload.delay(session_id))


def _enqueue_free(stored_file_id: int) -> None:
    from apps.uploads.tasks import free_stored_file

    transaction.on_commit(lambda: free_stored_file.delay(stored_file_id))


def _raise_if_closed(session: UploadSession) -> None:
    if session.state == State.CANCELLED:
        raise Gone("The upload was cancelled.")
    if session.is_expired:
        raise Gone("The upload session has expired.")
    if session.state == State.FAILED:
        raise Conflict(f"The upload failed: {session.failure_reason}")


# --- Sessions ----------------------------------------------------------------------------------------


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
    content_type = _normalize_content_type(content_type, dialect)
    max_file = int(settings.UPLOAD_MAX_FILE_SIZE)
    max_chunk = int(settings.UPLOAD_MAX_CHUNK_SIZE)
    max_chunks = int(settings.UPLOAD_MAX_CHUNKS)
    if size is not None:
        size = _int(size, "fileSize")
        if size < 0:
            raise BadRequest("fileSize must not be negative.")
        if size > max_file:
            raise PayloadTooLarge(f"The file is larger than the limit of {max_file} bytes.")
    if chunk_size is not None:
        chunk_size = _int(chunk_size, "chunkSize")
        if chunk_size < max(1, int(getattr(settings, "UPLOAD_MIN_CHUNK_SIZE", 1))):
            raise BadRequest("chunkSize is too small.")
        if chunk_size > max_chunk:
            raise PayloadTooLarge(f"chunkSize is larger than the limit of {max_chunk} bytes.")
    if chunk_count is not None:
        chunk_count = _int(chunk_count, "chunk count")
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
    expires_in = default_expiry if expires_in in (None, "") else _int(expires_in, "expiresInSeconds")
    if expires_in < 1 or expires_in > max_expiry:
        raise BadRequest(f"expiresInSeconds must be between 1 and {max_expiry}.")

    place = st.current_place()
    mode = stores.choose_mode(place, chunk_size, chunk_count)

    with transaction.atomic():
        session = UploadSession(
            client_id=ctx.client_id,
            org_id=ctx.org_id,
            created_by_id=ctx.user_id,
            updated_by_id=ctx.user_id,
            owner_id=ctx.user_id,
            file_name=sanitize_file_name(file_name),
            content_type=content_type,
            size=size,
            chunk_size=chunk_size,
            chunk_count=chunk_count,
            sha256=_normalize_sha256(sha256),
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


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"{what} must be an integer.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{what} must be an integer.") from None


def session_declare_size(*, session: UploadSession, size: int) -> UploadSession:
    """Set a size left open at creation (tus deferred length); may complete the upload."""
    size = _int(size, "size")
    if size < 0:
        raise BadRequest("The size must not be negative.")
    if size > int(settings.UPLOAD_MAX_FILE_SIZE):
        raise PayloadTooLarge("The file is larger than the limit.")
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
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
        if locked.stored_file_id:
            stored_file_release(stored_file=locked.stored_file)
        locked.state = State.CANCELLED
        locked.save(update_fields=["state", "updated"])
        locked.chunks.all().delete()
        transaction.on_commit(lambda: _cleanup_bytes(locked))
    session.state = State.CANCELLED


def _cleanup_bytes(session: UploadSession) -> None:
    """Remove everything an unfinished (or finished) session left in storage, except its file."""
    kept = session.stored_file.storage_key if session.stored_file_id else None
    stores.store_for(session).cleanup(session, kept)


# --- Chunks ------------------------------------------------------------------------------------------


def _all_in(session: UploadSession) -> bool:
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
    declared_sha = _normalize_sha256(sha256, "X-Content-SHA256")
    appending = index is None
    if checksum is not None:
        algo, digest = checksum[0].lower(), str(checksum[1]).lower()
        if algo not in CHECKSUM_ALGORITHMS:
            raise BadRequest(f"Unsupported checksum algorithm {algo!r}.")
        checksum = (algo, digest)
    max_chunk = int(settings.UPLOAD_MAX_CHUNK_SIZE)
    if length is not None:
        length = _int(length, "Content-Length")
        if length < 0:
            raise BadRequest("Content-Length must not be negative.")
        if length > max_chunk:
            raise PayloadTooLarge(f"A chunk may not be larger than {max_chunk} bytes.")

    if index is not None:
        index = _int(index, "chunk index")
    # 0. Hold the slot's lock for the whole request (apps.uploads.locks): a busy slot's holder is
    #    asked to stop, and a claim found unreceived once we hold the lock is a dead request's.
    lock = locks.SlotLock(session.uid, locks.APPEND if appending else index)
    if not lock.acquire(locks.wait_seconds(), on_busy=lambda: _request_stop(session, index)):
        what = "Another chunk of this upload" if appending else f"Chunk {index + 1}"
        raise NotReady(f"{what} is being received by another request.", retry_after=1)
    try:
        return _chunk_accept_locked(
            session=session, stream=stream, length=length, index=index, offset=offset,
            declared_sha=declared_sha, checksum=checksum, partial_ok=partial_ok,
            max_chunk=max_chunk,
        )
    finally:
        lock.release()


def _chunk_accept_locked(
    *,
    session: UploadSession,
    stream: Any,
    length: int | None,
    index: int | None,
    offset: int | None,
    declared_sha: str,
    checksum: tuple[str, str] | None,
    partial_ok: bool,
    max_chunk: int,
) -> ChunkResult:
    appending = index is None
    # 1. Claim the index under the session lock (short transaction, no bytes read yet).
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
        if locked.state == State.CANCELLED or locked.is_expired:
            _raise_if_closed(locked)
        if index is None:
            position = locked.received_bytes if offset is None else _int(offset, "offset")
            if position != locked.received_bytes:
                raise Conflict(
                    f"The offset {position} does not match the {locked.received_bytes} bytes "
                    "received.",
                    extra={"offset": locked.received_bytes},
                )
            # We hold the append lock: an unreceived append claim is a dead request's. Its
            # bytes lie past the received ones and are overwritten (or cut off at finalize).
            locked.chunks.filter(received=False).delete()
            index = locked.chunks.count()
            chunk_offset: int | None = position
        else:
            if index < 0 or index >= int(settings.UPLOAD_MAX_CHUNKS) or (
                locked.chunk_count is not None and index >= locked.chunk_count
            ):
                raise BadRequest(f"Chunk {index + 1} is outside this upload's chunks.")
            if locked.chunk_size is not None:
                chunk_offset = index * locked.chunk_size
            elif index == 0:
                chunk_offset = 0
            else:
                chunk_offset = None if offset is None else _int(offset, "offset")

        expected = _expected_length(locked, index)
        limit = max_chunk if expected is None else expected
        if locked.size is not None and chunk_offset is not None:
            limit = min(limit, max(0, locked.size - chunk_offset))
        if locked.size is None:
            # Size unknown yet (tus deferred length, Nuxeo without X-File-Size): the file limit
            # bounds what may still come.
            max_file = int(settings.UPLOAD_MAX_FILE_SIZE)
            room = max(0, max_file - max(locked.received_bytes, chunk_offset or 0))
            if length is not None and length > room:
                raise PayloadTooLarge(f"The file would be larger than the limit of {max_file} bytes.")
            limit = min(limit, room)
        if length is not None and length > limit:
            raise PayloadTooLarge(f"Chunk {index + 1} may hold at most {limit} bytes.")
        if expected is not None and length is not None and length != expected:
            raise BadRequest(f"Chunk {index + 1} must be {expected} bytes, not {length}.")

        existing = UploadChunk.objects.select_for_update().filter(session=locked, index=index).first()
        now = timezone.now()
        if existing is not None and not existing.received:
            # A dead request's claim (we hold the slot's lock): ours now, with a new identity.
            existing.created = now
            existing.stop_requested = False
            existing.save(update_fields=["created", "stop_requested"])
            claim = existing
        elif existing is None:
            if not locked.is_open:
                _raise_if_closed(locked)
                raise Conflict("The upload already has all its bytes.")
            claim = UploadChunk.objects.create(
                session=locked, index=index, offset=chunk_offset, received=False, created=now
            )
        else:
            claim = None  # already received: compare the bytes, keep nothing
        if claim is not None and locked.state == State.INITIATED:
            locked.state = State.UPLOADING
            locked.save(update_fields=["state", "updated"])

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

    # 3. Record it under the lock; enqueue finalize when the last byte is in. A refusal here
    #    leaves the transaction first, so dropping the claim is not rolled back with it.
    refusal: ApplicationError | None = None
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
        chunk = UploadChunk.objects.select_for_update().filter(pk=claim.pk).first()
        total = locked.received_bytes + reader.count
        if chunk is None or chunk.created != claim.created:
            refusal = Conflict(f"Chunk {index + 1} was taken over by another request.")
        elif not locked.is_open:
            refusal = _closed_error(locked) or Conflict("The upload already has all its bytes.")
        elif locked.size is not None and total > locked.size:
            refusal = PayloadTooLarge("The chunks add up to more than the declared size.")
        elif locked.size is None and total > int(settings.UPLOAD_MAX_FILE_SIZE):
            refusal = PayloadTooLarge("The file would be larger than the limit.")
        else:
            chunk.received = True
            chunk.stop_requested = False
            chunk.size = reader.count
            chunk.sha256 = reader.sha256.hexdigest()
            chunk.storage_key = written.key
            if written.etag:
                chunk.part_number = written.part_number
                chunk.etag = written.etag
            chunk.save()
            locked.received_bytes = total
            complete = _all_in(locked)
            if complete:
                locked.state = State.PROCESSING
                _enqueue_finalize(locked.pk)
            locked.save(update_fields=["received_bytes", "state", "updated"])
    if refusal is not None:
        _drop_claim(claim, locked, store, written)
        raise refusal
    return ChunkResult(locked, chunk, created=True, complete=complete)


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


# --- Finalize ----------------------------------------------------------------------------------------


def _fail(session: UploadSession, reason: str) -> None:
    session_fail(session_id=session.pk, reason=reason)


def session_fail(*, session_id: int, reason: str) -> bool:
    """A finalize that cannot succeed: PROCESSING → FAILED with its reason (for the client)."""
    return bool(
        UploadSession.objects.filter(pk=session_id, state=State.PROCESSING).update(
            state=State.FAILED, failure_reason=reason[:500], updated=timezone.now()
        )
    )


def session_finalize(*, session_id: int) -> None:
    """Assemble, hash in one pass, verify, produce the StoredFile. Idempotent; safe to re-run.

    Runs under the session's FINALIZE lock: while a live process finalizes, another run returns
    at once; when that process dies, its lock goes with it and the next run starts over.
    """
    uid = UploadSession.objects.filter(pk=session_id).values_list("uid", flat=True).first()
    if uid is None:
        return
    with locks.held(uid, locks.FINALIZE) as mine:
        if mine:
            _finalize_locked(session_id)


def _finalize_locked(session_id: int) -> None:
    claimed = UploadSession.objects.filter(
        pk=session_id, state__in=[State.UPLOADING, State.PROCESSING]
    ).update(state=State.PROCESSING)
    if not claimed:
        return
    session = UploadSession.objects.get(pk=session_id)
    if not _all_in(session):
        UploadSession.objects.filter(pk=session_id, state=State.PROCESSING).update(
            state=State.UPLOADING
        )
        return
    store = stores.store_for(session)
    storage = _session_storage(session)
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
            _fail(session, str(error))
            return
        if session.size is not None and size != session.size:
            _fail(session, f"Size mismatch: {size} bytes received, {session.size} declared.")
            return
        if session.sha256 and digest != session.sha256:
            _fail(session, f"SHA-256 mismatch: received {digest}, expected {session.sha256}.")
            return
        UploadSession.objects.filter(pk=session_id).update(assembled_sha256=digest)
    else:
        size = session.received_bytes
    _record_stored_file(session, store, digest, size)


def _record_stored_file(
    session: UploadSession, store: stores.ChunkStore, digest: str, size: int
) -> None:
    backend = session.storage_backend
    for attempt in range(3):
        try:
            with transaction.atomic():
                locked = UploadSession.objects.select_for_update().get(pk=session.pk)
                if locked.state != State.PROCESSING:
                    return
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
                        content_type=sniff_content_type(
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
                transaction.on_commit(lambda done=locked: _cleanup_bytes(done))
                transaction.on_commit(lambda done=locked: _run_completion_hooks(done))
            return
        except IntegrityError:
            if attempt == 2:
                raise
        except stores.AssemblyError as error:
            _fail(session, str(error))
            return


# --- Completion hooks and results ----------------------------------------------------------------


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


def session_record_result(*, session: UploadSession, **refs: Any) -> UploadSession:
    """Record what a consumer made of the upload (e.g. ``imageId=123``) in ``result_refs``.

    Values must be JSON-serializable; a value ``None`` removes the key. Merged under the row lock.
    """
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
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


# --- Stored files ------------------------------------------------------------------------------------


def stored_file_storage(stored_file: StoredFile) -> Any:
    """The storage that holds a stored file's bytes (recorded on the row)."""
    return _file_storage(stored_file)


def stored_file_open(stored_file: StoredFile) -> IO[bytes]:
    """A streaming reader over the stored bytes (the caller closes it)."""
    storage = _file_storage(stored_file)
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
        storage = _file_storage(stored)
        st.delete(storage, stored.storage_backend, stored.storage_key)
    return True


def stored_file_from_stream(
    *, ctx: Any, stream: Any, length: int | None, file_name: str, content_type: str = "",
    sha256: str | None = None, location: str = "", dialect: str = "single",
) -> UploadSession:
    """A one-shot upload (multipart form part, JSON base64 body): a one-chunk session, finalized.

    Returns the session; its ``stored_file`` is set once finalize ran (at once when eager).
    """
    session = session_create(
        ctx=ctx, file_name=file_name, content_type=content_type, size=length,
        chunk_count=1 if length is not None else None, sha256=sha256, location=location,
        dialect=dialect,
    )
    result = chunk_accept(session=session, stream=stream, length=length, index=0)
    if length is None:
        session_declare_size(session=result.session, size=result.session.received_bytes)
    session.refresh_from_db()
    return session


# --- Purge ----------------------------------------------------------------------------------------


def uploads_purge(*, now: Any = None) -> dict[str, int]:
    """Finalize again what a dead process left PROCESSING, expire overdue sessions and batches,
    delete their bytes, abort abandoned multipart uploads, free unreferenced stored files. Safe
    to run anywhere, any time (beat, ``manage.py purge_uploads``, ``make run`` at start)."""
    now = now or timezone.now()
    counts = {
        "refinalized": 0, "expired": 0, "deleted": 0, "multipart_aborted": 0, "files_freed": 0,
        "batches": 0,
    }
    counts["refinalized"] = _refinalize_orphans(now)
    expirable = (State.INITIATED, State.UPLOADING, State.PROCESSING, State.FAILED, State.COMPLETED)
    overdue = UploadSession.objects.filter(expires_at__lte=now, state__in=expirable)
    for session_id, uid, state in overdue.values_list("pk", "uid", "state").iterator():
        # A PROCESSING upload past its expiry is cleaned like any other unless a live process is
        # finalizing it right now (then the next purge sees it again).
        with locks.held(uid, locks.FINALIZE) as not_finalizing:
            if state == State.PROCESSING and not not_finalizing:
                continue
            with transaction.atomic():
                session = UploadSession.objects.select_for_update().filter(pk=session_id).first()
                if session is None or session.expires_at > now or session.state not in expirable:
                    continue
                if session.stored_file_id:
                    stored_file_release(stored_file=session.stored_file)
                session.state = State.EXPIRED
                session.save(update_fields=["state", "updated"])
                session.chunks.all().delete()
                transaction.on_commit(lambda s=session: _cleanup_bytes(s))
        counts["expired"] += 1
    old = UploadSession.objects.filter(
        state__in=[State.EXPIRED, State.CANCELLED], expires_at__lte=now - ROW_RETENTION
    )
    counts["deleted"] = old.delete()[0]
    for batch in Batch.objects.filter(expires_at__lte=now):
        for session in batch.sessions.exclude(state__in=[State.EXPIRED, State.CANCELLED]):
            session_cancel(session=session)
        batch.delete()
        counts["batches"] += 1
    counts["multipart_aborted"] = _abort_abandoned_multipart(now)
    for stored_id in StoredFile.objects.filter(ref_count=0).values_list("pk", flat=True):
        counts["files_freed"] += int(stored_file_free(stored_file_id=stored_id))
    return counts


def uploads_refinalize(*, now: Any = None) -> int:
    """The first step of :func:`uploads_purge` alone (beat runs it every minute)."""
    return _refinalize_orphans(now or timezone.now())


def _refinalize_orphans(now: Any) -> int:
    """Enqueue finalize again for PROCESSING uploads that no live process is finalizing.

    With a broker, only those PROCESSING for ``UPLOAD_FINALIZE_STALE_SECONDS`` (their message may
    just be waiting for a worker); eagerly (embedded mode), every one: the process that was
    finalizing it is gone if its lock is free. Re-running finalize is harmless (idempotent, and
    serialized by its lock).
    """
    from config.celery import app

    stuck = UploadSession.objects.filter(state=State.PROCESSING, expires_at__gt=now)
    if not app.conf.task_always_eager:
        bound = now - timedelta(seconds=int(settings.UPLOAD_FINALIZE_STALE_SECONDS))
        stuck = stuck.filter(updated__lte=bound)
    count = 0
    for session_id, uid in stuck.values_list("pk", "uid"):
        if not locks.SlotLock(uid, locks.FINALIZE).is_free():
            continue
        UploadSession.objects.filter(pk=session_id, state=State.PROCESSING).update(updated=now)
        _enqueue_finalize(session_id)
        count += 1
    return count


def _abort_abandoned_multipart(now: Any) -> int:
    place = st.current_place()
    if place.backend != "s3":
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


# --- Batches (Nuxeo) -----------------------------------------------------------------------------------


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
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        session = batch_session(batch, batch_index)
        if session is not None and (reuse is None or reuse(session)):
            return session, False
        session = session_create(
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
        session_cancel(session=session)


def batch_drop(*, batch: Batch) -> None:
    """Cancel every upload of the batch and delete it."""
    for session in batch.sessions.exclude(state__in=[State.CANCELLED, State.EXPIRED]):
        session_cancel(session=session)
    batch.delete()
