"""The generation of role table access in the shared cache: part of every cached entry's key, bumped
by every write to ``AD_Table_Access`` rows.

With ``CACHE_URL`` naming a shared cache (Redis, memcached), a bump on one node makes every node's
next request miss its stale entry and read the rows again: nothing has to reach the other nodes but
the one counter. (A per-process cache would make each node a cache of its own: a deployment with
several nodes must set ``CACHE_URL``.)
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "records:access:gen"


def _fresh() -> int:
    # After an eviction of the counter the generation restarts from the clock, never from a value
    # that stale entries (they live 300 s) could still be filed under.
    return time.time_ns() // 1_000_000


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, _fresh(), None)
        value = cache.get(GENERATION_KEY, 0)
    return int(value)


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        if not cache.add(GENERATION_KEY, _fresh(), None):
            cache.incr(GENERATION_KEY)


def generation_bump() -> None:
    """Invalidate every role's cached table access, on every node: now, and again once the
    surrounding transaction commits (a request between the two could otherwise cache the rows as
    they were before the commit)."""
    _bump()
    transaction.on_commit(_bump)
