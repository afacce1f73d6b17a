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

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

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
    if place.backend == "local":
        return Mode.IN_PLACE if offsets_known else Mode.STAGED
    parts_ok = (
        chunk_size is not None and chunk_size >= st.S3_MIN_PART_SIZE
        and (chunk_count or 1) <= 10_000
    )
    return Mode.PARTS if parts_ok else Mode.STAGED


def session_key(session: UploadSession) -> str:
    """The server-made key of a session's assembled file."""
    return f"uploads/{session.uid}/data" if session.storage_backend == "local" else f"blobs/{session.uid}"


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
    """What every store shares: the session's storage, promotion and cleanup."""

    keeps_short_bodies = False

    def __init__(self, storage: Any, backend: str) -> None:
        self.storage = storage
        self.backend = backend

    def open(self, session: UploadSession) -> None:
        return None

    def discard_chunk(self, session: UploadSession, written_key: str) -> None:
        return None  # in-place bytes and unfinished parts do not count until recorded

    def promote(self, session: UploadSession, digest: str) -> str:
        """Where the finished bytes live as a stored file (local: renamed to the content key)."""
        if self.backend != "local":
            return session.storage_key
        target = content_key(session.client_id, digest)
        if st.exists(self.storage, self.backend, session.storage_key):
            st.local_move(self.storage, session.storage_key, target)
        elif not st.exists(self.storage, self.backend, target):
            raise AssemblyError("The assembled file is missing.")
        return target

    def drop_duplicate(self, session: UploadSession, kept_key: str) -> None:
        """The session's assembled bytes are already stored under ``kept_key``: drop its copy."""
        if session.storage_key != kept_key and st.exists(self.storage, self.backend, session.storage_key):
            st.delete(self.storage, self.backend, session.storage_key)

    def cleanup(self, session: UploadSession, kept_key: str | None) -> None:
        """Remove everything the session left in storage, except ``kept_key`` (its stored file)."""
        try:
            if session.s3_upload_id:
                st.s3_abort(self.storage, session.storage_key, session.s3_upload_id)
            st.delete_prefix(self.storage, self.backend, prefix(session))
            if self.backend == "s3" and session.storage_key != kept_key:
                st.delete(self.storage, self.backend, session.storage_key)
        except Exception:
            logger.exception("Cleaning up upload %s failed", session.uid)

    def read_head(self, key: str) -> bytes:
        """The first bytes of a finished file, for content sniffing (best effort)."""
        try:
            if self.backend == "s3":
                answer = st.s3_client(self.storage).get_object(
                    Bucket=self.storage.bucket_name, Key=key, Range="bytes=0-511"
                )
                return answer["Body"].read()
            with st.open_read(self.storage, self.backend, key) as handle:
                return handle.read(512)
        except Exception:  # noqa: BLE001 - sniffing is best effort
            return b""


class InPlaceStore(_Store):
    keeps_short_bodies = True

    def write_chunk(self, session, index, offset, reader, length) -> Written:
        if offset is None:
            from apps.core.errors import BadRequest

            raise BadRequest("This upload needs the chunk's offset.")
        st.local_write_at(self.storage, session.storage_key, offset, reader)
        return Written(session.storage_key)

    def assemble(self, session, chunks) -> tuple[str, int]:
        key = session.storage_key
        if not st.exists(self.storage, self.backend, key):
            if session.received_bytes == 0:
                st.local_write_file(self.storage, key, st.HashingReader(_Empty(), 0, 0))
            else:
                raise AssemblyError("The upload's data is missing.")
        # Appends and in-place chunks cover [0, received_bytes) once all are in; anything past
        # that was written by a refused body (its claim dropped) and must not count.
        st.local_truncate(self.storage, key, session.received_bytes)
        return st.sha256_of(self.storage, self.backend, key)


class PartsStore(_Store):
    def open(self, session: UploadSession) -> None:
        session.s3_upload_id = st.s3_create_multipart(
            self.storage, session.storage_key, session.content_type
        )

    def write_chunk(self, session, index, offset, reader, length) -> Written:
        _require_length(length)
        etag = st.s3_upload_part(
            self.storage, session.storage_key, session.s3_upload_id, index + 1, reader, length
        )
        return Written(session.storage_key, etag=etag, part_number=index + 1)

    def assemble(self, session, chunks) -> tuple[str, int]:
        key = session.storage_key
        if session.s3_upload_id and st.s3_multipart_exists(self.storage, key, session.s3_upload_id):
            st.s3_complete(
                self.storage, key, session.s3_upload_id, [(c.part_number, c.etag) for c in chunks]
            )
        elif not st.exists(self.storage, self.backend, key):
            raise AssemblyError("The upload's parts are missing.")
        return st.sha256_of(self.storage, self.backend, key)


class StagedStore(_Store):
    @property
    def keeps_short_bodies(self) -> bool:  # a local staged file holds what arrived
        return self.backend == "local"

    def write_chunk(self, session, index, offset, reader, length) -> Written:
        # A fresh key per attempt: a failed attempt's cleanup (or its late PutObject) must never
        # touch the object a retry of the same chunk wrote meanwhile.
        key = f"{prefix(session)}chunks/{index:06d}-{uuid.uuid4().hex[:12]}"
        if self.backend == "local":
            st.local_write_file(self.storage, key, reader)
        else:
            _require_length(length)
            try:
                st.s3_put_stream(self.storage, key, reader, length)
            except BaseException:
                self.discard_chunk(session, key)
                raise
        return Written(key)

    def discard_chunk(self, session: UploadSession, written_key: str) -> None:
        if written_key:
            st.delete(self.storage, self.backend, written_key)

    def assemble(self, session, chunks) -> tuple[str, int]:
        return _compose(session, self.storage, chunks)


def store_for(session: UploadSession) -> ChunkStore:
    storage = st.storage_for(session.storage_alias, session.storage_backend, session.storage_location)
    kind = {Mode.IN_PLACE: InPlaceStore, Mode.PARTS: PartsStore, Mode.STAGED: StagedStore}
    return kind[session.mode](storage, session.storage_backend)


def _require_length(length: int | None) -> None:
    if length is None:
        from apps.core.errors import BadRequest

        raise BadRequest("Content-Length is required.")


class _Empty:
    def read(self, size: int = -1) -> bytes:
        return b""


def _compose(
    session: UploadSession, storage: Any, chunks: list[UploadChunk]
) -> tuple[str, int]:
    """Staged chunks → one file, hashing in the same pass (server-side part copies on S3)."""
    backend = session.storage_backend
    key = session.storage_key
    digest = hashlib.sha256()
    size = 0
    if backend == "local":
        path = st.local_path(storage, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            for chunk in chunks:
                with open(st.local_path(storage, chunk.storage_key), "rb") as source:
                    for data in iter(lambda s=source: s.read(st.READ_BLOCK), b""):
                        digest.update(data)
                        out.write(data)
                        size += len(data)
            out.flush()
            os.fsync(out.fileno())
        return digest.hexdigest(), size

    client = st.s3_client(storage)
    bucket = storage.bucket_name
    if len(chunks) == 1:
        client.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": chunks[0].storage_key}
        )
        return st.sha256_of(storage, backend, key)
    if all(c.size >= st.S3_MIN_PART_SIZE for c in chunks[:-1]):
        upload_id = st.s3_create_multipart(storage, key, session.content_type)
        try:
            parts = [
                (n, st.s3_part_copy(storage, key, upload_id, n, c.storage_key))
                for n, c in enumerate(chunks, start=1)
            ]
            st.s3_complete(storage, key, upload_id, parts)
        except BaseException:
            st.s3_abort(storage, key, upload_id)
            raise
        return st.sha256_of(storage, backend, key)
    # Small staged chunks: stream them into parts of ≥ 5 MiB, hashing on the way.
    total = sum(c.size for c in chunks)
    if total < st.S3_MIN_PART_SIZE:
        buffer = bytearray()
        for chunk in chunks:
            body = st.open_read(storage, backend, chunk.storage_key)
            buffer += body.read()
            body.close()
        digest.update(buffer)
        client.put_object(Bucket=bucket, Key=key, Body=bytes(buffer))
        return digest.hexdigest(), len(buffer)
    upload_id = st.s3_create_multipart(storage, key, session.content_type)
    try:
        parts: list[tuple[int, str]] = []
        buffer = bytearray()

        def flush() -> None:
            number = len(parts) + 1
            answer = client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer)
            )
            parts.append((number, answer["ETag"]))
            buffer.clear()

        for chunk in chunks:
            body = st.open_read(storage, backend, chunk.storage_key)
            for data in iter(lambda b=body: b.read(st.READ_BLOCK), b""):
                digest.update(data)
                size += len(data)
                buffer += data
                if len(buffer) >= st.READ_BLOCK:
                    flush()
            body.close()
        if buffer:
            flush()
        st.s3_complete(storage, key, upload_id, parts)
    except BaseException:
        st.s3_abort(storage, key, upload_id)
        raise
    return digest.hexdigest(), size
