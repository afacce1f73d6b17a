"""iDempiere uploads over the engine, on local storage and on S3."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.uploads import finalize
from apps.uploads.models import StoredFile, UploadChunk, UploadSession
from tests.uploads.conftest import (
    body_of,
    chunks_of,
    create,
    payload,
    put_chunk,
    sha,
    upload,
)

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(client, upload_id: str) -> dict:
    response = client.get(f"/api/v1/uploads/{upload_id}")
    assert response.status_code == 200, response.content
    return response.json()


def test_out_of_order_chunks_complete_and_serve(garden_user, storage):
    data = payload(10_000)
    upload_id = upload(garden_user, data, chunk_size=1024, order=[10, 3, 1, 2, 5, 4, 9, 8, 7, 6])
    status = status_of(garden_user, upload_id)
    assert status["status"] == "COMPLETED", status
    assert status["totalReceivedSize"] == len(data)
    assert status["sha256"] == sha(data)
    response = garden_user.get(f"/api/v1/uploads/{upload_id}/file")
    assert response.status_code == 200
    assert body_of(response) == data
    assert response["Content-Length"] == str(len(data))
    assert "report.bin" in response["Content-Disposition"]
    as_json = garden_user.get(f"/api/v1/uploads/{upload_id}/file?asJson=true")
    parsed = __import__("json").loads(body_of(as_json))
    assert base64.b64decode(parsed["data"]) == data
    assert parsed["fileName"] == "report.bin"
    session = UploadSession.objects.get(uid=upload_id)
    assert session.stored_file.ref_count == 1
    # Chunk rows stay as receipts (index, size, SHA-256); their bytes are gone.
    assert not UploadChunk.objects.filter(session=session).exclude(storage_key="").exists()


def test_create_answers_presigned_url_with_placeholder(garden_user, storage):
    response = create(garden_user, payload(100), chunk_size=50, uploadLocation="ATTACHMENT")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"uploadId", "chunkSize", "expiresAt", "presignedURL"}
    assert body["chunkSize"] == 50
    assert body["presignedURL"].startswith("http://testserver/api/v1/uploads/")
    assert "/chunks/{chunkOrder}?" in body["presignedURL"]
    listed = garden_user.get("/api/v1/uploads").json()["uploads"]
    assert [u["uploadId"] for u in listed] == [body["uploadId"]]
    assert listed[0]["status"] == "INITIATED"


def test_wrong_chunk_hash_refused_and_nothing_kept(garden_user, storage):
    data = payload(3000)
    upload_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    pieces = chunks_of(data, 1024)
    response = put_chunk(garden_user, upload_id, 2, pieces[1], digest=sha(b"other"))
    assert response.status_code == 422
    assert response.json()["status"] == 422
    session = UploadSession.objects.get(uid=upload_id)
    assert session.received_bytes == 0
    assert not session.chunks.exists()
    assert status_of(garden_user, upload_id)["uploadedChunks"] == []
    # The right bytes afterwards are taken.
    assert put_chunk(garden_user, upload_id, 2, pieces[1]).status_code == 200
    assert status_of(garden_user, upload_id)["uploadedChunks"] == [
        {"chunkOrder": 2, "receivedSize": 1024}
    ]


def test_retry_is_idempotent_other_bytes_conflict(garden_user, storage):
    data = payload(3000)
    upload_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    pieces = chunks_of(data, 1024)
    first = put_chunk(garden_user, upload_id, 1, pieces[0])
    again = put_chunk(garden_user, upload_id, 1, pieces[0])
    assert first.status_code == again.status_code == 200
    assert again.json()["message"] == "Chunk already received."
    other = put_chunk(garden_user, upload_id, 1, bytes(1024))
    assert other.status_code == 409
    session = UploadSession.objects.get(uid=upload_id)
    assert session.received_bytes == 1024
    assert session.chunks.count() == 1
    for n in (2, 3):
        assert put_chunk(garden_user, upload_id, n, pieces[n - 1]).status_code == 200
    assert status_of(garden_user, upload_id)["status"] == "COMPLETED"
    assert body_of(garden_user.get(f"/api/v1/uploads/{upload_id}/file")) == data
    # A retry of the last chunk after completion does not break anything.
    assert put_chunk(garden_user, upload_id, 3, pieces[2]).status_code in (200, 409)


def test_whole_file_hash_mismatch_fails_and_keeps_chunks(garden_user, storage):
    data = payload(2500)
    upload_id = upload(garden_user, data, chunk_size=1024, file_sha=sha(b"something else"))
    status = status_of(garden_user, upload_id)
    assert status["status"] == "FAILED"
    assert "SHA-256 mismatch" in status["message"]
    session = UploadSession.objects.get(uid=upload_id)
    assert session.stored_file is None
    assert session.chunks.count() == 3
    assert not StoredFile.objects.exists()
    response = garden_user.get(f"/api/v1/uploads/{upload_id}/file")
    assert response.status_code == 409


def test_wrong_chunk_lengths_refused(garden_user, storage):
    data = payload(3000)
    upload_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    assert put_chunk(garden_user, upload_id, 1, b"x" * 1025).status_code == 413
    assert put_chunk(garden_user, upload_id, 1, b"x" * 1000).status_code == 400
    assert put_chunk(garden_user, upload_id, 3, b"x" * 953).status_code == 413  # last is 952
    assert put_chunk(garden_user, upload_id, 4, b"x").status_code == 400  # no chunk 4
    assert put_chunk(garden_user, upload_id, 1, data[:1024], total=7).status_code == 400
    assert UploadSession.objects.get(uid=upload_id).received_bytes == 0


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"fileSize": 11 * 1024 * 1024}, 413),
        ({"fileSize": -1}, 400),
        ({"fileSize": 10**30}, 413),
        ({"chunkSize": 7 * 1024 * 1024}, 413),
        ({"chunkSize": 0}, 400),
        ({"fileSize": 1_000_000, "chunkSize": 10}, 400),  # 100000 chunks > UPLOAD_MAX_CHUNKS
        ({"sha256": "nothex"}, 400),
        ({"expiresInSeconds": 10**9}, 400),
        ({"uploadLocation": "NOWHERE"}, 400),
        ({"fileName": ""}, 400),
    ],
)
def test_over_size_and_absurd_values_refused(garden_user, small_limits, changes, status):
    body = {"fileName": "a.bin", "fileSize": 100, "chunkSize": 10}
    body.update(changes)
    response = garden_user.post("/api/v1/uploads", body, format="json")
    assert response.status_code == status, response.content
    assert not UploadSession.objects.exists()


def test_file_names_are_sanitized(garden_user, storage):
    response = create(garden_user, b"abc", chunk_size=3, name="../../etc/pa\x01ss\nwd" + "x" * 500)
    session = UploadSession.objects.get(uid=response.json()["uploadId"])
    assert "/" not in session.file_name and "\x01" not in session.file_name
    assert "\n" not in session.file_name and len(session.file_name) <= 200
    assert str(session.uid) in session.storage_key


def test_expired_session_gone_and_purged(garden_user, storage):
    data = payload(3000)
    upload_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    assert put_chunk(garden_user, upload_id, 1, data[:1024]).status_code == 200
    UploadSession.objects.filter(uid=upload_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert garden_user.get(f"/api/v1/uploads/{upload_id}").status_code == 410
    assert put_chunk(garden_user, upload_id, 2, data[1024:2048]).status_code == 410
    assert garden_user.get("/api/v1/uploads").json() == {"uploads": []}
    session = UploadSession.objects.get(uid=upload_id)
    from apps.uploads import storage as st
    from apps.uploads.services import session_storage

    store = session_storage(session)
    staged = session.chunks.get().storage_key
    assert st.exists(store, session.storage_backend, staged) or session.mode == "parts"
    call_command("purge_uploads", stdout=open("/dev/null", "w"))  # noqa: SIM115
    session.refresh_from_db()
    assert session.state == "EXPIRED"
    assert not session.chunks.exists()
    assert not st.exists(store, session.storage_backend, staged)
    assert garden_user.get(f"/api/v1/uploads/{upload_id}").status_code == 410


def test_cancel_deletes_data(garden_user, storage):
    data = payload(3000)
    upload_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    assert put_chunk(garden_user, upload_id, 1, data[:1024]).status_code == 200
    response = garden_user.delete(f"/api/v1/uploads/{upload_id}")
    assert response.status_code == 200 and response.json()["message"]
    session = UploadSession.objects.get(uid=upload_id)
    assert session.state == "CANCELLED" and not session.chunks.exists()
    # A cancelled upload no longer exists (404); only an expired one answers 410.
    assert garden_user.get(f"/api/v1/uploads/{upload_id}").status_code == 404
    assert put_chunk(garden_user, upload_id, 2, data[1024:2048]).status_code == 404
    assert garden_user.delete(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_identical_content_is_stored_once(garden_user, garden_admin, storage):
    data = payload(5000, seed=7)
    first = upload(garden_user, data, chunk_size=1024)
    second = upload(garden_admin, data, chunk_size=2048, name="copy.bin")
    one = UploadSession.objects.get(uid=first)
    two = UploadSession.objects.get(uid=second)
    assert one.stored_file_id == two.stored_file_id
    assert StoredFile.objects.count() == 1
    assert StoredFile.objects.get().ref_count == 2
    assert body_of(garden_admin.get(f"/api/v1/uploads/{second}/file")) == data
    # Releasing both references frees the bytes.
    garden_user.delete(f"/api/v1/uploads/{first}")
    assert StoredFile.objects.get().ref_count == 1
    garden_admin.delete(f"/api/v1/uploads/{second}")
    assert not StoredFile.objects.exists()


def test_other_user_and_other_tenant_get_404(garden_user, garden_admin, acme_admin, storage):
    data = payload(2000)
    upload_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    for client in (garden_admin, acme_admin):
        assert client.get(f"/api/v1/uploads/{upload_id}").status_code == 404
        assert client.get(f"/api/v1/uploads/{upload_id}/file").status_code == 404
        assert client.delete(f"/api/v1/uploads/{upload_id}").status_code == 404
        assert put_chunk(client, upload_id, 1, data[:1024]).status_code == 404
        assert client.get("/api/v1/uploads").json() == {"uploads": []}
    assert garden_user.get("/api/v1/uploads/not-a-uuid").status_code == 404
    assert APIClient().get(f"/api/v1/uploads/{upload_id}").status_code == 401
    assert put_chunk(APIClient(), upload_id, 1, data[:1024]).status_code == 401


def _with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


def test_presigned_urls(garden_user, storage, monkeypatch):
    data = payload(2048)
    body = create(garden_user, data, chunk_size=1024).json()
    upload_id, template = body["uploadId"], body["presignedURL"]
    anon = APIClient()
    pieces = chunks_of(data, 1024)

    def put(url, piece):
        return anon.put(url, piece, content_type="application/octet-stream",
                        HTTP_X_CONTENT_SHA256=sha(piece))

    url1 = urlsplit(template.replace("{chunkOrder}", "1"))
    assert put(f"{url1.path}?{url1.query}", pieces[0]).status_code == 200
    tampered = _with_query(template.replace("{chunkOrder}", "2"), signature="0" * 64)
    assert put(tampered, pieces[1]).status_code == 403
    widened = _with_query(template.replace("{chunkOrder}", "2"), scope="/api/v1/")
    assert put(widened, pieces[1]).status_code == 403
    other_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    moved = urlsplit(template.replace("{chunkOrder}", "2").replace(upload_id, other_id))
    assert put(f"{moved.path}?{moved.query}", pieces[1]).status_code == 403
    # A GET URL from ?expiresInSeconds reads the status and the file, but cannot PUT.
    get_url = status_of_with_url(garden_user, upload_id)
    assert anon.get(get_url).status_code == 200
    assert put(get_url.replace(f"{upload_id}?", f"{upload_id}/chunks/2?"), pieces[1]).status_code == 403
    # Expired: 410 Gone (DESIGN §3); a tampered URL stays 403 after the expiry too.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 2 * 24 * 3600 + 10)
    url2 = urlsplit(template.replace("{chunkOrder}", "2"))
    expired = put(f"{url2.path}?{url2.query}", pieces[1])
    assert expired.status_code == 410
    assert expired.json() == {"title": "Gone", "status": 410,
                              "detail": "The presigned URL has expired."}
    assert put(tampered, pieces[1]).status_code == 403
    assert UploadSession.objects.get(uid=upload_id).received_bytes == len(pieces[0])
    monkeypatch.setattr(time, "time", real_time)
    assert put(f"{url2.path}?{url2.query}", pieces[1]).status_code == 200
    file_url = get_url.replace(f"{upload_id}?", f"{upload_id}/file?")
    assert body_of(anon.get(file_url)) == data


def status_of_with_url(client, upload_id: str) -> str:
    response = client.get(f"/api/v1/uploads/{upload_id}?expiresInSeconds=60")
    url = urlsplit(response.json()["presignedURL"])
    return f"{url.path}?{url.query}"


def test_file_while_processing_is_409_with_retry_after(garden_user, storage, monkeypatch):
    from apps.uploads import services

    monkeypatch.setattr(services, "finalize_enqueue", lambda session_id: None)
    data = payload(2048)
    upload_id = upload(garden_user, data, chunk_size=1024)
    assert status_of(garden_user, upload_id)["status"] == "PROCESSING"
    response = garden_user.get(f"/api/v1/uploads/{upload_id}/file")
    assert response.status_code == 409 and response["Retry-After"]
    finalize.session_finalize(session_id=UploadSession.objects.get(uid=upload_id).pk)
    assert body_of(garden_user.get(f"/api/v1/uploads/{upload_id}/file")) == data


def test_openapi_schema_has_the_upload_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    chunk = schema["paths"]["/api/v1/uploads/{upload_id}/chunks/{chunk_order}"]["put"]
    assert "application/octet-stream" in chunk["requestBody"]["content"]
    assert "/api/v1/uploads/{upload_id}/file" in schema["paths"]
