"""Finished bytes never change and no upload stays stuck (in process: threads and killed
subprocesses against the engine; tests/uploads/test_live_integrity.py does the same over HTTP).

A chunk's writer holds its slot's lock (apps.uploads.locks) for the whole body: a claim is taken
over only when its holder is gone, a killed holder frees the chunk at once, and a newer request
asks the holder to stop.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.errors import NotReady
from apps.uploads import (
    batches,
    chunks,
    finalize,
    ingest,
    locks,
    purge,
    services,
    stored_files,
    stores,
)
from apps.uploads import storage as st
from apps.uploads.models import StoredFile, UploadChunk, UploadSession
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.django_db(transaction=True)  # finalize runs after commit, as served

State = UploadSession.State
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOLDER = """
import os, sys, time
import django
django.setup()
from apps.uploads import locks
lock = locks.SlotLock(sys.argv[1], int(sys.argv[2]))
assert lock.try_acquire()
print("held", flush=True)
time.sleep(600)
"""


class LockHolder:
    """Another process holding one slot's lock, to be killed as a crash would."""

    def __init__(self, session: UploadSession, slot: int):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings_test",
                   UPLOAD_LOCK_DIR=str(locks._lock_dir()))
        if connection.vendor == "postgresql":
            p = connection.settings_dict
            env["DATABASE_URL"] = (
                f"postgres://{p.get('USER') or 'postgres'}@{p.get('HOST') or '127.0.0.1'}:"
                f"{p.get('PORT') or 5432}/{p['NAME']}"
            )
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(session.uid), str(slot)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def short_wait(settings):
    settings.UPLOAD_LOCK_WAIT = 0.3


class SlowBody:
    """A request body arriving in small pieces, one every ``pause`` seconds, as a slow client."""

    def __init__(self, data: bytes, piece: int = 100, pause: float = 0.02):
        self.data, self.piece, self.pause, self.sent = data, piece, pause, 0
        self.started = threading.Event()

    def read(self, size: int = -1) -> bytes:
        self.started.set()
        time.sleep(self.pause)
        end = min(len(self.data), self.sent + self.piece)
        out = self.data[self.sent:end]
        self.sent = end
        return out


def in_thread(target, *args, **kwargs) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = target(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def stored_bytes(session: UploadSession) -> bytes:
    session.refresh_from_db()
    assert session.state == State.COMPLETED, (session.state, session.failure_reason)
    with stored_files.stored_file_open(session.stored_file) as handle:
        return handle.read()


# --- Fencing and liveness -------------------------------------------------------------------------


def test_a_dead_requests_claim_is_taken_over_at_once(ctx, storage, short_wait):
    data = payload(2000)
    session = services.session_create(ctx=ctx, file_name="a", size=2000, chunk_size=1000)
    # A request claimed chunk 1 and died: its row is there, its lock went with it.
    UploadChunk.objects.create(session=session, index=0, offset=0, received=False)
    result = chunks.chunk_accept(session=session, stream=io.BytesIO(data[:1000]), length=1000,
                                   index=0)
    assert result.created and result.chunk.received
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[1000:]), length=1000, index=1)
    assert stored_bytes(session) == data


def test_a_killed_holder_frees_its_chunk_at_once(ctx, storage, short_wait):
    data = payload(2000, seed=2)
    session = services.session_create(ctx=ctx, file_name="a", size=2000, chunk_size=1000)
    UploadChunk.objects.create(session=session, index=1, offset=1000, received=False)
    holder = LockHolder(session, 1)
    try:
        # Alive (if silent): the chunk is its; a new request is told to come back.
        with pytest.raises(NotReady) as refused:
            chunks.chunk_accept(session=session, stream=io.BytesIO(data[1000:]), length=1000,
                                  index=1)
        assert refused.value.headers["Retry-After"]
        # Asked to stop, too: the flag is on its claim for it to see at its next read.
        assert UploadChunk.objects.get(session=session, index=1).stop_requested
    finally:
        holder.kill()
    # Killed: no clock to wait for, the next request takes the chunk.
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[:1000]), length=1000, index=0)
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[1000:]), length=1000, index=1)
    assert stored_bytes(session) == data


def test_a_newer_request_makes_the_holder_stop_and_only_its_bytes_count(ctx, storage):
    good = payload(3000, seed=3)
    session = services.session_create(ctx=ctx, file_name="a", size=3000, chunk_size=1000)
    chunks.chunk_accept(session=session, stream=io.BytesIO(good[:1000]), length=1000, index=0)
    chunks.chunk_accept(session=session, stream=io.BytesIO(good[2000:]), length=1000, index=2)
    # A slow request is writing other bytes into chunk 2 ...
    slow = SlowBody(b"Z" * 1000, piece=50, pause=0.05)
    thread, outcome = in_thread(
        chunks.chunk_accept, session=session, stream=slow, length=1000, index=1
    )
    assert slow.started.wait(10)
    # ... when the client sends chunk 2 again: the slow one is asked to stop and gives way.
    result = chunks.chunk_accept(session=session, stream=io.BytesIO(good[1000:2000]),
                                   length=1000, index=1)
    thread.join(20)
    assert result.created and result.complete
    assert isinstance(outcome.get("error"), st.BodySuperseded), outcome
    assert slow.sent < 1000  # it stopped reading; none of what it had counts
    data = stored_bytes(session)
    assert data == good and session.stored_file.sha256 == sha(good)


# A cut-short append is kept where its bytes land in place as they arrive: local storage (on S3
# a part is sent whole or not at all, and the resumed PATCH resends it).
@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_a_status_call_lets_the_append_in_flight_save_and_shows_the_true_offset(ctx, storage):
    """tus-js-client aborts a PATCH and sends HEAD at once: the draining PATCH is asked to stop,
    records what it wrote, and HEAD answers that offset; the resumed PATCH then fits."""
    data = payload(4000, seed=4)
    session = services.session_create(ctx=ctx, file_name="a", size=4000, dialect="tus")
    slow = SlowBody(data, piece=200, pause=0.05)
    thread, outcome = in_thread(
        chunks.chunk_accept, session=session, stream=slow, length=4000, partial_ok=True
    )
    assert slow.started.wait(10)
    time.sleep(0.3)
    seen = chunks.session_quiesce(session=session)
    thread.join(20)
    assert "error" not in outcome, outcome
    assert 0 < seen.received_bytes < 4000
    assert seen.received_bytes == outcome["result"].chunk.size == slow.sent
    rest = data[seen.received_bytes:]
    chunks.chunk_accept(session=seen, stream=io.BytesIO(rest), length=len(rest),
                          offset=seen.received_bytes, partial_ok=True)
    assert stored_bytes(session) == data


# --- Stored files are per tenant -----------------------------------------------------------------


def test_the_same_content_of_two_tenants_is_two_files(ctx, storage):
    from apps.accounts.models import User

    acme = User.objects.get(username="AcmeAdmin")
    other = SimpleNamespace(client_id=acme.client_id, org_id=0, user_id=acme.pk)
    data = payload(1500, seed=5)
    sessions = []
    for who in (ctx, other):
        session = ingest.stored_file_from_stream(
            ctx=who, stream=io.BytesIO(data), length=len(data), file_name="same.bin"
        )
        session.refresh_from_db()
        sessions.append(session)
    garden, theirs = (s.stored_file for s in sessions)
    assert garden.pk != theirs.pk and garden.storage_key != theirs.storage_key
    assert (garden.client_id, theirs.client_id) == (ctx.client_id, acme.client_id)
    assert garden.sha256 == theirs.sha256 == sha(data)
    # One tenant dropping its file leaves the other's bytes whole.
    services.session_cancel(session=sessions[1])
    purge.uploads_purge()
    assert not StoredFile.objects.filter(pk=theirs.pk).exists()
    assert stored_bytes(sessions[0]) == data


# --- Nothing stays PROCESSING --------------------------------------------------------------------


def _all_in_without_finalize(ctx, monkeypatch, data: bytes) -> UploadSession:
    """An upload whose finalize never ran, as when the process running it was killed."""
    monkeypatch.setattr(services, "finalize_enqueue", lambda session_id: None)
    session = services.session_create(ctx=ctx, file_name="a", size=len(data),
                                       chunk_size=len(data))
    chunks.chunk_accept(session=session, stream=io.BytesIO(data), length=len(data), index=0)
    monkeypatch.undo()
    session.refresh_from_db()
    assert session.state == State.PROCESSING
    return session


def test_purge_finalizes_what_a_dead_process_left_processing(ctx, storage, monkeypatch):
    data = payload(1200, seed=6)
    session = _all_in_without_finalize(ctx, monkeypatch, data)
    holder = LockHolder(session, locks.FINALIZE)
    try:
        # A live process is finalizing it: purge leaves it alone.
        assert purge.uploads_purge()["refinalized"] == 0
        session.refresh_from_db()
        assert session.state == State.PROCESSING
    finally:
        holder.kill()
    # That process died: the next purge (beat, the command, `make run` at start) finishes it.
    assert purge.uploads_purge()["refinalized"] == 1
    assert stored_bytes(session) == data


def test_purge_command_finalizes_stuck_uploads(ctx, storage, monkeypatch):
    from django.core.management import call_command

    data = payload(700, seed=7)
    session = _all_in_without_finalize(ctx, monkeypatch, data)
    out = io.StringIO()
    call_command("purge_uploads", stdout=out)
    assert "refinalized: 1" in out.getvalue()
    assert stored_bytes(session) == data


def test_with_a_broker_only_uploads_stuck_for_a_while_are_enqueued_again(
    ctx, storage, monkeypatch, settings
):
    from config.celery import app

    session = _all_in_without_finalize(ctx, monkeypatch, payload(300))
    sent: list[int] = []
    monkeypatch.setattr(services, "finalize_enqueue", sent.append)
    settings.UPLOAD_FINALIZE_STALE_SECONDS = 120
    previous, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        assert finalize.uploads_refinalize() == 0  # its message may still be on its way
        later = timezone.now() + timedelta(seconds=121)
        assert finalize.uploads_refinalize(now=later) == 1
    finally:
        app.conf.task_always_eager = previous
    assert sent == [session.pk]


def test_a_processing_upload_past_its_expiry_is_cleaned_like_any_other(ctx, storage, monkeypatch):
    session = _all_in_without_finalize(ctx, monkeypatch, payload(900, seed=8))
    key, backend = session.storage_key, session.storage_backend
    store = services.session_storage(session)
    UploadSession.objects.filter(pk=session.pk).update(expires_at=timezone.now())
    counts = purge.uploads_purge(now=timezone.now() + timedelta(seconds=1))
    assert counts["expired"] == 1
    session.refresh_from_db()
    assert session.state == State.EXPIRED
    assert not st.exists(store, backend, key)
    assert not UploadChunk.objects.filter(session=session).exists()


def test_a_finalize_that_fails_for_good_marks_the_upload_failed(garden_user, storage, monkeypatch):
    from tests.uploads.conftest import create, put_chunk

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is on fire at /srv/secret/path")

    monkeypatch.setattr(stores.InPlaceStore, "assemble", broken)
    monkeypatch.setattr(stores.PartsStore, "assemble", broken)
    monkeypatch.setattr(stores.StagedStore, "assemble", broken)
    data = payload(800, seed=9)
    upload_id = create(garden_user, data, chunk_size=800).json()["uploadId"]
    answer = put_chunk(garden_user, upload_id, 1, data, total=1)
    assert answer.status_code == 200, answer.content  # the chunk is in; finalize is not its fault
    status = garden_user.get(f"/api/v1/uploads/{upload_id}").json()
    assert status["status"] == "FAILED"
    assert "could not be assembled" in status["message"]
    assert "/srv/secret" not in status["message"]  # no internals


def test_transient_finalize_errors_past_the_last_retry_mark_the_upload_failed(
    ctx, storage, monkeypatch
):
    from django.db import OperationalError

    from apps.uploads.tasks import FINALIZE_MAX_RETRIES, finalize_upload

    session = _all_in_without_finalize(ctx, monkeypatch, payload(400))

    def down(**kwargs):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(finalize, "session_finalize", down)
    finalize_upload.push_request(retries=FINALIZE_MAX_RETRIES, is_eager=False)
    try:
        finalize_upload.run(session.pk)
    finally:
        finalize_upload.pop_request()
    session.refresh_from_db()
    assert session.state == State.FAILED
    assert "OperationalError" in session.failure_reason


# --- Cancelled or dropped while bytes stream in: nothing stays ---------------------------------


def _files_under(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_a_cancel_during_a_write_leaves_no_bytes(ctx, storage, settings):
    from pathlib import Path

    session = services.session_create(ctx=ctx, file_name="a", size=4000, dialect="tus")
    slow = SlowBody(b"x" * 4000, piece=200, pause=0.05)
    thread, outcome = in_thread(
        chunks.chunk_accept, session=session, stream=slow, length=4000, partial_ok=True
    )
    assert slow.started.wait(10)
    time.sleep(0.2)
    services.session_cancel(session=session)  # tus DELETE while the PATCH streams in
    thread.join(20)
    assert "error" in outcome  # the writer learns the upload is gone
    assert outcome["error"].status in (404, 409, 410)
    assert _files_under(Path(settings.MEDIA_ROOT) / "uploads" / str(session.uid)) == []


def test_a_batch_dropped_during_an_upload_is_404_and_leaves_nothing(ctx, storage, settings):
    from pathlib import Path

    from apps.core.errors import NotFound

    batch = batches.batch_create(ctx=ctx)
    session, _ = batches.batch_slot_session(
        ctx=ctx, batch=batch, batch_index="0", file_name="a", size=4000, chunk_count=1,
    )
    slow = SlowBody(b"y" * 4000, piece=200, pause=0.05)
    thread, outcome = in_thread(
        chunks.chunk_accept, session=session, stream=slow, length=4000, index=0
    )
    assert slow.started.wait(10)
    time.sleep(0.2)
    batches.batch_drop(batch=batch)
    thread.join(20)
    assert isinstance(outcome.get("error"), NotFound), outcome
    # A file for the dropped batch: 404, no row.
    with pytest.raises(NotFound):
        services.session_create(ctx=ctx, file_name="b", size=3, batch=batch, batch_index="1")
    with pytest.raises(NotFound):
        batches.batch_slot_session(ctx=ctx, batch=batch, batch_index="2", file_name="c", size=3)
    assert not UploadSession.objects.filter(batch_id=batch.pk).exists()
    if storage == "local":
        assert _files_under(Path(settings.MEDIA_ROOT) / "uploads" / str(session.uid)) == []
