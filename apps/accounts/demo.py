"""Accounts part of the demo (DESIGN §9). Demo passwords equal the user names: demo only."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from apps.accounts.models import (
    Client,
    Organization,
    Role,
    RoleOrgAccess,
    RoleTableAccess,
    SysConfig,
    User,
    UserRole,
    Warehouse,
)
from apps.accounts.services import KNOWN_SYSCONFIG, sysconfig_cache_clear

# Business tables GardenUser may read and write (C_ElementValue, C_DocType: read only).
GARDEN_USER_TABLES = {
    "c_bp_group": True,
    "c_bpartner": True,
    "m_product_category": True,
    "m_product": True,
    "c_order": True,
    "c_orderline": True,
    "c_elementvalue": False,
    "c_doctype": False,
}


def _user(username: str, client: Client | None, *, staff: bool = False, superuser: bool = False,
          supervisor: User | None = None) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"client": client, "is_staff": staff, "is_superuser": superuser,
                  "email": f"{username.lower()}@example.com"},
    )
    changed = created
    if supervisor is not None and user.supervisor_id != supervisor.id:
        user.supervisor = supervisor
        changed = True
    if created:
        user.set_password(username)
    if changed:
        user.save()
    return user


def _client_setup(value: str, name: str) -> tuple[Client, Organization, Warehouse]:
    client, _ = Client.objects.get_or_create(value=value, defaults={"name": name})
    org, _ = Organization.objects.get_or_create(
        client=client, value="HQ", defaults={"name": "HQ"}
    )
    warehouse, _ = Warehouse.objects.get_or_create(
        client=client, value="HQ", defaults={"name": "HQ Warehouse", "org": org}
    )
    return client, org, warehouse


def _role(client: Client, name: str, **fields) -> Role:
    role, created = Role.objects.get_or_create(client=client, name=name, defaults=fields)
    if not created:
        for key, value in fields.items():
            setattr(role, key, value)
        role.save()
    return role


def _grant(user: User, role: Role, org: Organization, warehouse: Warehouse) -> None:
    RoleOrgAccess.objects.get_or_create(role=role, org=org)
    UserRole.objects.update_or_create(
        user=user, role=role,
        defaults={"is_default": True, "default_org": org, "default_warehouse": warehouse},
    )


def load(log: Callable[[str], None]) -> None:
    Client.objects.get_or_create(id=0, defaults={"value": "SYSTEM", "name": "System"})
    Organization.objects.get_or_create(id=0, defaults={"client_id": 0, "value": "0", "name": "*"})

    garden, garden_hq, garden_wh = _client_setup("GardenWorld", "GardenWorld")
    Organization.objects.get_or_create(client=garden, value="Store", defaults={"name": "Store"})
    acme, acme_hq, acme_wh = _client_setup("Acme", "Acme")

    garden_admin_role = _role(
        garden, "GardenWorld Admin", org=garden_hq, is_admin=True, is_all_tables=True,
        is_all_orgs=True, approval_amount=None,
    )
    garden_user_role = _role(
        garden, "GardenWorld User", org=garden_hq, is_admin=False, is_all_tables=False,
        is_all_orgs=False, approval_amount=Decimal(10000),
    )
    for table, writable in GARDEN_USER_TABLES.items():
        RoleTableAccess.objects.update_or_create(
            role=garden_user_role, table_name=table,
            defaults={"can_read": True, "can_write": writable},
        )
    acme_admin_role = _role(
        acme, "Acme Admin", org=acme_hq, is_admin=True, is_all_tables=True, is_all_orgs=True,
        approval_amount=None,
    )

    garden_admin = _user("GardenAdmin", garden)
    garden_user = _user("GardenUser", garden, supervisor=garden_admin)
    acme_admin = _user("AcmeAdmin", acme)
    _user("admin", None, staff=True, superuser=True)

    _grant(garden_admin, garden_admin_role, garden_hq, garden_wh)
    _grant(garden_user, garden_user_role, garden_hq, garden_wh)
    _grant(acme_admin, acme_admin_role, acme_hq, acme_wh)

    for name, (value, description) in KNOWN_SYSCONFIG.items():
        SysConfig.objects.get_or_create(
            client=None, name=name, defaults={"value": value, "description": description}
        )
    sysconfig_cache_clear()
    log("accounts: clients GardenWorld and Acme, users GardenAdmin, GardenUser, AcmeAdmin, admin")
