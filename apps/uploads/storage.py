"""Upload bytes on their way in: request bodies read, hashed and bounded; where they go.

Storage itself (local files, S3, what a full disk or a failing S3 means) is
:mod:`apps.core.storage`, the one module that touches it; its names the engine calls are
re-exported here. What is the engine's own: reading a request body in bounded pieces while hashing
it (:class:`HashingReader`), the idle timeout of those reads, and where new sessions go
(:func:`current_place`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings

from apps.core.errors import BadRequest, Conflict, PayloadTooLarge
from apps.core.storage import (
    READ_BLOCK,
    S3_MIN_PART_SIZE,
    Backend,
    Place,
    delete,
    delete_prefix,
    exists,
    local_move,
    local_path,
    objects_for,
    open_read,
    place_of,
    s3_abort,
    s3_list_multipart_uploads,
    sha256_of,
    size_of,
    storage_for,
)

__all__ = [
    "READ_BLOCK", "S3_MIN_PART_SIZE", "Backend", "BodySuperseded", "HashingReader", "Place",
    "ShortBody", "body_idle_timeout", "current_place", "delete", "delete_prefix", "exists",
    "local_move", "local_path", "objects_for", "open_read", "request_socket", "s3_abort",
    "s3_list_multipart_uploads", "sha256_of", "size_of", "storage_for", "write_sizes",
]

class ShortBody(BadRequest):
    code = "short_body"


class BodySuperseded(Conflict):
    """A newer request for the same chunk asked this one to stop (lock release)."""

    code = "superseded"


def current_place() -> Place:
    """The storage new sessions use: ``UPLOAD_STORAGE_ALIAS`` (default ``default``)."""
    return place_of(getattr(settings, "UPLOAD_STORAGE_ALIAS", "default"))


def write_sizes() -> dict[str, int]:
    """How a body goes to a local file: read ``UPLOAD_READ_BUFFER`` at a time, written in
    writes of ``UPLOAD_WRITE_PIECE`` (128 KiB: larger writes into the page cache ran slower)."""
    return {
        "buffer_size": int(getattr(settings, "UPLOAD_READ_BUFFER", 1024 * 1024)),
        "piece": max(4096, int(getattr(settings, "UPLOAD_WRITE_PIECE", 128 * 1024))),
    }


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
