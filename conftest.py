"""Shared fixtures: demo data, authenticated API clients, a clean cache per test."""

from __future__ import annotations

import base64

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo(db):
    """The demo data of DESIGN §9 (load_demo), inside the test's transaction."""
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def login(client: APIClient, username: str, password: str | None = None, **parameters) -> dict:
    """Log in in one step; returns PUT's answer (token, refresh_token, ids)."""
    body = {"userName": username, "password": password or username}
    body["parameters"] = parameters
    response = client.post("/api/v1/auth/tokens", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer_client(username: str, **parameters) -> APIClient:
    client = APIClient()
    tokens = login(client, username, **parameters)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['token']}")
    client.tokens = tokens
    return client


def basic_client(username: str, password: str | None = None) -> APIClient:
    client = APIClient()
    raw = f"{username}:{password or username}".encode()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(raw).decode())
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def garden_admin(demo) -> APIClient:
    return bearer_client("GardenAdmin")


@pytest.fixture
def garden_user(demo) -> APIClient:
    return bearer_client("GardenUser")


@pytest.fixture
def acme_admin(demo) -> APIClient:
    return bearer_client("AcmeAdmin")
