"""Login helpers for these tests (the root conftest's, importable whatever ``conftest`` shadows it)."""

from __future__ import annotations

import base64

from rest_framework.test import APIClient


def login(client: APIClient, username: str, password: str | None = None, **parameters) -> dict:
    body = {"userName": username, "password": password or username, "parameters": parameters}
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
