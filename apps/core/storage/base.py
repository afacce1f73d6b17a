"""What every part of the storage layer shares: the backends, places, and request bodies."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

logger = logging.getLogger("ledgerdoc.storage")

S3_MIN_PART_SIZE = 5 * 1024 * 1024
READ_BLOCK = 8 * 1024 * 1024
DEFAULT_BUFFER = 1024 * 1024
DEFAULT_WRITE_PIECE = 128 * 1024


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


class Body(Protocol):
    """What writes read from: a request body with a known ``length`` (None: to its end)."""

    length: int | None

    def read(self, size: int = -1) -> bytes: ...
    def readinto(self, buffer: memoryview) -> int: ...
