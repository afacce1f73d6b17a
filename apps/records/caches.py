"""The caches /api/v1/caches lists and resets: dictionary metadata, role table access, SysConfig.

Who sees what (``client_id`` below): the System client's admin (``client_id`` None here) sees and
resets every cache whole. A client's admin role administers its own client only:

- ``records.dictionary`` is tenant-neutral (tables and columns, rebuilt from code): any admin;
- ``records.table_access`` is kept per role: a client's admin sees and drops only its own roles' entries;
- ``accounts.sysconfig`` is one entry holding every client's values: System only (a client's own
  SysConfig writes drop it anyway).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache

from apps.core.errors import BadRequest
from apps.core.wire import parse_int
from apps.records import access, dictionary, sync


def _distributed() -> bool:
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    return "locmem" not in backend.lower() and "dummy" not in backend.lower()


def _sysconfig_size() -> int:
    from apps.accounts.selectors import SYSCONFIG_CACHE_KEY

    found = cache.get(SYSCONFIG_CACHE_KEY)
    return len(found) if found else 0


def _sysconfig_reset() -> int:
    from apps.accounts.selectors import SYSCONFIG_CACHE_KEY

    size = _sysconfig_size()
    cache.delete(SYSCONFIG_CACHE_KEY)
    return size


def _dictionary_reset() -> int:
    size = dictionary.reset_meta_cache()
    sync.reset_synced()
    return size


def _dictionary_reset_record(table_name: str, record_id: int) -> int | None:
    """The dictionary is cached per table: an AD_Table or AD_Column row drops only its table's entry."""
    from apps.records.models import Column, Table

    wanted = table_name.lower()
    if wanted == "ad_table":
        names = Table.objects.filter(pk=record_id).values_list("table_name", flat=True)
    elif wanted == "ad_column":
        names = Column.objects.filter(pk=record_id).values_list("table__table_name", flat=True)
    else:
        return None  # references are shared by many tables: not cached per record
    name = next(iter(names), None)
    return dictionary.reset_table_meta(name) if name else 0


def _client_role_ids(client_id: int) -> list[int]:
    from apps.accounts.models import Role

    return list(Role.objects.filter(client_id=client_id).values_list("id", flat=True))


def _access_size(client_id: int | None) -> int:
    if client_id is None:
        return access.access_cache_size()
    # Looked up per role (not from this process's list of issued keys): right with a shared cache too.
    return sum(1 for role_id in _client_role_ids(client_id) if access.role_access_cached(role_id))


def _access_reset(client_id: int | None) -> int:
    if client_id is None:
        return access.reset_access_cache()
    return sum(access.reset_role_access(role_id) for role_id in _client_role_ids(client_id))


def _access_reset_record(table_name: str, record_id: int, client_id: int | None) -> int | None:
    """Table access is cached per role: an AD_Role row, or an AD_Table_Access row, drops that role's entry
    (a role of another client is, for a client's admin, no record at all: nothing is dropped)."""
    from apps.accounts.models import Role, RoleTableAccess

    if table_name.lower() == "ad_role":
        roles = Role.objects.filter(pk=record_id)
        if client_id is None:
            return access.reset_role_access(record_id)
    else:
        roles = Role.objects.filter(
            pk__in=RoleTableAccess.objects.filter(pk=record_id).values("role_id")
        )
    if client_id is not None:
        roles = roles.filter(client_id=client_id)
    role_id = next(iter(roles.values_list("id", flat=True)), None)
    return access.reset_role_access(role_id) if role_id is not None else 0


CACHES: list[dict[str, Any]] = [
    {"name": "records.dictionary", "table_name": "AD_Column",
     "size": lambda _client: dictionary.meta_cache_size(), "reset": lambda _client: _dictionary_reset(),
     "reset_record": lambda table, rid, _client: _dictionary_reset_record(table, rid),
     "expireMinutes": 0, "maxSize": 0, "shared": False, "system_only": False},
    {"name": "records.table_access", "table_name": "AD_Table_Access", "size": _access_size,
     "reset": _access_reset, "reset_record": _access_reset_record,
     "expireMinutes": access.ACCESS_CACHE_SECONDS // 60, "maxSize": 0, "shared": True,
     "system_only": False},
    {"name": "accounts.sysconfig", "table_name": "AD_SysConfig", "size": lambda _client: _sysconfig_size(),
     "reset": lambda _client: _sysconfig_reset(), "expireMinutes": 5, "maxSize": 0, "shared": True,
     "system_only": True},
]

_ALIASES = {
    "ad_column": {"ad_table", "ad_column", "ad_reference", "ad_ref_list"},
    "ad_table_access": {"ad_table_access", "ad_role"},
}


def _matches(entry: dict[str, Any], table_name: str | None, name: str | None, client_id: int | None) -> bool:
    if client_id is not None and entry["system_only"]:
        return False
    if table_name:
        wanted = table_name.lower()
        tables = _ALIASES.get(entry["table_name"].lower(), {entry["table_name"].lower()})
        if wanted not in tables:
            return False
    return not name or name.lower() in entry["name"].lower()


def cache_list(
    table_name: str | None = None, name: str | None = None, *, client_id: int | None = None
) -> list[dict[str, Any]]:
    """The caches a caller of ``client_id`` administers (None: the System, every cache), sized for it."""
    return [
        {
            "name": entry["name"],
            "table_name": entry["table_name"],
            "size": entry["size"](client_id),
            "expireMinutes": entry["expireMinutes"],
            "maxSize": entry["maxSize"],
            "distributed": entry["shared"] and _distributed(),
        }
        for entry in CACHES
        if _matches(entry, table_name, name, client_id)
    ]


def _record_id(raw: str | None) -> int | None:
    if raw is None or str(raw).strip() == "":
        return None
    return parse_int(str(raw), "record_id", minimum=0)


def cache_reset(
    table_name: str | None = None, record_id: str | int | None = None, *, client_id: int | None = None
) -> int:
    """Reset the caches of ``table_name`` (all when none); with ``record_id`` only that record's
    entries where a cache is kept per record (whole caches otherwise). A caller of ``client_id``
    drops only what that client administers (None: the System, everything). Returns the entries dropped."""
    rid = _record_id(record_id)
    if rid is not None and not table_name:
        raise BadRequest("record_id needs table_name.")
    total = 0
    for entry in CACHES:
        if not _matches(entry, table_name, None, client_id):
            continue
        dropped = None
        if rid is not None and entry.get("reset_record") is not None:
            dropped = entry["reset_record"](table_name, rid, client_id)
        total += entry["reset"](client_id) if dropped is None else dropped
    return total
