"""The chunk ledger's statements: a chunk's claim and its record, planned once per connection.

A claim is one INSERT; the record grows the session row (its lock held to the commit, so that
concurrent chunks add up one after the other) and marks the claim received, only while the claim
is still its request's. On PostgreSQL outside a transaction each is one statement whose commit
does not wait for the WAL flush, followed by one durable write (:func:`_record_pg`); elsewhere one
transaction with a durable commit. The callers hold the writer's locks (:mod:`apps.uploads.locks`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from apps.core import prepared
from apps.uploads.models import UploadChunk, UploadSession

logger = logging.getLogger("ledgerdoc.uploads")

State = UploadSession.State


def commit_without_flush() -> None:
    """A claim need not survive a database crash (its request would not either): on PostgreSQL
    its commit does not wait for the WAL flush. What a chunk records stays a durable commit."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


_CLAIM_SQL: dict[str, tuple[str, list[Any]]] = {}


def _claim_sql(connection: Any) -> tuple[str, list[Any]]:
    """The claim's INSERT (nothing when the chunk has a row already) and the chunk fields it
    inserts, in their order; its commit does not wait for the WAL flush."""
    built = _CLAIM_SQL.get(connection.vendor)
    if built is None:
        meta, qn = UploadChunk._meta, connection.ops.quote_name
        fields = [field for field in meta.concrete_fields if not field.primary_key]
        columns = ", ".join(qn(field.column) for field in fields)
        values = ", ".join(["%s"] * len(fields))
        unique = ", ".join(qn(meta.get_field(name).column) for name in ("session", "index"))
        pk = qn(meta.pk.column)
        sql = (
            "WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))"
            f" INSERT INTO {qn(meta.db_table)} ({columns}) SELECT {values} FROM async"
            f" ON CONFLICT ({unique}) DO NOTHING RETURNING {pk}"
        )
        built = _CLAIM_SQL[connection.vendor] = (sql, fields)
    return built


def claim_insert(
    session: UploadSession, index: int, chunk_offset: int | None, now: Any
) -> UploadChunk | None:
    """A new claim of chunk ``index``, or None when the chunk has a row already (or the session
    is gone: the caller looks). A claim need not survive a database crash (its request would not
    either): its commit does not wait for the WAL flush. On PostgreSQL outside a transaction that
    is one statement (:func:`_claim_sql`)."""
    claim = UploadChunk(
        session_id=session.pk, index=index, offset=chunk_offset, received=False, created=now
    )
    connection = transaction.get_connection()
    try:
        if not autocommit_postgresql(connection):
            with transaction.atomic():
                commit_without_flush()
                claim.save(force_insert=True)
            return claim
        sql, fields = _claim_sql(connection)
        params = [field.get_db_prep_save(getattr(claim, field.attname), connection)
                  for field in fields]
        with connection.cursor() as cursor:
            prepared.execute(connection, cursor, sql, params)
            row = cursor.fetchone()
    except IntegrityError:
        return None  # the chunk has a row already, or the session went away under the INSERT
    if row is None:
        return None
    claim.pk = row[0]
    claim._state.adding, claim._state.db = False, connection.alias
    return claim


class _NotRecorded(Exception):
    """The record step's conditions did not hold: its transaction is rolled back."""


_RECORD_SQL: dict[tuple[str, bool, bool], str] = {}


def _growth_sql(connection: Any, *, completes: bool = False, ours_exists: bool = False) -> str:
    """The record step's UPDATE of the session row: add a chunk's bytes to an open session within
    its size (or the file limit while the size is unknown), INITIATED becoming UPLOADING; RETURNING
    what completion is judged by. ``completes``: the chunk whose bytes complete the upload sets it
    PROCESSING (sessions whose bytes say so, :func:`completes_by_bytes`). ``ours_exists``: only
    while the claim is still ours (:func:`_ours_sql`). Parameters: :func:`_growth_params`."""
    key = (connection.vendor, completes, ours_exists)
    sql = _RECORD_SQL.get(key)
    if sql is None:
        meta, qn = UploadSession._meta, connection.ops.quote_name

        def col(name: str) -> str:
            return qn(meta.get_field(name).column)

        received, state, size = col("received_bytes"), col("state"), col("size")
        case = f"CASE WHEN {state} = %s THEN %s ELSE {state} END"
        if completes:
            complete = (f"{size} IS NOT NULL AND ({col('chunk_count')} IS NULL"
                        f" OR {col('chunk_size')} IS NOT NULL) AND {received} + %s >= {size}")
            case = f"CASE WHEN {complete} THEN %s WHEN {state} = %s THEN %s ELSE {state} END"
        ours = ""
        if ours_exists:
            chunks = qn(UploadChunk._meta.db_table)
            ours = f" AND EXISTS (SELECT 1 FROM {chunks} WHERE {_ours_sql(connection)})"
        sql = _RECORD_SQL[key] = (
            f"UPDATE {qn(meta.db_table)} SET {received} = {received} + %s, {state} = {case},"
            f" {col('updated')} = %s WHERE {qn(meta.pk.column)} = %s AND {state} IN (%s, %s)"
            f" AND {received} + %s <= COALESCE({size}, %s){ours}"
            f" RETURNING {received}, {state}, {size}, {col('chunk_size')}, {col('chunk_count')}"
        )
    return sql


def _growth_params(
    connection: Any, session: UploadSession, size: int, now: Any, *, completes: bool = False,
    ours: Iterable[Any] = (),
) -> list[Any]:
    case = [size, State.PROCESSING] if completes else []
    return [
        size, *case, State.INITIATED, State.UPLOADING,
        connection.ops.adapt_datetimefield_value(now),
        session.pk, State.INITIATED, State.UPLOADING, size, int(settings.UPLOAD_MAX_FILE_SIZE),
        *ours,
    ]


def _ours_sql(connection: Any) -> str:
    """The claim's row while it is still ours: unreceived, and ``created`` as we made it (a newer
    request that took the claim over gave it a new one). Parameters: :func:`_ours_params`."""
    meta, qn = UploadChunk._meta, connection.ops.quote_name
    return (f"{qn(meta.pk.column)} = %s AND {qn(meta.get_field('created').column)} = %s"
            f" AND {qn(meta.get_field('received').column)} = %s")


def _ours_params(connection: Any, claim: UploadChunk) -> list[Any]:
    created = UploadChunk._meta.get_field("created")
    return [claim.pk, created.get_db_prep_value(claim.created, connection), False]


def _mark_sql(connection: Any, names: tuple[str, ...]) -> str:
    """Set the fields ``names`` on the claim's row while it is still ours."""
    meta, qn = UploadChunk._meta, connection.ops.quote_name
    sets = ", ".join(f"{qn(meta.get_field(name).column)} = %s" for name in names)
    return f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {_ours_sql(connection)}"


def _mark_params(connection: Any, fields: dict[str, Any]) -> list[Any]:
    meta = UploadChunk._meta
    return [
        meta.get_field(name).get_db_prep_save(value, connection) for name, value in fields.items()
    ]


_RECEIVED_SQL: dict[tuple[str, tuple[str, ...]], str] = {}


def _mark_received(connection: Any, claim: UploadChunk, fields: dict[str, Any]) -> bool:
    """Set ``fields`` on the claim's row while it is still ours."""
    names = tuple(fields)
    sql = _RECEIVED_SQL.get((connection.vendor, names))
    if sql is None:
        sql = _RECEIVED_SQL[(connection.vendor, names)] = _mark_sql(connection, names)
    with connection.cursor() as cursor:
        prepared.execute(connection, cursor, sql,
                         _mark_params(connection, fields) + _ours_params(connection, claim))
        return cursor.rowcount == 1


def chunk_record(
    session: UploadSession, claim: UploadChunk, fields: dict[str, Any]
) -> bool | None:
    """Record a received chunk: True/False (the upload is complete or not), or None when it may not
    count (the session is gone, closed or full; the claim was taken over), nothing changed.

    The session row's UPDATE adds the chunk's bytes (its lock is held to the commit: concurrent
    chunks add up one after the other, as under SELECT ... FOR UPDATE) and the claim's conditional
    UPDATE marks it received; the chunk that completes the upload sets it PROCESSING (its caller
    enqueues finalize once it let go of its locks). On PostgreSQL outside a transaction that is
    :func:`_record_pg`; elsewhere one transaction with a durable commit. Every statement is planned
    once per connection (``apps.core.prepared``)."""
    connection = transaction.get_connection()
    if autocommit_postgresql(connection) and completes_by_bytes(session):
        return _record_pg(connection, session, claim, fields)
    now = timezone.now()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                prepared.execute(connection, cursor, _growth_sql(connection),
                                 _growth_params(connection, session, fields["size"], now))
                row = cursor.fetchone()
            if row is None:
                raise _NotRecorded
            if not _mark_received(connection, claim, fields):
                raise _NotRecorded
            (session.received_bytes, session.state, session.size, session.chunk_size,
             session.chunk_count) = row
            session.updated = now
            complete = session.all_in()
            if complete:
                session.state = State.PROCESSING
                session.save(update_fields=["state", "updated"])
    except _NotRecorded:
        return None
    return complete


def autocommit_postgresql(connection: Any) -> bool:
    """PostgreSQL with every statement its own transaction (not inside one of the caller's)."""
    return (connection.vendor == "postgresql" and not connection.in_atomic_block
            and connection.get_autocommit())


def completes_by_bytes(session: UploadSession) -> bool:
    """Whether the bytes received say when the upload is complete (:meth:`UploadSession.all_in`), rather than
    the count of received chunks: then the record statement itself can say it."""
    return session.chunk_count is None or (
        session.chunk_size is not None and session.size is not None
    )


_RECORD_PG_SQL: dict[tuple[str, ...], str] = {}
_DONE_PG_SQL: dict[str, str] = {}


def _record_pg_sql(connection: Any, names: tuple[str, ...]) -> str:
    """The record step as one statement: the session row grows (its row lock first, as everywhere)
    only while the claim is still ours, and the claim is marked received only if the session grew.
    The chunk whose bytes complete the upload sets it PROCESSING in the same statement (for
    sessions whose bytes say when they are complete: :func:`completes_by_bytes`), so no crash can
    leave an upload with every byte in but never finalized.

    Should the claim be found not ours after all (only a request holding the slot's lock could
    change it, and we hold it), the division by the count of marked claims fails the statement:
    plain SQL's one way to roll back what it has done, rather than count bytes no chunk holds."""
    sql = _RECORD_PG_SQL.get(names)
    if sql is None:
        sql = _RECORD_PG_SQL[names] = (
            f"WITH grown AS ({_growth_sql(connection, completes=True, ours_exists=True)}),"
            f" marked AS ({_mark_sql(connection, names)} AND EXISTS (SELECT 1 FROM grown)"
            " RETURNING 1)"
            " SELECT grown.*, 1 / (SELECT count(*) FROM marked)::int,"
            " set_config('synchronous_commit', 'off', true) FROM grown"
        )
    return sql


def _done_pg_sql(connection: Any) -> str:
    """The statement after the record: a durable write of the chunk's own row, whose commit
    flushes the WAL up to it, and with it the record before it. The locks are given back after."""
    sql = _DONE_PG_SQL.get(connection.vendor)
    if sql is None:
        qn = connection.ops.quote_name
        meta = UploadChunk._meta
        sql = _DONE_PG_SQL[connection.vendor] = (
            f"UPDATE {qn(meta.db_table)} SET {qn(meta.get_field('stop_requested').column)} = false"
            f" WHERE {qn(meta.pk.column)} = %s"
        )
    return sql


def _record_pg(
    connection: Any, session: UploadSession, claim: UploadChunk, fields: dict[str, Any]
) -> bool | None:
    """The record step on PostgreSQL, in two statements outside a transaction.

    1. :func:`_record_pg_sql` grows the session and marks the claim (the last chunk sets the
       upload PROCESSING); its commit does not wait for the WAL flush, so the session row's lock
       is held for the statement only. Under a durable commit, concurrent chunks of one upload
       waited for each other's flush in turn.
    2. :func:`_done_pg_sql`: a durable write, then the lock given back. Its flush makes the record
       durable before the chunk is answered, and concurrent chunks' flushes are shared (group
       commit) instead of queued behind the session row. Finalize is enqueued after it.

    A crash between the two loses a record whose chunk was not answered yet (as a crash before a
    durable commit would), or keeps it: an upload left PROCESSING is finalized again by beat. The
    data's fsync came before both."""
    now = timezone.now()
    ours = _ours_params(connection, claim)
    params = [
        *_growth_params(connection, session, fields["size"], now, completes=True, ours=ours),
        *_mark_params(connection, fields), *ours,
    ]
    try:
        with connection.cursor() as cursor:
            prepared.execute(connection, cursor, _record_pg_sql(connection, tuple(fields)), params)
            row = cursor.fetchone()
    except DataError as error:
        if getattr(error.__cause__, "sqlstate", None) != "22012":  # division_by_zero: see the SQL
            raise
        logger.error("Chunk %s of %s: its claim was not ours at the record", claim.index,
                     session.uid)
        return None
    if row is None:
        return None
    (session.received_bytes, session.state, session.size, session.chunk_size,
     session.chunk_count) = row[:5]
    session.updated = now
    with connection.cursor() as cursor:
        prepared.execute(connection, cursor, _done_pg_sql(connection), [claim.pk])
    return session.state == State.PROCESSING  # set by this statement: it required an open one
