"""One normalized user name for the login throttle and the lookup; the refresh throttle per session."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .helpers import basic_client, login

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/tokens"
REFRESH = "/api/v1/auth/refresh"
PADDED = ["GardenUser ", " GardenUser", "GardenUser\t", "GardenUser\u00a0", "GardenUser\u2003",
          "ＧａｒｄｅｎＵｓｅｒ", "gardenuser\u200a"]


@pytest.fixture
def three_per_minute(monkeypatch, settings):
    """Three password failures per address and user name (the shared failure budget), and three
    refreshes a minute."""
    from rest_framework.throttling import SimpleRateThrottle

    settings.AUTH_FAILURE_LIMIT = "3/5m"
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "login": "3/min"}
    )


@pytest.mark.parametrize("padded", PADDED)
def test_a_padded_user_name_is_an_unknown_user(demo, padded):
    response = APIClient().post(LOGIN, {"userName": padded, "password": "GardenUser"}, format="json")
    assert response.status_code == 401, response.content
    problem = response.json()
    assert problem["status"] == 401 and problem["detail"] == "Invalid user name or password."
    assert "token" not in problem


def test_the_stored_name_in_another_case_still_logs_in(demo):
    for name in ("GardenUser", "gardenuser", "GARDENUSER"):
        response = APIClient().post(LOGIN, {"userName": name, "password": "GardenUser"}, format="json")
        assert response.status_code == 200, (name, response.content)


def test_padding_the_user_name_does_not_buy_a_fresh_throttle_budget(demo, three_per_minute):
    client = APIClient()
    guesses = [client.post(LOGIN, {"userName": "GardenUser", "password": "guess"}, format="json")
               for _ in range(3)]
    assert [r.status_code for r in guesses] == [401, 401, 401]
    for padded in [*PADDED, "GardenUser"]:
        response = client.post(LOGIN, {"userName": padded, "password": "GardenUser"}, format="json")
        assert response.status_code == 429, (padded, response.content)
        assert response.json()["status"] == 429


def test_padded_guesses_count_against_the_real_name(demo, three_per_minute):
    client = APIClient()
    for padded in PADDED[:3]:
        response = client.post(LOGIN, {"userName": padded, "password": "guess"}, format="json")
        assert response.status_code == 401
    right = client.post(LOGIN, {"userName": "GardenUser", "password": "GardenUser"}, format="json")
    assert right.status_code == 429, right.content


def test_basic_failures_with_padded_names_share_one_budget(demo, three_per_minute):
    for padded in ("GardenUser ", "GardenUser\u00a0", "ＧａｒｄｅｎＵｓｅｒ"):
        assert basic_client(padded, "guess").get("/api/v1/auth/context").status_code == 401
    response = basic_client("GardenUser", "guess").get("/api/v1/auth/context")
    assert response.status_code == 429, response.content


def test_junk_refreshes_do_not_lock_out_a_session_behind_the_same_address(demo, three_per_minute):
    tokens = login(APIClient(), "GardenUser")
    junk = APIClient()
    statuses = [junk.post(REFRESH, {"refresh_token": "junk"}, format="json").status_code
                for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # Another client behind the same address, with a real refresh token, is counted on its session.
    response = APIClient().post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 200, response.content


def test_refreshes_of_one_session_are_throttled(demo, three_per_minute):
    refresh = login(APIClient(), "GardenUser")["refresh_token"]
    statuses = []
    for _ in range(4):
        response = APIClient().post(REFRESH, {"refresh_token": refresh}, format="json")
        statuses.append(response.status_code)
        if response.status_code == 200:
            refresh = response.json()["refresh_token"]
    assert statuses == [200, 200, 200, 429]
    # Another session of the same user, from the same address, is not affected.
    other = login(APIClient(), "GardenUser")["refresh_token"]
    assert APIClient().post(REFRESH, {"refresh_token": other}, format="json").status_code == 200
