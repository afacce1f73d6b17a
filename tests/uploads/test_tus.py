"""tus 1.0 over the engine: protocol details through the test client, on local storage and S3."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.uploads.models import UploadSession
from apps.uploads.stored_files import stored_file_open
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def create(client, length: int | None = None, body: bytes | None = None, metadata: str | None = None,
           **headers):
    extra = dict(TUS)
    if length is not None:
        extra["HTTP_UPLOAD_LENGTH"] = str(length)
    if metadata is None:
        metadata = f"filename {b64('report.bin')},filetype {b64('application/pdf')}"
    if metadata:
        extra["HTTP_UPLOAD_METADATA"] = metadata
    extra.update(headers)
    if body is None:
        return client.post("/api/v1/tus/", **extra)
    return client.post("/api/v1/tus/", body, content_type=OFFSET_STREAM, **extra)


def patch(client, url: str, offset: int, body: bytes, content_type: str = OFFSET_STREAM, **headers):
    extra = {**TUS, "HTTP_UPLOAD_OFFSET": str(offset), **headers}
    return client.patch(url, body, content_type=content_type, **extra)


def head(client, url: str, **headers):
    return client.head(url, **{**TUS, **headers})


def checksum(algo: str, data: bytes) -> str:
    return f"{algo} {base64.b64encode(hashlib.new(algo, data).digest()).decode()}"


def session_of(url: str) -> UploadSession:
    return UploadSession.objects.get(uid=url.rstrip("/").rsplit("/", 1)[-1])


def stored_bytes(url: str) -> bytes:
    session = session_of(url)
    assert session.state == UploadSession.State.COMPLETED, (session.state, session.failure_reason)
    with stored_file_open(session.stored_file) as handle:
        data = handle.read()
    assert session.stored_file.sha256 == sha(data)
    return data


def test_options_advertises_the_server(anon_client, settings):
    settings.UPLOAD_MAX_FILE_SIZE = 12345
    response = anon_client.options("/api/v1/tus/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Tus-Extension"] == (
        "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,"
        "concatenation"
    )
    assert response["Tus-Max-Size"] == "12345"
    assert response["Tus-Checksum-Algorithm"] == "sha1,sha256,md5"
    # Exact header casing on the wire.
    assert "Tus-Max-Size" in dict(response.items())


def test_create_head_patch_complete(garden_user, storage):
    data = payload(30_000)
    response = create(garden_user, len(data))
    assert response.status_code == 201, response.content
    url = response["Location"]
    assert url.startswith("http://testserver/api/v1/tus/")
    assert response["Upload-Offset"] == "0"
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Upload-Expires"].endswith("GMT")

    state = head(garden_user, url)
    assert state.status_code == 200
    assert state["Upload-Offset"] == "0"
    assert state["Upload-Length"] == str(len(data))
    assert state["Cache-Control"] == "no-store"
    assert state["Upload-Metadata"].startswith("filename ")

    first = patch(garden_user, url, 0, data[:10_000])
    assert first.status_code == 204, first.content
    assert first["Upload-Offset"] == "10000"
    assert head(garden_user, url)["Upload-Offset"] == "10000"
    last = patch(garden_user, url, 10_000, data[10_000:])
    assert last.status_code == 204
    assert last["Upload-Offset"] == str(len(data))
    assert stored_bytes(url) == data
    session = session_of(url)
    assert session.dialect == "tus"
    assert session.file_name == "report.bin"
    assert session.content_type == "application/pdf"


def test_creation_with_upload(garden_user, storage):
    data = payload(5000, seed=4)
    response = create(garden_user, len(data), body=data[:3000])
    assert response.status_code == 201, response.content
    assert response["Upload-Offset"] == "3000"
    url = response["Location"]
    assert patch(garden_user, url, 3000, data[3000:]).status_code == 204
    assert stored_bytes(url) == data


def test_creation_with_the_whole_upload_and_checksum(garden_user):
    data = b"all at once"
    response = create(garden_user, len(data), body=data, HTTP_UPLOAD_CHECKSUM=checksum("md5", data))
    assert response.status_code == 201
    assert response["Upload-Offset"] == str(len(data))
    assert stored_bytes(response["Location"]) == data
    bad = create(garden_user, len(data), body=data, HTTP_UPLOAD_CHECKSUM=checksum("md5", b"other"))
    assert bad.status_code == 460
    assert bad.reason_phrase == "Checksum Mismatch"


def test_creation_body_needs_offset_stream(garden_user):
    response = garden_user.post("/api/v1/tus/", b"data", content_type="text/plain",
                                HTTP_UPLOAD_LENGTH="4", **TUS)
    assert response.status_code == 415
    assert not UploadSession.objects.exists()


def test_deferred_length(garden_user, storage):
    data = payload(9000, seed=5)
    response = create(garden_user, HTTP_UPLOAD_DEFER_LENGTH="1")
    assert response.status_code == 201, response.content
    url = response["Location"]
    state = head(garden_user, url)
    assert state["Upload-Defer-Length"] == "1"
    assert "Upload-Length" not in state
    assert patch(garden_user, url, 0, data[:4000]).status_code == 204
    assert session_of(url).state == UploadSession.State.UPLOADING
    last = patch(garden_user, url, 4000, data[4000:], HTTP_UPLOAD_LENGTH=str(len(data)))
    assert last.status_code == 204, last.content
    assert head(garden_user, url)["Upload-Length"] == str(len(data))
    assert stored_bytes(url) == data


def test_deferred_length_declared_by_an_empty_patch(garden_user):
    response = create(garden_user, HTTP_UPLOAD_DEFER_LENGTH="1")
    url = response["Location"]
    assert patch(garden_user, url, 0, b"hello").status_code == 204
    assert patch(garden_user, url, 5, b"", HTTP_UPLOAD_LENGTH="5").status_code == 204
    assert stored_bytes(url) == b"hello"


def test_empty_file(garden_user, storage):
    response = create(garden_user, 0)
    assert response.status_code == 201
    assert stored_bytes(response["Location"]) == b""


@pytest.mark.parametrize("algo", ["sha1", "sha256", "md5"])
def test_checksums(garden_user, storage, algo):
    data = payload(6000, seed=6)
    url = create(garden_user, len(data))["Location"]
    ok = patch(garden_user, url, 0, data[:2000], HTTP_UPLOAD_CHECKSUM=checksum(algo, data[:2000]))
    assert ok.status_code == 204
    bad = patch(garden_user, url, 2000, data[2000:],
                HTTP_UPLOAD_CHECKSUM=checksum(algo, data[2000:] + b"x"))
    assert bad.status_code == 460, bad.content
    assert bad.reason_phrase == "Checksum Mismatch"
    assert bad["Tus-Resumable"] == "1.0.0"
    assert bad.json()["status"] == 460
    # Nothing of the refused body is kept.
    assert head(garden_user, url)["Upload-Offset"] == "2000"
    assert session_of(url).received_bytes == 2000
    rest = patch(garden_user, url, 2000, data[2000:],
                 HTTP_UPLOAD_CHECKSUM=checksum(algo, data[2000:]))
    assert rest.status_code == 204
    assert stored_bytes(url) == data


@pytest.mark.parametrize(
    "header", ["crc32 AAAAAA==", "sha1", "sha1 not-base64!", f"sha1 {base64.b64encode(b'short').decode()}"]
)
def test_bad_checksum_headers(garden_user, header):
    url = create(garden_user, 10)["Location"]
    response = patch(garden_user, url, 0, b"0123456789", HTTP_UPLOAD_CHECKSUM=header)
    assert response.status_code == 400
    assert head(garden_user, url)["Upload-Offset"] == "0"


def test_wrong_offset_content_type_and_overflow(garden_user):
    url = create(garden_user, 10)["Location"]
    assert patch(garden_user, url, 0, b"01234").status_code == 204
    conflict = patch(garden_user, url, 3, b"34567")
    assert conflict.status_code == 409
    assert conflict.json()["status"] == 409
    assert patch(garden_user, url, 0, b"01234").status_code == 409
    wrong_type = patch(garden_user, url, 5, b"56789", content_type="application/octet-stream")
    assert wrong_type.status_code == 415
    assert patch(garden_user, url, 5, b"56789ABC").status_code == 413
    assert head(garden_user, url)["Upload-Offset"] == "5"
    missing = garden_user.patch(url, b"5", content_type=OFFSET_STREAM, **TUS)
    assert missing.status_code == 400
    assert patch(garden_user, url, 5, b"56789").status_code == 204
    assert stored_bytes(url) == b"0123456789"
    # Complete: no more bytes fit.
    assert patch(garden_user, url, 10, b"x").status_code == 413
    assert patch(garden_user, url, 10, b"").status_code == 204


def test_termination(garden_user, storage):
    url = create(garden_user, 10)["Location"]
    assert patch(garden_user, url, 0, b"01234").status_code == 204
    response = garden_user.delete(url, **TUS)
    assert response.status_code == 204
    assert response["Tus-Resumable"] == "1.0.0"
    assert head(garden_user, url).status_code == 404
    assert patch(garden_user, url, 5, b"56789").status_code == 404
    assert garden_user.delete(url, **TUS).status_code == 404
    assert session_of(url).state == UploadSession.State.CANCELLED


def test_expired_upload_is_gone(garden_user):
    url = create(garden_user, 10)["Location"]
    UploadSession.objects.filter(uid=session_of(url).uid).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert head(garden_user, url).status_code == 410
    assert patch(garden_user, url, 0, b"0123456789").status_code == 410
    assert head(garden_user, url.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
                ).status_code == 404
    assert head(garden_user, url.rsplit("/", 1)[0] + "/nope").status_code == 404


def test_tus_resumable_required(garden_user):
    response = garden_user.post("/api/v1/tus/", HTTP_UPLOAD_LENGTH="10")
    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Resumable"] == "1.0.0"
    old = garden_user.post("/api/v1/tus/", HTTP_UPLOAD_LENGTH="10", HTTP_TUS_RESUMABLE="0.2.2")
    assert old.status_code == 412
    url = create(garden_user, 10)["Location"]
    assert garden_user.head(url).status_code == 412
    assert garden_user.patch(url, b"x", content_type=OFFSET_STREAM,
                             HTTP_UPLOAD_OFFSET="0").status_code == 412
    assert not UploadSession.objects.exclude(uid=session_of(url).uid).exists()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),
        ({"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_DEFER_LENGTH": "1"}, 400),
        ({"HTTP_UPLOAD_DEFER_LENGTH": "2"}, 400),
        ({"HTTP_UPLOAD_LENGTH": "-1"}, 400),
        ({"HTTP_UPLOAD_LENGTH": "ten"}, 400),
        ({"HTTP_UPLOAD_LENGTH": str(10**12)}, 413),
        ({"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": "filename not*base64"}, 400),
        ({"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": "a b c"}, 400),
        ({"HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": "a,a"}, 400),
    ],
)
def test_bad_creation_headers(garden_user, small_limits, headers, status):
    response = create(garden_user, metadata="", **headers)
    assert response.status_code == status, response.content
    assert response.json()["status"] == status
    assert not UploadSession.objects.exists()


def test_metadata_names_are_sanitized(garden_user):
    metadata = f"filename {b64('../../etc/pass' + chr(10) + 'wd')},filetype {b64('text/plain')},flag"
    response = create(garden_user, 3, metadata=metadata)
    assert response.status_code == 201, response.content
    assert session_of(response["Location"]).file_name == "passwd"


def test_deferred_upload_bounded_by_max_size(garden_user, settings):
    url = create(garden_user, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    settings.UPLOAD_MAX_FILE_SIZE = 8
    assert patch(garden_user, url, 0, b"0123456789").status_code == 413
    assert head(garden_user, url)["Upload-Offset"] == "0"


def test_other_user_and_tenant_get_404(garden_user, garden_admin, acme_admin, anon_client):
    url = create(garden_user, 10)["Location"]
    for other in (garden_admin, acme_admin):
        assert head(other, url).status_code == 404
        assert patch(other, url, 0, b"0123456789").status_code == 404
        assert other.delete(url, **TUS).status_code == 404
    assert head(anon_client, url).status_code == 401
    assert create(anon_client, 10).status_code == 401
    assert head(garden_user, url)["Upload-Offset"] == "0"


def test_method_override(garden_user):
    url = create(garden_user, 3)["Location"]
    response = garden_user.post(url, b"abc", content_type=OFFSET_STREAM,
                                HTTP_X_HTTP_METHOD_OVERRIDE="PATCH", HTTP_UPLOAD_OFFSET="0", **TUS)
    assert response.status_code == 204
    assert stored_bytes(url) == b"abc"


def test_other_dialects_sessions_are_not_tus(garden_user):
    batch = garden_user.post("/api/v1/upload").json()["batchId"]
    garden_user.post(f"/api/v1/upload/{batch}/0", b"x", content_type="application/octet-stream",
                     HTTP_X_FILE_NAME="a")
    uid = UploadSession.objects.get().uid
    assert head(garden_user, f"/api/v1/tus/{uid}").status_code == 404


def test_large_patch_is_split_into_engine_chunks(garden_user, storage, settings):
    settings.UPLOAD_MAX_CHUNK_SIZE = 4096
    data = payload(10_000, seed=8)
    url = create(garden_user, len(data))["Location"]
    response = patch(garden_user, url, 0, data)
    assert response.status_code == 204, response.content
    assert response["Upload-Offset"] == str(len(data))
    assert stored_bytes(url) == data
    # A checksum covers the whole body, so such a body cannot be split: refused, nothing kept.
    url = create(garden_user, len(data))["Location"]
    refused = patch(garden_user, url, 0, data, HTTP_UPLOAD_CHECKSUM=checksum("sha1", data))
    assert refused.status_code == 413
    assert head(garden_user, url)["Upload-Offset"] == "0"
    deferred = create(garden_user, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    assert patch(garden_user, deferred, 0, data, HTTP_UPLOAD_LENGTH=str(len(data))).status_code == 204
    assert stored_bytes(deferred) == data
