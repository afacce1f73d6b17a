"""``GET /api/v1/uploads/{uploadId}/file``: streamed with Range, ETag/If-None-Match and a safe
Content-Disposition; ``?asJson=true`` bounded by UPLOAD_ASJSON_MAX_BYTES; on local storage and S3."""

from __future__ import annotations

import base64
import json

import pytest
from rest_framework.test import APIClient

from apps.core import signing
from apps.uploads.models import UploadSession
from tests.uploads.conftest import body_of, create, payload, put_chunk, sha, upload

pytestmark = pytest.mark.django_db(transaction=True)
SIZE = 10_000


@pytest.fixture
def uploaded(garden_user, storage):
    data = payload(SIZE, seed=41)
    upload_id = upload(garden_user, data, chunk_size=4096, name='Fac"ture été\r\n.bin')
    return upload_id, data


def _file(client, upload_id: str, query: str = "", **headers):
    return client.get(f"/api/v1/uploads/{upload_id}/file{query}", **headers)


def test_whole_file_with_etag_and_safe_disposition(garden_user, uploaded):
    upload_id, data = uploaded
    response = _file(garden_user, upload_id)
    assert response.status_code == 200
    assert response.streaming
    assert body_of(response) == data
    assert response["Content-Length"] == str(SIZE)
    assert response["ETag"] == f'"{sha(data)}"'
    assert response["Accept-Ranges"] == "bytes"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "\r" not in disposition and "\n" not in disposition
    assert "filename*=UTF-8''" in disposition and "%C3%A9" in disposition
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 99),  # first bytes
    ("bytes=4000-5999", 4000, 5999),  # middle
    ("bytes=9990-", 9990, SIZE - 1),  # to the end
    ("bytes=9000-20000", 9000, SIZE - 1),  # last, clipped to the size
    ("bytes=-25", SIZE - 25, SIZE - 1),  # suffix
    ("bytes=-50000", 0, SIZE - 1),  # suffix longer than the file
])
def test_single_range_is_206(garden_user, uploaded, header, start, end):
    upload_id, data = uploaded
    response = _file(garden_user, upload_id, HTTP_RANGE=header)
    assert response.status_code == 206
    assert body_of(response) == data[start:end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["ETag"] == f'"{sha(data)}"'


@pytest.mark.parametrize("header", ["bytes=10000-", "bytes=20000-30000", "bytes=-0"])
def test_unsatisfiable_range_is_416(garden_user, uploaded, header):
    upload_id, _ = uploaded
    response = _file(garden_user, upload_id, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert response.json()["status"] == 416


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=50-10", "items=0-5", "bytes=x-y"])
def test_multi_or_malformed_range_sends_the_whole_file(garden_user, uploaded, header):
    """Policy: several ranges (or a malformed/inverted one) are ignored: 200 with every byte."""
    upload_id, data = uploaded
    response = _file(garden_user, upload_id, HTTP_RANGE=header)
    assert response.status_code == 200
    assert body_of(response) == data
    assert "Content-Range" not in response


def test_if_none_match_answers_304_and_if_range(garden_user, uploaded):
    upload_id, data = uploaded
    etag = f'"{sha(data)}"'
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = _file(garden_user, upload_id, HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response["ETag"] == etag
        assert body_of(response) == b""
    assert _file(garden_user, upload_id, HTTP_IF_NONE_MATCH='"stale"').status_code == 200
    # If-Range: the range only while the ETag still matches, else the whole file.
    ranged = _file(garden_user, upload_id, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert ranged.status_code == 206 and body_of(ranged) == data[:10]
    whole = _file(garden_user, upload_id, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"stale"')
    assert whole.status_code == 200 and body_of(whole) == data


def test_head_answers_headers_only(garden_user, uploaded):
    upload_id, _data = uploaded
    response = garden_user.head(f"/api/v1/uploads/{upload_id}/file", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206
    assert response["Content-Length"] == "10"
    assert body_of(response) == b""


def test_as_json_small_file(garden_user, uploaded):
    upload_id, data = uploaded
    response = _file(garden_user, upload_id, "?asJson=true")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    parsed = json.loads(body_of(response))
    assert base64.b64decode(parsed["data"]) == data
    assert parsed["fileName"] == UploadSession.objects.get(uid=upload_id).file_name
    assert parsed["contentType"] == "application/octet-stream"


def test_as_json_over_the_cap_is_413(garden_user, uploaded, settings):
    upload_id, data = uploaded
    settings.UPLOAD_ASJSON_MAX_BYTES = SIZE - 1
    response = _file(garden_user, upload_id, "?asJson=true")
    assert response.status_code == 413
    problem = response.json()
    assert problem["status"] == 413
    assert "asJson" in problem["detail"] and str(SIZE - 1) in problem["detail"]
    # The bytes themselves are still served.
    assert body_of(_file(garden_user, upload_id)) == data
    settings.UPLOAD_ASJSON_MAX_BYTES = SIZE  # exactly at the cap: allowed
    assert _file(garden_user, upload_id, "?asJson=true").status_code == 200


def test_as_json_default_cap_is_10_mib(settings):
    from apps.uploads.dialects import idempiere

    if hasattr(settings, "UPLOAD_ASJSON_MAX_BYTES"):
        del settings.UPLOAD_ASJSON_MAX_BYTES
    assert idempiere._asjson_max_bytes() == 10 * 1024 * 1024


def test_other_user_other_tenant_and_anonymous(garden_admin, acme_admin, uploaded):
    upload_id, _ = uploaded
    for client in (garden_admin, acme_admin):
        assert _file(client, upload_id).status_code == 404
        assert _file(client, upload_id, "?asJson=true").status_code == 404
        assert _file(client, upload_id, HTTP_RANGE="bytes=0-9").status_code == 404
    assert _file(APIClient(), upload_id).status_code == 401


def test_presigned_get_serves_ranges(uploaded):
    upload_id, data = uploaded
    path = f"/api/v1/uploads/{upload_id}"
    query = signing.sign_query(method="GET", scope=path, subject=upload_id, expires_in=60)
    response = APIClient().get(f"{path}/file?{query}", HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206, response.content
    assert body_of(response) == data[100:200]


def test_processing_is_409_with_retry_after(garden_user, storage, monkeypatch):
    from apps.uploads import services

    monkeypatch.setattr(services, "finalize_enqueue", lambda session_id: None)
    data = payload(2048, seed=42)
    upload_id = upload(garden_user, data, chunk_size=1024)
    assert UploadSession.objects.get(uid=upload_id).state == UploadSession.State.PROCESSING
    for query in ("", "?asJson=true"):
        response = _file(garden_user, upload_id, query, HTTP_RANGE="bytes=0-9")
        assert response.status_code == 409
        assert int(response["Retry-After"]) > 0
        assert "processed" in response.json()["detail"]


def test_unfinished_or_failed_upload_is_a_clear_409(garden_user, storage):
    data = payload(2048, seed=43)
    upload_id = create(garden_user, data, chunk_size=1024).json()["uploadId"]
    response = _file(garden_user, upload_id)
    assert response.status_code == 409 and "Retry-After" not in response
    assert response.json()["detail"]
    assert put_chunk(garden_user, upload_id, 1, data[:1024]).status_code == 200
    response = _file(garden_user, upload_id)
    assert response.status_code == 409 and "Receiving" in response.json()["detail"]
    UploadSession.objects.filter(uid=upload_id).update(
        state=UploadSession.State.FAILED, failure_reason="SHA-256 mismatch"
    )
    response = _file(garden_user, upload_id)
    assert response.status_code == 409 and "SHA-256 mismatch" in response.json()["detail"]


def test_empty_file(garden_user, storage):
    upload_id = upload(garden_user, b"", chunk_size=1024)
    response = _file(garden_user, upload_id)
    assert response.status_code == 200 and body_of(response) == b""
    assert response["Content-Length"] == "0"
    assert _file(garden_user, upload_id, HTTP_RANGE="bytes=0-").status_code == 416
    assert json.loads(body_of(_file(garden_user, upload_id, "?asJson=true")))["data"] == ""
