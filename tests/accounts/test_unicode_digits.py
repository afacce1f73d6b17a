"""Ids in the auth calls (query parameters and bodies): ASCII digits only, else a 400 problem."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuthSession, Client

from .helpers import login

pytestmark = pytest.mark.django_db

BAD = ["²", "①", "١", "１"]


def _bad_request(response) -> None:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert body["status"] == 400 and body["detail"]


@pytest.mark.parametrize("bad", BAD)
def test_query_ids(demo, bad):
    client = APIClient()
    token = client.post("/api/v1/auth/tokens", {"userName": "GardenAdmin", "password": "GardenAdmin"},
                        format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _bad_request(client.get("/api/v1/auth/roles", {"client": bad}))
    _bad_request(client.get("/api/v1/auth/language", {"client": bad}))


@pytest.mark.parametrize("field", ["clientId", "roleId", "organizationId", "warehouseId"])
@pytest.mark.parametrize("bad", BAD)
def test_body_ids(demo, field, bad):
    garden = Client.objects.get(value="GardenWorld")
    parameters = {"clientId": garden.pk, field: bad}
    response = APIClient().post("/api/v1/auth/tokens", {
        "userName": "GardenAdmin", "password": "GardenAdmin", "parameters": parameters,
    }, format="json")
    _bad_request(response)
    assert not AuthSession.objects.exists()


@pytest.mark.parametrize("bad", BAD)
def test_refresh_body_ids(demo, bad):
    tokens = login(APIClient(), "GardenUser")
    response = APIClient().post("/api/v1/auth/refresh", {
        "refresh_token": tokens["refresh_token"], "clientId": bad,
    }, format="json")
    _bad_request(response)
