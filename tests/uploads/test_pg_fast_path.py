"""The chunk path on PostgreSQL outside a transaction, as served (apps.uploads.chunks, claims).

A new chunk's claim is one statement, the record another, and a durable write a third; the
writer's locks (the session's guard and the chunk's slot) live on the process's lock connection.
What a client and an operator rely on: no advisory lock outlives the request, whatever failed; the
chunk that completes an upload leaves it PROCESSING even when the process dies before the last
statement (beat then finalizes it); the bytes recorded are the bytes.
"""

from __future__ import annotations

import io

import pytest
from django.db import DataError, OperationalError, connection

from apps.uploads import chunks, claims, services
from apps.uploads.models import UploadChunk, UploadSession
from tests.uploads.conftest import payload, sha

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL statements"),
    pytest.mark.parametrize("storage", ["local"], indirect=True),
]

State = UploadSession.State
CHUNK = 64 * 1024


def _advisory_locks_held() -> int:
    """Advisory locks held in this database by any connection of the test run (the request's own
    and the process's lock connection)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND a.datname = current_database()"
        )
        return cursor.fetchone()[0]


def _session(ctx, data: bytes) -> UploadSession:
    return services.session_create(
        ctx=ctx, file_name="f.bin", size=len(data), chunk_size=CHUNK, sha256=sha(data)
    )


def _put(session: UploadSession, data: bytes, index: int) -> chunks.ChunkResult:
    piece = data[index * CHUNK:(index + 1) * CHUNK]
    return chunks.chunk_accept(
        session=session, stream=io.BytesIO(piece), length=len(piece), index=index
    )


def test_chunks_are_recorded_and_no_lock_outlives_them(ctx, storage):
    data = payload(3 * CHUNK + 100)
    session = _session(ctx, data)
    assert connection.get_autocommit() and not connection.in_atomic_block
    results = [_put(session, data, n) for n in (2, 0, 3, 1)]
    assert [r.complete for r in results] == [False, False, False, True]
    assert _advisory_locks_held() == 0
    again = _put(session, data, 1)  # a retry: the same bytes, nothing new
    assert again.created is False and _advisory_locks_held() == 0
    session.refresh_from_db()
    assert session.state == State.COMPLETED  # finalize ran (eager) after the last chunk
    assert session.stored_file.sha256 == sha(data)
    chunks = UploadChunk.objects.filter(session=session).order_by("index")
    assert [c.sha256 for c in chunks] == [
        sha(data[n * CHUNK:(n + 1) * CHUNK]) for n in range(4)
    ]


def test_the_last_chunk_leaves_the_upload_processing_if_the_process_dies_after_its_record(
    ctx, storage, monkeypatch
):
    """The record statement itself sets PROCESSING: a process that dies before the next one
    leaves an upload beat finalizes, never one with every byte in and no finalize coming."""
    data = payload(2 * CHUNK)
    session = _session(ctx, data)
    _put(session, data, 0)

    def dies(connection):
        raise OperationalError("the process died here")

    monkeypatch.setattr(claims, "_done_pg_sql", dies)
    monkeypatch.setattr(services, "finalize_enqueue", lambda session_id: None)  # died: no enqueue
    with pytest.raises(OperationalError):
        _put(session, data, 1)
    session.refresh_from_db()
    assert session.state == State.PROCESSING
    assert session.received_bytes == len(data)
    assert UploadChunk.objects.filter(session=session, received=True).count() == 2
    assert _advisory_locks_held() == 0  # the request's finally gave the lock back


def test_a_claim_statement_that_fails_gives_the_writers_locks_back(ctx, storage, monkeypatch):
    data = payload(CHUNK)
    session = _session(ctx, data)
    failing = "SELECT 1 / (SELECT count(*) FROM pg_class WHERE false)::int"
    monkeypatch.setattr(claims, "_claim_sql", lambda connection: (failing, []))
    with pytest.raises(DataError):
        _put(session, data, 0)
    assert _advisory_locks_held() == 0
    monkeypatch.undo()
    assert _put(session, data, 0).complete is True  # the slot is free
