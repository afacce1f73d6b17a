"""Who may write a chunk: locks that live exactly as long as the request holding them.

A chunk writer holds its slot's lock from before it claims the chunk until it has recorded or
dropped it; finalize holds the session's FINALIZE slot while it assembles. The lock dies with its
holder, never by a clock:

- PostgreSQL: a session-level advisory lock on the holder's own database connection. A killed
  process closes that connection and the server frees the lock at once.
- Other databases (the embedded SQLite mode, one machine): ``flock`` on a file under
  ``UPLOAD_LOCK_DIR``; the kernel frees it when the process dies.

What follows from that:

- **Fencing.** A claim is taken over only by whoever holds the slot's lock, and a writer keeps the
  lock until it stops writing; so no request can write a byte after its claim was taken over.
- **Liveness.** Whoever gets the lock knows every earlier holder is gone: a claim row left
  unreceived belongs to a dead request and may be reset at once.
- **Lock release.** A request that finds the slot busy asks the holder to stop (a flag on the
  holder's claim row, which it polls between reads) and waits up to ``UPLOAD_LOCK_WAIT`` seconds.

A deployment behind a transaction-pooling proxy (pgbouncer ``pool_mode=transaction``) cannot keep
session-level locks; it must give the web processes session pooling or direct connections.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

APPEND = -1  # the one slot of an upload that grows by appends (tus, Axelor)
FINALIZE = -2  # held by the process assembling the upload

POLL_SECONDS = 0.05


def _key(session_uid: object, slot: int) -> int:
    digest = hashlib.blake2b(f"ledgerdoc-upload:{session_uid}:{slot}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _lock_dir() -> Path:
    configured = getattr(settings, "UPLOAD_LOCK_DIR", "") or ""
    path = Path(configured) if configured else Path(settings.VAR_DIR) / "upload-locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


class SlotLock:
    """The lock of one slot (a chunk index, :data:`APPEND` or :data:`FINALIZE`) of one upload."""

    def __init__(self, session_uid: object, slot: int) -> None:
        self.slot = slot
        self.key = _key(session_uid, slot)
        self.held = False
        self._fd: int | None = None
        self._path: Path | None = None

    @staticmethod
    def _advisory() -> bool:
        return connection.vendor == "postgresql"

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._advisory():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                self.held = bool(cursor.fetchone()[0])
            return self.held
        path = _lock_dir() / f"{self.key & 0xFFFFFFFFFFFFFFFF:016x}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # The previous holder may have unlinked the file between our open and our flock: then
        # we hold a lock nobody else can see. Only the file the path names now counts.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return self.try_acquire()
        self._fd, self._path, self.held = fd, path, True
        return True

    def acquire(self, wait: float, on_busy: Callable[[], None] | None = None) -> bool:
        """Take the lock, waiting up to ``wait`` seconds; ``on_busy`` runs once if it is held."""
        if self.try_acquire():
            return True
        if on_busy is not None:
            on_busy()
        deadline = time.monotonic() + max(0.0, wait)
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            if self.try_acquire():
                return True
        return False

    def is_free(self) -> bool:
        """True when nobody holds the lock (taken and given back at once)."""
        if not self.try_acquire():
            return False
        self.release()
        return True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._fd is None:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            return
        fd, path = self._fd, self._path
        self._fd = self._path = None
        # Unlink while still holding the lock, so lock files do not pile up (see try_acquire).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)

    def __enter__(self) -> SlotLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def held(session_uid: object, slot: int) -> Iterator[bool]:
    """``with held(uid, FINALIZE) as mine:`` — ``mine`` is False when a live process has it."""
    lock = SlotLock(session_uid, slot)
    try:
        yield lock.try_acquire()
    finally:
        lock.release()


def wait_seconds() -> float:
    return float(getattr(settings, "UPLOAD_LOCK_WAIT", 5.0))


# --- Lock release: making a busy holder stop ------------------------------------------------------


@dataclass
class Watched:
    """One claim being received in this process: ``stopped`` once a newer request asked for it."""

    claim_pk: int
    sock: socket.socket | None
    stopped: bool = False


class StopWatch:
    """One thread per process that looks, every ``STOP_POLL_SECONDS`` while chunks are being
    received here, whether a newer request asked for any of them (one query for all).

    A holder asked to stop is marked, and its socket is shut for reading: a read blocked on a slow
    or silent client returns at once (a body read waits for a whole block, so polling between
    reads alone could leave a trickling client holding its chunk for minutes).
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._watched: dict[int, Watched] = {}
        self._thread: threading.Thread | None = None

    def watch(self, claim_pk: int, sock: socket.socket | None) -> Watched:
        entry = Watched(claim_pk, sock)
        with self._guard:
            self._watched[id(entry)] = entry
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="upload-stopwatch",
                                                daemon=True)
                self._thread.start()
        return entry

    def unwatch(self, entry: Watched) -> None:
        with self._guard:
            self._watched.pop(id(entry), None)

    def _run(self) -> None:
        from django.db import close_old_connections

        from apps.uploads.models import UploadChunk

        try:
            while True:
                time.sleep(STOP_POLL_SECONDS)
                with self._guard:
                    entries = [e for e in self._watched.values() if not e.stopped]
                    if not self._watched:
                        self._thread = None
                        return
                if not entries:
                    continue
                try:
                    asked = set(
                        UploadChunk.objects.filter(
                            pk__in={e.claim_pk for e in entries}, stop_requested=True
                        ).values_list("pk", flat=True)
                    )
                except DatabaseError:
                    close_old_connections()
                    continue
                for entry in entries:
                    if entry.claim_pk in asked:
                        entry.stopped = True
                        # Not a TLS socket: shut, it would hand out the stream's raw bytes.
                        if entry.sock is not None and not isinstance(entry.sock, ssl.SSLSocket):
                            with contextlib.suppress(OSError):
                                entry.sock.shutdown(socket.SHUT_RD)
        finally:
            connection.close()


STOP_POLL_SECONDS = 0.2
stop_watch = StopWatch()
