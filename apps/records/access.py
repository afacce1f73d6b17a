"""Role access to tables (read/write), cached per role in the Django cache; DELETE /caches resets it."""

from __future__ import annotations

from django.core.cache import cache

from apps.accounts import table_access_cache
from apps.accounts.models import RoleTableAccess
from apps.core.errors import Forbidden

ACCESS_GEN_KEY = table_access_cache.GENERATION_KEY
ACCESS_CACHE_SECONDS = 300
_ISSUED_KEYS: set[str] = set()


def _access_key(role_id: int) -> str:
    """Filed under the shared generation: any write to access rows (any node) bumps it."""
    return f"records:access:{table_access_cache.generation(role_id)}:{role_id}"


def table_access(ctx) -> dict[str, bool] | None:
    """``None`` when the role reaches every table, else ``{lower table name: can_write}`` of readable ones."""
    role = ctx.role
    if role.is_all_tables:
        return None
    key = _access_key(role.id)
    found = cache.get(key)
    if found is None:
        found = {}
        for name, can_read, can_write in RoleTableAccess.objects.filter(role_id=role.id).values_list(
            "table_name", "can_read", "can_write"
        ):
            if can_read or can_write:
                found[name.lower()] = bool(can_write)
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
    """Drop one role's cached access; 1 if an entry was there, else 0."""
    key = _access_key(role_id)
    present = cache.get(key) is not None
    cache.delete(key)
    _ISSUED_KEYS.discard(key)
    return int(present)


def reset_access_cache() -> int:
    size = access_cache_size()
    table_access_cache.generation_bump()
    cache.delete_many(list(_ISSUED_KEYS))
    _ISSUED_KEYS.clear()
    return size
