"""Text PostgreSQL refuses (a NUL, a lone surrogate) and ids in other digits, across the API and
the document dialects: a 400 problem body wherever they come in (path, query string, header,
cookie, JSON body), never a driver error (a DataError on PostgreSQL was a 500); file names that
carry one are cleaned by the engine's rule; binary bodies (which hold NUL bytes) go through
untouched. Run on SQLite and on PostgreSQL (the DataError only shows there)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.accounts.models import Client
from apps.dms.models import DMSFile
from apps.erp.models import Order
from apps.uploads.models import UploadSession
from tests.problems import bad_request
from tests.uploads.conftest import create, put_chunk, sha

pytestmark = pytest.mark.django_db

SUPERSCRIPT_TWO = "\u00b2"
ARABIC_TWELVE = "\u0661\u0662"


@pytest.fixture
def local_storage(settings, tmp_path):
    storages = dict(settings.STORAGES)
    storages["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
    }
    settings.STORAGES = storages
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGE_BACKEND = "local"


@pytest.fixture
def order(demo) -> Order:
    return Order.objects.filter(client__name="GardenWorld").order_by("id").first()


@pytest.fixture
def garden(demo) -> Client:
    return Client.objects.get(name="GardenWorld")


def refused(response, *words: str) -> dict:
    """A 400 problem+json body naming what was refused."""
    body = bad_request(response)
    for word in words:
        assert word in body["detail"], body
    return body


# --- the URL -----------------------------------------------------------------------------------------


def test_an_attachment_name_with_a_nul_is_a_400(garden_user, order, local_storage):
    """The probe's finding: ``.../attachments/1%00`` was a DataError on PostgreSQL."""
    answer = garden_user.post(f"/api/v1/models/c_order/{order.pk}/attachments", {
        "name": "1", "data": base64.b64encode(b"one").decode()}, format="json")
    assert answer.status_code == 201, answer.content
    base = f"/api/v1/models/c_order/{order.pk}/attachments"
    refused(garden_user.get(f"{base}/1%00"), "URL path", "NUL")
    refused(garden_user.delete(f"{base}/1%00"), "NUL")
    refused(garden_user.get(f"{base}/%00"), "NUL")
    assert garden_user.get(f"{base}/1").status_code == 200
    assert DMSFile.objects.filter(name="1", record_id=order.pk).count() == 1


def test_nul_in_query_options(garden_user, order):
    url = "/api/v1/models/c_order"
    for option, value in [
        ("$filter", "DocumentNo eq '1%00'"), ("$filter", "contains(DocumentNo,'%00')"),
        ("$select", "DocumentNo%00"), ("$select", "%00"), ("$orderby", "DocumentNo%00"),
        ("$expand", "C_OrderLine(%00)"), ("$top", "1%00"), ("$skip", "%00"), ("$count", "true%00"),
        ("showsql", "%00"), ("unknown", "%00"),
    ]:
        refused(garden_user.get(f"{url}?{option}={value.replace(' ', '%20')}"), f"'{option}'", "NUL")
        refused(garden_user.get(f"{url}/{order.pk}?{option}={value.replace(' ', '%20')}"), "NUL")
    body = refused(garden_user.get(f"{url}?a%00b=1"), "query parameter name", "NUL")
    assert "a\\u0000b" in body["detail"]


def test_ids_in_other_digits_in_api_paths(garden_user, order, garden):
    """A path id is ASCII digits (or the key the route takes): ``²`` and ``١٢`` are a 400 or a 404,
    never a 500 and never read as 2 or 12."""
    paths = [
        "/api/v1/models/c_order/{id}",
        "/api/v1/models/c_order/{id}/attachments",
        "/api/v1/models/c_order/{id}/attachments/zip",
        f"/api/v1/models/c_order/{order.pk}/attachments/{{id}}",
        "/api/v1/models/c_order/{id}/c_orderline",
        "/api/v1/uploads/{id}",
        "/api/v1/upload/{id}",
        "/api/v1/tus/{id}",
        "/api/v1/id/{id}",
        "DELETE /ws/dms/files/{id}",
        "/ws/dms/download/{id}",
        "DELETE /ws/rest/com.axelor.dms.db.DMSFile/{id}",
        "/ws/dms/attachments/c_order/{id}",
        "POST /internal/services/files/v1/companies/{id}/files",
        f"/internal/services/files/v1/companies/{garden.pk}/files/{{id}}",
        "/api/v1/files/{id}",
    ]
    failures = []
    for route in paths:
        method, _, template = route.rpartition(" ")
        for value in (SUPERSCRIPT_TWO, ARABIC_TWELVE, "\uff11", "1\x00"):
            answer = garden_user.generic(method or "GET", template.format(id=quote(value)))
            expected = {400} if value == "1\x00" else {400, 404}
            if answer.status_code not in expected:
                failures.append((template, value, answer.status_code))
            else:
                assert answer["Content-Type"].startswith("application/problem+json"), template
    assert not failures, failures
    # The same record in Arabic-Indic digits is no record (it was never read as its ASCII id).
    assert garden_user.get(f"/api/v1/models/c_order/{order.pk}").status_code == 200
    other_digits = "".join(chr(0x0660 + int(d)) for d in str(order.pk))
    assert garden_user.get(f"/api/v1/models/c_order/{quote(other_digits)}").status_code in (400, 404)


def test_nul_in_document_dialect_urls(garden_user, garden):
    failures = []
    for path in [
        "/api/v1/path/default-domain%00", "/api/v1/path/default-domain/workspaces%00/",
        "/api/v1/repo/default%00/path/default-domain", "/api/v1/id/%00", "/api/v1/id/1%00/@children",
        "/ws/dms/files?parent=1%00", "/ws/dms/files/1%00", "/ws/dms/attachments/c_order%00/1",
        f"/internal/services/files/v1/companies/{garden.pk}%00/files",
        f"/internal/services/files/v1/companies/{garden.pk}/files/1%00",
        "/api/v1/uploads/%00", "/api/v1/upload/%00", "/api/v1/tus/%00", "/api/v1/files/%00",
        "/api/v1/processes/%00", "/api/v1/workflow/%00", "/api/v1/webhooks/%00",
    ]:
        answer = garden_user.get(path)
        if answer.status_code != 400 or "NUL" not in answer.json().get("detail", ""):
            failures.append((path, answer.status_code))
    assert not failures, failures


def test_nul_outside_the_api_is_a_problem_too(client, demo):
    refused(client.get("/admin/login/?next=%00"), "NUL")
    refused(client.get("/api/docs/?x=%00"), "NUL")
    refused(client.get("/%00"), "NUL")


# --- headers and cookies ------------------------------------------------------------------------------


def test_a_raw_nul_in_a_header_is_a_400(garden_user, garden):
    refused(garden_user.get("/api/v1/models/c_order", HTTP_X_ANYTHING="a\x00b"), "header", "NUL")
    refused(garden_user.post("/api/v1/tus/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="4",
                             HTTP_UPLOAD_METADATA="filename a\x00"), "Upload-Metadata", "NUL")
    refused(garden_user.post("/ws/files/upload", b"ab", content_type="application/octet-stream",
                             HTTP_X_FILE_NAME="a\x00b.txt", HTTP_X_FILE_SIZE="2"), "X-File-Name", "NUL")
    assert not UploadSession.objects.exists()


def test_a_session_cookie_with_a_nul_is_a_400(client, demo):
    """A quoted cookie's octal escape (``"\\000..."``) decodes to a NUL: the session lookup would
    have met it."""
    cookie = 'sessionid="\\000abcdefghijklmnop"'
    page = client.get("/ui/documents/", HTTP_COOKIE=cookie)
    assert page.status_code == 400 and b"NUL" in page.content and b"<html" in page.content
    refused(client.get("/api/v1/health", HTTP_COOKIE=cookie), "cookie", "NUL")


def test_file_names_with_a_nul_are_cleaned(garden_user, garden, local_storage):
    """Names that decode to a NUL inside a header's own encoding (tus base64, Nuxeo's URL
    encoding, a multipart part) reach the engine, which drops it as every control character."""
    encoded = base64.b64encode(b"tu\x00s.txt").decode()
    tus = garden_user.post(
        "/api/v1/tus/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="2",
        HTTP_UPLOAD_METADATA=f"filename {encoded}",
    )
    assert tus.status_code == 201, tus.content
    assert UploadSession.objects.get(uid=tus["Location"].rstrip("/").rsplit("/", 1)[-1]).file_name == "tus.txt"

    batch = garden_user.post("/api/v1/upload/").json()["batchId"]
    nuxeo = garden_user.post(f"/api/v1/upload/{batch}/0", b"ab", content_type="application/octet-stream",
                             HTTP_X_FILE_NAME="nu%00xeo.txt")
    assert nuxeo.status_code == 201, nuxeo.content
    assert UploadSession.objects.get(batch__uid=batch).file_name == "nuxeo.txt"

    twake = garden_user.post(
        f"/internal/services/files/v1/companies/{garden.pk}/files",
        {"file": SimpleUploadedFile("tw\x00ake.txt", b"twake", "text/plain")}, format="multipart",
    )
    assert twake.status_code == 200, twake.content
    assert twake.json()["resource"]["metadata"]["name"] == "twake.txt"

    idempiere = create(garden_user, b"ab", chunk_size=2, name="idem\x00piere.txt")
    refused(idempiere, "NUL")  # a JSON body: refused by the parser before any name is cleaned


# --- JSON bodies ---------------------------------------------------------------------------------------


def test_json_strings_with_a_nul_or_a_lone_surrogate_are_a_400(garden_user, garden_admin, order):
    url = "/api/v1/models/c_bpartner"
    for raw, words in [
        ('{"Name": "a\\u0000", "Value": "y"}', ("'Name'", "NUL")),
        ('{"Name": "x", "Value": "y", "C_BP_Group_ID": {"identifier": "\\u0000"}}', ("'identifier'", "NUL")),
        ('{"Name": "x", "Va\\u0000lue": "y"}', ("member name", "NUL")),
        ('{"Name": "\\ud800", "Value": "y"}', ("'Name'", "lone surrogate")),
        ('{"Name": "x", "\\udfff": 1}', ("member name", "lone surrogate")),
        ('{"Name": "x", "List": [1, ["\\u0000"]]}', ("'List'", "NUL")),
    ]:
        refused(garden_user.generic("POST", url, raw, content_type="application/json"), *words)
    refused(garden_user.generic("PUT", f"/api/v1/models/c_order/{order.pk}", '{"Description": "\\u0000"}',
                                content_type="application/json"), "NUL")
    refused(garden_user.generic("POST", "/api/v1/batch",
                                '[{"method": "GET", "path": "models/c_order?$filter=DocumentNo eq \'\\u0000\'"}]',
                                content_type="application/json"), "NUL")
    refused(garden_admin.generic("POST", "/api/v1/webhooks", '{"url": "https://example.com/\\u0000"}',
                                content_type="application/json"), "NUL")
    # A NUL spelled out (an escaped backslash, then "u0000") is only text.
    answer = garden_user.generic("PUT", f"/api/v1/models/c_order/{order.pk}", '{"Description": "\\\\u0000"}',
                                 content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert Order.objects.get(pk=order.pk).description == "\\u0000"
    # A surrogate pair is one character, not two lone ones.
    answer = garden_user.generic("PUT", f"/api/v1/models/c_order/{order.pk}",
                                 json.dumps({"Description": "\U0001f600"}), content_type="application/json")
    assert answer.status_code == 200, answer.content


def test_sign_in_with_a_nul_is_a_400(demo):
    api = APIClient()
    refused(api.generic("POST", "/api/v1/auth/tokens", '{"userName": "GardenUser\\u0000", "password": "x"}',
                        content_type="application/json"), "NUL")
    # HTTP Basic: the NUL is inside the base64 credentials, which the user lookup meets.
    basic = base64.b64encode(b"Garden\x00User:GardenUser").decode()
    refused(api.get("/api/v1/models/c_order", HTTP_AUTHORIZATION=f"Basic {basic}"), "Basic", "NUL")
    basic = base64.b64encode(b"GardenUser:Garden\x00User").decode()
    refused(api.get("/api/v1/models/c_order", HTTP_AUTHORIZATION=f"Basic {basic}"), "Basic", "NUL")
    basic = base64.b64encode(b"GardenUser:GardenUser").decode()
    assert api.get("/api/v1/models/c_order", HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 200


# --- binary bodies are not text -------------------------------------------------------------------------


def test_binary_bodies_with_nul_bytes_are_taken(garden_user, local_storage):
    """Chunks are bytes: NUL bytes in them, even under a form content type (what ``curl
    --data-binary`` sends), are stored as sent; only the headers and the URL are text."""
    data = b"\x00\x01\x00binary\x00"
    upload_id = create(garden_user, data, chunk_size=len(data)).json()["uploadId"]
    answer = garden_user.put(
        f"/api/v1/uploads/{upload_id}/chunks/1", data, content_type="application/x-www-form-urlencoded",
        HTTP_X_CONTENT_SHA256=sha(data),
    )
    assert answer.status_code in (200, 201), answer.content
    tus = garden_user.post("/api/v1/tus/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH=str(len(data)))
    patched = garden_user.patch(
        tus["Location"].split("testserver", 1)[-1], data, content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_OFFSET="0",
    )
    assert patched.status_code == 204, patched.content
    second = create(garden_user, data, chunk_size=len(data)).json()["uploadId"]
    assert put_chunk(garden_user, second, 1, data).status_code in (200, 201)
