"""Bytes in a directory (a shared volume in production); a full disk while writing is a 507."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from typing import IO, Any

from apps.core.errors import DISK_FULL_ERRNOS, InsufficientStorage
from apps.core.storage.base import (
    DEFAULT_BUFFER,
    DEFAULT_WRITE_PIECE,
    READ_BLOCK,
    Backend,
    Body,
    logger,
)


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
