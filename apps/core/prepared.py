"""Statements that every request runs, planned once per database connection.

On PostgreSQL, planning a statement can cost more than running it: the bearer session read (five
tables joined) plans in about 1.3 ms and runs in 0.2 ms. ``execute`` sends such a statement with
``PREPARE`` the first time a connection meets it and with ``EXECUTE`` afterwards, so each
connection plans it once. Elsewhere (SQLite) the statement runs as it is.

The statement's text is the key: callers pass SQL built once per process, with ``%s`` parameters.
A connection that is closed and opened again starts without prepared statements, as the server
does. (Like the upload locks, this needs session pooling or direct connections: a pooler in
transaction mode would send ``EXECUTE`` to a server connection that never saw the ``PREPARE``.)
"""

from __future__ import annotations

import hashlib
import re
import weakref
from typing import Any

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


def execute(connection: Any, cursor: Any, sql: str, params: list[Any]) -> None:
    """Run ``sql`` with ``params`` on ``cursor`` (of ``connection``), planned once per connection
    on PostgreSQL."""
    if connection.vendor != "postgresql":
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
    cursor.execute(f"EXECUTE {name}({placeholders})" if params else f"EXECUTE {name}", params)
