"""Nuxeo chunks of one file sent in parallel to a live server all land in one upload."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection
from rest_framework.test import APIClient

from apps.uploads.models import UploadSession
from apps.uploads.stored_files import stored_file_open
from tests.uploads.conftest import chunks_of, payload, sha

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="parallel writers need PostgreSQL row locks"
    ),
]


def test_parallel_chunks_of_a_new_file(live_server, demo):
    token = APIClient().post(
        "/api/v1/auth/tokens",
        {"userName": "GardenUser", "password": "GardenUser", "parameters": {}}, format="json",
    ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    base = f"{live_server.url}/api/v1/upload"
    batch_id = requests.post(base, headers=auth, timeout=10).json()["batchId"]
    data = payload(80_000, seed=11)
    pieces = chunks_of(data, 10_000)

    def send(index: int) -> int:
        headers = {
            **auth, "X-Upload-Type": "chunked", "X-Upload-Chunk-Index": str(index),
            "X-Upload-Chunk-Count": str(len(pieces)), "X-File-Name": "parallel.bin",
            "X-File-Size": str(len(data)), "Content-Type": "application/octet-stream",
        }
        return requests.post(f"{base}/{batch_id}/0", data=pieces[index], headers=headers,
                             timeout=30).status_code

    with ThreadPoolExecutor(max_workers=len(pieces)) as pool:
        statuses = list(pool.map(send, range(len(pieces))))
    assert sorted(statuses) == [201] + [202] * (len(pieces) - 1), statuses
    live = UploadSession.objects.filter(batch__uid=batch_id).exclude(
        state=UploadSession.State.CANCELLED
    )
    assert live.count() == 1
    session = live.get()
    assert session.state == UploadSession.State.COMPLETED, session.failure_reason
    with stored_file_open(session.stored_file) as handle:
        assert sha(handle.read()) == sha(data)
    resume = requests.get(f"{base}/{batch_id}/0", headers=auth, timeout=10)
    assert resume.status_code == 200
    assert resume.json()["uploadedChunkIds"] == list(range(len(pieces)))
