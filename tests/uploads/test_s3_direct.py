"""Direct-to-S3 uploads (issue 25, item 2): Companion's S3 multipart protocol under /api/v1/s3/,
with the parts PUT straight to S3 (moto) over plain HTTP, as a browser does.

What is checked: an upload of more than one part becomes a stored file whose SHA-256 is the file's
(deduplicated per tenant like any other); resume after a reload lists the parts S3 holds; abort
removes the multipart upload; a lying hash or size fails the upload, stores nothing and deletes the
object; another tenant's (or user's) upload id is 404; the part URLs expire within 900 s and name
the key, the upload and the part; the quota refuses at create; local storage answers 409;
signing, listing and completing are refused once the session is gone; purge aborts what expired.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import AuthSession, Client, User
from apps.uploads import purge, quota
from apps.uploads.models import StoredFile, UploadSession
from apps.uploads.stored_files import stored_file_open
from tests.accounts.helpers import bearer_client
from tests.ui.conftest import ui_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

S3 = pytest.mark.parametrize("storage", ["s3"], indirect=True)
LOCAL = pytest.mark.parametrize("storage", ["local"], indirect=True)
MiB = 1024 * 1024
PART = 5 * MiB


def payload(size: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_client():
    options = django_settings.STORAGES["default"]["OPTIONS"]
    client = boto3.client(
        "s3", endpoint_url=options["endpoint_url"], aws_access_key_id=options["access_key"],
        aws_secret_access_key=options["secret_key"], region_name=options["region_name"],
    )
    return client, options["bucket_name"]


def create(api, data: bytes, *, declared_sha: str | None = None, size: int | None = None,
           name: str = "big.bin"):
    metadata = {"sha256": declared_sha or sha(data), "size": len(data) if size is None else size,
                "name": name, "type": "application/octet-stream"}
    return api.post("/api/v1/s3/multipart",
                    {"filename": name, "type": "application/octet-stream", "metadata": metadata},
                    format="json")


def sign(api, created: dict, part: int):
    return api.get(f"/api/v1/s3/multipart/{created['uploadId']}/{part}", {"key": created["key"]})


def put(url: str, data: bytes) -> str:
    """A PUT to the presigned URL, as the browser's XHR sends it; the part's ETag."""
    request = urllib.request.Request(url, data=data, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
        return answer.headers["ETag"]


def send_parts(api, created: dict, data: bytes, numbers=None) -> list[dict]:
    pieces = [data[i:i + PART] for i in range(0, len(data), PART)] or [b""]
    parts = []
    for number, piece in enumerate(pieces, start=1):
        if numbers is not None and number not in numbers:
            continue
        signed = sign(api, created, number)
        assert signed.status_code == 200, signed.content
        parts.append({"PartNumber": number, "ETag": put(signed.json()["url"], piece)})
    return parts


def list_parts(api, created: dict):
    return api.get(f"/api/v1/s3/multipart/{created['uploadId']}", {"key": created["key"]})


def complete(api, created: dict, parts: list[dict]):
    return api.post(
        f"/api/v1/s3/multipart/{created['uploadId']}/complete?key={created['key']}",
        {"parts": parts}, format="json",
    )


def abort(api, created: dict):
    return api.delete(f"/api/v1/s3/multipart/{created['uploadId']}?key={created['key']}")


def upload(api, data: bytes, **create_args) -> tuple[dict, object]:
    answer = create(api, data, **create_args)
    assert answer.status_code == 200, answer.content
    created = answer.json()
    done = complete(api, created, send_parts(api, created, data))
    return created, done


def session_of(created: dict) -> UploadSession:
    return UploadSession.objects.get(uid=created["uploadId"])


def object_exists(key: str) -> bool:
    client, bucket = s3_client()
    return bool(client.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


def multipart_uploads() -> list:
    client, bucket = s3_client()
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def assert_problem(answer, status: int, code: str | None = None) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.content[:400])
    assert answer["Content-Type"].startswith("application/problem+json")
    body = answer.json()
    if code:
        assert body["code"] == code, body
    return body


# --- the upload -------------------------------------------------------------------------------------


@S3
def test_a_multipart_upload_of_two_parts_becomes_a_stored_file_with_its_sha256(garden_user, storage):
    data = payload(PART + 300_000)
    created, done = upload(garden_user, data)
    garden = User.objects.get(username="GardenUser").client
    # The key is the server's, scoped to the tenant; the id is the upload session's.
    assert created["key"] == f"blobs/direct/{garden.pk}/{created['uploadId']}"
    assert done.status_code == 200, done.content
    assert done.json()["location"].endswith(f"/api/v1/uploads/{created['uploadId']}")
    session = session_of(created)
    assert session.state == UploadSession.State.COMPLETED, session.failure_reason
    assert session.dialect == "s3direct" and session.mode == UploadSession.Mode.DIRECT
    stored = session.stored_file
    assert (stored.sha256, stored.size, stored.client_id) == (sha(data), len(data), garden.pk)
    with stored_file_open(stored) as handle:
        assert handle.read() == data
    # Its status through the ordinary upload endpoint; the multipart upload is gone.
    status = garden_user.get(f"/api/v1/uploads/{created['uploadId']}")
    assert status.status_code == 200 and status.json()["sha256"] == sha(data)
    assert multipart_uploads() == []
    # A complete sent again answers the same (Uppy retries), nothing changes.
    again = complete(garden_user, created, [{"PartNumber": 1, "ETag": '"x"'}])
    assert again.status_code == 200 and again.json()["state"] == "COMPLETED"

    # The same bytes again: the tenant's one stored file, the second object deleted.
    created2, done2 = upload(garden_user, data, name="again.bin")
    assert done2.status_code == 200
    second = session_of(created2)
    assert second.stored_file_id == stored.pk
    assert StoredFile.objects.get(pk=stored.pk).ref_count == 2
    assert not object_exists(created2["key"])


@S3
def test_a_small_file_goes_as_one_part(garden_user, storage):
    data = b"tiny direct upload"
    created, done = upload(garden_user, data, name="tiny.txt")
    assert done.status_code == 200, done.content
    session = session_of(created)
    assert session.state == UploadSession.State.COMPLETED
    assert session.stored_file.sha256 == sha(data)


@S3
def test_resume_after_a_reload_lists_the_parts_s3_holds(garden_user, storage):
    data = payload(2 * PART + 12345, seed=2)
    created = create(garden_user, data).json()
    first = send_parts(garden_user, created, data, numbers={1, 2})
    # "Reload": the page knows nothing but the upload id and key; S3 tells what it holds.
    listed = list_parts(garden_user, created)
    assert listed.status_code == 200, listed.content
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed.json()] == [
        (1, PART, first[0]["ETag"]), (2, PART, first[1]["ETag"]),
    ]
    rest = send_parts(garden_user, created, data, numbers={3})
    known = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed.json()]
    done = complete(garden_user, created, known + rest)
    assert done.status_code == 200, done.content
    session = session_of(created)
    assert session.state == UploadSession.State.COMPLETED
    assert session.stored_file.sha256 == sha(data)


@S3
def test_abort_removes_the_multipart_upload(garden_user, storage):
    data = payload(PART + 10, seed=3)
    created = create(garden_user, data).json()
    send_parts(garden_user, created, data, numbers={1})
    assert len(multipart_uploads()) == 1
    assert abort(garden_user, created).status_code == 204
    assert multipart_uploads() == []
    assert session_of(created).state == UploadSession.State.CANCELLED
    assert_problem(sign(garden_user, created, 2), 404)
    assert_problem(list_parts(garden_user, created), 404)


# --- what is refused -------------------------------------------------------------------------------


@S3
def test_a_lying_hash_fails_the_upload_stores_nothing_and_deletes_the_object(garden_user, storage):
    data = payload(PART + 4096, seed=4)
    garden = User.objects.get(username="GardenUser").client
    used = quota.client_storage_used(garden.pk)
    created, done = upload(garden_user, data, declared_sha=sha(b"something else"))
    assert done.status_code == 200, done.content  # S3 holds the declared size; the worker hashes
    session = session_of(created)
    assert session.state == UploadSession.State.FAILED
    assert "SHA-256 mismatch" in session.failure_reason
    assert session.stored_file_id is None
    assert not StoredFile.objects.filter(sha256=sha(data)).exists()
    assert not object_exists(created["key"])
    assert multipart_uploads() == []
    assert quota.client_storage_used(garden.pk) == used  # nothing of it counts any more
    status = garden_user.get(f"/api/v1/uploads/{created['uploadId']}").json()
    assert status["status"] == "FAILED" and "SHA-256 mismatch" in status["message"]


@S3
def test_a_lying_size_fails_at_complete_and_deletes_the_object(garden_user, storage):
    data = payload(3000, seed=5)
    created = create(garden_user, data, size=len(data) + 1).json()
    done = complete(garden_user, created, send_parts(garden_user, created, data))
    assert_problem(done, 422, "size_mismatch")
    session = session_of(created)
    assert session.state == UploadSession.State.FAILED and session.stored_file_id is None
    assert not object_exists(created["key"])


@S3
def test_another_tenants_or_users_upload_id_is_404(garden_user, acme_admin, garden_admin, storage):
    data = payload(2000, seed=6)
    created = create(garden_user, data).json()
    parts = send_parts(garden_user, created, data)
    for other in (acme_admin, garden_admin):
        assert_problem(sign(other, created, 1), 404)
        assert_problem(list_parts(other, created), 404)
        assert_problem(complete(other, created, parts), 404)
        assert_problem(abort(other, created), 404)
    # A key other than the upload's is not the upload's.
    assert_problem(sign(garden_user, {**created, "key": "blobs/direct/1/elsewhere"}, 1), 404)
    assert session_of(created).state == UploadSession.State.INITIATED
    assert complete(garden_user, created, parts).status_code == 200


@S3
def test_part_urls_expire_within_15_minutes_and_name_the_key_upload_and_part(
    garden_user, storage, settings
):
    data = payload(PART + 1, seed=7)
    created = create(garden_user, data).json()
    session = session_of(created)
    for setting, expected in ((600, 600), (3600, 900)):
        settings.S3_DIRECT_URL_EXPIRY_SECONDS = setting
        signed = sign(garden_user, created, 2)
        assert signed.status_code == 200 and signed["Cache-Control"] == "no-store"
        body = signed.json()
        assert body["expires"] == expected
        url = urlsplit(body["url"])
        query = parse_qs(url.query)
        assert int(query["X-Amz-Expires"][0]) == expected <= 900
        assert query["partNumber"] == ["2"] and query["uploadId"] == [session.s3_upload_id]
        assert url.path.endswith("/" + created["key"])
    # Only the parts the declared size needs (each but the last at least 5 MiB).
    assert_problem(sign(garden_user, created, 3), 400)
    assert_problem(sign(garden_user, created, 0), 400)


@S3
def test_the_quota_refuses_at_create(garden_user, storage):
    garden = User.objects.get(username="GardenUser").client
    Client.objects.filter(pk=garden.pk).update(storage_quota=1000)
    body = assert_problem(create(garden_user, payload(2000)), 413, "quota_exceeded")
    assert (body["quota"], body["requested"]) == (1000, 2000)
    assert not UploadSession.objects.filter(client=garden).exists()
    assert multipart_uploads() == []


@S3
def test_size_and_sha256_are_required_and_bounded(garden_user, storage, settings):
    answer = garden_user.post("/api/v1/s3/multipart", {"filename": "x", "metadata": {"size": 3}},
                              format="json")
    assert_problem(answer, 400, "sha256_required")
    answer = garden_user.post("/api/v1/s3/multipart",
                              {"filename": "x", "metadata": {"sha256": sha(b"abc")}}, format="json")
    assert_problem(answer, 400, "size_required")
    assert_problem(create(garden_user, b"abc", declared_sha="nothex"), 400)
    settings.UPLOAD_MAX_FILE_SIZE = 100
    assert_problem(create(garden_user, payload(101)), 413)
    assert_problem(garden_user.post("/api/v1/s3/multipart", [1], format="json"), 400)
    good = {"size": 3, "sha256": sha(b"abc")}
    for body in (
        {"filename": "x", "metadata": {**good, "size": "abc"}},
        {"filename": "x", "metadata": {**good, "size": {}}},
        {"filename": "x", "metadata": {**good, "size": -1}},
        {"filename": "x", "metadata": {**good, "size": 1.5}},
        {"filename": "x", "metadata": {**good, "sha256": ["a"]}},
        {"filename": 5, "metadata": good},
        {"filename": "x", "type": {}, "metadata": good},
        {"filename": "x", "type": "not a type", "metadata": good},
        {"filename": "x", "metadata": "size=3"},
    ):
        assert_problem(garden_user.post("/api/v1/s3/multipart", body, format="json"), 400)
    assert multipart_uploads() == []


@S3
def test_complete_refuses_bad_part_lists_and_wrong_etags(garden_user, storage):
    data = payload(PART + 5, seed=8)
    created = create(garden_user, data).json()
    parts = send_parts(garden_user, created, data)
    assert_problem(complete(garden_user, created, []), 400)
    assert_problem(complete(garden_user, created, list(reversed(parts))), 400)
    assert_problem(complete(garden_user, created, [{"PartNumber": 1}]), 400)
    for number in (0, -1, 10_001, "1e3", True, None):
        assert_problem(complete(garden_user, created, [{"PartNumber": number, "ETag": '"e"'}]), 400)
    assert_problem(complete(garden_user, created, [{"PartNumber": 1, "ETag": 5}]), 400)
    assert_problem(complete(garden_user, created, {"not": "a list"}), 400)
    assert_problem(garden_user.post(f"/api/v1/s3/multipart/{created['uploadId']}/complete",
                                    "parts=1", content_type="text/plain"), 415)
    wrong = [parts[0], {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]
    assert_problem(complete(garden_user, created, wrong), 409)
    assert session_of(created).state == UploadSession.State.INITIATED  # still open: retry
    assert complete(garden_user, created, parts).status_code == 200
    assert session_of(created).stored_file.sha256 == sha(data)


@LOCAL
def test_local_storage_answers_a_clear_409(garden_user, storage):
    body = assert_problem(create(garden_user, b"abc"), 409, "direct_uploads_need_s3")
    assert "S3" in body["detail"]
    fake = {"uploadId": "00000000-0000-0000-0000-000000000000", "key": "k"}
    assert_problem(sign(garden_user, fake, 1), 409, "direct_uploads_need_s3")
    assert_problem(list_parts(garden_user, fake), 409, "direct_uploads_need_s3")
    assert not UploadSession.objects.exists()


# --- authentication ---------------------------------------------------------------------------------


@S3
def test_the_ui_upload_token_works_and_after_sign_out_nothing_is_signed(demo, storage):
    from rest_framework.test import APIClient

    page = ui_sign_in("GardenUser")
    token = page.post("/ui/upload-token", HTTP_X_CSRFTOKEN=page.csrf,
                      HTTP_ACCEPT="application/json").json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    data = payload(PART + 7, seed=9)
    created = create(api, data).json()
    parts = send_parts(api, created, data, numbers={1})
    # The upload token opens nothing else.
    assert api.get(f"/api/v1/uploads/{created['uploadId']}").status_code == 401
    page.post("/ui/logout", {"csrfmiddlewaretoken": page.csrf})
    for answer in (sign(api, created, 2), list_parts(api, created), complete(api, created, parts),
                   create(api, data)):
        assert_problem(answer, 401)
    assert session_of(created).state == UploadSession.State.INITIATED


@S3
def test_a_revoked_session_can_no_longer_sign_list_or_complete(demo, storage):
    api = bearer_client("GardenUser")
    data = payload(PART + 9, seed=10)
    created = create(api, data).json()
    parts = send_parts(api, created, data)
    session = AuthSession.objects.get(user__username="GardenUser", revoked_at=None)
    account_services.session_end(session_id=str(session.pk), reason="revoked")
    for answer in (sign(api, created, 1), list_parts(api, created), complete(api, created, parts)):
        assert_problem(answer, 401)


# --- purge ------------------------------------------------------------------------------------------


@S3
def test_purge_aborts_an_abandoned_direct_upload(garden_user, storage):
    data = payload(PART + 11, seed=11)
    created = create(garden_user, data).json()
    send_parts(garden_user, created, data, numbers={1})
    assert len(multipart_uploads()) == 1
    UploadSession.objects.filter(uid=created["uploadId"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    counts = purge.uploads_purge()
    assert counts["expired"] == 1
    assert multipart_uploads() == []
    assert session_of(created).state == UploadSession.State.EXPIRED
    assert_problem(sign(garden_user, created, 2), 410)


@S3
def test_other_doors_cannot_write_into_a_direct_upload(garden_user, storage):
    """Cross the doors: a direct upload's bytes come only from S3. An iDempiere chunk or a tus
    append sent to its id is refused before a byte is kept (409), the multipart upload gets no
    part from the node, and the client's own parts still complete to the file it declared."""
    data = payload(PART + 4096, seed=7)
    created = create(garden_user, data).json()
    uid = created["uploadId"]
    parts = send_parts(garden_user, created, data, numbers={1})

    chunk = garden_user.generic("PUT", f"/api/v1/uploads/{uid}/chunks/2", b"x" * 4096,
                                content_type="application/octet-stream")
    assert chunk.status_code == 409, chunk.content[:300]
    append = garden_user.generic(
        "PATCH", f"/api/v1/tus/{uid}", b"y" * 4096, content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_OFFSET="0",
    )
    assert append.status_code in (404, 409), append.content[:300]
    listed = list_parts(garden_user, created).json()
    assert [p["PartNumber"] for p in listed] == [1]  # nothing written through the node
    assert session_of(created).received_bytes == 0

    parts += send_parts(garden_user, created, data, numbers={2})
    done = complete(garden_user, created, parts)
    assert done.status_code == 200, done.content
    session = session_of(created)
    assert session.state == UploadSession.State.COMPLETED, session.failure_reason
    with stored_file_open(session.stored_file) as handle:
        assert handle.read() == data


@S3
def test_a_direct_upload_cancelled_through_another_door_cannot_be_completed(garden_user, storage):
    """Cancelled with iDempiere's DELETE while its parts are in S3: the multipart upload is aborted,
    a complete sent afterwards stores nothing (4xx), and no object is left under its key."""
    data = payload(PART + 10, seed=8)
    created = create(garden_user, data).json()
    parts = send_parts(garden_user, created, data)
    cancelled = garden_user.delete(f"/api/v1/uploads/{created['uploadId']}")
    assert cancelled.status_code in (200, 204), cancelled.content[:300]
    done = complete(garden_user, created, parts)
    assert 400 <= done.status_code < 500, done.content[:300]
    session = UploadSession.objects.filter(uid=created["uploadId"]).first()
    assert session is None or session.stored_file_id is None
    assert not object_exists(created["key"])
    assert [u for u in multipart_uploads() if u["Key"] == created["key"]] == []
