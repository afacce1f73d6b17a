"""Engine features the dialects asked for: session meta, batch slots under the batch lock,
cancelled (404) versus expired (410), the file limit while the size is unknown, partial tus bodies,
one body-stream helper, idempotent re-sends after completion, result refs and completion hooks."""

from __future__ import annotations

import io
import socket
import time
from datetime import timedelta
from urllib.parse import urlparse

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.errors import BadRequest, Gone, NotFound, PayloadTooLarge
from apps.uploads import batches, chunks, finalize, selectors, services
from apps.uploads.dialects import idempiere, nuxeo, tus
from apps.uploads.models import UploadSession
from apps.uploads.wire import request_body_stream
from tests.uploads.conftest import chunks_of, create, payload, put_chunk, sha, upload
from tests.uploads.test_nuxeo import new_batch, post_chunk, stored_bytes
from tests.uploads.test_tus import TUS, head, patch
from tests.uploads.test_tus import create as tus_create

pytestmark = pytest.mark.django_db(transaction=True)
State = UploadSession.State


# --- a. meta ------------------------------------------------------------------------------------------


def test_session_create_keeps_meta(ctx, storage):
    session = services.session_create(ctx=ctx, file_name="a", size=3, meta={"k": "v"})
    assert UploadSession.objects.get(pk=session.pk).meta == {"k": "v"}
    plain = services.session_create(ctx=ctx, file_name="b", size=3)
    assert UploadSession.objects.get(pk=plain.pk).meta == {}


def test_dialects_store_their_metadata_at_creation(garden_user):
    url = tus_create(garden_user, 5)["Location"]
    session = UploadSession.objects.get(uid=url.rsplit("/", 1)[-1])
    assert session.meta["tusMetadata"].startswith("filename ")
    batch_id = new_batch(garden_user)
    assert post_chunk(garden_user, batch_id, "0", b"abc", 0, 2, 6).status_code == 202
    session = UploadSession.objects.get(batch__uid=batch_id)
    assert session.meta == {"uploadType": "chunked"}
    assert not hasattr(nuxeo, "_set_upload_type") and not hasattr(tus, "_remember_metadata")


# --- b. batch slots -------------------------------------------------------------------------------------


def test_batch_slot_session_reuses_or_replaces(ctx, storage):
    batch = batches.batch_create(ctx=ctx)
    first, created = batches.batch_slot_session(
        ctx=ctx, batch=batch, batch_index="0", file_name="a.bin", size=10, chunk_count=2,
        meta={"uploadType": "chunked"},
    )
    assert created and first.batch_id == batch.pk and first.meta == {"uploadType": "chunked"}
    again, created = batches.batch_slot_session(
        ctx=ctx, batch=batch, batch_index="0", reuse=lambda s: s.chunk_count == 2,
        file_name="a.bin", size=10, chunk_count=2,
    )
    assert not created and again.pk == first.pk
    other, created = batches.batch_slot_session(
        ctx=ctx, batch=batch, batch_index="0", reuse=lambda s: s.chunk_count == 3,
        file_name="a.bin", size=10, chunk_count=3,
    )
    assert created and other.pk != first.pk
    first.refresh_from_db()
    assert first.state == State.CANCELLED
    assert selectors.batch_session(batch, "0").pk == other.pk


# --- c. cancelled 404, expired 410 ---------------------------------------------------------------------


def test_selector_cancelled_is_404_expired_is_410(ctx, storage):
    cancelled = services.session_create(ctx=ctx, file_name="a", size=3)
    services.session_cancel(session=cancelled)
    with pytest.raises(NotFound):
        selectors.session_for_owner(ctx, cancelled.uid)
    with pytest.raises(NotFound):
        selectors.session_for_signature(cancelled.uid)
    expired = services.session_create(ctx=ctx, file_name="b", size=3)
    UploadSession.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(1))
    with pytest.raises(Gone):
        selectors.session_for_owner(ctx, expired.uid)
    with pytest.raises(Gone):
        selectors.session_for_signature(expired.uid)


def test_tus_head_after_termination_is_404_in_one_lookup(garden_user):
    url = tus_create(garden_user, 10)["Location"]
    assert garden_user.delete(url, **TUS).status_code == 204
    with CaptureQueriesContext(connection) as queries:
        assert head(garden_user, url).status_code == 404
    lookups = [q for q in queries.captured_queries if '"AD_UploadSession"' in q["sql"]]
    assert len(lookups) == 1, lookups


def test_idempiere_get_after_delete_is_404(garden_user):
    upload_id = create(garden_user, payload(100)).json()["uploadId"]
    assert garden_user.delete(f"/api/v1/uploads/{upload_id}").status_code == 200
    assert garden_user.get(f"/api/v1/uploads/{upload_id}").status_code == 404
    assert garden_user.get(f"/api/v1/uploads/{upload_id}/file").status_code == 404


# --- d. the file limit while the size is unknown --------------------------------------------------------


def test_unknown_size_bounded_by_the_file_limit(ctx, storage, settings):
    settings.UPLOAD_MAX_FILE_SIZE = 10
    session = services.session_create(ctx=ctx, file_name="t", size=None, dialect="tus")
    chunks.chunk_accept(session=session, stream=io.BytesIO(b"123456"), length=6, offset=0)
    # Announced length past the limit: refused before a byte is read.
    with pytest.raises(PayloadTooLarge):
        chunks.chunk_accept(session=session, stream=io.BytesIO(b"12345"), length=5, offset=6)
    # Chunked transfer (no length): refused once the body passes the limit; nothing kept.
    if storage == "local":
        with pytest.raises(PayloadTooLarge):
            chunks.chunk_accept(session=session, stream=io.BytesIO(b"x" * 50), length=None,
                                  offset=6)
    session.refresh_from_db()
    assert session.received_bytes == 6 and session.chunks.filter(received=True).count() == 1
    assert not session.chunks.filter(received=False).exists()
    done = chunks.chunk_accept(session=session, stream=io.BytesIO(b"7890"), length=4, offset=6)
    assert done.session.received_bytes == 10


def test_tus_deferred_patch_over_the_limit_is_413(garden_user, settings):
    url = tus_create(garden_user, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    assert patch(garden_user, url, 0, b"01234").status_code == 204
    settings.UPLOAD_MAX_FILE_SIZE = 8
    assert patch(garden_user, url, 5, b"56789").status_code == 413
    assert head(garden_user, url)["Upload-Offset"] == "5"
    assert patch(garden_user, url, 5, b"567").status_code == 204


# --- e. partial bodies ----------------------------------------------------------------------------------


def test_partial_ok_keeps_a_short_append(ctx, storage):
    data = payload(5000, seed=3)
    session = services.session_create(ctx=ctx, file_name="t", size=len(data), dialect="tus")
    if storage == "s3":
        # An S3 request announces its length up front: a short body is still refused there.
        with pytest.raises(BadRequest):
            chunks.chunk_accept(session=session, stream=io.BytesIO(data[:1000]), length=3000,
                                  offset=0, partial_ok=True)
        return
    result = chunks.chunk_accept(session=session, stream=io.BytesIO(data[:1000]), length=3000,
                                   offset=0, partial_ok=True)
    assert result.created and result.chunk.size == 1000 and result.session.received_bytes == 1000
    result = chunks.chunk_accept(session=session, stream=io.BytesIO(data[1000:]), length=4000,
                                   offset=1000, partial_ok=True)
    assert result.complete
    session.refresh_from_db()
    assert session.state == State.COMPLETED and session.stored_file.sha256 == sha(data)


def test_short_bodies_refused_without_partial_ok(ctx, storage):
    session = services.session_create(ctx=ctx, file_name="t", size=3000, chunk_size=1000)
    with pytest.raises(BadRequest):
        chunks.chunk_accept(session=session, stream=io.BytesIO(b"x" * 10), length=1000,
                              index=0)
    tus_session = services.session_create(ctx=ctx, file_name="t", size=3000, dialect="tus")
    with pytest.raises(BadRequest):
        chunks.chunk_accept(session=tus_session, stream=io.BytesIO(b"x" * 10), length=1000,
                              offset=0)
    # partial_ok is for appends only: an indexed chunk must be whole.
    with pytest.raises(BadRequest):
        chunks.chunk_accept(session=session, stream=io.BytesIO(b"x" * 10), length=1000,
                              index=1, partial_ok=True)
    for each in (session, tus_session):
        each.refresh_from_db()
        assert each.received_bytes == 0 and not each.chunks.exists()


def _token(name: str = "GardenUser") -> str:
    return APIClient().post(
        "/api/v1/auth/tokens", {"userName": name, "password": name, "parameters": {}},
        format="json",
    ).json()["token"]


def _send_cut_short(live_url: str, path: str, headers: dict[str, str], announced: int,
                    body: bytes) -> None:
    """Send a request announcing ``announced`` bytes, send ``body`` (fewer), then hang up."""
    parsed = urlparse(live_url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    try:
        lines = [f"PATCH {path} HTTP/1.1", f"Host: {parsed.netloc}",
                 f"Content-Length: {announced}", "Connection: close"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        time.sleep(0.3)  # let the server read what was sent before the connection drops
        sock.shutdown(socket.SHUT_WR)
    finally:
        sock.close()


def _offset(url: str, auth: dict[str, str], want: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        answer = requests.head(url, headers={**auth, "Tus-Resumable": "1.0.0"}, timeout=10)
        offset = int(answer.headers["Upload-Offset"])
        if offset == want or time.monotonic() > deadline:
            return offset
        time.sleep(0.1)


@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_tus_patch_cut_short_keeps_the_bytes_that_arrived(live_server, demo, storage):
    auth = {"Authorization": f"Bearer {_token()}"}
    data = payload(100_000, seed=21)
    created = requests.post(
        f"{live_server.url}/api/v1/tus/",
        headers={**auth, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data))}, timeout=10,
    )
    assert created.status_code == 201, created.content
    url = created.headers["Location"]
    path = urlparse(url).path
    headers = {**auth, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
               "Content-Type": "application/offset+octet-stream"}
    _send_cut_short(live_server.url, path, headers, len(data), data[:40_000])
    assert _offset(url, auth, 40_000) == 40_000
    rest = requests.patch(
        url, data=data[40_000:], timeout=30,
        headers={**headers, "Upload-Offset": "40000"},
    )
    assert rest.status_code == 204, rest.content
    assert rest.headers["Upload-Offset"] == str(len(data))
    session = UploadSession.objects.get(uid=path.rsplit("/", 1)[-1])
    assert session.state == State.COMPLETED, session.failure_reason
    assert session.stored_file.sha256 == sha(data)


@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_idempiere_chunk_cut_short_keeps_nothing(live_server, demo, storage):
    auth = {"Authorization": f"Bearer {_token()}"}
    data = payload(3000, seed=22)
    created = requests.post(
        f"{live_server.url}/api/v1/uploads", timeout=10, headers=auth,
        json={"fileName": "a.bin", "fileSize": len(data), "chunkSize": 1000},
    )
    upload_id = created.json()["uploadId"]
    path = f"/api/v1/uploads/{upload_id}/chunks/1"
    parsed = urlparse(live_server.url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    lines = [f"PUT {path} HTTP/1.1", f"Host: {parsed.netloc}", "Content-Length: 1000",
             f"Authorization: {auth['Authorization']}", "Connection: close",
             "Content-Type: application/octet-stream"]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data[:400])
    time.sleep(0.3)
    sock.shutdown(socket.SHUT_WR)
    sock.close()
    deadline = time.monotonic() + 10
    session = UploadSession.objects.get(uid=upload_id)
    while session.chunks.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # the claim is dropped once the server sees the body end
    assert not session.chunks.exists()
    session.refresh_from_db()
    assert session.received_bytes == 0


# --- f. one body-stream helper -----------------------------------------------------------------------


def test_one_request_body_stream_helper():
    assert nuxeo.request_body_stream is request_body_stream
    assert tus.request_body_stream is request_body_stream
    assert idempiere.request_body_stream is request_body_stream
    assert not hasattr(idempiere, "_stream_length")


# --- g. re-sent chunks after completion ---------------------------------------------------------------


def test_nuxeo_last_chunk_sent_again_after_completion(garden_user, storage):
    data = payload(3000, seed=23)
    pieces = chunks_of(data, 1000)
    batch_id = new_batch(garden_user)
    for index, piece in enumerate(pieces):
        response = post_chunk(garden_user, batch_id, "0", piece, index, 3, len(data))
    assert response.status_code == 201
    assert stored_bytes(batch_id, "0") == data
    again = post_chunk(garden_user, batch_id, "0", pieces[2], 2, 3, len(data))
    assert again.status_code == 201, again.content
    assert again.json()["uploadedChunkIds"] == [0, 1, 2]
    other = post_chunk(garden_user, batch_id, "0", b"y" * len(pieces[2]), 2, 3, len(data))
    assert other.status_code == 409
    assert UploadSession.objects.filter(batch__uid=batch_id).count() == 1
    assert stored_bytes(batch_id, "0") == data


def test_idempiere_chunk_sent_again_after_completion(garden_user, storage):
    data = payload(3000, seed=24)
    upload_id = upload(garden_user, data, chunk_size=1000)
    session = UploadSession.objects.get(uid=upload_id)
    assert session.state == State.COMPLETED
    pieces = chunks_of(data, 1000)
    again = put_chunk(garden_user, upload_id, 2, pieces[1])
    assert again.status_code == 200, again.content
    assert again.json()["message"] == "Chunk already received." and again.json()["isLastChunk"]
    other = b"z" * 1000
    assert put_chunk(garden_user, upload_id, 2, other).status_code == 409
    session.refresh_from_db()
    assert session.state == State.COMPLETED and session.stored_file.sha256 == sha(data)


# --- 2. result refs and completion hooks -----------------------------------------------------------------


def test_completion_hook_and_image_id(garden_user, storage):
    seen: list[tuple[int, str]] = []

    def make_image(session: UploadSession) -> None:
        seen.append((session.pk, session.state))
        if session.location == "IMAGE":
            services.session_record_result(session=session, imageId=4242)

    def broken(session: UploadSession) -> None:
        raise RuntimeError("a consumer's bug must not fail the upload")

    finalize.register_completion_hook(broken)
    finalize.register_completion_hook(make_image)
    finalize.register_completion_hook(make_image)  # twice: still called once
    try:
        data = payload(1500, seed=25)
        image_upload = upload(garden_user, data, chunk_size=1000, uploadLocation="IMAGE")
        archive_upload = upload(garden_user, payload(10, seed=26), chunk_size=1000,
                                uploadLocation="ARCHIVE")
    finally:
        finalize.unregister_completion_hook(broken)
        finalize.unregister_completion_hook(make_image)
    image_session = UploadSession.objects.get(uid=image_upload)
    assert seen == [(image_session.pk, State.COMPLETED),
                    (UploadSession.objects.get(uid=archive_upload).pk, State.COMPLETED)]
    assert image_session.result_refs == {"imageId": 4242}
    assert garden_user.get(f"/api/v1/uploads/{image_upload}").json()["imageId"] == 4242
    assert "imageId" not in garden_user.get(f"/api/v1/uploads/{archive_upload}").json()
    services.session_record_result(session=image_session, imageId=None, other="x")
    assert UploadSession.objects.get(pk=image_session.pk).result_refs == {"other": "x"}
    assert "imageId" not in garden_user.get(f"/api/v1/uploads/{image_upload}").json()


def test_image_id_only_for_image_location(garden_user, storage):
    upload_id = upload(garden_user, payload(10, seed=27), chunk_size=1000)
    session = UploadSession.objects.get(uid=upload_id)
    services.session_record_result(session=session, imageId=7)
    assert "imageId" not in garden_user.get(f"/api/v1/uploads/{upload_id}").json()
