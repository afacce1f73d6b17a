"""Hostile inputs at the upload edges: content types that are not media types (refused at session
creation by every dialect, served as octet-stream when an old row has one) and presigned URL
parameters that are malformed, tampered with or expired (403 / 410, never 500)."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.core import signing
from apps.core.errors import Forbidden, Gone
from apps.uploads.models import Batch, UploadSession
from tests.uploads.conftest import body_of, chunks_of, create, payload, sha, upload

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}

BAD_CONTENT_TYPES = [
    "text/plain\r\nX-Injected: 1",
    "text/plain\nX-Injected: 1",
    "text/plain\rX-Injected: 1",
    "text/html\x0bx",
    "text",
    "text/",
    "/plain",
    "text/pl ain",
    "text/plain; charset",
    'text/plain; charset="open',
    "text/plain, text/html",
    "tëxt/plain",
    "image/png" + "; a=b" * 60,  # longer than 255 characters
]


def _assert_problem(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"title", "status", "detail"}
    assert body["status"] == status
    for word in words:
        assert word in str(body["detail"])
    return body


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


# --- Content types at session creation ---------------------------------------------------------------


@pytest.mark.parametrize("content_type", BAD_CONTENT_TYPES)
def test_idempiere_refuses_a_content_type_that_is_no_media_type(garden_user, content_type):
    response = create(garden_user, payload(100), chunk_size=100, contentType=content_type)
    _assert_problem(response, 400, "contentType")
    assert not UploadSession.objects.exists()


@pytest.mark.parametrize(("given", "stored"), [
    ("Text/PLAIN; charset=UTF-8", "text/plain; charset=UTF-8"),
    ('multipart/mixed;boundary="a b;c"', 'multipart/mixed;boundary="a b;c"'),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("  image/PNG  ", "image/png"),
    ("", ""),
])
def test_idempiere_keeps_a_media_type_with_type_and_subtype_lower_cased(garden_user, given, stored):
    response = create(garden_user, payload(100), chunk_size=100, contentType=given)
    assert response.status_code == 201, response.content
    assert UploadSession.objects.get(uid=response.json()["uploadId"]).content_type == stored


@pytest.mark.parametrize("content_type", ["text/plain\r\nX-Injected: 1", "plain", "a/b/c"])
def test_tus_refuses_a_filetype_that_is_no_media_type(garden_user, content_type):
    metadata = f"filename {_b64('a.txt')},filetype {_b64(content_type)}"
    response = garden_user.post(
        "/api/v1/tus/", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA=metadata, **TUS
    )
    _assert_problem(response, 400, "filetype")
    assert not UploadSession.objects.exists()


def test_tus_lower_cases_the_filetype(garden_user):
    metadata = f"filename {_b64('a.txt')},filetype {_b64('Text/Plain')}"
    response = garden_user.post(
        "/api/v1/tus/", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA=metadata, **TUS
    )
    assert response.status_code == 201, response.content
    assert UploadSession.objects.get().content_type == "text/plain"


@pytest.mark.parametrize("upload_type", ["normal", "chunked"])
def test_nuxeo_refuses_an_x_file_type_that_is_no_media_type(garden_user, upload_type):
    batch_id = garden_user.post("/api/v1/upload").json()["batchId"]
    headers = {"HTTP_X_FILE_NAME": "a.txt", "HTTP_X_FILE_TYPE": "text/plain\r\nX-Injected: 1",
               "HTTP_X_FILE_SIZE": "5", "HTTP_X_UPLOAD_TYPE": upload_type}
    if upload_type == "chunked":
        headers.update(HTTP_X_UPLOAD_CHUNK_INDEX="0", HTTP_X_UPLOAD_CHUNK_COUNT="1")
    response = garden_user.post(
        f"/api/v1/upload/{batch_id}/0", b"hello", content_type="application/octet-stream",
        **headers,
    )
    _assert_problem(response, 400, "X-File-Type")
    assert not UploadSession.objects.exists()
    assert Batch.objects.filter(uid=batch_id).exists()


def test_twake_type_is_checked_by_the_session_service(garden_user, demo):
    """The Twake view (apps.dms) opens its upload through ``services.session_create``."""
    from apps.accounts.models import Client
    from apps.dms.models import DMSFile

    garden = Client.objects.get(name="GardenWorld")
    base = f"/internal/services/files/v1/companies/{garden.pk}/files"
    bad = quote("text/plain\r\nX-Injected: 1", safe="")
    response = garden_user.post(f"{base}?filename=a.txt&type={bad}&total_chunks=1&total_size=5")
    _assert_problem(response, 400, "type")
    assert not UploadSession.objects.exists()
    assert not DMSFile.objects.filter(name="a.txt").exists()
    single = garden_user.post(
        base, {"file": SimpleUploadedFile("b.txt", b"hello", "text/plain\x0bjunk")},
        format="multipart",
    )
    _assert_problem(single, 400, "type")
    assert not UploadSession.objects.exists()
    assert not DMSFile.objects.filter(name="b.txt").exists()


# --- Content types of old rows at download -------------------------------------------------------------


def test_a_stored_content_type_that_is_no_header_value_downloads_as_octet_stream(garden_user, storage):
    data = payload(300)
    upload_id = upload(garden_user, data, chunk_size=300)
    session = UploadSession.objects.get(uid=upload_id)
    assert session.state == UploadSession.State.COMPLETED
    # A row written before content types were checked.
    UploadSession.objects.filter(pk=session.pk).update(content_type="text/plain\r\nX-Injected: 1")
    response = garden_user.get(f"/api/v1/uploads/{upload_id}/file")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert "X-Injected" not in response
    assert body_of(response) == data


# --- Presigned URLs --------------------------------------------------------------------------------------


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


@pytest.fixture
def signed_chunk(garden_user, storage):
    """An upload of two chunks, its chunk URL template and the chunks."""
    data = payload(2048)
    body = create(garden_user, data, chunk_size=1024).json()
    return body["uploadId"], body["presignedURL"], chunks_of(data, 1024)


def _put(url: str, piece: bytes):
    return APIClient().put(url, piece, content_type="application/octet-stream",
                           HTTP_X_CONTENT_SHA256=sha(piece))


@pytest.mark.parametrize("changes", [
    {"signature": "é" * 64},
    {"signature": "\u0663" * 64},
    {"signature": "0" * 63},
    {"signature": "A" * 64},
    {"signature": ""},
    {"expires": "soon"},
    {"expires": "-5"},
    {"expires": "9" * 5000},
    {"expires": "1e12"},
    {"expires": ""},
    {"scope": ""},
    {"scope": "é/"},
])
def test_malformed_presigned_parameters_are_403_and_write_nothing(signed_chunk, changes):
    upload_id, template, pieces = signed_chunk
    url = _with_query(template.replace("{chunkOrder}", "1"), **changes)
    response = _put(url, pieces[0])
    _assert_problem(response, 403)
    session = UploadSession.objects.get(uid=upload_id)
    assert session.received_bytes == 0 and not session.chunks.exists()


def test_non_ascii_signature_on_a_get_is_403(signed_chunk):
    upload_id, _template, _pieces = signed_chunk
    query = f"expires={int(time.time()) + 60}&scope=/api/v1/uploads/{upload_id}&signature=%C3%A9"
    response = APIClient().get(f"/api/v1/uploads/{upload_id}?{query}")
    _assert_problem(response, 403)


def test_tampered_presigned_url_is_403_even_when_expired(signed_chunk, monkeypatch):
    upload_id, template, pieces = signed_chunk
    tampered = _with_query(template.replace("{chunkOrder}", "1"), signature="0" * 64)
    _assert_problem(_put(tampered, pieces[0]), 403)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 2 * 24 * 3600)
    _assert_problem(_put(tampered, pieces[0]), 403)
    # A later expiry than the one signed is a tampered URL too, not an expired one.
    url = urlsplit(template.replace("{chunkOrder}", "1"))
    expires = int(dict(parse_qsl(url.query))["expires"])
    _assert_problem(_put(_with_query(url.geturl(), expires=str(expires + 3600)), pieces[0]), 403)
    assert not UploadSession.objects.get(uid=upload_id).chunks.exists()


def test_expired_presigned_url_is_410_and_writes_nothing(signed_chunk, monkeypatch):
    upload_id, template, pieces = signed_chunk
    url = urlsplit(template.replace("{chunkOrder}", "1"))
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 2 * 24 * 3600)
    _assert_problem(_put(f"{url.path}?{url.query}", pieces[0]), 410, "expired")
    assert not UploadSession.objects.get(uid=upload_id).chunks.exists()
    monkeypatch.setattr(time, "time", real_time)
    assert _put(f"{url.path}?{url.query}", pieces[0]).status_code == 200


def test_verify_checks_the_signature_before_the_expiry():
    params = signing.sign_params(method="PUT", scope="/x/", subject="s", expires_in=60)
    signing.verify(method="PUT", path="/x/1", subject="s", params=params)
    expired = {**params, "expires": "1000"}
    with pytest.raises(Forbidden):  # the expiry is signed: changing it is tampering
        signing.verify(method="PUT", path="/x/1", subject="s", params=expired)
    past = signing.sign_params(method="PUT", scope="/x/", subject="s", expires_in=1)
    real = time.time()
    import unittest.mock

    with unittest.mock.patch.object(time, "time", lambda: real + 3600):
        with pytest.raises(Gone):
            signing.verify(method="PUT", path="/x/1", subject="s", params=past)
        with pytest.raises(Forbidden):
            signing.verify(method="GET", path="/x/1", subject="s", params=past)
        with pytest.raises(Forbidden):
            signing.verify(method="PUT", path="/y/1", subject="s", params=past)
