"""Every error path answers the problem body ``{title, status, detail}`` with the right status."""

from __future__ import annotations

import pytest
from accounts.helpers import bearer_client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URLCONF = "core.urls_errors"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert body["detail"]
    assert "Traceback" not in response.content.decode()
    return body


@pytest.fixture
def raising(settings):
    settings.ROOT_URLCONF = URLCONF
    return APIClient(raise_request_exception=False)


def test_no_token_is_401(db, anon_client):
    response = anon_client.get("/api/v1/models")
    _problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer a.b.c", "Bearer ", "Token abc"])
def test_bad_token_is_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    _problem(client.get("/api/v1/auth/context"), 401)


def test_forbidden_is_403(demo):
    # A non-admin role may not use the admin-only caches endpoint.
    _problem(bearer_client("GardenUser").get("/api/v1/caches"), 403)


@pytest.mark.parametrize("url", ["/api/v1/no-such-thing", "/nowhere", "/api/v2/health", "/api/v1/"])
def test_unknown_url_is_404(db, url):
    _problem(APIClient().get(url), 404)


def test_wrong_method_is_405(db):
    _problem(APIClient().delete("/api/v1/health"), 405)
    _problem(APIClient().get("/api/v1/auth/refresh"), 405)


def test_wrong_content_type_is_415(db):
    response = APIClient().post(
        "/api/v1/auth/tokens", "userName=a&password=b", content_type="application/x-www-form-urlencoded"
    )
    _problem(response, 415)


def test_malformed_json_is_400(db):
    response = APIClient().post(
        "/api/v1/auth/tokens", '{"userName": "a", ', content_type="application/json"
    )
    _problem(response, 400)


def test_validation_error_is_400_with_fields(db):
    body = _problem(APIClient().post("/api/v1/auth/tokens", {"userName": "x"}, format="json"), 400)
    assert "password" in body["detail"]


def test_http404_inside_a_view(raising):
    body = _problem(raising.get("/test/http404"), 404)
    assert body["title"] == "Not Found"


def test_permission_denied_inside_a_view(raising):
    body = _problem(raising.get("/test/denied"), 403)
    assert body["title"] == "Forbidden"


def test_application_errors_keep_status_and_headers(raising):
    _problem(raising.get("/test/conflict"), 409)
    response = raising.get("/test/not-ready")
    _problem(response, 409)
    assert response["Retry-After"] == "5"


def test_unexpected_exception_is_500_without_internals(raising):
    response = raising.get("/test/boom")
    body = _problem(response, 500)
    assert body == {
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An unexpected error occurred.",
    }
    assert "hunter2" not in response.content.decode()


def test_unexpected_exception_in_a_plain_django_view(raising):
    response = raising.get("/test/plain-boom")
    body = _problem(response, 500)
    assert "secret" not in response.content.decode()
    assert body["title"] == "Internal Server Error"


def test_plain_django_404_and_403(raising):
    _problem(raising.get("/test/plain-404"), 404)
    _problem(raising.get("/test/plain-403"), 403)


def test_json_body_round_trip(raising):
    response = raising.post("/test/echo", {"a": [1, 2]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"received": {"a": [1, 2]}}


def test_body_over_the_memory_limit_is_413(db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"userName": "' + "a" * 5000 + '", "password": "x"}'
    response = APIClient().post("/api/v1/auth/tokens", body, content_type="application/json")
    assert _problem(response, 413)["title"] == "Payload Too Large"


def test_deeply_nested_json_is_not_a_500(db):
    body = "[" * 100_000 + "]" * 100_000
    response = APIClient().post("/api/v1/auth/tokens", body, content_type="application/json")
    _problem(response, 400)
