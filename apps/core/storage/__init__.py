"""Bytes at rest: the one package that touches local files and S3 (DESIGN §1, "storage access").

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
  with ``Retry-After``). Nothing above this package needs to know either.

``base`` holds backends, places and the body protocol; ``local`` and ``s3`` one backend each.
"""

from __future__ import annotations

import io
from typing import IO, Any

from apps.core.storage.base import (
    READ_BLOCK,
    S3_MIN_PART_SIZE,
    Backend,
    Body,
    Place,
    UnsupportedStorage,
    backend_of,
    describe,
    is_s3,
    place_of,
    storage_for,
)
from apps.core.storage.local import LocalObjects
from apps.core.storage.s3 import S3Objects

__all__ = [
    "READ_BLOCK", "S3_MIN_PART_SIZE", "Backend", "Body", "LocalObjects", "Objects", "Place",
    "S3Objects", "UnsupportedStorage", "backend_of", "delete", "delete_prefix", "describe",
    "exists", "is_s3", "local_move", "local_path", "objects_for", "open_range", "open_read",
    "place_of", "s3_abort", "s3_list_multipart_uploads", "sha256_of", "size_of", "storage_for",
]

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
