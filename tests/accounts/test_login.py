"""The two-step login of DESIGN §4, its aliases, one-step login and what the first token may do."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Client, Organization, Role, Warehouse

pytestmark = pytest.mark.django_db

PROTECTED = "/api/v1/models"


def _ids():
    garden = Client.objects.get(value="GardenWorld")
    return {
        "client": garden,
        "role": Role.objects.get(client=garden, name="GardenWorld Admin"),
        "org": Organization.objects.get(client=garden, value="HQ"),
        "warehouse": Warehouse.objects.get(client=garden, value="HQ"),
    }


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


@pytest.mark.parametrize("base", ["/api/v1/auth/tokens", "/api/v1/auth"])
def test_two_step_login(demo, base):
    ids = _ids()
    client = APIClient()
    step1 = client.post(base, {"userName": "GardenAdmin", "password": "GardenAdmin"}, format="json")
    assert step1.status_code == 200, step1.content
    body = step1.json()
    assert body["clients"] == [{"id": ids["client"].id, "name": "GardenWorld"}]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")

    roles = client.get("/api/v1/auth/roles", {"client": ids["client"].id})
    assert roles.status_code == 200, roles.content
    assert roles.json() == {"roles": [{"id": ids["role"].id, "name": "GardenWorld Admin"}]}

    orgs = client.get(
        "/api/v1/auth/organizations", {"client": ids["client"].id, "role": ids["role"].id}
    )
    assert orgs.status_code == 200, orgs.content
    org_names = {o["name"] for o in orgs.json()["organizations"]}
    assert "HQ" in org_names

    warehouses = client.get(
        "/api/v1/auth/warehouses",
        {"client": ids["client"].id, "role": ids["role"].id, "organization": ids["org"].id},
    )
    assert warehouses.status_code == 200, warehouses.content
    assert {"id": ids["warehouse"].id, "name": "HQ Warehouse"} in warehouses.json()["warehouses"]

    language = client.get("/api/v1/auth/language", {"client": ids["client"].id})
    assert language.status_code == 200
    assert language.json() == {"AD_Language": "en_US"}

    # The first token is not an access token.
    _assert_problem(client.get(PROTECTED), 401)

    step2 = client.put(
        base,
        {
            "clientId": ids["client"].id,
            "roleId": ids["role"].id,
            "organizationId": ids["org"].id,
            "warehouseId": ids["warehouse"].id,
            "language": "en_US",
        },
        format="json",
    )
    assert step2.status_code == 200, step2.content
    session = step2.json()
    assert set(session) == {
        "clientId", "userId", "roleId", "organizationId", "warehouseId", "language", "token",
        "refresh_token",
    }
    assert session["clientId"] == ids["client"].id
    assert session["roleId"] == ids["role"].id
    assert session["organizationId"] == ids["org"].id
    assert session["warehouseId"] == ids["warehouse"].id
    assert session["language"] == "en_US"

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {session['token']}")
    assert api.get(PROTECTED).status_code == 200
    context = api.get("/api/v1/auth/context")
    assert context.status_code == 200, context.content
    assert context.json() == {
        "clientId": ids["client"].id,
        "roleId": ids["role"].id,
        "organizationId": ids["org"].id,
        "warehouseId": ids["warehouse"].id,
        "userId": session["userId"],
        "language": "en_US",
    }


def test_auth_queries_accept_names(demo):
    client = APIClient()
    token = client.post(
        "/api/v1/auth/tokens", {"userName": "GardenUser", "password": "GardenUser"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    roles = client.get("/api/v1/auth/roles", {"client": "GardenWorld"})
    assert [r["name"] for r in roles.json()["roles"]] == ["GardenWorld User"]
    warehouses = client.get(
        "/api/v1/auth/warehouses",
        {"client": "GardenWorld", "role": "GardenWorld User", "organization": "HQ"},
    )
    assert [w["name"] for w in warehouses.json()["warehouses"]] == ["HQ Warehouse"]


def test_auth_queries_do_not_leak_other_tenants(demo):
    acme = Client.objects.get(value="Acme")
    acme_role = Role.objects.get(client=acme)
    client = APIClient()
    token = client.post(
        "/api/v1/auth/tokens", {"userName": "GardenAdmin", "password": "GardenAdmin"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _assert_problem(client.get("/api/v1/auth/roles", {"client": acme.id}), 403)
    _assert_problem(client.get("/api/v1/auth/language", {"client": "Acme"}), 403)
    garden = Client.objects.get(value="GardenWorld")
    _assert_problem(
        client.get("/api/v1/auth/organizations", {"client": garden.id, "role": acme_role.id}), 403
    )
    _assert_problem(client.put("/api/v1/auth/tokens", {"clientId": acme.id}, format="json"), 403)


def test_one_step_login_by_ids(demo):
    ids = _ids()
    client = APIClient()
    response = client.post(
        "/api/v1/auth/tokens",
        {
            "userName": "GardenAdmin",
            "password": "GardenAdmin",
            "parameters": {
                "clientId": ids["client"].id,
                "roleId": ids["role"].id,
                "organizationId": ids["org"].id,
                "warehouseId": ids["warehouse"].id,
                "language": "en_US",
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["roleId"] == ids["role"].id and body["warehouseId"] == ids["warehouse"].id
    assert body["token"] and body["refresh_token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert client.get(PROTECTED).status_code == 200


def test_one_step_login_by_names(demo):
    ids = _ids()
    body = _login_json(
        "GardenAdmin",
        clientId="GardenWorld",
        roleId="GardenWorld Admin",
        organizationId="HQ",
        warehouseId="HQ Warehouse",
    )
    assert body["clientId"] == ids["client"].id
    assert body["roleId"] == ids["role"].id
    assert body["organizationId"] == ids["org"].id
    assert body["warehouseId"] == ids["warehouse"].id


def test_one_step_login_defaults_fill_open_choices(demo):
    ids = _ids()
    body = _login_json("GardenAdmin")
    assert body["clientId"] == ids["client"].id
    assert body["organizationId"] == ids["org"].id
    assert body["warehouseId"] == ids["warehouse"].id


def _login_json(name: str, **parameters) -> dict:
    response = APIClient().post(
        "/api/v1/auth/tokens",
        {"userName": name, "password": name, "parameters": parameters},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_user_name_is_case_insensitive(demo):
    response = APIClient().post(
        "/api/v1/auth/tokens", {"userName": "gardenadmin", "password": "GardenAdmin"}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "GardenAdmin", "password": "wrong"},
        {"userName": "Nobody", "password": "Nobody"},
        {"userName": "GardenAdmin", "password": "wrong", "parameters": {"clientId": 11}},
    ],
)
def test_wrong_credentials_answer_401_problem(demo, body):
    response = APIClient().post("/api/v1/auth/tokens", body, format="json")
    problem = _assert_problem(response, 401)
    assert "token" not in problem


def test_login_body_is_validated(demo):
    _assert_problem(APIClient().post("/api/v1/auth/tokens", {}, format="json"), 400)
    _assert_problem(
        APIClient().post(
            "/api/v1/auth/tokens",
            {"userName": "GardenAdmin", "password": "GardenAdmin", "parameters": {"roleId": True}},
            format="json",
        ),
        400,
    )


def test_first_token_is_refused_outside_the_auth_calls(demo):
    client = APIClient()
    token = client.post(
        "/api/v1/auth/tokens", {"userName": "GardenAdmin", "password": "GardenAdmin"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for url in (PROTECTED, "/api/v1/auth/context"):
        problem = _assert_problem(client.get(url), 401)
        assert "auth calls" in problem["detail"]
    # Nor can it log out or refresh a session.
    assert client.post("/api/v1/auth/refresh", {"refresh_token": token}, format="json").status_code == 401


def test_refresh_token_is_not_an_access_token(demo):
    tokens = _login_json("GardenAdmin")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['refresh_token']}")
    _assert_problem(client.get(PROTECTED), 401)
    _assert_problem(client.get("/api/v1/auth/roles"), 401)
    # ...and an access token is not a refresh token.
    response = APIClient().post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["token"]}, format="json"
    )
    _assert_problem(response, 401)


def test_access_token_may_use_the_auth_calls(demo):
    tokens = _login_json("GardenAdmin")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['token']}")
    assert client.get("/api/v1/auth/roles").status_code == 200


def test_tampered_token_is_refused(demo):
    tokens = _login_json("GardenAdmin")
    header, payload, signature = tokens["token"].split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    _assert_problem(client.get(PROTECTED), 401)


def test_unsigned_token_is_refused(demo):
    import base64
    import json

    tokens = _login_json("GardenAdmin")
    payload = tokens["token"].split(".")[1]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    forged = f"{header.decode().rstrip('=')}.{payload}."
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    _assert_problem(client.get(PROTECTED), 401)


def test_context_endpoint_requires_a_token(demo, anon_client):
    response = anon_client.get("/api/v1/auth/context")
    _assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_context_choices_are_limited_to_the_role(demo):
    acme = Client.objects.get(value="Acme")
    acme_org = Organization.objects.get(client=acme, value="HQ")
    acme_warehouse = Warehouse.objects.get(client=acme, value="HQ")

    def one_step(name, **parameters):
        return APIClient().post(
            "/api/v1/auth/tokens",
            {"userName": name, "password": name, "parameters": parameters},
            format="json",
        )

    # GardenUser's role reaches HQ only; Store is GardenWorld's but not the role's.
    _assert_problem(one_step("GardenUser", organizationId="Store"), 403)
    # Nothing of Acme is choosable from GardenWorld, by id or by name.
    _assert_problem(one_step("GardenAdmin", organizationId=acme_org.id), 403)
    _assert_problem(one_step("GardenAdmin", warehouseId=acme_warehouse.id), 403)
    _assert_problem(one_step("GardenAdmin", clientId="Acme"), 403)
    # An unknown language code is refused rather than stored.
    _assert_problem(one_step("GardenAdmin", language="x" * 11), 400)


def test_organizations_list_follows_the_role(demo):
    client = APIClient()
    token = client.post(
        "/api/v1/auth/tokens", {"userName": "GardenUser", "password": "GardenUser"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    orgs = client.get("/api/v1/auth/organizations").json()["organizations"]
    assert [o["name"] for o in orgs] == ["HQ"]


def test_hmac_token_signed_with_the_public_key_is_refused(demo):
    """Algorithm confusion: an HS256 token keyed with the (public) RS256 key must not pass."""
    import base64
    import hashlib
    import hmac
    import json

    from rest_framework_simplejwt.settings import api_settings

    tokens = _login_json("GardenAdmin")
    payload = tokens["token"].split(".")[1]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header.decode().rstrip('=')}.{payload}".encode()
    key = api_settings.VERIFYING_KEY.encode()
    signature = base64.urlsafe_b64encode(hmac.new(key, signing_input, hashlib.sha256).digest())
    forged = f"{signing_input.decode()}.{signature.decode().rstrip('=')}"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    _assert_problem(client.get(PROTECTED), 401)


@pytest.mark.parametrize("field", ["clientId", "roleId", "organizationId", "warehouseId"])
def test_one_step_login_odd_digits_are_not_ids(demo, field):
    """'²' passes str.isdigit() but is no int: a 400/401 problem, never a 500."""
    body = {"userName": "GardenAdmin", "password": "GardenAdmin", "parameters": {field: "\u00b2"}}
    response = APIClient().post("/api/v1/auth/tokens", body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert {"title", "status", "detail"} <= set(response.json())
