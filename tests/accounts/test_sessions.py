"""Refresh rotation, reuse detection, logout, live deactivation checks and the JWK endpoint."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.models import AuthSession, Client, Role, User, UserRole

from .helpers import login

pytestmark = pytest.mark.django_db

PROTECTED = "/api/v1/auth/context"


def _client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _refresh(refresh_token: str):
    return APIClient().post(
        "/api/v1/auth/refresh", {"refresh_token": refresh_token}, format="json"
    )


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_refresh_rotates_the_pair(demo):
    first = login(APIClient(), "GardenAdmin")
    response = _refresh(first["refresh_token"])
    assert response.status_code == 200, response.content
    second = response.json()
    assert set(second) == {"token", "refresh_token"}
    assert second["token"] != first["token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert _client_with(second["token"]).get(PROTECTED).status_code == 200
    # The refresh carries the same context.
    assert _client_with(second["token"]).get(PROTECTED).json()["roleId"] == first["roleId"]
    # The next rotation works with the new refresh token.
    assert _refresh(second["refresh_token"]).status_code == 200


def test_refresh_accepts_client_and_user_ids(demo):
    first = login(APIClient(), "GardenAdmin")
    response = APIClient().post(
        "/api/v1/auth/refresh",
        {
            "refresh_token": first["refresh_token"],
            "clientId": first["clientId"],
            "userId": first["userId"],
        },
        format="json",
    )
    assert response.status_code == 200, response.content


def test_reused_refresh_token_revokes_the_whole_chain(demo):
    first = login(APIClient(), "GardenAdmin")
    second = _refresh(first["refresh_token"]).json()
    third = _refresh(second["refresh_token"]).json()

    # The spent first refresh token comes back: refused, and the chain dies.
    problem = _problem(_refresh(first["refresh_token"]), 401)
    assert "already used" in problem["detail"]
    _problem(_refresh(third["refresh_token"]), 401)
    _problem(_client_with(third["token"]).get(PROTECTED), 401)
    _problem(_client_with(first["token"]).get(PROTECTED), 401)
    session = AuthSession.objects.get()
    assert session.revoked_reason == "refresh token reuse"


def test_reuse_in_one_session_leaves_other_sessions_alone(demo):
    mine = login(APIClient(), "GardenAdmin")
    other = login(APIClient(), "GardenAdmin")
    _refresh(mine["refresh_token"])
    _problem(_refresh(mine["refresh_token"]), 401)
    assert _client_with(other["token"]).get(PROTECTED).status_code == 200


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c"])
def test_bad_refresh_token(demo, garbage):
    status = 400 if garbage == "" else 401
    _problem(_refresh(garbage), status)


def test_logout_kills_the_access_token_at_once(demo):
    tokens = login(APIClient(), "GardenAdmin")
    client = _client_with(tokens["token"])
    assert client.get(PROTECTED).status_code == 200
    response = APIClient().post("/api/v1/auth/logout", {"token": tokens["token"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"summary": "OK"}
    _problem(client.get(PROTECTED), 401)
    _problem(_refresh(tokens["refresh_token"]), 401)


def test_logout_with_a_bad_token(demo):
    _problem(APIClient().post("/api/v1/auth/logout", {"token": "x.y.z"}, format="json"), 401)
    _problem(APIClient().post("/api/v1/auth/logout", {}, format="json"), 400)


def test_deactivated_user_loses_access(demo):
    client = _client_with(login(APIClient(), "GardenUser")["token"])
    assert client.get(PROTECTED).status_code == 200
    User.objects.filter(username="GardenUser").update(is_active=False)
    _problem(client.get(PROTECTED), 401)


def test_deactivated_role_loses_access(demo):
    tokens = login(APIClient(), "GardenUser")
    client = _client_with(tokens["token"])
    assert client.get(PROTECTED).status_code == 200
    Role.objects.filter(name="GardenWorld User").update(is_active=False)
    _problem(client.get(PROTECTED), 401)
    _problem(_refresh(tokens["refresh_token"]), 401)


def test_withdrawn_role_grant_loses_access(demo):
    tokens = login(APIClient(), "GardenUser")
    client = _client_with(tokens["token"])
    UserRole.objects.filter(user__username="GardenUser").update(is_active=False)
    _problem(client.get(PROTECTED), 401)
    _problem(_refresh(tokens["refresh_token"]), 401)
    assert AuthSession.objects.get().revoked_reason == "access withdrawn"


def test_deactivated_client_loses_access(demo):
    garden = _client_with(login(APIClient(), "GardenAdmin")["token"])
    acme = _client_with(login(APIClient(), "AcmeAdmin")["token"])
    Client.objects.filter(value="GardenWorld").update(is_active=False)
    _problem(garden.get(PROTECTED), 401)
    assert acme.get(PROTECTED).status_code == 200


def test_expired_session_refuses_its_tokens(demo):
    tokens = login(APIClient(), "GardenAdmin")
    AuthSession.objects.update(expires=timezone.now() - timedelta(seconds=1))
    _problem(_client_with(tokens["token"]).get(PROTECTED), 401)
    _problem(_refresh(tokens["refresh_token"]), 401)


def test_expired_access_token_is_refused(demo, settings):
    from rest_framework_simplejwt.tokens import AccessToken

    tokens = login(APIClient(), "GardenAdmin")
    token = AccessToken(tokens["token"])
    token.set_exp(lifetime=-timedelta(seconds=5))
    _problem(_client_with(str(token)).get(PROTECTED), 401)


# --- JWK -----------------------------------------------------------------------------------------


def test_jwk_is_hidden_by_default(demo):
    _problem(APIClient().get("/api/v1/auth/jwk"), 404)


def test_jwk_publishes_only_the_public_key(demo):
    services.sysconfig_set(name="IDEMPIERE_REST_EXPOSE_JWK", value="Y")
    response = APIClient().get("/api/v1/auth/jwk")
    assert response.status_code == 200, response.content
    keys = response.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["n"] and key["e"]
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)

    tokens = login(APIClient(), "GardenAdmin")
    public_key = jwt.PyJWKSet.from_dict(response.json()).keys[0].key
    claims = jwt.decode(tokens["token"], public_key, algorithms=["RS256"])
    assert claims["user_id"] == tokens["userId"]
    assert claims["AD_Client_ID"] == tokens["clientId"]
    assert claims["token_type"] == "access"

    services.sysconfig_set(name="IDEMPIERE_REST_EXPOSE_JWK", value="N")
    _problem(APIClient().get("/api/v1/auth/jwk"), 404)


def test_jwk_never_publishes_a_shared_secret(demo, monkeypatch):
    from rest_framework_simplejwt.settings import api_settings

    services.sysconfig_set(name="IDEMPIERE_REST_EXPOSE_JWK", value="Y")
    monkeypatch.setattr(api_settings, "ALGORITHM", "HS256")
    _problem(APIClient().get("/api/v1/auth/jwk"), 404)


def test_staff_revocation_in_the_admin_kills_the_session(demo):
    from django.test import Client as DjangoClient

    tokens = login(APIClient(), "GardenAdmin")
    admin = DjangoClient()
    admin.force_login(User.objects.get(username="admin"))
    session = AuthSession.objects.get()
    response = admin.post(
        "/admin/accounts/authsession/",
        {"action": "revoke", "_selected_action": [str(session.pk)]},
    )
    assert response.status_code == 302
    _problem(_client_with(tokens["token"]).get(PROTECTED), 401)
    _problem(_refresh(tokens["refresh_token"]), 401)


def test_purge_deletes_only_sessions_no_token_can_use(demo):
    from apps.accounts.tasks import purge_auth_sessions

    live = login(APIClient(), "GardenAdmin")
    login(APIClient(), "GardenUser")
    login(APIClient(), "AcmeAdmin")
    now = timezone.now()
    sessions = list(AuthSession.objects.order_by("created"))
    AuthSession.objects.filter(pk=sessions[1].pk).update(expires=now - timedelta(seconds=1))
    AuthSession.objects.filter(pk=sessions[2].pk).update(last_refresh=now - timedelta(days=2))
    assert purge_auth_sessions.delay().get() == 2
    assert list(AuthSession.objects.all()) == [sessions[0]]
    assert _client_with(live["token"]).get(PROTECTED).status_code == 200
