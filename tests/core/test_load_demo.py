"""``manage.py load_demo``: idempotent, with the clients, users and roles of DESIGN §9."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import call_command

from apps.accounts.models import (
    Client,
    Role,
    RoleTableAccess,
    SysConfig,
    User,
    UserRole,
)

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in {"accounts", "records", "erp", "workflow", "uploads", "dms"}
        and model._meta.label != "accounts.AuthSession"
    }


def test_load_demo_is_idempotent():
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "Demo data loaded." in out.getvalue()
    first = _counts()
    call_command("load_demo", stdout=io.StringIO())
    assert _counts() == first
    assert first["accounts.Client"] == 3  # System, GardenWorld, Acme
    assert first["accounts.User"] == 4


def test_demo_users_and_roles(demo):
    garden = Client.objects.get(value="GardenWorld")
    acme = Client.objects.get(value="Acme")

    garden_admin = User.objects.get(username="GardenAdmin")
    assert garden_admin.client == garden and garden_admin.check_password("GardenAdmin")
    grant = UserRole.objects.get(user=garden_admin)
    assert grant.role.name == "GardenWorld Admin" and grant.role.client == garden
    assert grant.role.is_all_tables and grant.role.is_admin
    assert grant.role.approval_amount is None  # unlimited
    assert grant.default_org.name == "HQ"
    assert grant.default_warehouse.name == "HQ Warehouse"

    garden_user = User.objects.get(username="GardenUser")
    assert garden_user.supervisor == garden_admin
    user_role = UserRole.objects.get(user=garden_user).role
    assert user_role.name == "GardenWorld User"
    assert not user_role.is_all_tables and not user_role.is_admin
    assert user_role.approval_amount == 10000
    element_value = RoleTableAccess.objects.get(role=user_role, table_name="c_elementvalue")
    assert element_value.can_read and not element_value.can_write
    assert RoleTableAccess.objects.filter(role=user_role, can_write=True).exists()

    acme_admin = User.objects.get(username="AcmeAdmin")
    assert acme_admin.client == acme
    assert UserRole.objects.get(user=acme_admin).role.client == acme
    assert not Role.objects.filter(client=acme, users=garden_admin).exists()

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff

    assert SysConfig.objects.get(client=None, name="IDEMPIERE_REST_EXPOSE_JWK").value == "N"


def test_load_demo_keeps_changed_passwords(demo):
    user = User.objects.get(username="GardenUser")
    user.set_password("changed-secret")
    user.save()
    call_command("load_demo", stdout=io.StringIO())
    user.refresh_from_db()
    assert user.check_password("changed-secret")
