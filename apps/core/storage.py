"""Bytes at rest: the one module that touches local files and S3 (DESIGN §1, "storage access").

Everything else reaches storage through here, whatever app it is in (core must not import uploads,
so this lives in core and the upload engine builds on it):

- :class:`Backend` is the one backend test: ``backend_of(storage)``, ``place.is_s3``,
  ``Backend(row.storage_backend).is_s3``; no string comparisons elsewhere.
- :class:`Place` is where a row's bytes are, as (alias, backend, location): any web node or worker,
  whatever its own settings, reads and writes the same place (:func:`storage_for`).
- :class:`LocalObjects` and :class:`S3Objects` hold the byte operations of each backend, with the
  same names where both can do a thing; :func:`objects_for` picks one, so callers never branch.
- Failures have one meaning each: a full disk or quota (``ENOSPC``, ``EDQUOT``) while bytes are
  written is :class:`~apps.core.errors.InsufficientStorage` (507); S3 refusing or failing a request
  (5xx, SlowDown, a dead endpoint, a timeout) is :class:`~apps.core.errors.StorageUnavailable` (503
  with ``Retry-After``). Nothing above this module needs to know either.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import IO, Any, Protocol

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from apps.core.errors import (
    DISK_FULL_ERRNOS,
    BadRequest,
    InsufficientStorage,
    StorageUnavailable,
)

logger = logging.getLogger("ledgerdoc.storage")

S3_MIN_PART_SIZE = 5 * 1024 * 1024
READ_BLOCK = 8 * 1024 * 1024
DEFAULT_BUFFER = 1024 * 1024
DEFAULT_WRITE_PIECE = 128 * 1024
RETRY_AFTER_SECONDS = 5
# S3 error codes that mean "this object or upload is not there" (not "S3 failed").
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})


class UnsupportedStorage(RuntimeError):
    """A storage this module does not drive (neither a FileSystemStorage nor S3)."""


class Backend(StrEnum):
    """How a storage keeps bytes; the values are what rows record (``storage_backend``)."""

    LOCAL = "local"
    S3 = "s3"

    @property
    def is_s3(self) -> bool:
        return self is Backend.S3


def backend_of(storage: Any) -> Backend | None:
    """The backend of a Django storage; None for one used only through Django's Storage API."""
    if getattr(storage, "bucket_name", None) and hasattr(storage, "connection"):
        return Backend.S3
    if isinstance(storage, FileSystemStorage):
        return Backend.LOCAL
    return None


def is_s3(storage: Any) -> bool:
    return backend_of(storage) is Backend.S3


@dataclass(frozen=True)
class Place:
    alias: str
    backend: Backend
    location: str  # directory or bucket

    @property
    def is_s3(self) -> bool:
        return self.backend.is_s3

    def storage(self) -> Any:
        return storage_for(self.alias, self.backend, self.location)


def describe(storage: Any) -> tuple[Backend, str]:
    backend = backend_of(storage)
    if backend is Backend.LOCAL:
        return backend, str(storage.location)
    if backend is Backend.S3:
        return backend, str(storage.bucket_name)
    raise UnsupportedStorage(f"Unsupported storage {type(storage).__name__}")


def place_of(alias: str) -> Place:
    """The place of a configured storage alias (``STORAGES``)."""
    backend, location = describe(storages[alias])
    return Place(alias, backend, location)


def storage_for(alias: str, backend: str, location: str) -> Any:
    """The storage a row recorded: the configured alias when it still matches, else rebuilt."""
    backend = Backend(backend)
    try:
        storage = storages[alias]
        if describe(storage) == (backend, location):
            return storage
    except Exception:  # noqa: BLE001 - alias gone or unsupported: rebuild from the row
        logger.debug("Storage alias %s unusable; rebuilding %s %s", alias, backend, location)
    return _rebuilt(backend, location)


@lru_cache(maxsize=16)
def _rebuilt(backend: Backend, location: str) -> Any:
    if not backend.is_s3:
        return FileSystemStorage(location=location)
    from storages.backends.s3 import S3Storage

    return S3Storage(
        bucket_name=location,
        endpoint_url=getattr(settings, "AWS_S3_ENDPOINT_URL", None),
        access_key=getattr(settings, "AWS_ACCESS_KEY_ID", None),
        secret_key=getattr(settings, "AWS_SECRET_ACCESS_KEY", None),
        region_name=getattr(settings, "AWS_S3_REGION_NAME", None),
        default_acl=None,
        file_overwrite=True,
    )


# --- What a failure means ---------------------------------------------------------------------------


@contextlib.contextmanager
def _disk_errors(action: str) -> Iterator[None]:
    """A full disk or quota while writing is a 507 (the caller drops what it claimed)."""
    try:
        yield
    except OSError as error:
        if error.errno not in DISK_FULL_ERRNOS:
            raise
        logger.warning("Storage full: %s failed: %s", action, error)
        raise InsufficientStorage(
            "The server has no storage space left for these bytes; they were not kept. "
            "Send them again later."
        ) from error


def _s3_code(error: Any) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _is_missing(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and _s3_code(error) in _MISSING


@contextlib.contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """S3 refusing or failing a request (botocore's errors) is a 503 with ``Retry-After``; errors
    of our own (a request body cut short, too long) pass through unchanged."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as error:
        logger.warning("S3 %s failed: %r", action, error)
        raise StorageUnavailable(
            "The file storage did not accept the request; nothing of it was kept. Try again later.",
            retry_after=_retry_after(error),
        ) from error


def _retry_after(error: Exception) -> int:
    headers = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
    raw = str(headers.get("retry-after", "")).strip()
    if raw.isascii() and raw.isdecimal() and 0 < int(raw) <= 3600:
        return int(raw)
    return RETRY_AFTER_SECONDS


# --- Request bodies going to storage ----------------------------------------------------------------


class Body(Protocol):
    """What writes read from: a request body with a known ``length`` (None: to its end)."""

    length: int | None

    def read(self, size: int = -1) -> bytes: ...
    def readinto(self, buffer: memoryview) -> int: ...


class _BodyAdapter:
    """A file-like view of a body for boto3 (it reads in pieces; never seeks back)."""

    def __init__(self, body: Body):
        self.body = body
        self.count = 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.body.read(size if size and size > 0 else READ_BLOCK)
        except BaseException as error:
            self.error = error
            raise
        self.count += len(data)
        return data

    def call(self, method: Any, **kwargs: Any) -> Any:
        """Run a boto3 call over this body; our own body errors (short, too long) win."""
        try:
            return method(Body=self, **kwargs)
        except BaseException:
            if self.error is not None:
                raise self.error from None
            raise

    def tell(self) -> int:
        return self.count

    def seek(self, offset: int, whence: int = 0) -> int:
        if (whence == 0 and offset == self.count) or (whence == 1 and offset == 0):
            return self.count
        raise OSError("The request body cannot be rewound.")


def _require_length(length: int | None) -> int:
    if length is None:
        raise BadRequest("Content-Length is required.")
    return length


# --- Local files --------------------------------------------------------------------------------------


try:
    import ctypes

    _sync_file_range = ctypes.CDLL(None, use_errno=True).sync_file_range
    _sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
except (OSError, AttributeError):  # not Linux
    _sync_file_range = None
SYNC_FILE_RANGE_WRITE = 2


def _pwrite_all(fd: int, view: memoryview, position: int, piece: int) -> None:
    """Write ``view`` at ``position`` in writes of at most ``piece`` bytes."""
    while view:
        written = os.pwrite(fd, view[:piece], position)
        position += written
        view = view[written:]


def _hash_file(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(READ_BLOCK)
        view = memoryview(buffer)
        while n := handle.readinto(buffer):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


class LocalObjects:
    """Bytes in a directory (a shared volume in production), by key."""

    backend = Backend.LOCAL

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    def path(self, key: str) -> str:
        return self.storage.path(key)

    def write_at(
        self, key: str, offset: int, body: Body, *, buffer_size: int = DEFAULT_BUFFER,
        piece: int = DEFAULT_WRITE_PIECE,
    ) -> None:
        """Write the body into the file at ``offset`` (other writers may fill other ranges).

        Each piece's writeback to the disk is started as soon as it is written (``sync_file_range``,
        which does not wait), so the closing ``fsync`` waits only for what is still in flight
        instead of the whole body: the disk works while the next pieces arrive."""
        path = self.path(key)
        if body.length is not None:
            buffer_size = max(1, min(buffer_size, body.length))
        piece = max(4096, piece)
        with _disk_errors(f"writing {key}"):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
            try:
                buffer = memoryview(bytearray(buffer_size))
                while count := body.readinto(buffer):
                    _pwrite_all(fd, buffer[:count], offset, piece)
                    if _sync_file_range is not None:
                        _sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE)
                    offset += count
                os.fsync(fd)
            finally:
                os.close(fd)

    def truncate(self, key: str, size: int) -> None:
        """Cut a file back to ``size`` bytes (never grows it)."""
        path = self.path(key)
        if os.path.getsize(path) > size:
            os.truncate(path, size)

    def put(
        self, key: str, body: Body, length: int | None = None, *, buffer_size: int = DEFAULT_BUFFER
    ) -> None:
        """The whole body as the file ``key``, replaced at once (a failed write leaves nothing)."""
        path = self.path(key)
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with _disk_errors(f"writing {key}"):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(tmp, "wb") as handle:
                    while data := body.read(buffer_size):
                        handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def move(self, src: str, dst: str) -> None:
        """Rename in place (same volume): no bytes are copied."""
        dst_path = self.path(dst)
        with _disk_errors(f"moving {src}"):
            os.makedirs(os.path.dirname(dst_path), exist_ok=True)
            os.replace(self.path(src), dst_path)

    def compose(
        self, key: str, sources: list[tuple[str, int]], content_type: str = ""
    ) -> tuple[str, int]:
        """The ``(key, size)`` sources one after the other as ``key``; (SHA-256, size), in one pass."""
        path = self.path(key)
        digest, size = hashlib.sha256(), 0
        with _disk_errors(f"composing {key}"):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                for source_key, _size in sources:
                    with open(self.path(source_key), "rb") as source:
                        while data := source.read(READ_BLOCK):
                            digest.update(data)
                            out.write(data)
                            size += len(data)
                out.flush()
                os.fsync(out.fileno())
        return digest.hexdigest(), size

    def open_read(self, key: str) -> IO[bytes]:
        return open(self.path(key), "rb")

    def read_head(self, key: str, size: int) -> bytes:
        with self.open_read(key) as handle:
            return handle.read(size)

    def exists(self, key: str) -> bool:
        return os.path.exists(self.path(key))

    def size_of(self, key: str) -> int:
        return os.path.getsize(self.path(key))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(key))

    def delete_prefix(self, prefix: str) -> None:
        """Remove everything under ``prefix`` (a server-made folder such as ``uploads/<uuid>/``)."""
        shutil.rmtree(self.path(prefix.rstrip("/")), ignore_errors=True)

    def sha256_of(self, key: str) -> tuple[str, int]:
        """Whole-file SHA-256 and size in one read pass."""
        return _hash_file(self.path(key))


# --- S3 -------------------------------------------------------------------------------------------------


_stream_clients: dict[tuple, Any] = {}


class S3Objects:
    """Objects in a bucket, through the boto3 client of django-storages' ``S3Storage``."""

    backend = Backend.S3

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.bucket = storage.bucket_name

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    @property
    def stream_client(self) -> Any:
        """A client for streamed request bodies: the payload is not hashed for the signature (that
        would read the body twice, and it cannot be rewound); our own SHA-256 guards the bytes.
        One attempt only: a body cannot be sent twice."""
        storage = self.storage
        identity = (
            storage.endpoint_url, storage.region_name, storage.access_key, storage.secret_key,
            storage.session_profile,
        )
        client = _stream_clients.get(identity)
        if client is None:
            from botocore.config import Config

            config = storage.client_config.merge(
                Config(s3={"payload_signing_enabled": False}, retries={"total_max_attempts": 1})
            )
            client = storage._create_session().client(
                "s3", region_name=storage.region_name, use_ssl=storage.use_ssl,
                endpoint_url=storage.endpoint_url, config=config, verify=storage.verify,
            )
            _stream_clients[identity] = client
        return client

    def put(self, key: str, body: Body, length: int | None = None, **_ignored: Any) -> None:
        """The request body as the object ``key`` (S3 needs its length up front)."""
        length = _require_length(length)
        with _s3_errors("PutObject"):
            _BodyAdapter(body).call(
                self.stream_client.put_object, Bucket=self.bucket, Key=key, ContentLength=length
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        with _s3_errors("PutObject"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def create_multipart(self, key: str, content_type: str = "") -> str:
        extra = {"ContentType": content_type} if content_type else {}
        with _s3_errors("CreateMultipartUpload"):
            answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        return answer["UploadId"]

    def upload_part(
        self, key: str, upload_id: str, part_number: int, body: Body, length: int | None
    ) -> str:
        length = _require_length(length)
        with _s3_errors("UploadPart"):
            answer = _BodyAdapter(body).call(
                self.stream_client.upload_part, Bucket=self.bucket, Key=key, UploadId=upload_id,
                PartNumber=part_number, ContentLength=length,
            )
        return answer["ETag"]

    def _upload_part_bytes(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        with _s3_errors("UploadPart"):
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number, Body=data
            )
        return answer["ETag"]

    def part_copy(self, key: str, upload_id: str, part_number: int, source_key: str) -> str:
        with _s3_errors("UploadPartCopy"):
            answer = self.client.upload_part_copy(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number,
                CopySource={"Bucket": self.bucket, "Key": source_key},
            )
        return answer["CopyPartResult"]["ETag"]

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        with _s3_errors("CompleteMultipartUpload"):
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )

    def abort(self, key: str, upload_id: str) -> None:
        """Best effort: an upload already completed or aborted is fine, and one left behind by a
        failing S3 is aborted later by the purge (it lists unfinished multipart uploads)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as error:  # noqa: BLE001
            level = logging.DEBUG if _is_missing(error) else logging.WARNING
            logger.log(level, "Aborting multipart upload %s of %s: %r", upload_id, key, error)

    def multipart_exists(self, key: str, upload_id: str) -> bool:
        try:
            with _s3_errors("ListParts"):
                self.client.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except StorageUnavailable as unavailable:
            if _is_missing(unavailable.__cause__):
                return False
            raise
        return True

    def list_multipart_uploads(self, prefix: str) -> list[tuple[str, str, Any]]:
        """(key, upload id, initiated) of the bucket's unfinished multipart uploads under ``prefix``."""
        found = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        with _s3_errors("ListMultipartUploads"):
            while True:
                answer = self.client.list_multipart_uploads(**kwargs)
                for upload in answer.get("Uploads", []):
                    found.append((upload["Key"], upload["UploadId"], upload.get("Initiated")))
                if not answer.get("IsTruncated"):
                    return found
                kwargs["KeyMarker"] = answer.get("NextKeyMarker")
                kwargs["UploadIdMarker"] = answer.get("NextUploadIdMarker")

    def compose(
        self, key: str, sources: list[tuple[str, int]], content_type: str = ""
    ) -> tuple[str, int]:
        """The ``(key, size)`` sources one after the other as ``key`` (server-side part copies when
        every part but the last has S3's minimum size); its (SHA-256, size)."""
        if len(sources) == 1:
            with _s3_errors("CopyObject"):
                self.client.copy_object(
                    Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": sources[0][0]}
                )
            return self.sha256_of(key)
        if all(size >= S3_MIN_PART_SIZE for _key, size in sources[:-1]):
            upload_id = self.create_multipart(key, content_type)
            try:
                parts = [
                    (n, self.part_copy(key, upload_id, n, source))
                    for n, (source, _size) in enumerate(sources, start=1)
                ]
                self.complete(key, upload_id, parts)
            except BaseException:
                self.abort(key, upload_id)
                raise
            return self.sha256_of(key)
        return self._compose_streamed(key, sources, content_type)

    def _compose_streamed(
        self, key: str, sources: list[tuple[str, int]], content_type: str
    ) -> tuple[str, int]:
        """Small sources: streamed into parts of at least 5 MiB, hashing on the way."""
        digest, size = hashlib.sha256(), 0
        buffer = bytearray()
        if sum(s for _k, s in sources) < S3_MIN_PART_SIZE:
            for source, _size in sources:
                with contextlib.closing(self.open_read(source)) as body:
                    buffer += body.read()
            digest.update(buffer)
            self.put_bytes(key, bytes(buffer))
            return digest.hexdigest(), len(buffer)
        upload_id = self.create_multipart(key, content_type)
        parts: list[tuple[int, str]] = []
        try:
            for source, _size in sources:
                with contextlib.closing(self.open_read(source)) as body:
                    while data := body.read(READ_BLOCK):
                        digest.update(data)
                        size += len(data)
                        buffer += data
                        if len(buffer) >= READ_BLOCK:
                            parts.append((len(parts) + 1, self._upload_part_bytes(
                                key, upload_id, len(parts) + 1, bytes(buffer))))
                            buffer.clear()
            if buffer:
                parts.append((len(parts) + 1, self._upload_part_bytes(
                    key, upload_id, len(parts) + 1, bytes(buffer))))
            self.complete(key, upload_id, parts)
        except BaseException:
            self.abort(key, upload_id)
            raise
        return digest.hexdigest(), size

    def open_read(self, key: str) -> IO[bytes]:
        """A streaming reader (the GetObject body, never loaded whole)."""
        with _s3_errors("GetObject"):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def open_range(self, key: str, start: int, length: int, size: int) -> IO[bytes]:
        """A ranged GetObject (never the S3File of django-storages, which spools the object)."""
        extra = {} if start == 0 and length >= size else {
            "Range": f"bytes={start}-{start + length - 1}"
        }
        with _s3_errors("GetObject"):
            return self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]

    def read_head(self, key: str, size: int) -> bytes:
        with contextlib.closing(self.open_range(key, 0, size, size + 1)) as body:
            return body.read()

    def exists(self, key: str) -> bool:
        try:
            with _s3_errors("HeadObject"):
                self.client.head_object(Bucket=self.bucket, Key=key)
        except StorageUnavailable as unavailable:
            if _is_missing(unavailable.__cause__):
                return False
            raise
        return True

    def size_of(self, key: str) -> int:
        with _s3_errors("HeadObject"):
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def delete(self, key: str) -> None:
        with _s3_errors("DeleteObject"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> None:
        with _s3_errors("DeleteObjects"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def sha256_of(self, key: str) -> tuple[str, int]:
        """Whole-object SHA-256 and size in one read pass."""
        digest, size = hashlib.sha256(), 0
        with contextlib.closing(self.open_read(key)) as body, _s3_errors("GetObject"):
            while data := body.read(READ_BLOCK):
                digest.update(data)
                size += len(data)
        return digest.hexdigest(), size


Objects = LocalObjects | S3Objects


def objects_for(storage: Any, backend: str | None = None) -> Objects:
    """The byte operations of ``storage`` (``backend`` as a row recorded it, or found out)."""
    kind = Backend(backend) if backend is not None else backend_of(storage)
    if kind is None:
        raise UnsupportedStorage(f"Unsupported storage {type(storage).__name__}")
    return S3Objects(storage) if kind.is_s3 else LocalObjects(storage)


def open_range(storage: Any, key: str, start: int, length: int, size: int) -> IO[bytes]:
    """A reader over ``length`` bytes of ``key`` from ``start``, for any storage (downloads)."""
    if length <= 0:
        return io.BytesIO(b"")
    if is_s3(storage):
        return S3Objects(storage).open_range(key, start, length, size)
    handle = storage.open(key, "rb")
    if start:
        handle.seek(start)
    return handle


# --- The upload engine's names (storage, backend, key), kept for its callers ------------------------


def open_read(storage: Any, backend: str, key: str) -> IO[bytes]:
    return objects_for(storage, backend).open_read(key)


def exists(storage: Any, backend: str, key: str) -> bool:
    return objects_for(storage, backend).exists(key)


def size_of(storage: Any, backend: str, key: str) -> int:
    return objects_for(storage, backend).size_of(key)


def delete(storage: Any, backend: str, key: str) -> None:
    objects_for(storage, backend).delete(key)


def delete_prefix(storage: Any, backend: str, prefix: str) -> None:
    objects_for(storage, backend).delete_prefix(prefix)


def sha256_of(storage: Any, backend: str, key: str) -> tuple[str, int]:
    return objects_for(storage, backend).sha256_of(key)


def local_path(storage: Any, key: str) -> str:
    return LocalObjects(storage).path(key)


def local_move(storage: Any, src: str, dst: str) -> None:
    LocalObjects(storage).move(src, dst)


def s3_abort(storage: Any, key: str, upload_id: str) -> None:
    S3Objects(storage).abort(key, upload_id)


def s3_list_multipart_uploads(storage: Any, prefix: str) -> list[tuple[str, str, Any]]:
    return S3Objects(storage).list_multipart_uploads(prefix)
