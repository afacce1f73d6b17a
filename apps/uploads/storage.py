"""Where upload bytes go: the one module that knows local files and S3 specifics.

A session records its storage as (alias, backend, location) so any web node or worker, whatever its
own settings, reads and writes the same place. Local: a directory (a shared volume in production);
S3: a bucket, used through the boto3 client of django-storages' ``S3Storage``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from apps.core.errors import BadRequest, Conflict, PayloadTooLarge

logger = logging.getLogger("ledgerdoc.uploads")

S3_MIN_PART_SIZE = 5 * 1024 * 1024
READ_BLOCK = 8 * 1024 * 1024


class ShortBody(BadRequest):
    code = "short_body"


class BodySuperseded(Conflict):
    """A newer request for the same chunk asked this one to stop (lock release)."""

    code = "superseded"


def _dropped_message(error: BaseException, count: int) -> str:
    cause = error if isinstance(error, TimeoutError) else error.__cause__ or error.__context__
    if isinstance(cause, TimeoutError):
        idle = getattr(settings, "UPLOAD_BODY_IDLE_TIMEOUT", 30)
        return f"No bytes of the body arrived for {idle} seconds (after {count} bytes)."
    return f"The connection dropped after {count} bytes of the body."


def request_socket(stream: Any) -> Any:
    """The client socket of a request body under gunicorn (in its WSGI environ), else None."""
    meta = getattr(stream, "META", None) or getattr(stream, "environ", None) or {}
    return meta.get("gunicorn.socket")


@contextlib.contextmanager
def body_idle_timeout(stream: Any) -> Iterator[None]:
    """Bound how long one read of a request body may wait for bytes (``UPLOAD_BODY_IDLE_TIMEOUT``).

    Under gunicorn the request's socket is in the WSGI environ; a read that waits longer raises
    (the body then counts as cut short). Other servers have no socket to bound: reads wait as the
    server lets them.
    """
    sock = request_socket(stream)
    seconds = float(getattr(settings, "UPLOAD_BODY_IDLE_TIMEOUT", 30))
    if sock is None or seconds <= 0:
        yield
        return
    try:
        previous = sock.gettimeout()
        sock.settimeout(seconds)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sock.settimeout(previous)


@dataclass(frozen=True)
class Place:
    alias: str
    backend: str  # "local" | "s3"
    location: str  # directory or bucket


def _describe(storage: Any) -> tuple[str, str]:
    if isinstance(storage, FileSystemStorage):
        return "local", str(storage.location)
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        return "s3", str(bucket)
    raise RuntimeError(f"Unsupported upload storage {type(storage).__name__}")


def current_place() -> Place:
    """The storage new sessions use: ``UPLOAD_STORAGE_ALIAS`` (default ``default``)."""
    alias = getattr(settings, "UPLOAD_STORAGE_ALIAS", "default")
    backend, location = _describe(storages[alias])
    return Place(alias, backend, location)


def storage_for(alias: str, backend: str, location: str) -> Any:
    """The storage a row recorded: the configured alias when it still matches, else rebuilt."""
    try:
        storage = storages[alias]
        if _describe(storage) == (backend, location):
            return storage
    except Exception:  # noqa: BLE001 - alias gone or unsupported: rebuild from the row
        logger.debug("Storage alias %s unusable; rebuilding %s %s", alias, backend, location)
    return _rebuilt(backend, location)


@lru_cache(maxsize=16)
def _rebuilt(backend: str, location: str) -> Any:
    if backend == "local":
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


def s3_client(storage: Any) -> Any:
    return storage.connection.meta.client


_stream_clients: dict[tuple, Any] = {}


def s3_stream_client(storage: Any) -> Any:
    """A client for streamed request bodies: the payload is not hashed for the signature (that
    would read the body twice, and it cannot be rewound); our own SHA-256 guards the bytes."""
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


def local_path(storage: Any, key: str) -> str:
    return storage.path(key)


# --- Reading request bodies -----------------------------------------------------------------------


class HashingReader:
    """Reads exactly ``length`` bytes from ``stream`` in bounded pieces, hashing as it goes.

    With ``length=None`` (chunked transfer) it reads to EOF but never past ``limit`` bytes.
    A body that ends early raises :class:`ShortBody` (unless ``partial_ok``: then it just ends,
    and ``short`` tells); one longer than ``limit`` raises 413.
    """

    def __init__(self, stream: Any, length: int | None, limit: int, extra_hashes: Iterable[str] = ()):
        self.stream = stream
        self.length = length
        self.limit = limit
        self.count = 0
        self.sha256 = hashlib.sha256()
        self.extra = {name: hashlib.new(name) for name in extra_hashes}
        self._eof = False
        # Polled before each read: True once a newer request asked for this chunk (lock release).
        self.should_stop: Callable[[], bool] | None = None
        self.partial_ok = False
        self.short = False

    def _allowed(self, size: int | None) -> int:
        """How many bytes the next read may take (0: the body has ended, or must end here)."""
        if self._eof:
            return 0
        if self.should_stop is not None and self.should_stop():
            self._eof = True
            if self.partial_ok:  # what was written so far counts (tus); the body ends here
                self.short = self.length is None or self.count < self.length
                return 0
            raise BodySuperseded("A newer request for this chunk took it over.")
        if size is None or size < 0:
            size = getattr(settings, "UPLOAD_READ_BUFFER", 1024 * 1024)
        if self.length is not None:
            size = min(size, self.length - self.count)
            if size <= 0:
                self._eof = True
                return 0
        else:
            size = min(size, self.limit + 1 - self.count)
        return max(0, size)

    def _dropped(self, error: OSError) -> None:
        """The connection dropped (Django's UnreadablePostError too): the body ends here."""
        if not self.partial_ok:
            raise ShortBody(_dropped_message(error, self.count)) from error

    def _ended(self) -> None:
        """The stream gave no more bytes: refused if fewer than announced arrived."""
        self._eof = True
        if self.length is not None and self.count < self.length:
            if self.partial_ok:
                self.short = True
                return
            raise ShortBody(f"The body ended after {self.count} of {self.length} announced bytes.")

    def _took(self, data: Any, count: int) -> None:
        self.count += count
        if self.count > self.limit:
            raise PayloadTooLarge(f"The chunk is larger than {self.limit} bytes.")
        self.sha256.update(data)
        for h in self.extra.values():
            h.update(data)

    def read(self, size: int = -1) -> bytes:
        size = self._allowed(size)
        if size == 0:
            return b""
        try:
            data = self.stream.read(size)
        except OSError as error:
            self._dropped(error)
            data = b""
        if not data:
            self._ended()
            return b""
        self._took(data, len(data))
        return data

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with the next bytes of the body, hashed; how many (0: the end).

        A stream with ``readinto`` (a body read straight from the socket, ``wire.SocketBody``)
        fills the buffer in place; any other is read and copied."""
        fill = getattr(self.stream, "readinto", None)
        if fill is None:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        size = self._allowed(len(buffer))
        got, dropped = 0, False
        try:
            while got < size and not (got and self.should_stop is not None and self.should_stop()):
                n = fill(buffer[got:size])
                if not n:
                    break
                got += n
        except OSError as error:
            self._dropped(error)
            dropped = True  # what arrived before the drop counts (partial_ok); the body ends
        if got:
            self._took(buffer[:got], got)
        if dropped or (size and not got):
            self._ended()
        return got

    def tell(self) -> int:
        return self.count

    def blocks(self) -> Iterator[bytes]:
        block = getattr(settings, "UPLOAD_READ_BUFFER", 1024 * 1024)
        while True:
            data = self.read(block)
            if not data:
                return
            yield data

    def drain(self) -> None:
        for _ in self.blocks():
            pass


# --- Writing chunks ---------------------------------------------------------------------------------


try:
    import ctypes

    _sync_file_range = ctypes.CDLL(None, use_errno=True).sync_file_range
    _sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
except (OSError, AttributeError):  # not Linux
    _sync_file_range = None
SYNC_FILE_RANGE_WRITE = 2


def _write_piece() -> int:
    return max(4096, int(getattr(settings, "UPLOAD_WRITE_PIECE", 128 * 1024)))


def _pwrite_all(fd: int, view: memoryview, position: int, piece: int) -> None:
    """Write ``view`` at ``position`` in writes of at most ``piece`` bytes."""
    while view:
        written = os.pwrite(fd, view[:piece], position)
        position += written
        view = view[written:]


def local_write_at(storage: Any, key: str, offset: int, reader: HashingReader) -> None:
    """Write the body into the session file at ``offset`` (the file is shared by all chunks).

    Each piece's writeback to the disk is started as soon as it is written (``sync_file_range``,
    which does not wait), so the closing ``fsync`` waits only for what is still in flight instead
    of the whole chunk: the disk works while the next pieces arrive."""
    path = local_path(storage, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        size = int(getattr(settings, "UPLOAD_READ_BUFFER", 1024 * 1024))
        if reader.length is not None:
            size = max(1, min(size, reader.length))
        buffer = memoryview(bytearray(size))
        piece = _write_piece()
        while count := reader.readinto(buffer):
            _pwrite_all(fd, buffer[:count], offset, piece)
            if _sync_file_range is not None:
                _sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE)
            offset += count
        os.fsync(fd)
    finally:
        os.close(fd)


def local_truncate(storage: Any, key: str, size: int) -> None:
    """Cut a session file back to ``size`` bytes: bytes written in place by a body that was then
    refused (checksum, limit) lie past the received ones and are not part of the upload."""
    path = local_path(storage, key)
    if os.path.getsize(path) > size:
        os.truncate(path, size)


def local_write_file(storage: Any, key: str, reader: HashingReader) -> None:
    path = local_path(storage, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as handle:
            handle.writelines(reader.blocks())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _BodyAdapter:
    """A file-like view of a HashingReader for boto3 (it reads in pieces; never seeks back)."""

    def __init__(self, reader: HashingReader):
        self.reader = reader
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self.reader.read(size if size and size > 0 else READ_BLOCK)
        except BaseException as error:
            self.error = error
            raise

    def call(self, method: Any, **kwargs: Any) -> Any:
        """Run a boto3 call over this body; our own body errors (short, too long) win."""
        try:
            return method(Body=self, **kwargs)
        except BaseException:
            if self.error is not None:
                raise self.error from None
            raise

    def tell(self) -> int:
        return self.reader.count

    def seek(self, offset: int, whence: int = 0) -> int:
        if (whence == 0 and offset == self.reader.count) or (whence == 1 and offset == 0):
            return self.reader.count
        raise OSError("The request body cannot be rewound.")


def s3_put_stream(storage: Any, key: str, reader: HashingReader, length: int) -> None:
    _BodyAdapter(reader).call(
        s3_stream_client(storage).put_object,
        Bucket=storage.bucket_name, Key=key, ContentLength=length,
    )


def s3_create_multipart(storage: Any, key: str, content_type: str = "") -> str:
    extra = {"ContentType": content_type} if content_type else {}
    answer = s3_client(storage).create_multipart_upload(
        Bucket=storage.bucket_name, Key=key, **extra
    )
    return answer["UploadId"]


def s3_upload_part(
    storage: Any, key: str, upload_id: str, part_number: int, reader: HashingReader, length: int
) -> str:
    answer = _BodyAdapter(reader).call(
        s3_stream_client(storage).upload_part,
        Bucket=storage.bucket_name, Key=key, UploadId=upload_id, PartNumber=part_number,
        ContentLength=length,
    )
    return answer["ETag"]


def s3_part_copy(
    storage: Any, key: str, upload_id: str, part_number: int, source_key: str
) -> str:
    answer = s3_client(storage).upload_part_copy(
        Bucket=storage.bucket_name, Key=key, UploadId=upload_id, PartNumber=part_number,
        CopySource={"Bucket": storage.bucket_name, "Key": source_key},
    )
    return answer["CopyPartResult"]["ETag"]


def s3_complete(storage: Any, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
    s3_client(storage).complete_multipart_upload(
        Bucket=storage.bucket_name, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
    )


def s3_abort(storage: Any, key: str, upload_id: str) -> None:
    try:
        s3_client(storage).abort_multipart_upload(
            Bucket=storage.bucket_name, Key=key, UploadId=upload_id
        )
    except Exception:  # noqa: BLE001 - already completed or aborted
        logger.debug("Multipart upload %s of %s was already gone", upload_id, key)


def s3_multipart_exists(storage: Any, key: str, upload_id: str) -> bool:
    try:
        s3_client(storage).list_parts(Bucket=storage.bucket_name, Key=key, UploadId=upload_id)
    except Exception:  # noqa: BLE001
        return False
    return True


def s3_list_multipart_uploads(storage: Any, prefix: str) -> list[tuple[str, str, Any]]:
    """(key, upload id, initiated) of the bucket's unfinished multipart uploads under ``prefix``."""
    client = s3_client(storage)
    found = []
    kwargs: dict[str, Any] = {"Bucket": storage.bucket_name, "Prefix": prefix}
    while True:
        answer = client.list_multipart_uploads(**kwargs)
        for upload in answer.get("Uploads", []):
            found.append((upload["Key"], upload["UploadId"], upload.get("Initiated")))
        if not answer.get("IsTruncated"):
            return found
        kwargs["KeyMarker"] = answer.get("NextKeyMarker")
        kwargs["UploadIdMarker"] = answer.get("NextUploadIdMarker")


# --- Reading, moving, deleting --------------------------------------------------------------------


def open_read(storage: Any, backend: str, key: str) -> IO[bytes]:
    """A streaming file-like reader (S3: the GetObject body, never loaded whole)."""
    if backend == "local":
        return open(local_path(storage, key), "rb")
    answer = s3_client(storage).get_object(Bucket=storage.bucket_name, Key=key)
    return answer["Body"]


def exists(storage: Any, backend: str, key: str) -> bool:
    if backend == "local":
        return os.path.exists(local_path(storage, key))
    try:
        s3_client(storage).head_object(Bucket=storage.bucket_name, Key=key)
    except Exception:  # noqa: BLE001
        return False
    return True


def size_of(storage: Any, backend: str, key: str) -> int:
    if backend == "local":
        return os.path.getsize(local_path(storage, key))
    return int(
        s3_client(storage).head_object(Bucket=storage.bucket_name, Key=key)["ContentLength"]
    )


def delete(storage: Any, backend: str, key: str) -> None:
    if backend == "local":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(local_path(storage, key))
        return
    s3_client(storage).delete_object(Bucket=storage.bucket_name, Key=key)


def delete_prefix(storage: Any, backend: str, prefix: str) -> None:
    """Remove everything under ``prefix`` (a server-made folder such as ``uploads/<uuid>/``)."""
    if backend == "local":
        import shutil

        shutil.rmtree(local_path(storage, prefix.rstrip("/")), ignore_errors=True)
        return
    client = s3_client(storage)
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=storage.bucket_name, Delete={"Objects": keys})


def local_move(storage: Any, src: str, dst: str) -> None:
    """Rename in place (same volume): no bytes are copied."""
    dst_path = local_path(storage, dst)
    os.makedirs(os.path.dirname(dst_path), exist_ok=True)
    os.replace(local_path(storage, src), dst_path)


def sha256_of(storage: Any, backend: str, key: str) -> tuple[str, int]:
    """Whole-object SHA-256 and size in one read pass."""
    digest = hashlib.sha256()
    size = 0
    if backend == "local":
        with open(local_path(storage, key), "rb", buffering=0) as handle:
            buffer = bytearray(READ_BLOCK)
            view = memoryview(buffer)
            while True:
                n = handle.readinto(buffer)
                if not n:
                    break
                digest.update(view[:n])
                size += n
        return digest.hexdigest(), size
    body = open_read(storage, backend, key)
    try:
        for data in iter(lambda: body.read(READ_BLOCK), b""):
            digest.update(data)
            size += len(data)
    finally:
        body.close()
    return digest.hexdigest(), size
