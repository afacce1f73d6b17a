"""A chunk of many pieces written to local storage (``core.storage.local.LocalObjects.write_at``), each piece's
writeback started as it is written.

What a client and the other requests of an upload rely on: the bytes on disk are the body's, a
body that fails leaves no write running once its request has answered (the slot's lock is given
back after it), a write that fails fails the chunk and it can be sent again, and a superseded
holder's pieces never land over a newer request's bytes.
"""

from __future__ import annotations

import errno
import io
import os
import time

import pytest

from apps.core.errors import InsufficientStorage
from apps.core.storage import local as local_storage
from apps.uploads import chunks, services
from apps.uploads import storage as st
from tests.uploads.conftest import payload, sha
from tests.uploads.test_integrity import SlowBody, in_thread, stored_bytes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("storage", ["local"], indirect=True),
]


@pytest.fixture
def pieces(settings):
    settings.UPLOAD_READ_BUFFER = 1000  # a 10 kB chunk is ten pieces


class DropsAfter(io.RawIOBase):
    """A body whose connection drops after ``good`` bytes (gunicorn raises OSError then)."""

    def __init__(self, data: bytes, good: int):
        self.data, self.good, self.sent = data, good, 0

    def readinto(self, buffer) -> int:
        if self.sent >= self.good:
            raise ConnectionResetError("peer gone")
        count = min(len(buffer), self.good - self.sent)
        buffer[:count] = self.data[self.sent:self.sent + count]
        self.sent += count
        return count


def test_a_chunk_of_many_pieces_is_written_byte_for_byte(ctx, storage, pieces):
    data = payload(30_000, seed=7)
    session = services.session_create(ctx=ctx, file_name="a", size=30_000, chunk_size=10_000)
    for index in (2, 0, 1):
        part = data[index * 10_000:(index + 1) * 10_000]
        result = chunks.chunk_accept(session=session, stream=io.BytesIO(part), length=10_000,
                                       index=index, sha256=sha(part))
        assert result.created and result.chunk.sha256 == sha(part)
    assert stored_bytes(session) == data


def test_a_body_that_drops_leaves_no_write_running_once_refused(ctx, storage, pieces, monkeypatch):
    data = payload(10_000, seed=8)
    session = services.session_create(ctx=ctx, file_name="a", size=10_000, chunk_size=10_000)
    real = local_storage._pwrite_all
    ended: list[float] = []

    def slow(fd, view, position, piece):  # a slow disk
        try:
            time.sleep(0.05)
            real(fd, view, position, piece)
        finally:  # a write that failed ended too (a closed descriptor)
            ended.append(time.monotonic())

    monkeypatch.setattr(local_storage, "_pwrite_all", slow)
    with pytest.raises(st.ShortBody):
        chunks.chunk_accept(session=session, stream=DropsAfter(data, 4500), length=10_000, index=0)
    refused = time.monotonic()
    time.sleep(0.2)
    assert ended and max(ended) <= refused  # no write of this body after the refusal
    # Nothing of it counts: the client sends the chunk again and the upload completes.
    chunks.chunk_accept(session=session, stream=io.BytesIO(data), length=10_000, index=0)
    assert stored_bytes(session) == data


def test_a_failed_write_fails_the_chunk_and_the_chunk_can_be_sent_again(
    ctx, storage, pieces, monkeypatch
):
    data = payload(10_000, seed=9)
    session = services.session_create(ctx=ctx, file_name="a", size=10_000, chunk_size=10_000)
    real = local_storage._pwrite_all
    calls = {"n": 0}

    def full_disk(fd, view, position, piece):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, view, position, piece)

    monkeypatch.setattr(local_storage, "_pwrite_all", full_disk)
    with pytest.raises(InsufficientStorage) as failed:  # 507, never a 500
        chunks.chunk_accept(session=session, stream=io.BytesIO(data), length=10_000, index=0)
    assert failed.value.__cause__.errno == errno.ENOSPC
    session.refresh_from_db()
    assert session.received_bytes == 0 and not session.chunks.filter(received=True).exists()
    chunks.chunk_accept(session=session, stream=io.BytesIO(data), length=10_000, index=0)
    assert stored_bytes(session) == data


def test_a_superseded_holders_late_pieces_never_land_over_the_newer_bytes(
    ctx, storage, pieces, monkeypatch
):
    good = payload(10_000, seed=10)
    session = services.session_create(ctx=ctx, file_name="a", size=20_000, chunk_size=10_000)
    chunks.chunk_accept(session=session, stream=io.BytesIO(good), length=10_000, index=1)
    real = local_storage._pwrite_all

    def slow_for_stale(fd, view, position, piece):  # the stale holder's disk is slow
        if bytes(view[:1]) == b"Z":
            time.sleep(0.1)
        real(fd, view, position, piece)

    monkeypatch.setattr(local_storage, "_pwrite_all", slow_for_stale)
    stale = SlowBody(b"Z" * 10_000, piece=1000, pause=0.02)
    thread, outcome = in_thread(
        chunks.chunk_accept, session=session, stream=stale, length=10_000, index=0
    )
    assert stale.started.wait(10)
    time.sleep(0.15)  # some of its pieces are written
    result = chunks.chunk_accept(session=session, stream=io.BytesIO(good), length=10_000, index=0)
    thread.join(20)
    assert isinstance(outcome.get("error"), st.BodySuperseded), outcome
    assert result.created and result.complete
    assert stored_bytes(session) == good + good


def test_a_piece_goes_to_the_file_in_writes_of_at_most_the_write_piece(
    ctx, storage, settings, monkeypatch
):
    settings.UPLOAD_READ_BUFFER = 64 * 1024
    settings.UPLOAD_WRITE_PIECE = 4096
    sizes: list[int] = []
    real = os.pwrite

    def counted(fd, data, position):
        sizes.append(len(data))
        return real(fd, data, position)

    monkeypatch.setattr(os, "pwrite", counted)
    data = payload(200_000, seed=11)
    session = services.session_create(ctx=ctx, file_name="a", size=200_000, chunk_size=200_000)
    chunks.chunk_accept(session=session, stream=io.BytesIO(data), length=200_000, index=0)
    assert sum(sizes) == 200_000 and max(sizes) == 4096
    assert stored_bytes(session) == data
