"""GET /api/v1/health: 200 with every part, 503 when one is down."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.core import api as core_api

pytestmark = pytest.mark.django_db


def test_health_is_public_and_ok(db):
    response = APIClient().get("/api/v1/health")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"status", "database", "broker", "storage"}
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["storage"] == "ok"
    assert body["broker"] in {"ok", "eager"}


def test_health_ignores_a_bad_token(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    assert client.get("/api/v1/health").status_code == 200


def test_health_is_503_when_storage_is_down(db, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("storage unreachable")

    monkeypatch.setattr(core_api.default_storage, "exists", broken)
    response = APIClient().get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["storage"] == "error"
    assert body["database"] == "ok"


def test_health_is_503_when_the_broker_is_down(db, monkeypatch):
    monkeypatch.setattr(core_api, "_check_broker", lambda: "error")
    response = APIClient().get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["broker"] == "error"
