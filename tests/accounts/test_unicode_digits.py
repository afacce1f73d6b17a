"""Ids in the auth calls (query parameters and bodies): ASCII digits only, else a 400 problem."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuthSession, Client
from tests.problems import UNICODE_DIGITS, bad_request

from .helpers import login

pytestmark = pytest.mark.django_db

BAD = UNICODE_DIGITS


@pytest.mark.parametrize("bad", BAD)
def test_query_ids(demo, bad):
    client = APIClient()
    token = client.post("/api/v1/auth/tokens", {"userName": "GardenAdmin", "password": "GardenAdmin"},
                        format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    bad_request(client.get("/api/v1/auth/roles", {"client": bad}))
    bad_request(client.get("/api/v1/auth/language", {"client": bad}))


@pytest.mark.parametrize("field", ["clientId", "roleId", "organizationId", "warehouseId"])
@pytest.mark.parametrize("bad", BAD)
def test_body_ids(demo, field, bad):
    garden = Client.objects.get(value="GardenWorld")
    parameters = {"clientId": garden.pk, field: bad}
    response = APIClient().post("/api/v1/auth/tokens", {
        "userName": "GardenAdmin", "password": "GardenAdmin", "parameters": parameters,
    }, format="json")
    bad_request(response)
    assert not AuthSession.objects.exists()


@pytest.mark.parametrize("bad", BAD)
def test_refresh_body_ids(demo, bad):
    tokens = login(APIClient(), "GardenUser")
    response = APIClient().post("/api/v1/auth/refresh", {
        "refresh_token": tokens["refresh_token"], "clientId": bad,
    }, format="json")
    bad_request(response)
