"""Service and selector details: SysConfig lookups, credential checks, the default context."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts import selectors, services
from apps.accounts.models import Client, User
from apps.core.context import get_context
from apps.core.errors import NotAuthenticated

pytestmark = pytest.mark.django_db


def test_sysconfig_client_value_overrides_system_value(demo):
    garden = Client.objects.get(value="GardenWorld")
    acme = Client.objects.get(value="Acme")
    assert selectors.sysconfig_int("REST_MAX_RECORDS_SIZE", 7) == 100
    services.sysconfig_set(name="REST_MAX_RECORDS_SIZE", value="20", client=garden)
    assert selectors.sysconfig_int("REST_MAX_RECORDS_SIZE", 7, client_id=garden.id) == 20
    assert selectors.sysconfig_int("REST_MAX_RECORDS_SIZE", 7, client_id=acme.id) == 100
    assert selectors.sysconfig_value("rest_max_records_size") == "100"  # names are case-insensitive
    assert selectors.sysconfig_value("NO_SUCH_KEY", "dflt") == "dflt"


def test_sysconfig_bad_values_fall_back_to_defaults(demo):
    services.sysconfig_set(name="REST_MAX_RECORDS_SIZE", value="many")
    assert selectors.sysconfig_int("REST_MAX_RECORDS_SIZE", 42) == 42
    services.sysconfig_set(name="IDEMPIERE_REST_EXPOSE_JWK", value=" yes ")
    assert selectors.sysconfig_bool("IDEMPIERE_REST_EXPOSE_JWK") is True


def test_credentials_check_hashes_once_whoever_asks(demo, monkeypatch):
    calls = []
    real = services.authenticate

    def counting(**kwargs):
        calls.append(kwargs["username"])
        return real(**kwargs)

    monkeypatch.setattr(services, "authenticate", counting)
    assert services.credentials_check(username="gardenADMIN", password="GardenAdmin").username == "GardenAdmin"
    for name in ("gardenADMIN", "NoSuchUser"):
        with pytest.raises(NotAuthenticated):
            services.credentials_check(username=name, password="wrong")
    assert len(calls) == 3


def test_default_context_for_basic(demo):
    user = User.objects.get(username="GardenAdmin")
    ctx = services.context_default_for_user(user)
    assert ctx.client_id == Client.objects.get(value="GardenWorld").id
    assert ctx.is_admin and ctx.visible_org_ids() is None
    assert ctx.as_variables()["#AD_Client_ID"] == ctx.client_id

    limited = services.context_default_for_user(User.objects.get(username="GardenUser"))
    assert not limited.is_admin
    assert 0 in limited.visible_org_ids() and limited.org_id in limited.visible_org_ids()


def test_get_context_requires_a_context():
    class Anonymous:
        auth = None

    with pytest.raises(NotAuthenticated):
        get_context(Anonymous())


def test_login_token_of_a_deactivated_user_is_refused(demo):
    client = APIClient()
    token = client.post(
        "/api/v1/auth/tokens", {"userName": "GardenUser", "password": "GardenUser"}, format="json"
    ).json()["token"]
    User.objects.filter(username="GardenUser").update(is_active=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/auth/roles").status_code == 401
    assert client.put("/api/v1/auth/tokens", {}, format="json").status_code == 401
