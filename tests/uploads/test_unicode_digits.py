"""Integers of the upload dialects (headers, query parameters): ASCII digits only, a 400 problem
otherwise, never a 500 and never a full-width number read as a number; nothing is created."""

from __future__ import annotations

import pytest

from apps.uploads.models import Batch, UploadChunk, UploadSession
from tests.problems import UNICODE_DIGITS, bad_request
from tests.uploads.conftest import create

pytestmark = pytest.mark.django_db

# ² ① and full-width digits pass str.isdigit(); Arabic-Indic ones int() reads silently.
BAD = [*UNICODE_DIGITS, "1_0", "+5"]


def _latin1(value: str) -> str:
    """What a header value becomes on the wire (WSGI hands headers over as latin-1)."""
    return value.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize("bad", BAD)
def test_nuxeo_batch_headers(garden_user, bad):
    batch = garden_user.post("/api/v1/upload/").json()["batchId"]
    for header in ("HTTP_X_FILE_SIZE", "HTTP_X_UPLOAD_CHUNK_COUNT", "HTTP_X_UPLOAD_CHUNK_INDEX"):
        bad_request(garden_user.post(
            f"/api/v1/upload/{batch}/0", b"ab", content_type="application/octet-stream",
            HTTP_X_FILE_NAME="a.txt", HTTP_X_UPLOAD_TYPE="chunked", **{header: _latin1(bad)},
        ))
    assert not UploadSession.objects.filter(batch__uid=batch).exists()
    assert Batch.objects.filter(uid=batch).exists()


@pytest.mark.parametrize("bad", BAD)
def test_tus_headers(garden_user, bad):
    tus = {"HTTP_TUS_RESUMABLE": "1.0.0"}
    before = UploadSession.objects.count()
    bad_request(garden_user.post("/api/v1/tus/", **tus, HTTP_UPLOAD_LENGTH=_latin1(bad)))
    assert UploadSession.objects.count() == before
    created = garden_user.post("/api/v1/tus/", **tus, HTTP_UPLOAD_LENGTH="4")
    location = created["Location"].split("/api/v1/", 1)[1]
    bad_request(garden_user.patch(
        f"/api/v1/{location}", b"abcd", content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=_latin1(bad), **tus,
    ))
    assert not UploadChunk.objects.filter(session__uid=location.rsplit("/", 1)[-1]).exists()


@pytest.mark.parametrize("bad", BAD)
def test_idempiere_total_chunks_and_expiry(garden_user, bad):
    upload_id = create(garden_user, b"abcd", chunk_size=4).json()["uploadId"]
    bad_request(garden_user.put(
        f"/api/v1/uploads/{upload_id}/chunks/1", b"abcd", content_type="application/octet-stream",
        HTTP_X_TOTAL_CHUNKS=_latin1(bad),
    ))
    assert not UploadChunk.objects.filter(session__uid=upload_id).exists()
    if not bad.startswith("+"):  # a signed number of seconds is a number (<= 0: no URL)
        bad_request(garden_user.get(f"/api/v1/uploads/{upload_id}", {"expiresInSeconds": bad}))
