"""One guard per upload, whatever the door (apps.uploads.locks): writers of every dialect share the
session's guard, finalize, cancel and purge take it exclusively, and a dead holder frees it at
once. Runs on the embedded mode (flock) and, with DATABASE_URL, on PostgreSQL (advisory locks on
the process's lock connection).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from apps.core.errors import Conflict
from apps.uploads import chunks, finalize, locks, services, stored_files
from apps.uploads.models import UploadSession
from tests.uploads.conftest import payload, sha
from tests.uploads.test_integrity import ROOT, SlowBody, in_thread

pytestmark = pytest.mark.django_db(transaction=True)

State = UploadSession.State

HOLDER = """
import sys, time
import django
django.setup()
from apps.uploads import locks
kind, uid, slot = sys.argv[1], sys.argv[2], int(sys.argv[3])
hold = locks.writer(uid, slot) if kind == "writer" else locks.guard(uid)
assert hold.try_acquire()
print("held", flush=True)
time.sleep(600)
"""


class Holder:
    """Another process holding a writer's locks or the guard, to be killed as a crash would."""

    def __init__(self, kind: str, uid: object, slot: int = 0):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings_test",
                   UPLOAD_LOCK_DIR=str(locks._lock_dir()))
        if connection.vendor == "postgresql":
            p = connection.settings_dict
            env["DATABASE_URL"] = (
                f"postgres://{p.get('USER') or 'postgres'}@{p.get('HOST') or '127.0.0.1'}:"
                f"{p.get('PORT') or 5432}/{p['NAME']}"
            )
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, kind, str(uid), str(slot)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def free_within(hold: locks.Hold, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if hold.try_acquire():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def short_wait(settings):
    settings.UPLOAD_LOCK_WAIT = 0.3


def test_writers_share_the_guard_and_shut_out_finalize(ctx):
    session = services.session_create(ctx=ctx, file_name="a", size=3000, chunk_size=1000)
    first, second = locks.writer(session.uid, 0), locks.writer(session.uid, 1)
    assert first.try_acquire() and second.try_acquire()  # two chunks at once
    assert not locks.writer(session.uid, 0).try_acquire()  # never two writers of one slot
    exclusive = locks.guard(session.uid)
    assert not exclusive.try_acquire()
    first.release()
    assert not exclusive.try_acquire()  # one writer is enough to hold finalize off
    second.release()
    assert exclusive.try_acquire()
    assert not locks.writer(session.uid, 2).try_acquire()  # no writer while it is held
    assert not locks.guard(session.uid).try_acquire()
    exclusive.release()
    assert locks.writer(session.uid, 2).is_free()


def test_guards_of_two_uploads_do_not_meet(ctx):
    one = services.session_create(ctx=ctx, file_name="a", size=10)
    other = services.session_create(ctx=ctx, file_name="b", size=10)
    with locks.guard(one.uid) as held:
        assert held.try_acquire()
        assert locks.writer(other.uid, 0).is_free()
        assert locks.guard(other.uid).is_free()


@pytest.mark.parametrize("kind", ["writer", "guard"])
def test_a_killed_holder_frees_the_guard_at_once(ctx, kind):
    session = services.session_create(ctx=ctx, file_name="a", size=10)
    holder = Holder(kind, session.uid)
    wanted = locks.guard(session.uid) if kind == "writer" else locks.writer(session.uid, 0)
    try:
        assert not wanted.try_acquire()  # alive: held across processes
        holder.kill()
        assert free_within(wanted, 2.0)  # dead: free at once, no clock involved
    finally:
        wanted.release()
        if holder.process.poll() is None:
            holder.kill()


def test_finalize_waits_for_every_writer_and_never_promotes_bytes_one_can_still_write(
    ctx, short_wait
):
    data = payload(2000, seed=3)
    session = services.session_create(ctx=ctx, file_name="a", size=2000, chunk_size=1000)
    # Some writer of the upload, through whatever door, still holds it.
    writer = locks.writer(session.uid, 7)
    assert writer.try_acquire()
    try:
        chunks.chunk_accept(session=session, stream=io.BytesIO(data[:1000]), length=1000, index=0)
        chunks.chunk_accept(session=session, stream=io.BytesIO(data[1000:]), length=1000, index=1)
        session.refresh_from_db()
        assert session.state == State.PROCESSING and session.stored_file_id is None
        assert finalize.session_finalize(session_id=session.pk) is False
        session.refresh_from_db()
        assert session.state == State.PROCESSING and session.stored_file_id is None
    finally:
        writer.release()
    assert finalize.session_finalize(session_id=session.pk) is True
    session.refresh_from_db()
    assert session.state == State.COMPLETED
    with stored_files.stored_file_open(session.stored_file) as handle:
        assert sha(handle.read()) == session.stored_file.sha256 == sha(data)


def test_finalize_stops_a_stalled_writer_then_judges_what_is_in(ctx, settings):
    settings.UPLOAD_LOCK_WAIT = 5
    data = payload(2000, seed=4)
    session = services.session_create(ctx=ctx, file_name="a", size=2000, chunk_size=1000)
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[:1000]), length=1000, index=0)
    slow = SlowBody(b"Z" * 1000, piece=10, pause=0.05)  # 5 s to send: a stalled writer
    thread, outcome = in_thread(chunks.chunk_accept, session=session, stream=slow, length=1000,
                                index=1)
    assert slow.started.wait(10)
    # Something marks the upload PROCESSING while the writer holds its chunk (the cross-door
    # race of issue 23): finalize must stop the writer first, then find chunk 2 missing.
    UploadSession.objects.filter(pk=session.pk).update(state=State.PROCESSING)
    started = time.monotonic()
    assert finalize.session_finalize(session_id=session.pk) is True
    assert time.monotonic() - started < 4  # the writer was asked to stop, not waited out
    thread.join(10)
    assert "error" in outcome
    session.refresh_from_db()
    assert session.state == State.UPLOADING and session.stored_file_id is None
    # The client sends the chunk again and the file is exactly its bytes.
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[1000:]), length=1000, index=1)
    session.refresh_from_db()
    assert session.state == State.COMPLETED
    with stored_files.stored_file_open(session.stored_file) as handle:
        assert handle.read() == data


def test_a_cancel_stops_its_writers_and_leaves_them_nothing_to_record(ctx, storage):
    session = services.session_create(ctx=ctx, file_name="a", size=4000, dialect="tus")
    slow = SlowBody(b"x" * 4000, piece=100, pause=0.05)
    thread, outcome = in_thread(chunks.chunk_accept, session=session, stream=slow, length=4000,
                                partial_ok=True)
    assert slow.started.wait(10)
    started = time.monotonic()
    services.session_cancel(session=session)
    thread.join(10)
    assert time.monotonic() - started < 4
    assert "error" in outcome and getattr(outcome["error"], "status", None) == 410
    session.refresh_from_db()
    assert session.state == State.CANCELLED and session.received_bytes == 0


@pytest.mark.parametrize(
    ("dialect", "appending"),
    [("tus", False), ("axelor", False), ("idempiere", True), ("nuxeo", True), ("twake", True),
     ("json", True)],
)
def test_a_session_takes_one_write_shape(ctx, dialect, appending):
    session = services.session_create(ctx=ctx, file_name="a", size=10, dialect=dialect)
    kwargs = {"offset": 0} if appending else {"index": 0}
    with pytest.raises(Conflict) as refused:
        chunks.chunk_accept(session=session, stream=io.BytesIO(b"0123456789"), length=10,
                              **kwargs)
    expected = "appends" if dialect in ("tus", "axelor") else "chunks"
    assert refused.value.extra == {"uploadShape": expected}
    session.refresh_from_db()
    assert session.received_bytes == 0 and not session.chunks.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the lock connection of PostgreSQL")
def test_a_lost_lock_connection_leaves_the_writer_nothing_to_record(ctx, storage):
    """The locks live on the process's lock connection: should it die under a writer (the server
    freed its locks: another process may hold them now), the chunk is not recorded, and the next
    request works on a new connection."""
    data = payload(1000, seed=5)
    session = services.session_create(ctx=ctx, file_name="a", size=1000)
    slow = SlowBody(data, piece=100, pause=0.1)
    thread, outcome = in_thread(chunks.chunk_accept, session=session, stream=slow, length=1000,
                                index=0)
    assert slow.started.wait(10)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                       " datname = current_database() AND application_name = 'ledgerdoc-locks'")
    thread.join(20)
    assert "error" in outcome and outcome["error"].status == 409
    session.refresh_from_db()
    assert session.received_bytes == 0 and not session.chunks.filter(received=True).exists()
    chunks.chunk_accept(session=session, stream=io.BytesIO(data), length=1000, index=0)
    session.refresh_from_db()
    assert session.state == State.COMPLETED and session.stored_file.sha256 == sha(data)


def test_completion_hooks_run_once_nothing_of_the_upload_is_held(ctx):
    """A hook may close the session (dms cancels a placed file's upload), which takes the guard:
    hooks run after finalize gave it back, never waiting for their own finalize."""
    seen = []

    def hook(session):
        seen.append((session.pk, locks.guard(session.uid).is_free(),
                     locks.slot(session.uid, locks.FINALIZE).is_free()))

    finalize.register_completion_hook(hook)
    try:
        data = payload(1000, seed=6)
        session = services.session_create(ctx=ctx, file_name="a", size=1000)
        chunks.chunk_accept(session=session, stream=io.BytesIO(data), length=1000, index=0)
    finally:
        finalize.unregister_completion_hook(hook)
    assert seen == [(session.pk, True, True)]
