"""One ingest path (``apps.uploads.ingest.body_accept``): a request body larger than one engine
chunk, through every door that takes one, is kept as consecutive engine chunks, and the finished
file has exactly the body's bytes and SHA-256. What the engine refuses of such a body it refuses
before reading a byte, so nothing of it is kept."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import zipfile

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from apps.core.errors import BadRequest, Conflict, PayloadTooLarge
from apps.dms.dialects.common import raw_body
from apps.dms.models import DMSFile
from apps.uploads import chunks, ingest, services
from apps.uploads.models import UploadChunk, UploadSession
from apps.uploads.wire import SocketBody
from tests.dms.conftest import record_of
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.django_db(transaction=True)

ENGINE_CHUNK = 4096
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
# Bodies of one byte more than a chunk, exactly two chunks, and two and a bit.
SIZES = [ENGINE_CHUNK + 1, 2 * ENGINE_CHUNK, 10_000]


@pytest.fixture
def engine_chunk(settings):
    settings.UPLOAD_MAX_CHUNK_SIZE = ENGINE_CHUNK
    return ENGINE_CHUNK


def _session(url_or_uid: str) -> UploadSession:
    return UploadSession.objects.get(uid=str(url_or_uid).rstrip("/").rsplit("/", 1)[-1])


def _finished(client, session: UploadSession, data: bytes) -> None:
    """The upload is COMPLETED, its stored file says the body's SHA-256, and its download (the
    bytes a client gets back) is the body."""
    session.refresh_from_db()
    assert session.state == UploadSession.State.COMPLETED, session.failure_reason
    assert session.received_bytes == len(data)
    assert session.stored_file.size == len(data)
    assert session.stored_file.sha256 == sha(data)
    response = client.get(f"/api/v1/uploads/{session.uid}/file")
    assert response.status_code == 200
    assert _body(response) == data
    assert response["ETag"] == f'"{sha(data)}"'


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _tus_checksum(algo: str, data: bytes) -> str:
    return f"{algo} {base64.b64encode(hashlib.new(algo, data).digest()).decode()}"


def _tus_create(client, length: int | None = None, body: bytes | None = None, **headers):
    extra = {**TUS, **headers}
    if length is not None:
        extra["HTTP_UPLOAD_LENGTH"] = str(length)
    if body is None:
        return client.post("/api/v1/tus/", **extra)
    return client.post("/api/v1/tus/", body, content_type=OFFSET_STREAM, **extra)


def _tus_patch(client, url: str, offset: int, body: bytes, **headers):
    return client.patch(url, body, content_type=OFFSET_STREAM,
                        **{**TUS, "HTTP_UPLOAD_OFFSET": str(offset), **headers})


# --- tus ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_tus_patch_larger_than_an_engine_chunk(garden_user, storage, engine_chunk, size):
    data = payload(size, seed=size)
    url = _tus_create(garden_user, len(data))["Location"]
    response = _tus_patch(garden_user, url, 0, data)
    assert response.status_code == 204, response.content
    assert response["Upload-Offset"] == str(len(data))
    _finished(garden_user, _session(url), data)


def test_a_tus_creation_with_upload_larger_than_an_engine_chunk(garden_user, storage,
                                                                 engine_chunk):
    data = payload(10_000, seed=31)
    created = _tus_create(garden_user, len(data), body=data)
    assert created.status_code == 201, created.content
    assert created["Upload-Offset"] == str(len(data))
    _finished(garden_user, _session(created["Location"]), data)


def test_tus_patches_of_a_deferred_length_each_larger_than_an_engine_chunk(
        garden_user, storage, engine_chunk):
    data = payload(15_000, seed=32)
    url = _tus_create(garden_user, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    first = _tus_patch(garden_user, url, 0, data[:9_000])
    assert first.status_code == 204 and first["Upload-Offset"] == "9000"
    last = _tus_patch(garden_user, url, 9_000, data[9_000:], HTTP_UPLOAD_LENGTH=str(len(data)))
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    _finished(garden_user, _session(url), data)


def test_a_tus_checksum_covers_the_whole_body(garden_user, storage, engine_chunk):
    """Upload-Checksum is the whole body's: one larger than an engine chunk is refused before a
    byte is kept (413); bodies that fit one are verified (a wrong digest is 460, nothing kept)."""
    data = payload(10_000, seed=33)
    url = _tus_create(garden_user, len(data))["Location"]
    refused = _tus_patch(garden_user, url, 0, data,
                         HTTP_UPLOAD_CHECKSUM=_tus_checksum("sha256", data))
    assert refused.status_code == 413, refused.content
    assert refused["Content-Type"].startswith("application/problem+json")
    session = _session(url)
    assert not UploadChunk.objects.filter(session=session).exists()
    assert garden_user.head(url, **TUS)["Upload-Offset"] == "0"

    first, rest = data[:ENGINE_CHUNK], data[ENGINE_CHUNK:2 * ENGINE_CHUNK]
    wrong = _tus_patch(garden_user, url, 0, first, HTTP_UPLOAD_CHECKSUM=_tus_checksum("md5", rest))
    assert wrong.status_code == 460
    assert garden_user.head(url, **TUS)["Upload-Offset"] == "0"
    offset = 0
    for start in range(0, len(data), ENGINE_CHUNK):
        piece = data[start:start + ENGINE_CHUNK]
        response = _tus_patch(garden_user, url, offset, piece,
                              HTTP_UPLOAD_CHECKSUM=_tus_checksum("sha1", piece))
        assert response.status_code == 204, response.content
        offset = int(response["Upload-Offset"])
    _finished(garden_user, session, data)


# --- Nuxeo batch, one go -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_nuxeo_normal_upload_larger_than_an_engine_chunk(garden_user, storage, engine_chunk,
                                                           size):
    data = payload(size, seed=size + 1)
    batch = garden_user.post("/api/v1/upload").json()["batchId"]
    response = garden_user.post(f"/api/v1/upload/{batch}/0", data,
                                content_type="application/octet-stream",
                                HTTP_X_FILE_NAME="big.bin", HTTP_X_FILE_SIZE=str(len(data)))
    assert response.status_code == 201, response.content
    assert response.json()["uploadedSize"] == len(data)
    session = UploadSession.objects.get(batch__uid=batch, batch_index="0")
    assert session.chunk_size == ENGINE_CHUNK
    _finished(garden_user, session, data)


# --- Documents: base64 JSON attachments and ZIP entries (session_from_stream) -------------------------


def _attachments(record, suffix: str = "") -> str:
    return f"/api/v1/models/c_bpartner/{record.pk}/attachments{suffix}"


def _attached(client, record, name: str, data: bytes) -> None:
    dms_file = DMSFile.objects.get(table_name="c_bpartner", record_id=record.pk, name=name)
    assert dms_file.stored_file.sha256 == sha(data)
    assert dms_file.stored_file.size == len(data)
    response = client.get(_attachments(record, f"/{name}"))
    assert response.status_code == 200
    assert _body(response) == data


def test_a_base64_attachment_larger_than_an_engine_chunk(garden_user, storage, engine_chunk):
    joe = record_of("c_bpartner", name="Joe Block")
    data = payload(10_000, seed=34)
    response = garden_user.post(_attachments(joe), {
        "name": "big.bin", "data": base64.b64encode(data).decode()}, format="json")
    assert response.status_code == 201, response.content
    _attached(garden_user, joe, "big.bin", data)
    # The one-shot session only carried the bytes: gone once the file is attached.
    assert not UploadSession.objects.exclude(state=UploadSession.State.CANCELLED).filter(
        dialect="json").exists()


def test_zip_entries_larger_than_an_engine_chunk(garden_user, storage, engine_chunk):
    joe = record_of("c_bpartner", name="Joe Block")
    entries = {"a.bin": payload(10_000, seed=35), "b.bin": payload(2 * ENGINE_CHUNK, seed=36),
               "c.txt": b"small"}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name, data in entries.items():
            out.writestr(name, data)
    response = garden_user.post(_attachments(joe, "/zip"), {
        "data": base64.b64encode(archive.getvalue()).decode()}, format="json")
    assert response.status_code == 201, response.content
    for name, data in entries.items():
        _attached(garden_user, joe, name, data)


# --- The engine service itself -----------------------------------------------------------------------


def test_an_indexed_body_past_the_uploads_size_is_refused_before_a_byte_is_read(
        ctx, storage, engine_chunk):
    session = services.session_create(ctx=ctx, file_name="a.bin", size=10_000,
                                      chunk_size=ENGINE_CHUNK)
    stream = io.BytesIO(payload(10_000))
    with pytest.raises(PayloadTooLarge):
        ingest.body_accept(session=session, stream=stream, length=10_000 - ENGINE_CHUNK + 1,
                           index=1)
    assert stream.tell() == 0
    assert not UploadChunk.objects.filter(session=session).exists()


def test_an_append_keeps_its_chunks_consecutive(ctx, storage, engine_chunk, monkeypatch):
    """Each chunk after the first is appended where the one before ended: another writer's append
    in between is a 409 for the rest of the body, never bytes interleaved with it."""
    session = services.session_create(ctx=ctx, file_name="a.bin", size=None, dialect="tus")
    data = payload(10_000, seed=37)
    real = chunks.chunk_accept
    calls = []

    def with_an_intruder(**kwargs):
        calls.append(kwargs["offset"])
        result = real(**kwargs)
        if len(calls) == 1:  # another request appends between our first and second chunk
            real(session=session, stream=io.BytesIO(b"X" * 10), length=10)
        return result

    monkeypatch.setattr(chunks, "chunk_accept", with_an_intruder)
    with pytest.raises(Conflict):
        ingest.body_accept(session=session, stream=io.BytesIO(data), length=len(data), offset=0)
    assert calls == [0, ENGINE_CHUNK]
    session.refresh_from_db()
    assert session.received_bytes == ENGINE_CHUNK + 10
    kept = UploadChunk.objects.filter(session=session, received=True).order_by("offset")
    assert [(c.offset, c.size, c.sha256) for c in kept] == [
        (0, ENGINE_CHUNK, sha(data[:ENGINE_CHUNK])), (ENGINE_CHUNK, 10, sha(b"X" * 10))]


@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_a_partial_append_keeps_the_whole_chunks_and_what_arrived(ctx, storage, engine_chunk):
    """tus core: a body cut short keeps what arrived (the client resumes at HEAD's offset)."""
    session = services.session_create(ctx=ctx, file_name="a.bin", size=10_000, dialect="tus")
    data = payload(10_000, seed=38)
    result = ingest.body_accept(session=session, stream=io.BytesIO(data[:6_000]), length=10_000,
                                offset=0, partial_ok=True)
    assert result.received == 6_000 and not result.complete
    session.refresh_from_db()
    assert session.received_bytes == 6_000
    rest = ingest.body_accept(session=session, stream=io.BytesIO(data[6_000:]), length=4_000,
                              offset=6_000, partial_ok=True)
    assert rest.complete and rest.received == 4_000
    session.refresh_from_db()
    assert session.state == UploadSession.State.COMPLETED, session.failure_reason
    assert session.stored_file.sha256 == sha(data)


def test_a_body_cut_short_is_refused_without_partial_ok(ctx, storage, engine_chunk):
    session = services.session_create(ctx=ctx, file_name="a.bin", size=10_000,
                                      chunk_size=ENGINE_CHUNK)
    with pytest.raises(BadRequest):
        ingest.body_accept(session=session, stream=io.BytesIO(payload(6_000)), length=10_000,
                           index=0)
    session.refresh_from_db()
    assert session.received_bytes == ENGINE_CHUNK  # the whole first chunk; the caller decides


def test_session_from_stream_cancels_its_session_on_a_short_stream(ctx, storage, engine_chunk):
    with pytest.raises(BadRequest):
        ingest.session_from_stream(ctx=ctx, stream=io.BytesIO(payload(6_000)), size=10_000,
                                   file_name="a.bin")
    session = UploadSession.objects.get(dialect="json")
    assert session.state == UploadSession.State.CANCELLED
    assert not UploadChunk.objects.filter(session=session).exists()


# --- Document bodies read as the engine reads them ---------------------------------------------------


def test_a_document_dialects_raw_body_is_read_from_the_socket_under_gunicorn(rf):
    client, server = socket.socketpair()
    try:
        body = b"0123456789"
        client.sendall(b"POST /ws/files/upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
                       + body)
        parser = RequestParser(Config(), server, ("127.0.0.1", 9))
        parsed = next(parser)
        request = rf.post("/ws/files/upload", data=b"", content_type="application/octet-stream")
        request.META.update({"wsgi.input": parsed.body, "gunicorn.socket": server},
                            CONTENT_LENGTH=str(len(body)))
        stream, length = raw_body(request)
        assert isinstance(stream, SocketBody) and length == len(body)
        buffer = bytearray(64)
        assert bytes(buffer[:stream.readinto(buffer)]) == body
    finally:
        client.close()
        server.close()
