"""Upload integrity seen from outside: raw sockets against gunicorn as the Dockerfile runs it
(tests/live.py), with stalled, trickling, aborted and killed requests, and (with PostgreSQL, a
broker and S3) two web nodes and two workers, one of them killed mid-finalize.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.live import LiveStack, reset, wait_server_read
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
IDLE = 1.5  # UPLOAD_BODY_IDLE_TIMEOUT of the stack: a stalled body is given up after this


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    live = LiveStack(
        tmp_path_factory.mktemp("live"),
        extra_env={"UPLOAD_BODY_IDLE_TIMEOUT": str(IDLE), "UPLOAD_LOCK_WAIT": "5"},
    )
    try:
        yield live.start()
    finally:
        live.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_request(url: str, method: str, path: str, headers: dict[str, str], body: bytes) -> socket.socket:
    """Send a request line, headers and the first ``body`` bytes; the rest is the caller's."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return sock


def answer_status(sock: socket.socket) -> int | None:
    """The status of what the server answered on ``sock``, None if it just closed it."""
    with contextlib.suppress(OSError):
        sock.settimeout(10)
        data = sock.recv(65536)
        if data.startswith(b"HTTP/1."):
            return int(data.split(b" ", 2)[1])
    return None


def create_upload(url: str, token: str, data: bytes, chunk: int) -> str:
    answer = requests.post(
        f"{url}/api/v1/uploads", headers=bearer(token), timeout=30,
        json={"fileName": "ledger.bin", "contentType": "application/octet-stream",
              "fileSize": len(data), "chunkSize": chunk, "sha256": sha(data)},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["uploadId"]


def put_chunk(url: str, token: str, upload_id: str, order: int, piece: bytes, tries: int = 3):
    """PUT a chunk as a careful client does: a 409 with Retry-After is tried again."""
    for _ in range(tries):
        answer = requests.put(
            f"{url}/api/v1/uploads/{upload_id}/chunks/{order}", data=piece, timeout=60,
            headers={**bearer(token), "Content-Type": "application/octet-stream",
                     "X-Content-SHA256": sha(piece)},
        )
        if answer.status_code != 409 or "Retry-After" not in answer.headers:
            return answer
        time.sleep(float(answer.headers["Retry-After"]))
    return answer


def download(url: str, token: str, upload_id: str) -> requests.Response:
    return requests.get(f"{url}/api/v1/uploads/{upload_id}/file", headers=bearer(token), timeout=60)


def chunk_headers(token: str, size: int) -> dict[str, str]:
    return {**bearer(token), "Content-Type": "application/octet-stream",
            "Content-Length": str(size)}


def test_a_stalled_writer_cannot_change_the_bytes_another_tenant_downloads(stack):
    url = stack.urls[-1]
    attacker, victim = stack.token("AcmeAdmin", url), stack.token("GardenAdmin", url)
    data = payload(2 * MiB, seed=11)
    upload_id = create_upload(url, attacker, data, MiB)
    assert put_chunk(url, attacker, upload_id, 1, data[:MiB]).status_code == 200
    # Chunk 2 on a raw socket: all but one byte of Zs, then silence.
    stalled = open_request(url, "PUT", f"/api/v1/uploads/{upload_id}/chunks/2",
                           chunk_headers(attacker, MiB), b"Z" * (MiB - 1))
    time.sleep(0.3)
    # The real chunk 2: the silent request is given up after IDLE seconds, the real one goes in.
    started = time.monotonic()
    answer = put_chunk(url, attacker, upload_id, 2, data[MiB:])
    assert answer.status_code == 200, answer.text
    assert answer.json()["isLastChunk"] is True
    assert time.monotonic() - started < 10
    # The stalled request wakes up and sends its last byte: it is not let in anywhere.
    with contextlib.suppress(OSError):
        stalled.sendall(b"Z")
    assert answer_status(stalled) in (None, 400, 409)
    stalled.close()
    time.sleep(0.5)

    mine = download(url, attacker, upload_id)
    assert mine.status_code == 200 and mine.content == data
    # Another tenant uploads the same content: it gets exactly those bytes, hash and all.
    theirs = create_upload(url, victim, data, MiB)
    for order, start in ((1, 0), (2, MiB)):
        assert put_chunk(url, victim, theirs, order, data[start:start + MiB]).status_code == 200
    got = download(url, victim, theirs)
    assert got.status_code == 200
    assert got.content == data and sha(got.content) == sha(data)
    assert got.headers["ETag"] == f'"{sha(data)}"'


def test_a_trickling_writer_is_stopped_by_a_newer_request_for_its_chunk(stack):
    url = stack.urls[-1]
    token = stack.token("GardenUser", url)
    data = payload(2 * MiB, seed=12)
    upload_id = create_upload(url, token, data, MiB)
    trickle = open_request(url, "PUT", f"/api/v1/uploads/{upload_id}/chunks/1",
                           chunk_headers(token, MiB), b"Q" * 1000)
    stop = threading.Event()

    def keep_trickling() -> None:  # never idle long enough to time out
        while not stop.is_set():
            with contextlib.suppress(OSError):
                trickle.sendall(b"Q")
            stop.wait(IDLE / 3)

    thread = threading.Thread(target=keep_trickling)
    thread.start()
    try:
        time.sleep(0.5)
        answer = put_chunk(url, token, upload_id, 1, data[:MiB], tries=1)
        assert answer.status_code == 200, answer.text  # the holder gave way within the wait
    finally:
        stop.set()
        thread.join()
    assert answer_status(trickle) in (None, 409)
    trickle.close()
    assert put_chunk(url, token, upload_id, 2, data[MiB:]).status_code == 200
    got = download(url, token, upload_id)
    assert got.status_code == 200 and got.content == data


def test_a_tus_patch_aborted_mid_body_resumes_at_once(stack):
    """tus-js-client with retryDelays null: abort the PATCH, HEAD at once, PATCH from there."""
    url = stack.urls[-1]
    token = stack.token("GardenUser", url)
    data = payload(3 * MiB, seed=13)
    tus = {"Tus-Resumable": "1.0.0", **bearer(token)}
    created = requests.post(f"{url}/api/v1/tus/", timeout=30,
                            headers={**tus, "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    location = urlsplit(created.headers["Location"]).path
    patch = open_request(url, "PATCH", location, {
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
        "Content-Length": str(len(data)),
    }, data[:MiB])
    # Abort only once the server has read every byte sent: a request it has not begun has no
    # bytes to count, and a reset may drop bytes not read yet. Waiting for that observable event
    # (not for a while) is what makes this deterministic on a loaded machine.
    assert wait_server_read(patch) == "read"
    # Abort as a browser does: the connection is reset, not closed politely.
    reset(patch)
    head = requests.head(f"{url}{location}", headers=tus, timeout=30)
    assert head.status_code == 200
    offset = int(head.headers["Upload-Offset"])
    assert 0 < offset <= MiB  # what arrived before the abort counts, nothing else
    resumed = requests.patch(f"{url}{location}", data=data[offset:], timeout=60, headers={
        **tus, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
    })
    assert resumed.status_code == 204, resumed.text
    assert int(resumed.headers["Upload-Offset"]) == len(data)
    got = download(url, token, location.rsplit("/", 1)[-1])
    assert got.status_code == 200 and got.content == data


def test_a_killed_web_process_does_not_block_its_chunk(stack):
    url = stack.urls[-1]
    token = stack.token("GardenUser", url)
    data = payload(2 * MiB, seed=14)
    upload_id = create_upload(url, token, data, MiB)
    half = open_request(url, "PUT", f"/api/v1/uploads/{upload_id}/chunks/1",
                        chunk_headers(token, MiB), data[: MiB // 2])
    time.sleep(0.5)
    stack.kill(stack.web[-1])  # kill -9 of the whole gunicorn, mid-body
    half.close()
    url = stack.start_node()
    # At once, and on the first try: the dead request's claim died with its process.
    answer = put_chunk(url, token, upload_id, 1, data[:MiB], tries=1)
    assert answer.status_code == 200, answer.text
    assert put_chunk(url, token, upload_id, 2, data[MiB:], tries=1).status_code == 200
    got = download(url, token, upload_id)
    assert got.status_code == 200 and got.content == data


# --- Shared nothing: two nodes, two workers, S3 ---------------------------------------------------


def _real_services() -> bool:
    from django.db import connection

    return bool(os.environ.get("CELERY_BROKER_URL")) and connection.vendor == "postgresql"


def _finalizer(stack: LiveStack, upload_id: str) -> str | None:
    """The application_name of the process holding the upload's FINALIZE lock, if any."""
    from apps.uploads import locks

    key = locks._key(upload_id, locks.FINALIZE) & 0xFFFFFFFFFFFFFFFF
    with stack.db() as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
            "AND l.objid::bigint = %s",
            [key >> 32, key & 0xFFFFFFFF],
        ).fetchone()
    return row[0] if row else None


def test_two_nodes_two_workers_on_s3_a_worker_killed_mid_finalize(tmp_path, s3_endpoint):
    if not _real_services():
        pytest.skip("needs PostgreSQL and a broker (CELERY_BROKER_URL): .ci/run provides them")
    import boto3

    live = LiveStack(tmp_path, storage="s3", nodes=2, broker=True,
                     extra_env={"UPLOAD_FINALIZE_STALE_SECONDS": "1"})
    try:
        live.start(s3_endpoint)
        workers = {name: live.start_worker(name) for name in ("worker-a", "worker-b")}
        token = live.token("GardenUser")
        data = payload(160 * MiB, seed=15)
        chunk = 8 * MiB
        upload_id = create_upload(live.urls[0], token, data, chunk)
        for n in range(len(data) // chunk):  # chunks alternate between the nodes
            node = live.urls[n % 2]
            answer = put_chunk(node, token, upload_id, n + 1, data[n * chunk:(n + 1) * chunk])
            assert answer.status_code == 200, answer.text
        assert answer.json()["isLastChunk"] is True

        holder = None
        deadline = time.monotonic() + 60
        while holder is None and time.monotonic() < deadline:
            holder = _finalizer(live, upload_id)
            time.sleep(0.01)
        assert holder in workers, f"no worker was seen finalizing ({holder!r})"
        live.kill(workers[holder])  # kill -9 mid-finalize
        survivor = next(name for name in workers if name != holder)

        status = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            live.manage("purge_uploads")  # what beat runs every minute
            status = requests.get(f"{live.urls[1]}/api/v1/uploads/{upload_id}",
                                  headers=bearer(token), timeout=30).json()
            if status["status"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(1)
        assert status["status"] == "COMPLETED", status
        assert status["sha256"] == sha(data)
        assert workers[survivor].poll() is None
        got = download(live.urls[0], token, upload_id)
        assert got.status_code == 200 and sha(got.content) == sha(data)

        s3 = boto3.client(
            "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
            aws_access_key_id=live.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=live.env["AWS_SECRET_ACCESS_KEY"],
        )
        assert s3.list_multipart_uploads(Bucket=live.bucket).get("Uploads", []) == []
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=live.bucket).get("Contents", [])]
        assert keys == [f"blobs/{upload_id}"], keys  # the file, and no orphan
    finally:
        live.stop()
