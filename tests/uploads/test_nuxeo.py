"""Nuxeo batch upload (seed 004) over the engine, on local storage and on S3."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from apps.uploads.models import UploadSession
from apps.uploads.stored_files import stored_file_open
from tests.uploads.conftest import chunks_of, payload, sha

pytestmark = pytest.mark.django_db(transaction=True)


def new_batch(client) -> str:
    response = client.post("/api/v1/upload")
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"batchId"}
    return response.json()["batchId"]


def post_file(client, batch_id: str, idx: str, data: bytes, name: str = "myFile.doc",
              file_type: str = "application/msword", **headers):
    extra = {"HTTP_X_FILE_NAME": name, "HTTP_X_FILE_TYPE": file_type}
    extra.update(headers)
    return client.post(f"/api/v1/upload/{batch_id}/{idx}", data,
                       content_type="application/octet-stream", **extra)


def post_chunk(client, batch_id: str, idx: str, piece: bytes, index, count, size: int,
               name: str = "myFile.doc"):
    return post_file(
        client, batch_id, idx, piece, name=name,
        HTTP_X_UPLOAD_TYPE="chunked", HTTP_X_UPLOAD_CHUNK_INDEX=str(index),
        HTTP_X_UPLOAD_CHUNK_COUNT=str(count), HTTP_X_FILE_SIZE=str(size),
    )


def stored_bytes(batch_id: str, idx: str) -> bytes:
    session = UploadSession.objects.get(
        batch__uid=batch_id, batch_index=idx, state=UploadSession.State.COMPLETED
    )
    with stored_file_open(session.stored_file) as handle:
        data = handle.read()
    assert session.stored_file.sha256 == sha(data)
    return data


def test_one_go_upload_and_batch_listing(garden_user, storage):
    batch_id = new_batch(garden_user)
    data = payload(115_090)
    response = post_file(garden_user, batch_id, "0", data)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "batchId": batch_id, "fileIdx": "0", "uploadType": "normal", "uploadedSize": len(data),
    }
    assert stored_bytes(batch_id, "0") == data
    other = payload(10, seed=2)
    assert post_file(garden_user, batch_id, "1", other, name="b.txt").status_code == 201

    listing = garden_user.get(f"/api/v1/upload/{batch_id}")
    assert listing.status_code == 200
    assert listing.json() == [
        {"name": "myFile.doc", "size": len(data), "uploadType": "normal", "fileIdx": "0"},
        {"name": "b.txt", "size": 10, "uploadType": "normal", "fileIdx": "1"},
    ]
    status = garden_user.get(f"/api/v1/upload/{batch_id}/0")
    assert status.status_code == 200
    assert status.json()["name"] == "myFile.doc"
    session = UploadSession.objects.get(batch__uid=batch_id, batch_index="0")
    assert session.content_type == "application/msword"
    assert session.dialect == "nuxeo"


def test_trailing_slash_batch_init(garden_user):
    response = garden_user.post("/api/v1/upload/")
    assert response.status_code == 201
    assert response.json()["batchId"]


def test_chunked_in_order_with_resume_info(garden_user, storage):
    batch_id = new_batch(garden_user)
    data = payload(115_090)
    pieces = chunks_of(data, 25_000)
    assert len(pieces) == 5
    for i, piece in enumerate(pieces[:3]):
        response = post_chunk(garden_user, batch_id, "0", piece, i, 5, len(data))
        assert response.status_code == 202, response.content
        assert response.json() == {
            "batchId": batch_id, "fileIdx": "0", "uploadType": "chunked",
            "uploadedSize": len(piece), "uploadedChunkIds": list(range(i + 1)), "chunkCount": 5,
        }
    # The connection broke: ask where to resume.
    resume = garden_user.get(f"/api/v1/upload/{batch_id}/0")
    assert resume.status_code == 202
    assert resume.json() == {
        "name": "myFile.doc", "size": len(data), "uploadType": "chunked", "fileIdx": "0",
        "uploadedChunkIds": [0, 1, 2], "chunkCount": 5,
    }
    assert post_chunk(garden_user, batch_id, "0", pieces[3], 3, 5, len(data)).status_code == 202
    last = post_chunk(garden_user, batch_id, "0", pieces[4], 4, 5, len(data))
    assert last.status_code == 201, last.content
    assert last.json()["uploadedChunkIds"] == [0, 1, 2, 3, 4]
    done = garden_user.get(f"/api/v1/upload/{batch_id}/0")
    assert done.status_code == 200
    assert done.json()["uploadedChunkIds"] == [0, 1, 2, 3, 4]
    assert stored_bytes(batch_id, "0") == data
    listing = garden_user.get(f"/api/v1/upload/{batch_id}").json()
    assert listing[0]["uploadType"] == "chunked" and listing[0]["size"] == len(data)


def test_chunked_out_of_order_and_idempotent_retry(garden_user, storage):
    batch_id = new_batch(garden_user)
    data = payload(50_000, seed=3)
    pieces = chunks_of(data, 10_000)
    order = [4, 1, 3]
    for n, i in enumerate(order, start=1):
        response = post_chunk(garden_user, batch_id, "2", pieces[i], i, 5, len(data))
        assert response.status_code == 202
        assert response.json()["uploadedChunkIds"] == sorted(order[:n])
    retry = post_chunk(garden_user, batch_id, "2", pieces[3], 3, 5, len(data))
    assert retry.status_code == 202
    assert retry.json()["uploadedChunkIds"] == [1, 3, 4]
    wrong = post_chunk(garden_user, batch_id, "2", pieces[0], 3, 5, len(data))
    assert wrong.status_code == 409
    resume = garden_user.get(f"/api/v1/upload/{batch_id}/2").json()
    missing = [i for i in range(5) if i not in resume["uploadedChunkIds"]]
    assert missing == [0, 2]
    assert post_chunk(garden_user, batch_id, "2", pieces[2], 2, 5, len(data)).status_code == 202
    assert post_chunk(garden_user, batch_id, "2", pieces[0], 0, 5, len(data)).status_code == 201
    assert garden_user.get(f"/api/v1/upload/{batch_id}/2").status_code == 200
    assert stored_bytes(batch_id, "2") == data
    assert UploadSession.objects.filter(batch__uid=batch_id).count() == 1


def test_url_encoded_and_hostile_file_names(garden_user):
    batch_id = new_batch(garden_user)
    response = post_file(garden_user, batch_id, "0", b"abc", name="r%C3%A9sum%C3%A9%20v2.pdf")
    assert response.status_code == 201
    assert garden_user.get(f"/api/v1/upload/{batch_id}/0").json()["name"] == "résumé v2.pdf"
    response = post_file(garden_user, batch_id, "1", b"abc", name="..%2F..%2Fetc%2Fpasswd%0A")
    assert response.status_code == 201
    assert garden_user.get(f"/api/v1/upload/{batch_id}/1").json()["name"] == "passwd"
    # Raw UTF-8 bytes in the header (as WSGI passes them: latin-1 decoded).
    raw = "naïve.txt".encode().decode("latin-1")
    assert post_file(garden_user, batch_id, "2", b"abc", name=raw).status_code == 201
    assert garden_user.get(f"/api/v1/upload/{batch_id}/2").json()["name"] == "naïve.txt"


def test_reupload_replaces_the_slot(garden_user):
    batch_id = new_batch(garden_user)
    assert post_file(garden_user, batch_id, "0", b"first", name="a.txt").status_code == 201
    assert post_file(garden_user, batch_id, "0", b"second!", name="b.txt").status_code == 201
    listing = garden_user.get(f"/api/v1/upload/{batch_id}").json()
    assert listing == [{"name": "b.txt", "size": 7, "uploadType": "normal", "fileIdx": "0"}]
    assert stored_bytes(batch_id, "0") == b"second!"


def test_delete_file_and_batch(garden_user, storage):
    batch_id = new_batch(garden_user)
    assert post_file(garden_user, batch_id, "0", b"zero").status_code == 201
    assert post_chunk(garden_user, batch_id, "1", b"12345", 0, 2, 10).status_code == 202
    assert garden_user.delete(f"/api/v1/upload/{batch_id}/1").status_code == 204
    assert garden_user.get(f"/api/v1/upload/{batch_id}/1").status_code == 404
    assert [f["fileIdx"] for f in garden_user.get(f"/api/v1/upload/{batch_id}").json()] == ["0"]
    assert garden_user.delete(f"/api/v1/upload/{batch_id}/1").status_code == 404
    assert garden_user.delete(f"/api/v1/upload/{batch_id}").status_code == 204
    assert garden_user.get(f"/api/v1/upload/{batch_id}").status_code == 404
    assert post_file(garden_user, batch_id, "0", b"zero").status_code == 404
    assert not UploadSession.objects.filter(batch__uid=batch_id).exists()


def test_other_user_and_other_tenant_get_404(garden_user, garden_admin, acme_admin):
    batch_id = new_batch(garden_user)
    assert post_file(garden_user, batch_id, "0", b"mine").status_code == 201
    for other in (garden_admin, acme_admin):
        assert other.get(f"/api/v1/upload/{batch_id}").status_code == 404
        assert other.get(f"/api/v1/upload/{batch_id}/0").status_code == 404
        assert post_file(other, batch_id, "1", b"theirs").status_code == 404
        assert other.delete(f"/api/v1/upload/{batch_id}/0").status_code == 404
        assert other.delete(f"/api/v1/upload/{batch_id}").status_code == 404
    assert garden_user.get(f"/api/v1/upload/{batch_id}/0").status_code == 200


def test_anonymous_refused(anon_client, demo):
    assert anon_client.post("/api/v1/upload").status_code == 401


def test_basic_auth_works(demo):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"GardenUser:GardenUser").decode())
    batch_id = new_batch(client)
    assert post_file(client, batch_id, "0", b"basic").status_code == 201


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "one", "HTTP_X_UPLOAD_CHUNK_COUNT": "3"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "-1", "HTTP_X_UPLOAD_CHUNK_COUNT": "3"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "3", "HTTP_X_UPLOAD_CHUNK_COUNT": "3"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "0", "HTTP_X_UPLOAD_CHUNK_COUNT": "0"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "0", "HTTP_X_UPLOAD_CHUNK_COUNT": "99999999999"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "0"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_COUNT": "3"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "0", "HTTP_X_UPLOAD_CHUNK_COUNT": "3",
          "HTTP_X_FILE_SIZE": "1e9"}, 400),
        ({"HTTP_X_UPLOAD_CHUNK_INDEX": "0", "HTTP_X_UPLOAD_CHUNK_COUNT": "3",
          "HTTP_X_FILE_SIZE": str(10**15)}, 413),
        ({"HTTP_X_UPLOAD_TYPE": "weird"}, 400),
    ],
)
def test_bad_headers_answer_problem(garden_user, small_limits, headers, status):
    batch_id = new_batch(garden_user)
    extra = {"HTTP_X_UPLOAD_TYPE": "chunked", **headers}
    response = post_file(garden_user, batch_id, "0", b"12345", **extra)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert not UploadSession.objects.filter(batch__uid=batch_id).exists()


def test_bad_ids_and_sizes(garden_user, small_limits):
    assert garden_user.get("/api/v1/upload/not-a-uuid").status_code == 404
    assert garden_user.get("/api/v1/upload/00000000-0000-0000-0000-000000000000").status_code == 404
    batch_id = new_batch(garden_user)
    assert garden_user.get(f"/api/v1/upload/{batch_id}/0").status_code == 404
    assert post_file(garden_user, batch_id, "a.b", b"x").status_code == 400
    response = post_file(garden_user, batch_id, "0", b"12345", HTTP_X_FILE_SIZE="6")
    assert response.status_code == 400
    # A chunk longer than the whole declared file.
    response = post_chunk(garden_user, batch_id, "0", b"x" * 20, 0, 2, 10)
    assert response.status_code == 413
    assert garden_user.get(f"/api/v1/upload/{batch_id}/0").json()["uploadedChunkIds"] == []


def test_one_go_larger_than_an_engine_chunk(garden_user, storage, settings):
    settings.UPLOAD_MAX_CHUNK_SIZE = 4096
    data = payload(10_000, seed=9)
    batch_id = new_batch(garden_user)
    response = post_file(garden_user, batch_id, "0", data, HTTP_X_FILE_SIZE=str(len(data)))
    assert response.status_code == 201, response.content
    assert response.json()["uploadedSize"] == len(data)
    assert stored_bytes(batch_id, "0") == data
    assert garden_user.get(f"/api/v1/upload/{batch_id}").json()[0]["size"] == len(data)
