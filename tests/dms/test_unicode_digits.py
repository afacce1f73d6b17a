"""Ids and integers of the document dialects: ASCII digits only, a 400 problem otherwise (never a
500, never a silently accepted full-width number)."""

from __future__ import annotations

import pytest

from apps.dms.models import DMSFile
from tests.problems import UNICODE_DIGITS, bad_request

pytestmark = pytest.mark.django_db

BAD = UNICODE_DIGITS


@pytest.mark.parametrize("bad", BAD)
def test_axelor_file_ids(garden_user, bad):
    bad_request(garden_user.get(f"/ws/dms/download/{bad}"))
    bad_request(garden_user.delete(f"/ws/dms/files/{bad}"))
    bad_request(garden_user.delete(f"/ws/rest/com.axelor.dms.db.DMSFile/{bad}"))
    bad_request(garden_user.get("/ws/dms/files", {"parent": bad}))


@pytest.mark.parametrize("bad", BAD)
def test_axelor_folder_parent(garden_user, bad):
    before = DMSFile.objects.count()
    bad_request(garden_user.post("/ws/dms/files", {"fileName": "x", "isDirectory": True,
                                                   "parent": {"id": bad}}, format="json"))
    assert DMSFile.objects.count() == before


@pytest.mark.parametrize("header", ["HTTP_X_FILE_SIZE", "HTTP_X_FILE_OFFSET"])
@pytest.mark.parametrize("bad", [*BAD, "１０", "1_0", "+10"])
def test_axelor_upload_headers(garden_user, header, bad):
    from apps.uploads.models import UploadSession

    headers = {"HTTP_X_FILE_NAME": "a.bin", "HTTP_X_FILE_OFFSET": "0", "HTTP_X_FILE_SIZE": "10",
               header: bad}
    response = garden_user.post("/ws/files/upload", b"0123456789",
                                content_type="application/octet-stream", **headers)
    bad_request(response)
    assert not UploadSession.objects.exists()


def _twake(client) -> str:
    return f"/internal/services/files/v1/companies/{client.tokens['clientId']}/files"


@pytest.mark.parametrize("param", ["total_size", "total_chunks"])
@pytest.mark.parametrize("bad", [*BAD, "１０"])
def test_twake_query_integers(garden_user, param, bad):
    params = {"filename": "a.bin", "total_size": "10", "total_chunks": "1", param: bad}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    before = DMSFile.objects.count()
    bad_request(garden_user.post(f"{_twake(garden_user)}?{query}"))
    assert DMSFile.objects.count() == before


@pytest.mark.parametrize("bad", BAD)
def test_twake_file_ids(garden_user, bad):
    bad_request(garden_user.get(f"{_twake(garden_user)}/{bad}"))
    bad_request(garden_user.get(f"{_twake(garden_user)}/{bad}/download"))
