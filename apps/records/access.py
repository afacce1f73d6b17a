"""Role access to tables (read/write), cached per role under the role's access generation.

The generation is kept and bumped by the database (triggers on ``AD_Table_Access``, see
``apps.accounts.table_access_cache``) and read with the request's session in the statement the
request makes anyway: any change of the rows, raw SQL included, applies at the next request on
every node. The entries' lifetime only bounds the memory of generations gone by.
DELETE /caches bumps the generations (of every role, or of one client's roles).
"""

from __future__ import annotations

from django.core.cache import cache

from apps.accounts import table_access_cache
from apps.accounts.models import RoleTableAccess
from apps.core.errors import Forbidden

ACCESS_CACHE_SECONDS = 300
_ISSUED_KEYS: set[str] = set()


def _access_key(role_id: int, generation: int | None = None) -> str:
    """Filed under the role's generation (read from the database when not given)."""
    if generation is None:
        generation = table_access_cache.generation(role_id)
    return f"records:access:{role_id}@{generation}"


def _read_rows(role_id: int) -> dict[str, bool]:
    found = {}
    for name, can_read, can_write in RoleTableAccess.objects.filter(role_id=role_id).values_list(
        "table_name", "can_read", "can_write"
    ):
        if can_read or can_write:
            found[name.lower()] = bool(can_write)
    return found


def table_access(ctx) -> dict[str, bool] | None:
    """``None`` when the role reaches every table, else ``{lower table name: can_write}`` of readable ones.

    Cached when the context's role came with its generation (every request's does); a context made
    otherwise (a worker's, the admin's) reads the rows: one query either way, and never stale."""
    role = ctx.role
    if role.is_all_tables:
        return None
    generation = table_access_cache.known_generation(role)
    if generation is None:
        return _read_rows(role.id)
    key = _access_key(role.id, generation)
    found = cache.get(key)
    if found is None:
        found = _read_rows(role.id)
        cache.set(key, found, ACCESS_CACHE_SECONDS)
        _ISSUED_KEYS.add(key)
    return found


def can_read(ctx, table_name: str) -> bool:
    access = table_access(ctx)
    return access is None or table_name.lower() in access


def can_write(ctx, table_name: str) -> bool:
    access = table_access(ctx)
    return access is None or bool(access.get(table_name.lower()))


def check_read(ctx, table_name: str) -> None:
    if not can_read(ctx, table_name):
        raise Forbidden(f"Your role may not read table '{table_name}'.")


def check_write(ctx, table_name: str) -> None:
    check_read(ctx, table_name)
    if not can_write(ctx, table_name):
        raise Forbidden(f"Your role may not change table '{table_name}'.")


def access_cache_size() -> int:
    return sum(1 for key in list(_ISSUED_KEYS) if cache.get(key) is not None)


def role_access_cached(role_id: int) -> bool:
    """Whether a role's table access is in the cache now (any process's entry, with a shared cache)."""
    return cache.get(_access_key(role_id)) is not None


def reset_role_access(role_id: int) -> int:
    """Drop one role's cached access on every node (its generation is bumped); 1 if an entry was
    there, else 0."""
    key = _access_key(role_id)
    present = cache.get(key) is not None
    table_access_cache.generations_bump([role_id])
    cache.delete(key)
    _ISSUED_KEYS.discard(key)
    return int(present)


def reset_access_cache() -> int:
    """Drop every role's cached access on every node (every generation is bumped)."""
    size = access_cache_size()
    table_access_cache.generations_bump(None)
    cache.delete_many(list(_ISSUED_KEYS))
    _ISSUED_KEYS.clear()
    return size
