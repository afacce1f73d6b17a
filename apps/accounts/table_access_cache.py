"""Generations of role table access, kept and bumped by the database: part of every cached entry's key.

``AD_Access_Generation`` holds one counter per role (no row: 0). Triggers on ``AD_Table_Access``
(migration ``records.0003_access_generation``, PostgreSQL and SQLite alike) bump the counter of
every role whose rows an INSERT, UPDATE or DELETE touches, in the writing transaction itself: the
ORM, the admin, raw SQL and iDempiere-style scripts all count, and nothing in Python can forget it.

Every authenticated request already reads its login session (bearer token, UI:
``selectors.session_for_token``) or its default role (HTTP Basic: ``selectors.user_default_grant``)
in one statement; that statement reads the role's counter as one more column (``generation_sql``),
which lands on the role as ``access_generation``. So an access change applies at the next request,
on every node, whatever ``CACHE_URL`` is, at no extra round trip. A context that was not made by
such a read (a worker's, the admin's) has no known generation and reads the rows themselves.

The rows are read after the counter (later statements of the request): a cached entry is never
older than the generation it is filed under. A bump sets the counter to max(counter + 1, now in
ms), so a counter row deleted by hand restarts above any value an entry could be filed under.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

TABLE = "AD_Access_Generation"
ROLE_COLUMN = "AD_Role_ID"
COLUMN = "Generation"

_CLOCK_MS = {
    "postgresql": "(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
}
_GREATEST = {"postgresql": "GREATEST", "sqlite": "MAX"}


def generation_sql(connection, role_column: str) -> str:
    """A scalar subquery for a SELECT list: the generation of the role ``role_column`` (a column
    reference of the outer query, e.g. ``r."AD_Role_ID"``); NULL when the role has no counter."""
    qn = connection.ops.quote_name
    return (
        f"(SELECT ag.{qn(COLUMN)} FROM {qn(TABLE)} ag WHERE ag.{qn(ROLE_COLUMN)} = {role_column})"
    )


def generation_of(value) -> int:
    """The generation a ``generation_sql`` column read back stands for (no counter row: 0)."""
    return int(value or 0)


def known_generation(role) -> int | None:
    """The generation read with the request's session (or default role), None when there was none."""
    return getattr(role, "access_generation", None)


def generation(role_id: int) -> int:
    """The current generation of a role, in a query of its own (for the caches admin, not requests)."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn(COLUMN)} FROM {qn(TABLE)} WHERE {qn(ROLE_COLUMN)} = %s", [role_id]
        )
        row = cursor.fetchone()
    return generation_of(row[0] if row else None)


def generations_bump(role_ids: Iterable[int] | None = None) -> None:
    """Bump the generation of ``role_ids`` (None: every role) as the triggers do: every node's
    cached access of those roles is stale at its next request (``DELETE /api/v1/caches``)."""
    from apps.accounts.models import Role

    qn = connection.ops.quote_name
    vendor = connection.vendor
    role_pk = qn(Role._meta.pk.column)
    params: list[int] = []
    where = "true"
    if role_ids is not None:
        params = sorted({int(r) for r in role_ids if r is not None})
        if not params:
            return
        where = f"r.{role_pk} IN ({', '.join(['%s'] * len(params))})"
    table, column = qn(TABLE), qn(COLUMN)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({qn(ROLE_COLUMN)}, {column}) "
            f"SELECT r.{role_pk}, {_CLOCK_MS[vendor]} FROM {qn(Role._meta.db_table)} r "
            f"WHERE {where} ORDER BY 1 "
            f"ON CONFLICT ({qn(ROLE_COLUMN)}) DO UPDATE "
            f"SET {column} = {_GREATEST[vendor]}({table}.{column} + 1, excluded.{column})",
            params,
        )


def generation_bump(role_ids: Iterable[int] | None = None) -> None:
    """Called after each ORM write of ``RoleTableAccess`` rows (``apps.accounts.models``): the
    database's triggers have bumped the generations in the write itself, so nothing is left to do
    here (bumping again would cost a second write per change). ``None`` (every role) still bumps."""
    if role_ids is None:
        generations_bump(None)
