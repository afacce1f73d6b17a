"""Statements that every request runs, planned once per database connection.

On PostgreSQL, planning a statement can cost more than running it: the bearer session read (five
tables joined) plans in about 1.3 ms and runs in 0.2 ms. ``execute`` sends such a statement with
``PREPARE`` the first time a connection meets it and with ``EXECUTE`` afterwards, so each
connection plans it once. Elsewhere (SQLite) the statement runs as it is.

The statement's text is the key: callers pass SQL built once per process, with ``%s`` parameters.
A connection that is closed and opened again starts without prepared statements, as the server
does.

A prepared statement is state of the server's session, so this holds only where a client
connection is one server session: direct connections and session pooling. Behind a transaction
pooler (``DATABASE_POOLER=transaction``: PgBouncer ``pool_mode=transaction``) each transaction may
run on another server connection, one that never saw the ``PREPARE`` or already holds one of the
same name from another client (``DuplicatePreparedStatement``); there ``execute`` sends the
statement plain and every run plans it again. Protocol-level preparation, which PgBouncer >= 1.21
keeps per server connection, is ``DATABASE_PROTOCOL_PREPARE`` (off by default, see settings).
"""

from __future__ import annotations

import hashlib
import re
import weakref
from typing import Any

from django.conf import settings

_PARAM = re.compile(r"%s")
# Raw connection -> names of the statements prepared on it.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_names: dict[str, tuple[str, str]] = {}


def _statement(sql: str) -> tuple[str, str]:
    """(the statement's name, its text with ``$n`` parameters)."""
    found = _names.get(sql)
    if found is None:
        name = "ledgerdoc_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
        counter = iter(range(1, 1 + sql.count("%s")))
        found = _names[sql] = (name, _PARAM.sub(lambda _m: f"${next(counter)}", sql))
    return found


def _pooled_by_transaction() -> bool:
    """The database is reached through a transaction pooler: no session state may be left on a
    connection (read per call, so a test's ``override_settings`` holds)."""
    return getattr(settings, "DATABASE_POOLER", "none") == "transaction"


def execute(connection: Any, cursor: Any, sql: str, params: list[Any]) -> None:
    """Run ``sql`` with ``params`` on ``cursor`` (of ``connection``), planned once per connection
    on PostgreSQL unless a transaction pooler stands between them."""
    if connection.vendor != "postgresql" or _pooled_by_transaction():
        cursor.execute(sql, params)
        return
    name, text = _statement(sql)
    raw = connection.connection
    done = _prepared.get(raw)
    if done is None:
        done = _prepared[raw] = set()
    if name not in done:
        # On the driver's connection: setup of the connection, like its SET statements, not a
        # query of the request (query counts stay what they are).
        raw.execute(f"PREPARE {name} AS {text}")
        done.add(name)
    placeholders = ", ".join(["%s"] * len(params))
    # The statement's own text rides along as a comment: logs and query captures still show
    # what ran (``%`` doubled: the driver interpolates the parameters client-side).
    note = text.replace("%", "%%").replace("*/", "* /")
    run = f"EXECUTE {name}({placeholders})" if params else f"EXECUTE {name}"
    cursor.execute(f"{run} /* {note} */", params)


class Columns:
    """Every concrete column of ``model`` under a table alias in a hand-built SELECT, and how to
    make an instance of the values read back: the backend's converters, then ``Model.from_db``,
    as a queryset makes it."""

    def __init__(self, model: Any, alias: str, connection: Any) -> None:
        self.model = model
        self.fields = model._meta.concrete_fields
        qn = connection.ops.quote_name
        self.sql = ", ".join(f"{alias}.{qn(field.column)}" for field in self.fields)
        self._plan = []
        for field in self.fields:
            col = field.get_col(alias)
            self._plan.append((col, [*connection.ops.get_db_converters(col),
                                     *field.get_db_converters(connection)]))

    def __len__(self) -> int:
        return len(self.fields)

    def instance(self, db_alias: str, connection: Any, values: Any) -> Any:
        converted = []
        for raw, (col, converters) in zip(values, self._plan, strict=True):
            for converter in converters:
                raw = converter(raw, col, connection)
            converted.append(raw)
        return self.model.from_db(db_alias, [field.attname for field in self.fields], converted)


class ModelRead:
    """``SELECT`` every concrete column of ``model`` ``WHERE`` the given fields equal the values,
    first by primary key: built once per database vendor, planned once per connection.

    For a read every request of a hot path makes (an upload's chunk PUT finds its session), where
    compiling the same ORM query again costs more than running it."""

    def __init__(self, model: Any, *fields: str) -> None:
        self.model = model
        self.fields = [model._meta.get_field(name) for name in fields]
        self._built: dict[str, tuple[str, Columns]] = {}

    def _build(self, connection: Any) -> tuple[str, Columns]:
        meta, qn = self.model._meta, connection.ops.quote_name
        columns = Columns(self.model, "t", connection)
        where = " AND ".join(f"t.{qn(field.column)} = %s" for field in self.fields)
        sql = (f"SELECT {columns.sql} FROM {qn(meta.db_table)} t WHERE {where} "
               f"ORDER BY t.{qn(meta.pk.column)} LIMIT 1")
        return sql, columns

    def first(self, *values: Any) -> Any:
        from django.db import connections, router

        alias = router.db_for_read(self.model)
        connection = connections[alias]
        built = self._built.get(connection.vendor)
        if built is None:
            built = self._built[connection.vendor] = self._build(connection)
        sql, columns = built
        params = [field.get_db_prep_value(value, connection)
                  for field, value in zip(self.fields, values, strict=True)]
        with connection.cursor() as cursor:
            execute(connection, cursor, sql, params)
            row = cursor.fetchone()
        return None if row is None else columns.instance(alias, connection, row)
