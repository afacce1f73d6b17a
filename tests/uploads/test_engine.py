"""The engine under real HTTP and real failures: parallel chunks against a live server, bodies that
lie about their length, finalize interrupted and run again, the real Celery worker (e2e)."""

from __future__ import annotations

import os
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from apps.uploads import finalize, services, stored_files
from apps.uploads import storage as st
from apps.uploads.models import StoredFile, UploadSession
from tests.uploads.conftest import chunks_of, payload, sha

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024


def _login(base: str, name: str) -> dict[str, str]:
    response = requests.post(
        f"{base}/api/v1/auth/tokens", json={"userName": name, "password": name, "parameters": {}},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _create(base: str, headers: dict, data: bytes, chunk_size: int) -> dict:
    response = requests.post(
        f"{base}/api/v1/uploads", headers=headers, timeout=30,
        json={"fileName": "big.bin", "fileSize": len(data), "chunkSize": chunk_size,
              "sha256": sha(data), "contentType": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_parallel_out_of_order_chunks_over_http(live_server, demo, storage):
    base = live_server.url
    headers = _login(base, "GardenUser")
    # S3: 5 MiB chunks go on as multipart parts; local: written in place at their offsets.
    chunk_size = 5 * MiB if storage == "s3" else 256 * 1024
    data = payload(2 * chunk_size + 12345, seed=3) if storage == "s3" else payload(16 * chunk_size - 7)
    created = _create(base, headers, data, chunk_size)
    upload_id = created["uploadId"]
    pieces = chunks_of(data, chunk_size)
    orders = list(range(1, len(pieces) + 1))
    random.Random(5).shuffle(orders)

    def put(order: int) -> requests.Response:
        piece = pieces[order - 1]
        with requests.Session() as http:
            return http.put(
                f"{base}/api/v1/uploads/{upload_id}/chunks/{order}", data=piece, timeout=120,
                headers={**headers, "X-Total-Chunks": str(len(pieces)),
                         "X-Content-SHA256": sha(piece), "Content-Type": "application/octet-stream"},
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(put, orders))
    assert [a.status_code for a in answers] == [200] * len(pieces), [a.text for a in answers]
    assert sum(a.json()["isLastChunk"] for a in answers) == 1
    session = UploadSession.objects.get(uid=upload_id)
    assert session.mode == ("parts" if storage == "s3" else "inplace")
    deadline = time.monotonic() + 60
    while True:
        status = requests.get(f"{base}/api/v1/uploads/{upload_id}", headers=headers, timeout=30)
        if status.json()["status"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status.json()["status"] == "COMPLETED", status.json()
    file = requests.get(f"{base}/api/v1/uploads/{upload_id}/file", headers=headers, timeout=60)
    assert file.status_code == 200
    assert sha(file.content) == sha(data)
    # The presigned URL works with requests too (no token at all).
    assert "{chunkOrder}" in created["presignedURL"]


def _raw_put(base: str, path: str, headers: dict, announced: int, body: bytes) -> int:
    """Send a PUT whose Content-Length says ``announced`` but whose body is ``body``."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    lines = [f"PUT {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {announced}",
             "Content-Type: application/octet-stream", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1])


def test_content_length_shorter_or_longer_than_body(live_server, demo, storage):
    base = live_server.url
    headers = _login(base, "GardenUser")
    data = payload(3000)
    upload_id = _create(base, headers, data, 1024)["uploadId"]
    path = f"/api/v1/uploads/{upload_id}/chunks/1"
    piece = data[:1024]
    # Body shorter than Content-Length: the client hangs up early → 400, nothing kept.
    status = _raw_put(base, path, {**headers, "X-Content-SHA256": sha(piece)}, 1024, piece[:500])
    assert status == 400
    session = UploadSession.objects.get(uid=upload_id)
    assert session.received_bytes == 0 and not session.chunks.exists()
    # Body longer than Content-Length: only the announced bytes are read; they are short of the
    # chunk → 400; a Content-Length beyond the chunk size → 413. Nothing kept either way.
    status = _raw_put(base, path, {**headers, "X-Content-SHA256": sha(piece)}, 600, piece + b"x")
    assert status == 400
    status = _raw_put(base, path, {**headers}, 2048, piece * 2)
    assert status == 413
    session.refresh_from_db()
    assert session.received_bytes == 0 and not session.chunks.exists()
    # And the real chunk still goes in.
    assert _raw_put(base, path, {**headers, "X-Content-SHA256": sha(piece)}, 1024, piece) == 200


def _upload_all_but_finalize(client, data: bytes, chunk_size: int, monkeypatch) -> UploadSession:
    """Upload every chunk with the finalize task suppressed (as if the worker died first)."""
    from tests.uploads.conftest import upload

    monkeypatch.setattr(services, "finalize_enqueue", lambda session_id: None)
    upload_id = upload(client, data, chunk_size=chunk_size)
    monkeypatch.undo()
    return UploadSession.objects.get(uid=upload_id)


def test_finalize_interrupted_half_way_then_rerun(garden_user, storage, monkeypatch):
    data = payload(6000, seed=11)
    session = _upload_all_but_finalize(garden_user, data, 1024, monkeypatch)
    assert session.state == "PROCESSING"

    # 1st run dies after assembling and hashing, before the stored file is recorded.
    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(finalize, "_record_stored_file", die)
    with pytest.raises(SystemExit):
        finalize.session_finalize(session_id=session.pk)
    monkeypatch.undo()
    session.refresh_from_db()
    assert session.state == "PROCESSING" and session.assembled_sha256 == sha(data)

    # 2nd run dies inside the record step, after the bytes were moved to their content key.
    real_create = StoredFile.objects.create

    def create_then_die(**kwargs):
        real_create(**kwargs)
        raise SystemExit("worker killed")

    monkeypatch.setattr(StoredFile.objects, "create", create_then_die)
    with pytest.raises(SystemExit):
        finalize.session_finalize(session_id=session.pk)
    monkeypatch.undo()
    session.refresh_from_db()
    assert session.state == "PROCESSING"
    assert not StoredFile.objects.exists()  # rolled back

    # 3rd run completes: one stored file, one reference, the right bytes, chunks gone.
    finalize.session_finalize(session_id=session.pk)
    finalize.session_finalize(session_id=session.pk)  # and a duplicate delivery is a no-op
    session.refresh_from_db()
    assert session.state == "COMPLETED"
    stored = StoredFile.objects.get()
    assert stored.ref_count == 1 and stored.sha256 == sha(data) and stored.size == len(data)
    with stored_files.stored_file_open(stored) as handle:
        assert handle.read() == data
    # Chunk rows stay as receipts (for idempotent re-sends); their bytes are gone.
    assert not session.chunks.exclude(storage_key="").exists()
    store = services.session_storage(session)
    if storage == "local":
        assert not os.path.exists(st.local_path(store, f"uploads/{session.uid}"))


@pytest.mark.e2e
def test_finalize_on_the_real_worker(live_server, demo):
    """With CELERY_BROKER_URL (CI) finalize runs on the real worker; otherwise eagerly."""
    from config.celery import app

    real_worker = bool(os.environ.get("CELERY_BROKER_URL"))
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = not real_worker
    try:
        base = live_server.url
        headers = _login(base, "GardenUser")
        data = payload(300_000, seed=21)
        upload_id = _create(base, headers, data, 64 * 1024)["uploadId"]
        for order, piece in enumerate(chunks_of(data, 64 * 1024), start=1):
            answer = requests.put(
                f"{base}/api/v1/uploads/{upload_id}/chunks/{order}", data=piece, timeout=60,
                headers={**headers, "X-Content-SHA256": sha(piece)},
            )
            assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 90
        while True:
            status = requests.get(
                f"{base}/api/v1/uploads/{upload_id}", headers=headers, timeout=30
            ).json()
            if status["status"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert status["status"] == "COMPLETED", status
        file = requests.get(f"{base}/api/v1/uploads/{upload_id}/file", headers=headers, timeout=60)
        assert sha(file.content) == sha(data)
    finally:
        app.conf.task_always_eager = previous
