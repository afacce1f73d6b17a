"""Presigned upload URLs are tied to the standing of who made them: refused (403) once the owner is
inactive, or once the login session that made them has ended (logout, revocation, expiry)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import AuthSession, User
from apps.uploads.models import UploadSession

from .conftest import chunks_of, create, payload, sha

pytestmark = pytest.mark.django_db


def _url(template: str, order: int) -> str:
    parts = urlsplit(template.replace("{chunkOrder}", str(order)))
    return f"{parts.path}?{parts.query}"


def _put(url: str, piece: bytes):
    return APIClient().put(url, piece, content_type="application/octet-stream",
                           HTTP_X_CONTENT_SHA256=sha(piece))


@pytest.fixture
def started(garden_user, storage):
    data = payload(3072)
    body = create(garden_user, data, chunk_size=1024).json()
    pieces = chunks_of(data, 1024)
    assert _put(_url(body["presignedURL"], 1), pieces[0]).status_code == 200
    status = garden_user.get(f"/api/v1/uploads/{body['uploadId']}?expiresInSeconds=600").json()
    return {"id": body["uploadId"], "template": body["presignedURL"], "pieces": pieces,
            "get": _url(status["presignedURL"], 0), "client": garden_user}


def _refused(response) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["status"] == 403


def _received(upload_id: str) -> int:
    return UploadSession.objects.get(uid=upload_id).received_bytes


def test_logout_ends_the_presigned_urls(started):
    tokens = started["client"].tokens
    assert APIClient().post("/api/v1/auth/logout", {"token": tokens["token"]},
                            format="json").status_code == 200
    _refused(_put(_url(started["template"], 2), started["pieces"][1]))
    _refused(APIClient().get(started["get"]))
    assert _received(started["id"]) == 1024


def test_an_inactive_owner_ends_the_presigned_urls(started):
    User.objects.filter(username="GardenUser").update(is_active=False)
    _refused(_put(_url(started["template"], 2), started["pieces"][1]))
    _refused(APIClient().get(started["get"]))
    assert _received(started["id"]) == 1024


def test_an_expired_or_revoked_login_session_ends_them(started):
    AuthSession.objects.update(expires=timezone.now())
    _refused(_put(_url(started["template"], 2), started["pieces"][1]))
    AuthSession.objects.update(expires=timezone.now() + timezone.timedelta(days=1),
                               revoked_at=timezone.now(), revoked_reason="revoked by staff")
    _refused(_put(_url(started["template"], 2), started["pieces"][1]))


def test_a_purged_login_session_ends_them(started):
    AuthSession.objects.all().delete()
    _refused(_put(_url(started["template"], 2), started["pieces"][1]))


def test_the_urls_work_while_the_owner_stands(started):
    assert _put(_url(started["template"], 2), started["pieces"][1]).status_code == 200
    assert APIClient().get(started["get"]).status_code == 200
    # A GET URL made with a presigned GET URL keeps the standing of the first one.
    again = APIClient().get(started["get"] + "&expiresInSeconds=60")
    assert again.status_code == 200, again.content
    relayed = _url(again.json()["presignedURL"], 0)
    assert APIClient().get(relayed).status_code == 200
    AuthSession.objects.update(revoked_at=timezone.now(), revoked_reason="logout")
    _refused(APIClient().get(relayed))


def test_a_url_made_with_basic_credentials_ends_with_the_owner(demo, storage):
    from tests.accounts.helpers import basic_client

    data = payload(2048)
    body = create(basic_client("GardenUser"), data, chunk_size=1024).json()
    pieces = chunks_of(data, 1024)
    assert _put(_url(body["presignedURL"], 1), pieces[0]).status_code == 200
    User.objects.filter(username="GardenUser").update(is_active=False)
    _refused(_put(_url(body["presignedURL"], 2), pieces[1]))
