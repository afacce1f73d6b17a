"""The web UI's upload token opens the upload endpoints its uploader calls (tus) and nothing else
(issue 24, item 5): every other endpoint answers it 401 with a problem body, and it dies with the
login session that made it (sign-out, revocation)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import UntypedToken

from apps.accounts import services as account_services
from apps.accounts.models import AuthSession
from apps.dms.models import DMSFile
from apps.erp.models import BPartner
from tests.accounts.helpers import bearer_client

from .conftest import ui_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
DATA = b"upload token scope " * 4000


def upload_token(page) -> str:
    answer = page.post("/ui/upload-token", HTTP_X_CSRFTOKEN=page.csrf, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200, answer.content
    return answer.json()["token"]


def uploader(token: str) -> APIClient:
    """The page's tus-js-client: the upload token as its bearer."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def tus_create(client, length: int):
    metadata = "filename " + base64.b64encode(b"scope.txt").decode()
    return client.post("/api/v1/tus/", HTTP_UPLOAD_LENGTH=str(length), HTTP_UPLOAD_METADATA=metadata, **TUS)


def assert_401(answer, what: str = "") -> None:
    assert answer.status_code == 401, (what, answer.status_code, answer.content[:300])
    assert answer["Content-Type"].startswith("application/problem+json"), what
    if answer.request["REQUEST_METHOD"] == "HEAD":
        return  # no body
    problem = answer.json()
    assert problem["status"] == 401 and problem["detail"], what


@pytest.fixture
def page(demo):
    return ui_sign_in("GardenUser")


def test_the_ui_token_is_an_upload_token_of_the_page_session(page):
    claims = UntypedToken(upload_token(page)).payload
    session = AuthSession.objects.get(user__username="GardenUser", revoked_at=None)
    assert claims["token_type"] == "upload"
    assert claims["sid"] == str(session.pk)
    assert claims["exp"] - claims["iat"] == 600


def test_the_uploader_creates_appends_asks_and_places_with_its_token(page):
    client = uploader(upload_token(page))
    created = tus_create(client, len(DATA))
    assert created.status_code == 201, created.content
    url = created["Location"]
    half = len(DATA) // 2
    first = client.patch(url, DATA[:half], content_type=OFFSET_STREAM, HTTP_UPLOAD_OFFSET="0", **TUS)
    assert first.status_code == 204, first.content
    offset = client.head(url, **TUS)
    assert offset.status_code == 200 and int(offset["Upload-Offset"]) == half
    rest = client.patch(url, DATA[half:], content_type=OFFSET_STREAM, HTTP_UPLOAD_OFFSET=str(half), **TUS)
    assert rest.status_code == 204 and int(rest["Upload-Offset"]) == len(DATA)
    # The page places the finished upload (its own session, CSRF-checked) as a document.
    placed = page.post("/ui/documents/place", {
        "upload": url.rstrip("/").rsplit("/", 1)[-1],
        "sha256": hashlib.sha256(DATA).hexdigest(),
        "csrfmiddlewaretoken": page.csrf,
    })
    assert placed.status_code == 201, placed.content
    document = DMSFile.objects.get(pk=placed.json()["id"])
    assert document.stored_file.sha256 == hashlib.sha256(DATA).hexdigest()


def test_the_uploader_cancels_with_its_token_but_cannot_read_an_upload_back(page):
    client = uploader(upload_token(page))
    created = tus_create(client, len(DATA))
    url = created["Location"]
    assert client.patch(url, DATA, content_type=OFFSET_STREAM, HTTP_UPLOAD_OFFSET="0", **TUS).status_code == 204
    # Reading the bytes back is not what an uploader does: refused like any other endpoint.
    assert_401(client.get(url), "GET tus upload")
    other = tus_create(client, 10)
    assert client.delete(other["Location"], **TUS).status_code == 204


def partner_id() -> int:
    return BPartner.objects.filter(client__name="GardenWorld").order_by("id").values_list("id", flat=True)[0]


def named_refusals(token: str):
    """The calls the issue names: reads, writes, settings, the auth calls, the DMS dialects."""
    return [
        ("GET", "/api/v1/models/c_order", None),
        ("GET", "/api/v1/models/c_bpartner", None),
        ("PUT", f"/api/v1/models/c_bpartner/{partner_id()}", {"Name": "Taken over"}),
        ("POST", "/api/v1/webhooks", {"url": "https://example.com/hook", "events": ["*"]}),
        ("GET", "/api/v1/webhooks", None),
        ("GET", "/api/v1/auth/context", None),
        ("PUT", "/api/v1/auth/tokens", {"clientId": 11}),
        ("GET", "/api/v1/auth/roles", None),
        ("POST", "/api/v1/auth/refresh", {"refresh_token": token}),
        ("POST", "/api/v1/auth/logout", {"token": token}),
        ("POST", "/api/v1/uploads", {"fileName": "a.txt", "fileSize": 3}),
        ("POST", "/api/v1/upload", None),
        ("GET", "/api/v1/path/default-domain/workspaces", None),
        ("GET", "/ws/dms/files", None),
        ("POST", "/api/v1/upload/new/default", None),
        ("GET", "/api/v1/id/1", None),
    ]


def test_the_upload_token_is_refused_by_the_calls_the_issue_names(page):
    token = upload_token(page)
    client = uploader(token)
    before = BPartner.objects.get(pk=partner_id()).name
    for method, path, body in named_refusals(token):
        answer = client.generic(method, path, json.dumps(body or {}), "application/json")
        assert_401(answer, f"{method} {path}")
    assert BPartner.objects.get(pk=partner_id()).name == before
    # The logout call refused it: the page's session is alive and its token still uploads.
    assert AuthSession.objects.get(user__username="GardenUser", revoked_at=None)
    assert tus_create(client, 5).status_code == 201
    assert page.get("/ui/documents/").status_code == 200


def _api_operations():
    """Every operation of the API's OpenAPI schema: (method, path with its parameters filled)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in sorted(schema["paths"].items()):
        for method in item:
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
                yield method.upper(), re.sub(r"\{[^}]+\}", "1", path)


def test_every_endpoint_but_tus_answers_the_upload_token_as_it_answers_no_token(page):
    """Whatever an anonymous caller is refused (401), the upload token is refused too; the tus
    endpoints are the only ones it opens."""
    client = uploader(upload_token(page))
    anonymous = APIClient()
    checked = 0
    for method, path in _api_operations():
        if path.startswith(("/api/v1/tus", "/api/v1/s3/")):
            continue
        if anonymous.generic(method, path, "{}", "application/json").status_code != 401:
            continue  # public: the health check, the login calls, the signing key, the schema
        assert_401(client.generic(method, path, "{}", "application/json"), f"{method} {path}")
        checked += 1
    assert checked > 50


def _drf_views(patterns=None, prefix=""):
    from django.urls import URLPattern, URLResolver, get_resolver

    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from _drf_views(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and getattr(entry.callback, "cls", None) is not None:
            yield prefix + str(entry.pattern), entry.callback.cls


def test_only_the_tus_and_direct_s3_views_accept_the_upload_token():
    accepting = sorted(
        route for route, view in _drf_views()
        if any(getattr(cls, "accepts_upload_token", False) for cls in view.authentication_classes)
    )
    assert accepting == [
        "api/v1/s3/multipart", "api/v1/s3/multipart/<str:upload_id>",
        "api/v1/s3/multipart/<str:upload_id>/<int:part_number>",
        "api/v1/s3/multipart/<str:upload_id>/complete",
        "api/v1/tus", "api/v1/tus/", "api/v1/tus/<str:upload_id>",
    ]


def test_tus_takes_an_access_token_as_before(demo, garden_user):
    assert tus_create(garden_user, 5).status_code == 201


def test_the_upload_token_dies_with_sign_out(page):
    client = uploader(upload_token(page))
    assert tus_create(client, 5).status_code == 201
    page.post("/ui/logout", {"csrfmiddlewaretoken": page.csrf})
    assert_401(tus_create(client, 5), "tus after sign-out")


def test_the_upload_token_dies_with_its_session_revoked(page):
    client = uploader(upload_token(page))
    created = tus_create(client, len(DATA))
    assert created.status_code == 201
    session = AuthSession.objects.get(user__username="GardenUser", revoked_at=None)
    account_services.session_end(session_id=str(session.pk), reason="revoked by an administrator")
    assert_401(tus_create(client, 5), "tus create after revocation")
    assert_401(client.head(created["Location"], **TUS), "tus HEAD after revocation")
    assert_401(client.patch(created["Location"], DATA, content_type=OFFSET_STREAM,
                            HTTP_UPLOAD_OFFSET="0", **TUS), "tus PATCH after revocation")
    # Nothing of the refused PATCH was kept (asked with an access token of another session).
    assert bearer_client("GardenUser").head(created["Location"], **TUS)["Upload-Offset"] == "0"


def test_the_upload_token_url_is_still_csrf_checked(page):
    answer = page.post("/ui/upload-token", HTTP_ACCEPT="application/json")
    assert answer.status_code == 403
    assert reverse("ui:upload-token") == "/ui/upload-token"
