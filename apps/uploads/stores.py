"""Chunk stores: every byte operation of an upload, one class per way of keeping chunks.

The upload services parse nothing and branch on no storage mode: they ask :func:`store_for` a
session's store and call it (the model is tusd's handler/datastore split, where a store implements
``WriteChunk(offset, src)`` plus optional capabilities).

- :class:`InPlaceStore` (local storage, offsets known): chunks are written at their offset into the
  session's one file; assembling only cuts it to the received length and hashes it.
- :class:`PartsStore` (S3, chunks of at least 5 MiB): chunks are multipart-upload parts;
  assembling completes the multipart upload.
- :class:`StagedStore` (local or S3, offsets or sizes unknown): each chunk is a file or object of
  its own under a fresh key per attempt; assembling composes them (S3: server-side part copies).

Fencing is not a store's concern: the caller holds the chunk's slot lock (``apps.uploads.locks``)
for every ``write_chunk``, so no write can land after the chunk was taken over.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from apps.core.errors import BadRequest, Conflict
from apps.uploads import storage as st
from apps.uploads.models import UploadChunk, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")

Mode = UploadSession.Mode


class AssemblyError(Exception):
    """The upload cannot be assembled from what was kept (its bytes are gone)."""


@dataclass(frozen=True)
class Written:
    key: str  # where the chunk's bytes are (the session file, or its staged object)
    etag: str = ""  # S3 part ETag
    part_number: int | None = None


def choose_mode(place: st.Place, chunk_size: int | None, chunk_count: int | None) -> str:
    """How a new session keeps its chunks, from where they go and what is known of them."""
    offsets_known = chunk_size is not None or chunk_count in (None, 1)
    if not place.is_s3:
        return Mode.IN_PLACE if offsets_known else Mode.STAGED
    parts_ok = (
        chunk_size is not None and chunk_size >= st.S3_MIN_PART_SIZE
        and (chunk_count or 1) <= 10_000
    )
    return Mode.PARTS if parts_ok else Mode.STAGED


def session_key(session: UploadSession) -> str:
    """The server-made key of a session's assembled file (local: inside the session's folder)."""
    if st.Backend(session.storage_backend).is_s3:
        if session.mode == Mode.DIRECT:  # tenant-scoped: presigned URLs name it to the client
            return f"blobs/direct/{session.client_id}/{session.uid}"
        return f"blobs/{session.uid}"
    return f"uploads/{session.uid}/data"


def prefix(session: UploadSession) -> str:
    return f"uploads/{session.uid}/"


def content_key(client_id: int, sha256: str) -> str:
    """Per tenant: the same content uploaded by two tenants is two files (never shared)."""
    return f"files/{client_id}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class ChunkStore(Protocol):
    #: A body cut short can be kept (its bytes are in place as they arrive).
    keeps_short_bodies: bool

    def open(self, session: UploadSession) -> None: ...
    def write_chunk(self, session: UploadSession, index: int, offset: int | None,
                    reader: st.HashingReader, length: int | None) -> Written: ...
    def discard_chunk(self, session: UploadSession, written_key: str) -> None: ...
    def assemble(self, session: UploadSession, chunks: list[UploadChunk]) -> tuple[str, int]: ...
    def promote(self, session: UploadSession, digest: str) -> str: ...
    def cleanup(self, session: UploadSession, kept_key: str | None) -> None: ...
    def read_head(self, key: str) -> bytes: ...


class _Store:
    """What every store shares: the session's storage, promotion and cleanup.

    Byte operations go through ``self.objects`` (:mod:`apps.core.storage`): a full disk while a
    chunk is written raises 507, a failing S3 503, and the engine drops the chunk's claim."""

    keeps_short_bodies = False

    def __init__(self, storage: Any, backend: str) -> None:
        self.storage = storage
        self.backend = st.Backend(backend)
        self.objects = st.objects_for(storage, self.backend)

    def open(self, session: UploadSession) -> None:
        return None

    def discard_chunk(self, session: UploadSession, written_key: str) -> None:
        return None  # in-place bytes and unfinished parts do not count until recorded

    def promote(self, session: UploadSession, digest: str) -> str:
        """Where the finished bytes live as a stored file (local: renamed to the content key;
        S3: the assembled object stays where it is)."""
        if self.backend.is_s3:
            return session.storage_key
        target = content_key(session.client_id, digest)
        if self.objects.exists(session.storage_key):
            self.objects.move(session.storage_key, target)
        elif not self.objects.exists(target):
            raise AssemblyError("The assembled file is missing.")
        return target

    def drop_duplicate(self, session: UploadSession, kept_key: str) -> None:
        """The session's assembled bytes are already stored under ``kept_key``: drop its copy."""
        if session.storage_key != kept_key and self.objects.exists(session.storage_key):
            self.objects.delete(session.storage_key)

    def cleanup(self, session: UploadSession, kept_key: str | None) -> None:
        """Remove everything the session left in storage, except ``kept_key`` (its stored file)."""
        folder = prefix(session)
        try:
            if session.s3_upload_id:
                st.s3_abort(self.storage, session.storage_key, session.s3_upload_id)
            self.objects.delete_prefix(folder)
            if session.storage_key != kept_key and not session.storage_key.startswith(folder):
                self.objects.delete(session.storage_key)
        except Exception:
            logger.exception("Cleaning up upload %s failed", session.uid)

    def read_head(self, key: str) -> bytes:
        """The first bytes of a finished file, for content sniffing (best effort)."""
        try:
            return self.objects.read_head(key, 512)
        except Exception:  # noqa: BLE001 - sniffing is best effort
            return b""


class InPlaceStore(_Store):
    keeps_short_bodies = True

    def write_chunk(self, session, index, offset, reader, length) -> Written:
        if offset is None:
            raise BadRequest("This upload needs the chunk's offset.")
        self.objects.write_at(session.storage_key, offset, reader, **st.write_sizes())
        return Written(session.storage_key)

    def assemble(self, session, chunks) -> tuple[str, int]:
        key = session.storage_key
        if not self.objects.exists(key):
            if session.received_bytes == 0:
                self.objects.put(key, io.BytesIO(b""), 0)
            else:
                raise AssemblyError("The upload's data is missing.")
        # Appends and in-place chunks cover [0, received_bytes) once all are in; anything past
        # that was written by a refused body (its claim dropped) and must not count.
        self.objects.truncate(key, session.received_bytes)
        return self.objects.sha256_of(key)


class PartsStore(_Store):
    def open(self, session: UploadSession) -> None:
        session.s3_upload_id = self.objects.create_multipart(
            session.storage_key, session.content_type
        )

    def write_chunk(self, session, index, offset, reader, length) -> Written:
        etag = self.objects.upload_part(
            session.storage_key, session.s3_upload_id, index + 1, reader, length
        )
        return Written(session.storage_key, etag=etag, part_number=index + 1)

    def assemble(self, session, chunks) -> tuple[str, int]:
        key = session.storage_key
        upload_id = session.s3_upload_id
        if upload_id and self.objects.multipart_exists(key, upload_id):
            self.objects.complete(key, upload_id, [(c.part_number, c.etag) for c in chunks])
        elif not self.objects.exists(key):
            raise AssemblyError("The upload's parts are missing.")
        return self.objects.sha256_of(key)


class StagedStore(_Store):
    @property
    def keeps_short_bodies(self) -> bool:  # a local staged file holds what arrived
        return not self.backend.is_s3

    def write_chunk(self, session, index, offset, reader, length) -> Written:
        # A fresh key per attempt: a failed attempt's cleanup (or its late PutObject) must never
        # touch the object a retry of the same chunk wrote meanwhile. A local file is written
        # aside and renamed, so a failed one leaves nothing; an S3 object is removed here.
        key = f"{prefix(session)}chunks/{index:06d}-{uuid.uuid4().hex[:12]}"
        try:
            self.objects.put(key, reader, length, buffer_size=st.write_sizes()["buffer_size"])
        except BaseException:
            if self.backend.is_s3:
                self._discard_quietly(key)
            raise
        return Written(key)

    def _discard_quietly(self, key: str) -> None:
        try:
            self.objects.delete(key)
        except Exception:  # the write's own error is the answer; the session's cleanup retries
            logger.warning("Could not remove the failed staged chunk %s", key, exc_info=True)

    def discard_chunk(self, session: UploadSession, written_key: str) -> None:
        if written_key:
            self.objects.delete(written_key)

    def assemble(self, session, chunks) -> tuple[str, int]:
        """Staged chunks → one file, hashing in the same pass (server-side part copies on S3)."""
        sources = [(c.storage_key, c.size) for c in chunks]
        return self.objects.compose(session.storage_key, sources, session.content_type)


class DirectStore(_Store):
    """S3 only: the client PUTs the parts to S3 with presigned URLs (``apps.uploads.direct``) and
    completes the multipart upload through the service; no byte passes through here."""

    def open(self, session: UploadSession) -> None:
        session.s3_upload_id = self.objects.create_multipart(
            session.storage_key, session.content_type
        )

    def write_chunk(self, session, index, offset, reader, length) -> Written:
        raise Conflict("This upload's parts go straight to S3 (/api/v1/s3/multipart).")

    def assemble(self, session, chunks) -> tuple[str, int]:
        """Completed by the client's complete call: the object is read once to hash it."""
        if not self.objects.exists(session.storage_key):
            raise AssemblyError("The uploaded object is missing.")
        return self.objects.sha256_of(session.storage_key)


def store_for(session: UploadSession) -> ChunkStore:
    storage = st.storage_for(session.storage_alias, session.storage_backend, session.storage_location)
    kind = {Mode.IN_PLACE: InPlaceStore, Mode.PARTS: PartsStore, Mode.STAGED: StagedStore,
            Mode.DIRECT: DirectStore}
    return kind[session.mode](storage, session.storage_backend)
