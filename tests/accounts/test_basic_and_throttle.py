"""HTTP Basic with the user's default context; login throttling."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Organization, Role, User, Warehouse

from .helpers import basic_client

pytestmark = pytest.mark.django_db

PROTECTED = "/api/v1/auth/context"


def test_basic_uses_the_default_context(demo):
    response = basic_client("GardenUser").get(PROTECTED)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["roleId"] == Role.objects.get(name="GardenWorld User").id
    assert body["organizationId"] == Organization.objects.get(client__value="GardenWorld", value="HQ").id
    assert body["warehouseId"] == Warehouse.objects.get(client__value="GardenWorld", value="HQ").id
    assert body["userId"] == User.objects.get(username="GardenUser").id
    assert basic_client("GardenUser").get("/api/v1/models").status_code == 200


def test_basic_wrong_password(demo):
    response = basic_client("GardenUser", "nope").get(PROTECTED)
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_basic_inactive_user(demo):
    User.objects.filter(username="GardenUser").update(is_active=False)
    assert basic_client("GardenUser").get(PROTECTED).status_code == 401


def test_basic_user_without_role(demo):
    # The superuser has no ERP role: no context to give it.
    response = basic_client("admin").get(PROTECTED)
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_basic_can_be_turned_off(demo, settings):
    settings.AUTH_BASIC_ENABLED = False
    response = basic_client("GardenUser").get(PROTECTED)
    assert response.status_code == 401
    assert response.json()["status"] == 401


@pytest.fixture
def three_per_minute(monkeypatch, settings):
    """Three password failures per address and user name (the shared failure budget), and three
    refreshes a minute."""
    from rest_framework.throttling import SimpleRateThrottle

    settings.AUTH_FAILURE_LIMIT = "3/5m"
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "login": "3/min"}
    )


def test_login_is_throttled(demo, three_per_minute):
    client = APIClient()
    body = {"userName": "GardenAdmin", "password": "wrong"}
    statuses = [client.post("/api/v1/auth/tokens", body, format="json").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    response = client.post("/api/v1/auth/tokens", body, format="json")
    assert response.status_code == 429, response.content
    problem = response.json()
    assert problem["status"] == 429 and problem["title"] == "Too Many Requests" and problem["detail"]
    assert int(response["Retry-After"]) >= 1
    # Even the right password waits: the limit is on attempts.
    right = {"userName": "GardenAdmin", "password": "GardenAdmin"}
    assert client.post("/api/v1/auth/tokens", right, format="json").status_code == 429
    # Another user name from the same address is counted apart.
    other = {"userName": "GardenUser", "password": "GardenUser"}
    assert client.post("/api/v1/auth/tokens", other, format="json").status_code == 200


def test_login_throttle_ignores_a_forged_forwarded_for(demo, three_per_minute):
    client = APIClient()
    body = {"userName": "GardenAdmin", "password": "wrong"}
    statuses = [
        client.post(
            "/api/v1/auth/tokens", body, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        ).status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_basic_failures_are_throttled(demo, three_per_minute):
    for _ in range(3):
        assert basic_client("GardenUser", "guess").get(PROTECTED).status_code == 401
    response = basic_client("GardenUser", "guess").get(PROTECTED)
    assert response.status_code == 429
    assert response.json()["status"] == 429
    assert int(response["Retry-After"]) >= 1
    # Another user's correct credentials are not affected.
    assert basic_client("GardenAdmin").get(PROTECTED).status_code == 200


def test_basic_successes_are_not_throttled(demo, three_per_minute):
    client = basic_client("GardenUser")
    assert all(client.get(PROTECTED).status_code == 200 for _ in range(6))


@pytest.mark.parametrize("what", ["role", "client", "grant"])
def test_basic_loses_access_with_its_role_or_client(demo, what):
    from apps.accounts.models import Client, UserRole

    client = basic_client("GardenUser")
    assert client.get(PROTECTED).status_code == 200
    if what == "role":
        Role.objects.filter(name="GardenWorld User").update(is_active=False)
    elif what == "client":
        Client.objects.filter(value="GardenWorld").update(is_active=False)
    else:
        UserRole.objects.filter(user__username="GardenUser").update(is_active=False)
    assert client.get(PROTECTED).status_code == 401


def test_throttle_keys_are_cache_safe_for_any_user_name(demo, three_per_minute):
    import warnings

    from django.core.cache import CacheKeyWarning

    client = APIClient()
    name = "Gärden Admin " + "x" * 120
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        statuses = [
            client.post(
                "/api/v1/auth/tokens", {"userName": variant, "password": "wrong"}, format="json"
            ).status_code
            for variant in (name, name.upper(), name.lower(), name)
        ]
    # The same name in any case is one bucket: three failures, then refused.
    assert statuses == [401, 401, 401, 429]


# --- Basic at bearer speed: a successful check is remembered, never the password ---------------------


@pytest.fixture
def hash_calls(monkeypatch):
    """Counts the password checks (hasher ``verify`` calls) the configured hasher runs."""
    from django.contrib.auth.hashers import get_hasher

    hasher_class = type(get_hasher())
    calls = []
    original = hasher_class.verify

    def counted(self, *args, **kwargs):
        calls.append("verify")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(hasher_class, "verify", counted)
    return calls


def test_basic_second_request_costs_no_hash(demo, hash_calls):
    client = basic_client("GardenUser")
    assert client.get(PROTECTED).status_code == 200
    assert hash_calls == ["verify"]
    for _ in range(3):
        response = client.get(PROTECTED)
        assert response.status_code == 200
        assert response.json()["userId"] == User.objects.get(username="GardenUser").id
    assert hash_calls == ["verify"]


def test_basic_memo_keeps_no_password_in_the_cache(demo, settings):
    from django.core.cache import cache

    assert basic_client("GardenUser").get(PROTECTED).status_code == 200
    keys = list(cache._cache.keys())  # locmem: the test cache
    assert keys and not any("GardenUser" in key for key in keys)
    values = [repr(cache.get(key.split(":", 2)[-1])) for key in keys]
    dump = " ".join(keys) + " ".join(values)
    assert "GardenUser" not in dump
    assert User.objects.get(username="GardenUser").password not in dump


def test_basic_wrong_password_is_never_remembered(demo, hash_calls):
    assert basic_client("GardenUser").get(PROTECTED).status_code == 200
    for _ in range(2):
        assert basic_client("GardenUser", "wrong").get(PROTECTED).status_code == 401
    assert hash_calls == ["verify", "verify", "verify"]
    # The right password is still remembered: no hash.
    assert basic_client("GardenUser").get(PROTECTED).status_code == 200
    assert len(hash_calls) == 3
    # Another user's credentials are their own check.
    assert basic_client("GardenAdmin").get(PROTECTED).status_code == 200
    assert len(hash_calls) == 4


def test_basic_memo_dropped_on_password_change(demo, hash_calls):
    client = basic_client("GardenUser")
    assert client.get(PROTECTED).status_code == 200
    user = User.objects.get(username="GardenUser")
    user.set_password("a-new-password-2")
    user.save()
    response = client.get(PROTECTED)
    assert response.status_code == 401, "the remembered check must not let the old password in"
    assert basic_client("GardenUser", "a-new-password-2").get(PROTECTED).status_code == 200


def test_basic_memo_dropped_on_deactivation(demo):
    client = basic_client("GardenUser")
    assert client.get(PROTECTED).status_code == 200
    User.objects.filter(username="GardenUser").update(is_active=False)
    assert client.get(PROTECTED).status_code == 401
    # Active again: the password is checked again (and still right), not a stale memo.
    User.objects.filter(username="GardenUser").update(is_active=True)
    assert client.get(PROTECTED).status_code == 200


def test_basic_memo_dropped_on_logout(demo, hash_calls):
    from .helpers import login

    client = basic_client("GardenUser")
    assert client.get(PROTECTED).status_code == 200
    assert client.get(PROTECTED).status_code == 200
    assert hash_calls == ["verify"]
    tokens = login(APIClient(), "GardenUser")
    response = APIClient().post("/api/v1/auth/logout", {"token": tokens["token"]}, format="json")
    assert response.status_code in (200, 204), response.content
    before = len(hash_calls)
    assert client.get(PROTECTED).status_code == 200
    assert len(hash_calls) == before + 1, "after logout the password is hashed again"


def test_basic_memo_respects_the_failure_throttle(demo, three_per_minute):
    client = basic_client("GardenUser")
    assert client.get(PROTECTED).status_code == 200  # remembered
    for _ in range(3):
        assert basic_client("GardenUser", "guess").get(PROTECTED).status_code == 401
    # Blocked name: even the remembered right password waits.
    assert client.get(PROTECTED).status_code == 429


def test_basic_memo_can_be_turned_off(demo, settings, hash_calls):
    settings.AUTH_BASIC_MEMO_SECONDS = 0
    client = basic_client("GardenUser")
    assert client.get(PROTECTED).status_code == 200
    assert client.get(PROTECTED).status_code == 200
    assert hash_calls == ["verify", "verify"]
