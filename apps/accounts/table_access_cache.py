"""Generations of role table access in the shared cache: part of every cached entry's key, bumped
by every write to ``AD_Table_Access`` rows.

Each role has a generation of its own (a write bumps the roles it touches), under one global
generation (``DELETE /api/v1/caches`` of the System bumps that one: every role at once). With
``CACHE_URL`` naming a shared cache (Redis, memcached), a bump on one node makes every node's next
request miss its stale entry and read the rows again: nothing has to reach the other nodes but the
counters. (A per-process cache would make each node a cache of its own: a deployment with several
nodes must set ``CACHE_URL``.)
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "records:access:gen"


def _role_key(role_id: int) -> str:
    return f"{GENERATION_KEY}:{role_id}"


def _fresh() -> int:
    # After an eviction of a counter its generation restarts from the clock, never from a value
    # that stale entries (they live 300 s) could still be filed under.
    return time.time_ns() // 1_000_000


def generation(role_id: int) -> str:
    """The generation a role's cached access is filed under (global and the role's own)."""
    keys = [GENERATION_KEY, _role_key(role_id)]
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, _fresh(), None)
            found[key] = cache.get(key, 0)
    return f"{found[keys[0]]}.{found[keys[1]]}"


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        if not cache.add(key, _fresh(), None):
            cache.incr(key)


def _bump_all(keys: list[str]) -> None:
    for key in keys:
        _bump(key)


def generation_bump(role_ids: Iterable[int] | None = None) -> None:
    """Invalidate the cached table access of ``role_ids`` (None: every role), on every node: now,
    and again once the surrounding transaction commits (a request between the two could otherwise
    cache the rows as they were before the commit)."""
    keys = [GENERATION_KEY] if role_ids is None else [_role_key(r) for r in set(role_ids) if r]
    if not keys:
        return
    _bump_all(keys)
    transaction.on_commit(lambda: _bump_all(keys))
