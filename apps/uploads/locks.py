"""Who may write to an upload, and when its bytes may be finished: locks that live exactly as long
as the request (or task) holding them.

Every upload session has one **guard** and numbered **slots** (a chunk index, :data:`APPEND` for
the one end an upload grows by appends, :data:`FINALIZE` for the process assembling it):

- every writer of a session, through any dialect, holds the guard in **shared** mode plus its
  slot exclusively, from before it claims its chunk until it has recorded or dropped it and closed
  what it wrote to;
- finalize, cancel and purge take the guard **exclusively**, after asking every holder to stop
  (:func:`apps.uploads.services.session_stop_writers`). So no bytes are promoted to a stored file
  while any request of the session can still write to them, whatever door it came through.

A lock dies with its holder, never by a clock:

- **PostgreSQL**: advisory locks (``pg_try_advisory_lock_shared`` / ``pg_try_advisory_lock``)
  held on **one direct connection per process** (:class:`_PgLocks`), opened with
  ``LOCK_DATABASE_URL`` when set (it must reach PostgreSQL past any transaction pooler: session
  state cannot live on pooled connections; with ``DATABASE_POOLER=transaction`` the settings refuse
  to start without it) and otherwise with the default database's settings. A
  killed process's socket closes and the server frees its locks at once; a host that vanishes
  without closing it is found dead by TCP keepalives within ``LOCK_KEEPALIVE_SECONDS`` (about 30 s).
  The threads of a process share that connection, so a table in the process decides between them
  (a PostgreSQL session never conflicts with itself): a node needs one extra connection per
  process, whatever its thread count.
- **Other databases** (the embedded SQLite mode, one machine): ``flock`` (``LOCK_SH``/``LOCK_EX``)
  on a file per key under ``UPLOAD_LOCK_DIR``, one open file per holder; the kernel frees it when
  the process dies. Only an exclusive holder removes a lock file, while it still holds it; whoever
  locked a file that is no longer the one its path names starts over (:meth:`_FileLocks.take`).

What follows from that:

- **Fencing.** A claim is taken over only by whoever holds the slot, and a writer keeps it until it
  stops writing; so no request can write a byte after its claim was taken over.
- **Liveness.** Whoever gets a slot knows every earlier holder is gone: a claim row left
  unreceived belongs to a dead request and may be reset at once.
- **Lock release.** A request that finds a lock busy asks the holders to stop (a flag on their
  claim rows, polled by :class:`StopWatch`, which also cuts their socket's read) and waits up to
  ``UPLOAD_LOCK_WAIT`` seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections

from apps.core.errors import ServiceUnavailable

logger = logging.getLogger("ledgerdoc.uploads")

APPEND = -1  # the one slot of an upload that grows by appends (tus, Axelor)
FINALIZE = -2  # held by the process assembling the upload
GUARD = -3  # the session's writer guard: shared by writers, exclusive for finalize/cancel/purge

POLL_SECONDS = 0.05

Item = tuple[int, bool]  # (key, shared)


def _key(session_uid: object, slot: int) -> int:
    digest = hashlib.blake2b(f"ledgerdoc-upload:{session_uid}:{slot}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _lock_dir() -> Path:
    configured = getattr(settings, "UPLOAD_LOCK_DIR", "") or ""
    path = Path(configured) if configured else Path(settings.VAR_DIR) / "upload-locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- PostgreSQL: one lock connection per process --------------------------------------------------


class _PgLocks:
    """The process's advisory locks, on its own direct connection (see the module's docstring).

    ``_table`` maps a key to ``[shared, holders]``: a shared key is taken from the server once and
    counted for every further holder in the process; an exclusive one has one holder. Every call is
    a non-blocking ``pg_try_*`` under ``_mutex``, so the connection is never held waiting."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._conn: Any = None
        self._pid = 0
        self._table: dict[int, list[Any]] = {}
        self.generation = 0  # bumped when the connection (and with it every lock) was lost

    def _params(self) -> dict[str, Any]:
        base = connections["default"].settings_dict
        override = getattr(settings, "LOCK_DATABASE", None) or {}
        params: dict[str, Any] = {
            "dbname": override.get("NAME") or base.get("NAME"),
            "user": override.get("USER") or base.get("USER") or None,
            "password": override.get("PASSWORD") or base.get("PASSWORD") or None,
            "host": override.get("HOST") or base.get("HOST") or None,
            "port": override.get("PORT") or base.get("PORT") or None,
            # The process's own name when it has one (DATABASE_APPLICATION_NAME): pg_locks joined
            # with pg_stat_activity then says which node or worker holds an upload's lock.
            "application_name": (base.get("OPTIONS") or {}).get("application_name")
            or "ledgerdoc-locks",
            "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
            "keepalives_count": 4, "connect_timeout": 10,
        }
        for name in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
            value = (override.get("OPTIONS") or {}).get(name) or (base.get("OPTIONS") or {}).get(name)
            if value:
                params[name] = value
        return {name: value for name, value in params.items() if value is not None}

    def _connection(self) -> Any:
        import psycopg

        if self._pid != os.getpid():  # forked: the parent's connection and locks are not ours
            self._conn, self._table, self._pid = None, {}, os.getpid()
        if self._conn is None or self._conn.closed:
            if self._conn is not None:
                self._lost()
            self._conn = psycopg.connect(autocommit=True, **self._params())
        return self._conn

    def _lost(self) -> None:
        self._conn, self._table = None, {}
        self.generation += 1

    def _run(self, calls: list[tuple[str, int]]) -> list[bool]:
        sql = "SELECT " + ", ".join(f"{function}(%s)" for function, _ in calls)
        try:
            with self._connection().cursor() as cursor:
                cursor.execute(sql, [key for _, key in calls])
                return [bool(value) for value in cursor.fetchone()]
        except Exception as error:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._lost()
            logger.warning("The upload lock connection failed: %r", error)
            raise ServiceUnavailable(
                "The upload locks cannot be reached right now; try again.",
                headers={"Retry-After": "2"},
            ) from error

    def take(self, items: list[Item]) -> int | None:
        """Take every item or none: the generation they were taken in, or None when one is busy."""
        with self._mutex:
            self._connection()
            calls = []
            for key, shared in items:
                entry = self._table.get(key)
                if entry is not None:
                    if not (shared and entry[0]):
                        return None
                else:
                    function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
                    calls.append((function, key))
            got = self._run(calls) if calls else []
            if not all(got):
                undo = [(_unlock(function.endswith("_shared")), key)
                        for (function, key), ok in zip(calls, got, strict=True) if ok]
                if undo:
                    self._run(undo)
                return None
            for key, shared in items:
                entry = self._table.get(key)
                if entry is None:
                    self._table[key] = [shared, 1]
                else:
                    entry[1] += 1
            return self.generation

    def give_back(self, items: list[Item], generation: int) -> None:
        with self._mutex:
            if generation != self.generation or self._pid != os.getpid():
                return  # lost with the connection already
            calls = []
            for key, shared in items:
                entry = self._table.get(key)
                if entry is None:
                    continue
                entry[1] -= 1
                if entry[1] <= 0:
                    del self._table[key]
                    calls.append((_unlock(shared), key))
            if calls:
                with contextlib.suppress(ServiceUnavailable):
                    self._run(calls)

    def still_held(self, generation: int) -> bool:
        """Locks taken in ``generation`` are still held: the connection that holds them is the one
        they were taken on, and the server still answers on it (one round trip)."""
        with self._mutex:
            if generation != self.generation or self._pid != os.getpid() or self._conn is None:
                return False
            try:
                self._run([("abs", 0)])  # any statement: the answer is what counts
            except ServiceUnavailable:
                return False
            return True

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None and self._pid == os.getpid():
                with contextlib.suppress(Exception):
                    self._conn.close()
            self._conn, self._table = None, {}
            self.generation += 1


def _unlock(shared: bool) -> str:
    return "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"


_pg_locks = _PgLocks()


def lock_connection_close() -> None:
    """Close this process's lock connection (every lock it holds goes with it): at shutdown, and
    before a test database is dropped."""
    _pg_locks.close()


# --- Other databases: flock ---------------------------------------------------------------------


class _FileLocks:
    @staticmethod
    def _path(key: int) -> Path:
        return _lock_dir() / f"{key & 0xFFFFFFFFFFFFFFFF:016x}.lock"

    def take(self, items: list[Item]) -> list[tuple[int, bool, int, Path]] | None:
        taken: list[tuple[int, bool, int, Path]] = []
        for key, shared in items:
            held = self._take_one(key, shared)
            if held is None:
                self.give_back(taken)
                return None
            taken.append(held)
        return taken

    def _take_one(self, key: int, shared: bool) -> tuple[int, bool, int, Path] | None:
        path = self._path(key)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            # An exclusive holder may have removed the file between our open and our flock: then
            # we hold a lock nobody else can see. Only the file the path names now counts.
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return key, shared, fd, path
            os.close(fd)

    @staticmethod
    def give_back(taken: list[tuple[int, bool, int, Path]]) -> None:
        for _, shared, fd, path in reversed(taken):
            if not shared:
                # Removed while still held exclusively, so lock files do not pile up. A shared
                # holder never removes one: others may hold it too.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            os.close(fd)


_file_locks = _FileLocks()


def _advisory() -> bool:
    return connections["default"].vendor == "postgresql"


# --- Holds ----------------------------------------------------------------------------------------


class Hold:
    """A set of locks taken and given back together (all or none)."""

    def __init__(self, items: list[Item], slot: int | None = None) -> None:
        self.items = items
        self.slot = slot
        self.held = False
        self._token: Any = None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if _advisory():
            token = _pg_locks.take(self.items)
        else:
            token = _file_locks.take(self.items)
        if token is None:
            return False
        self._token, self.held = token, True
        return True

    def acquire(self, wait: float, on_busy: Callable[[], None] | None = None) -> bool:
        """Take the locks, waiting up to ``wait`` seconds; ``on_busy`` runs once if one is held."""
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

    def intact(self) -> bool:
        """Still held: False when the process's lock connection was lost meanwhile (every lock of
        the process went with it, and another process may hold them now). On PostgreSQL this asks
        the server; a writer asks once, after its bytes are written and before it records them."""
        if not self.held:
            return False
        return not isinstance(self._token, int) or _pg_locks.still_held(self._token)

    def is_free(self) -> bool:
        """True when nobody holds the locks (taken and given back at once)."""
        if not self.try_acquire():
            return False
        self.release()
        return True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        token, self._token = self._token, None
        if isinstance(token, int):
            _pg_locks.give_back(self.items, token)
        else:
            _file_locks.give_back(token)

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def writer(session_uid: object, slot: int) -> Hold:
    """What a writer of one slot holds: the session's guard (shared) and the slot (exclusive)."""
    return Hold([(_key(session_uid, GUARD), True), (_key(session_uid, slot), False)], slot)


def slot(session_uid: object, slot: int) -> Hold:
    """One slot of a session, exclusively (a chunk index, :data:`APPEND` or :data:`FINALIZE`)."""
    return Hold([(_key(session_uid, slot), False)], slot)


def guard(session_uid: object) -> Hold:
    """The session's guard, exclusively: no writer of the session is live while it is held."""
    return Hold([(_key(session_uid, GUARD), False)], GUARD)


SlotLock = slot  # the name callers used before the guard


@contextlib.contextmanager
def held(session_uid: object, slot_: int) -> Iterator[bool]:
    """``with held(uid, FINALIZE) as mine:`` — ``mine`` is False when a live process has it."""
    lock = slot(session_uid, slot_)
    try:
        yield lock.try_acquire()
    finally:
        lock.release()


def wait_seconds() -> float:
    return float(getattr(settings, "UPLOAD_LOCK_WAIT", 5.0))


# --- Lock release: making a busy holder stop ------------------------------------------------------


def request_stop(session: Any, index: int | None) -> None:
    """Ask the request receiving a chunk (``index``; None: the append in flight) to stop."""
    from apps.uploads.models import UploadChunk

    pending = UploadChunk.objects.filter(session_id=session.pk, received=False)
    if index is not None:
        pending = pending.filter(index=index)
    pending.update(stop_requested=True)


def session_guard_take(*, session: Any, wait: float | None = None) -> Hold | None:
    """The session's guard, held exclusively (give it back with ``release()``): every writer of
    the session is asked to stop first, and none is live while it is held. None when one still
    holds it after ``wait`` seconds (``UPLOAD_LOCK_WAIT`` by default)."""
    hold = guard(session.uid)
    wait = wait_seconds() if wait is None else wait
    if hold.acquire(wait, on_busy=lambda: request_stop(session, None)):
        return hold
    return None



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
