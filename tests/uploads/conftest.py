"""Helpers for upload-engine tests: iDempiere calls over the real URL conf."""

from __future__ import annotations

import hashlib
import math
from types import SimpleNamespace

import pytest


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int, seed: int = 1) -> bytes:
    """Deterministic, non-repeating-looking bytes."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(block[:64] + counter.to_bytes(8, "big")).digest() + block[: 65536 - 32]
        counter += 1
    return bytes(out[:size])


def create(client, data: bytes | None = None, *, size: int | None = None, chunk_size: int = 1024,
           file_sha: str | None = None, name: str = "report.bin", **extra):
    body = {
        "fileName": name,
        "contentType": "application/octet-stream",
        "fileSize": len(data) if data is not None else size,
        "chunkSize": chunk_size,
    }
    if file_sha is not None or data is not None:
        body["sha256"] = file_sha if file_sha is not None else sha(data)
    body.update(extra)
    return client.post("/api/v1/uploads", body, format="json")


def put_chunk(client, upload_id: str, order: int, piece: bytes, *, total: int | None = None,
              digest: str | None = None, **headers):
    extra = {"HTTP_X_CONTENT_SHA256": digest if digest is not None else sha(piece)}
    if total is not None:
        extra["HTTP_X_TOTAL_CHUNKS"] = str(total)
    extra.update(headers)
    return client.put(
        f"/api/v1/uploads/{upload_id}/chunks/{order}", piece,
        content_type="application/octet-stream", **extra,
    )


def chunks_of(data: bytes, chunk_size: int) -> list[bytes]:
    count = max(1, math.ceil(len(data) / chunk_size))
    return [data[i * chunk_size:(i + 1) * chunk_size] for i in range(count)]


def upload(client, data: bytes, chunk_size: int = 1024, order=None, **extra) -> str:
    response = create(client, data, chunk_size=chunk_size, **extra)
    assert response.status_code == 201, response.content
    upload_id = response.json()["uploadId"]
    pieces = chunks_of(data, chunk_size)
    for n in order or range(1, len(pieces) + 1):
        response = put_chunk(client, upload_id, n, pieces[n - 1], total=len(pieces))
        assert response.status_code == 200, response.content
    return upload_id


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def small_limits(settings):
    settings.UPLOAD_MAX_FILE_SIZE = 10 * 1024 * 1024
    settings.UPLOAD_MAX_CHUNK_SIZE = 6 * 1024 * 1024
    settings.UPLOAD_MAX_CHUNKS = 100


@pytest.fixture
def ctx(demo):
    """A minimal context (the engine reads client_id, org_id, user_id) for GardenUser."""
    from apps.accounts.models import User

    user = User.objects.get(username="GardenUser")
    return SimpleNamespace(client_id=user.client_id, org_id=0, user_id=user.pk)
