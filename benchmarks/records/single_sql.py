"""The records benchmark's limit: one SQL statement per request behind a bare WSGI app (no framework).

As PostgREST serves a list: the bearer JWT is verified (signature and expiry, with the service's
public key, ``BENCH_JWT_PUBLIC_KEY``) and its ``AD_Client_ID`` claim scopes the rows; then ONE
statement counts the matching rows, takes the page, joins the expanded group and the identifiers it
shows, and builds the whole response body in PostgreSQL with ``json_build_object``/``json_agg``.
The body is the records API's own (the benchmark checks that they are equal).

``GET /bpartners?prefix=BENCH001&top=20&skip=0[&customers=1]`` answers what
``/api/v1/models/c_bpartner?$filter=startswith(Value,'BENCH001')[ and IsCustomer eq true]
&$select=Value,Name,IsCustomer,C_BP_Group_ID&$expand=C_BP_Group_ID&$top=20&$skip=0`` answers.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import parse_qs

import jwt
import psycopg

_local = threading.local()
PUBLIC_KEY = os.environ.get("BENCH_JWT_PUBLIC_KEY", "")


def _timestamp(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _fk(label: str, column: str, identifier: str, table: str) -> str:
    return (f"CASE WHEN {column} IS NULL THEN NULL ELSE json_build_object('propertyLabel', "
            f"'{label}', 'id', {column}, 'identifier', {identifier}, 'model-name', '{table}') END")


STATEMENT = f"""
WITH matching AS NOT MATERIALIZED (
    SELECT b.* FROM "C_BPartner" b
    WHERE b."AD_Client_ID" IN (%(client)s, 0) AND b."Value" LIKE %(prefix)s
      AND (NOT %(customers)s OR b."IsCustomer")
), page AS MATERIALIZED (
    SELECT * FROM matching ORDER BY "C_BPartner_ID" LIMIT %(top)s OFFSET %(skip)s
), rendered AS (
    SELECT p."C_BPartner_ID" AS id, json_build_object(
        'id', p."C_BPartner_ID", 'uid', p."C_BPartner_UU", 'model-name', 'c_bpartner',
        'Value', p."Value", 'Name', p."Name", 'IsCustomer', p."IsCustomer",
        'C_BP_Group_ID', json_build_object(
            'id', g."C_BP_Group_ID", 'uid', g."C_BP_Group_UU", 'model-name', 'c_bp_group',
            'IsActive', g."IsActive", 'Created', {_timestamp('g."Created"')},
            'CreatedBy', {_fk('Created By', 'g."CreatedBy"', 'cu.username', 'ad_user')},
            'Updated', {_timestamp('g."Updated"')},
            'UpdatedBy', {_fk('Updated By', 'g."UpdatedBy"', 'uu.username', 'ad_user')},
            'AD_Client_ID', {_fk('Client', 'g."AD_Client_ID"', 'c."Name"', 'ad_client')},
            'AD_Org_ID', {_fk('Org', 'g."AD_Org_ID"', 'o."Name"', 'ad_org')},
            'Value', g."Value", 'Name', g."Name", 'Description', g."Description",
            'IsDefault', g."IsDefault")
    ) AS body
    FROM page p
    JOIN "C_BP_Group" g ON g."C_BP_Group_ID" = p."C_BP_Group_ID"
    JOIN "AD_Client" c ON c."AD_Client_ID" = g."AD_Client_ID"
    JOIN "AD_Org" o ON o."AD_Org_ID" = g."AD_Org_ID"
    LEFT JOIN "AD_User" cu ON cu."AD_User_ID" = g."CreatedBy"
    LEFT JOIN "AD_User" uu ON uu."AD_User_ID" = g."UpdatedBy"
)
SELECT json_build_object(
    'page-count', CEIL(n.count / %(top)s::numeric)::int, 'records-size', %(top)s,
    'skip-records', %(skip)s, 'row-count', n.count,
    'array-count', (SELECT count(*) FROM rendered),
    'records', COALESCE((SELECT json_agg(body ORDER BY id) FROM rendered), '[]'::json)
)::text
FROM (SELECT count(*) AS count FROM matching) n
"""


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return conn


def _answer(start_response, status: str, body: bytes, headers: list | None = None):
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def application(environ, start_response):
    header = environ.get("HTTP_AUTHORIZATION", "")
    try:
        claims = jwt.decode(header.removeprefix("Bearer "), PUBLIC_KEY, algorithms=["RS256"])
        client = int(claims["AD_Client_ID"])
    except (jwt.PyJWTError, KeyError, ValueError):
        return _answer(start_response, "401 Unauthorized", b'{"title": "Unauthorized"}')
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    params = {
        "client": client, "prefix": query.get("prefix", "") + "%", "top": int(query.get("top", 20)),
        "skip": int(query.get("skip", 0)), "customers": query.get("customers") == "1",
    }
    (body,) = _connection().execute(STATEMENT, params).fetchone()
    return _answer(start_response, "200 OK", body.encode())
