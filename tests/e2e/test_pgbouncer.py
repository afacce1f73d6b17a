"""Ledgerdoc behind a real PgBouncer in transaction mode (issue 25), as large deployments run it.

A PgBouncer of the test's own (tests/pgbouncer.py: pool_mode=transaction, server_reset_query empty)
stands between every service process and PostgreSQL: two gunicorn nodes and a Celery worker
(tests/live.py) reach the database through it with DATABASE_POOLER=transaction, and the upload
locks through LOCK_DATABASE_URL, straight to PostgreSQL. Before the fix, 26 of 32 such calls
answered 500 (DuplicatePreparedStatement from SQL-level PREPARE on pooled server connections).

Uploads through iDempiere, tus and Nuxeo (finalized by the worker, the stored bytes' SHA-256
checked), record lists, an order's attachment (DMS) and its approval workflow, and a burst of
concurrent reads over both nodes: no 5xx, no traceback in any service log (LiveStack.stop), and
PgBouncer's own counters show the traffic went through it while the lock connections did not.
"""

from __future__ import annotations

import concurrent.futures
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection

from tests import pgbouncer
from tests.conftest import _free_port
from tests.e2e.conftest import login_two_step, sha, wait_for
from tests.live import LiveStack
from tests.uploads.conftest import payload

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not pgbouncer.available(),
                       reason="pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)"),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="PgBouncer pools PostgreSQL connections (run with DATABASE_URL)"),
    pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"),
                       reason="the worker needs a broker (CELERY_BROKER_URL)"),
]

OCTETS = "application/octet-stream"


@pytest.fixture(scope="module")
def bouncer(tmp_path_factory):
    from django.db import connection as conn

    server_port = int(conn.settings_dict.get("PORT") or 5432)
    running = pgbouncer.PgBouncer(tmp_path_factory.mktemp("pgbouncer"), _free_port(),
                                  server_port=server_port)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, bouncer):
    live = LiveStack(tmp_path_factory.mktemp("pooled"), nodes=2, workers=1,
                     database_pooler_url=bouncer.url)
    try:
        yield live.start()
    finally:
        live.stop()


def _ok(answer: requests.Response, *codes: int) -> requests.Response:
    assert answer.status_code in (codes or (200,)), (answer.status_code, answer.text[:500])
    return answer


def _upload_state(stack: LiveStack, where: str, value: str) -> tuple[str, str | None, str]:
    """(state, the stored file's SHA-256, uid) of the one upload session matching, read directly."""
    with stack.db() as db:
        row = db.execute(
            'SELECT s."State", f."SHA256", s."AD_UploadSession_UU"::text FROM "AD_UploadSession" s'
            ' LEFT JOIN "AD_StoredFile" f ON f."AD_StoredFile_ID" = s."AD_StoredFile_ID"'
            f' WHERE s.{where} = %s', [value]).fetchone()
    assert row is not None, (where, value)
    return row


def _completed(stack: LiveStack, where: str, value: str, data: bytes) -> None:
    state = wait_for(lambda: (lambda r: r if r[0] in {"COMPLETED", "FAILED"} else None)(
        _upload_state(stack, where, value)), timeout=90, what=f"upload {value} to finish")
    assert state[0] == "COMPLETED" and state[1] == sha(data), state


def test_every_flow_through_pgbouncer_in_transaction_mode(stack, bouncer):
    node_a, node_b = stack.urls
    a = {"Authorization": f"Bearer {stack.token('GardenUser', node_a)}"}
    b = {"Authorization": f"Bearer {stack.token('GardenUser', node_b)}"}

    # iDempiere: create on one node, the chunk on the other; the worker finalizes.
    data = payload(300_000, seed=25)
    created = _ok(requests.post(f"{node_a}/api/v1/uploads", headers=a, timeout=30, json={
        "fileName": "pooled.bin", "contentType": OCTETS, "fileSize": len(data),
        "chunkSize": len(data), "sha256": sha(data)}), 201)
    upload_id = created.json()["uploadId"]
    _ok(requests.put(f"{node_b}/api/v1/uploads/{upload_id}/chunks/1", data=data, timeout=60,
                     headers={**b, "Content-Type": OCTETS, "X-Total-Chunks": "1",
                              "X-Content-SHA256": sha(data)}))
    status = wait_for(lambda: (lambda s: s if s["status"] in {"COMPLETED", "FAILED"} else None)(
        _ok(requests.get(f"{node_a}/api/v1/uploads/{upload_id}", headers=a, timeout=30)).json()),
        timeout=90, what="the iDempiere upload to finalize")
    assert status["status"] == "COMPLETED" and status["sha256"] == sha(data), status
    _completed(stack, '"AD_UploadSession_UU"::text', upload_id, data)
    got = _ok(requests.get(f"{node_b}/api/v1/uploads/{upload_id}/file", headers=b, timeout=60))
    assert sha(got.content) == sha(data)

    # tus: created and patched in two appends, one per node.
    tus_data = payload(200_000, seed=26)
    tus = {"Tus-Resumable": "1.0.0"}
    made = _ok(requests.post(f"{node_a}/api/v1/tus/", timeout=30, headers={
        **a, **tus, "Upload-Length": str(len(tus_data))}), 201)
    location = urlsplit(made.headers["Location"]).path
    half = len(tus_data) // 2
    for node, auth, start, end in ((node_a, a, 0, half), (node_b, b, half, len(tus_data))):
        _ok(requests.patch(f"{node}{location}", data=tus_data[start:end], timeout=60, headers={
            **auth, **tus, "Upload-Offset": str(start),
            "Content-Type": "application/offset+octet-stream"}), 204)
    _completed(stack, '"AD_UploadSession_UU"::text', location.rstrip("/").rsplit("/", 1)[-1],
               tus_data)

    # Nuxeo: a batch with a one-shot file and a chunked one (chunks on both nodes).
    batch = _ok(requests.post(f"{node_a}/api/v1/upload/", headers=a, timeout=30), 201)
    batch_id = batch.json()["batchId"]
    one_shot, chunked = payload(50_000, seed=27), payload(120_000, seed=28)
    names = {name: f"nx-{uuid.uuid4().hex[:8]}-{name}.bin" for name in ("one", "two")}
    _ok(requests.post(f"{node_a}/api/v1/upload/{batch_id}/0", data=one_shot, timeout=60, headers={
        **a, "Content-Type": OCTETS, "X-File-Name": names["one"], "X-File-Type": OCTETS}), 201)
    half = len(chunked) // 2
    for index, (node, auth) in enumerate(((node_a, a), (node_b, b))):
        piece = chunked[index * half:(index + 1) * half if index == 0 else len(chunked)]
        _ok(requests.post(f"{node}/api/v1/upload/{batch_id}/1", data=piece, timeout=60, headers={
            **auth, "Content-Type": OCTETS, "X-File-Name": names["two"], "X-File-Type": OCTETS,
            "X-Upload-Type": "chunked", "X-Upload-Chunk-Index": str(index),
            "X-Upload-Chunk-Count": "2", "X-File-Size": str(len(chunked))}), 200, 201, 202)
    listing = _ok(requests.get(f"{node_b}/api/v1/upload/{batch_id}", headers=b, timeout=30)).json()
    assert sorted(entry["name"] for entry in listing) == sorted(names.values())
    _completed(stack, '"FileName"', names["one"], one_shot)
    _completed(stack, '"FileName"', names["two"], chunked)

    # Records, an order with the iDempiere upload attached (DMS), completed and approved.
    requester = login_two_step(node_a, "GardenUser")
    approver = login_two_step(node_b, "GardenAdmin")
    partners = _ok(requester.get("/api/v1/models/c_bpartner", params={"$top": "50"})).json()
    products = _ok(approver.get("/api/v1/models/m_product", params={"$top": "50"})).json()
    joe = next(p for p in partners["records"] if p["Name"] == "Joe Block")
    oak = next(p for p in products["records"] if p["Name"] == "Oak Tree")
    order = _ok(requester.post("/api/v1/models/c_order", json={
        "C_BPartner_ID": joe["id"], "Description": "through pgbouncer",
        "C_OrderLine": [{"M_Product_ID": oak["id"], "QtyOrdered": 200}]}), 201).json()
    _ok(requester.post(f"/api/v1/uploads/{upload_id}/copy", json={
        "copyLocation": "ATTACHMENT", "tableName": "C_Order", "recordId": order["id"]}))
    attached = _ok(approver.get(f"/api/v1/models/c_order/{order['id']}/attachments")).json()
    assert attached == {"attachments": [{"name": "pooled.bin", "contentType": OCTETS}]}
    served = _ok(approver.get(f"/api/v1/models/c_order/{order['id']}/attachments/pooled.bin"))
    assert sha(served.content) == sha(data)
    _ok(requester.put(f"/api/v1/models/c_order/{order['id']}", json={"doc-action": "CO"}))
    [approval] = [node for node in _ok(approver.get("/api/v1/workflow")).json()["nodes"]
                  if node["record_id"] == order["id"]]
    _ok(approver.put(f"/api/v1/workflow/approve/{approval['id']}", json={"message": "ok"}))
    _ok(approver.put(f"/api/v1/workflow/approve/{approval['id']}", json={}), 409)

    # A burst of concurrent reads over both nodes: every thread's transactions share the pool.
    paths = ["/api/v1/models/c_order", "/api/v1/models/c_bpartner", f"/api/v1/uploads/{upload_id}",
             "/api/v1/uploads", f"/api/v1/upload/{batch_id}"] * 8
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda ip: requests.get(
            f"{stack.urls[ip[0] % 2]}{ip[1]}", headers=(a, b)[ip[0] % 2], timeout=60).status_code,
            enumerate(paths)))
    assert codes == [200] * len(paths), codes

    # PgBouncer carried the service's transactions; the lock connections went around it.
    database = stack.env["LOCK_DATABASE_URL"].rsplit("/", 1)[-1]
    [pool_row] = [row for row in bouncer.admin("SHOW POOLS") if row["database"] == database]
    assert pool_row["pool_mode"] == "transaction"
    [stats] = [row for row in bouncer.admin("SHOW STATS") if row["database"] == database]
    assert int(stats["total_xact_count"]) > 100, stats
    servers = [row for row in bouncer.admin("SHOW SERVERS") if row["database"] == database]
    assert servers, bouncer.admin("SHOW SERVERS")
    pooled_ports = {int(row["local_port"]) for row in servers}
    with stack.db() as db:
        rows = db.execute("SELECT application_name, client_port FROM pg_stat_activity"
                          " WHERE datname = %s", [database]).fetchall()
    # PgBouncer's server connections are PostgreSQL clients of its ports; the nodes' lock
    # connections (application_name ledgerdoc-locks) reach PostgreSQL straight, from elsewhere.
    assert pooled_ports <= {port for _, port in rows}, (pooled_ports, rows)
    lock_ports = {port for name, port in rows if name == "ledgerdoc-locks"}
    assert lock_ports and not lock_ports & pooled_ports, (lock_ports, pooled_ports)
    for log in Path(stack.env["VAR_DIR"]).glob("*.log"):
        text = log.read_text(errors="replace")
        assert "PreparedStatement" not in text and "prepared statement" not in text, log
