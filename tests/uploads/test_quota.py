"""The per-client storage quota (issue 24, item 7): ``AD_Client.StorageQuota`` bounds what one
tenant stores (its stored files once each, plus its uploads in flight), whatever the dialect.

Over it, an upload of known length is refused when it is created (nothing written), a chunk of an
upload of unknown length when it would pass it (nothing of it counted, the bytes before it kept),
a concatenation by its whole length (a partial named again counts again); a copy of a stored file
adds nothing. The answer is 413 with ``code`` ``quota_exceeded``, ``quota``, ``used`` and
``requested``. Two uploads racing for the last bytes of a quota: exactly one gets them.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.accounts.models import Client, User
from apps.uploads import chunks, quota, services
from apps.uploads.models import StoredFile, UploadChunk, UploadSession
from apps.uploads.stored_files import stored_file_open
from tests.accounts.helpers import bearer_client
from tests.uploads.conftest import create as idempiere_create
from tests.uploads.conftest import payload, put_chunk, upload

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
LOCAL = pytest.mark.parametrize("storage", ["local"], indirect=True)


# --- helpers -------------------------------------------------------------------------------------


def client_of(username: str) -> Client:
    return User.objects.get(username=username).client


def set_quota(username: str, size: int | None) -> Client:
    client = client_of(username)
    Client.objects.filter(pk=client.pk).update(storage_quota=size)
    return client


def sessions_of(client: Client) -> int:
    return UploadSession.objects.filter(client=client).count()


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_quota_refusal(response, *, quota_size: int, used: int, requested: int) -> None:
    assert response.status_code == 413, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert (body["quota"], body["used"], body["requested"]) == (quota_size, used, requested)
    assert body["status"] == 413 and body["title"] == "Payload Too Large"


def tus_create(client, length: int | None = None, *, body: bytes | None = None, **headers):
    if length is None:
        headers["HTTP_UPLOAD_DEFER_LENGTH"] = "1"
    else:
        headers["HTTP_UPLOAD_LENGTH"] = str(length)
    if body is None:
        return client.post("/api/v1/tus/", **TUS, **headers)
    return client.post("/api/v1/tus/", body, content_type=OFFSET_STREAM, **TUS, **headers)


def tus_patch(client, url: str, offset: int, data: bytes, **headers):
    return client.patch(url, data, content_type=OFFSET_STREAM, **TUS,
                        HTTP_UPLOAD_OFFSET=str(offset), **headers)


def tus_upload(client, data: bytes, **headers) -> str:
    created = tus_create(client, len(data), **headers)
    assert created.status_code == 201, created.content
    url = created["Location"]
    answer = tus_patch(client, url, 0, data)
    assert answer.status_code == 204, answer.content
    return url


def session_at(url: str) -> UploadSession:
    return UploadSession.objects.get(uid=url.rstrip("/").rsplit("/", 1)[-1])


def stored_bytes(session: UploadSession) -> bytes:
    session.refresh_from_db()
    assert session.state == UploadSession.State.COMPLETED, session.failure_reason
    with stored_file_open(session.stored_file) as handle:
        return handle.read()


# --- what counts -------------------------------------------------------------------------------------


@LOCAL
def test_a_deduplicated_file_counts_once_and_uploads_in_flight_count_their_length(
    garden_user, storage
):
    garden = set_quota("GardenUser", None)
    assert quota.client_storage_used(garden.pk) == 0
    data = payload(3000, seed=1)
    tus_upload(garden_user, data)
    tus_upload(garden_user, data)  # the same bytes again: one stored file, two references
    assert StoredFile.objects.filter(client=garden).count() == 1
    assert quota.client_storage_used(garden.pk) == 3000
    # An open upload of known length counts its whole length; one of unknown length what it has.
    assert tus_create(garden_user, 5000).status_code == 201
    assert quota.client_storage_used(garden.pk) == 8000
    deferred = tus_create(garden_user)["Location"]
    assert tus_patch(garden_user, deferred, 0, payload(700, seed=2)).status_code == 204
    assert quota.client_storage_used(garden.pk) == 8700
    # Another tenant's bytes are its own.
    assert quota.client_storage_used(client_of("AcmeAdmin").pk) == 0


# --- known length: refused at creation -------------------------------------------------------------


@LOCAL
def test_tus_upload_of_known_length_over_the_quota_is_refused_at_creation(
    garden_user, storage, settings
):
    garden = set_quota("GardenUser", 10_000)
    kept = tus_upload(garden_user, payload(4000, seed=3))
    before_sessions, before_files = sessions_of(garden), media_files(settings)

    assert_quota_refusal(tus_create(garden_user, 6001), quota_size=10_000, used=4000,
                         requested=6001)
    # Creation with upload: refused before any byte of the body is read.
    assert_quota_refusal(tus_create(garden_user, 7000, body=payload(7000, seed=4)),
                         quota_size=10_000, used=4000, requested=7000)
    assert sessions_of(garden) == before_sessions
    assert media_files(settings) == before_files

    # Up to the quota exactly is fine; then even one byte more is refused (the open upload's
    # declared length counts before any byte of it arrived).
    last = tus_create(garden_user, 6000)
    assert last.status_code == 201, last.content
    assert_quota_refusal(tus_create(garden_user, 1), quota_size=10_000, used=10_000, requested=1)
    data = payload(6000, seed=5)
    assert tus_patch(garden_user, last["Location"], 0, data).status_code == 204
    assert stored_bytes(session_at(last["Location"])) == data
    assert stored_bytes(session_at(kept)) == payload(4000, seed=3)
    # An empty file needs no room.
    assert tus_create(garden_user, 0).status_code == 201


@LOCAL
def test_terminating_an_upload_gives_its_room_back(garden_user, storage):
    set_quota("GardenUser", 5000)
    url = tus_create(garden_user, 5000)["Location"]
    assert tus_create(garden_user, 1).status_code == 413
    assert garden_user.delete(url, **TUS).status_code == 204
    assert tus_create(garden_user, 5000).status_code == 201


# --- unknown length: the chunk that would pass it ------------------------------------------------


@pytest.mark.parametrize("storage", ["local", "s3"], indirect=True)
def test_deferred_length_tus_patch_over_the_quota_is_refused_and_keeps_the_offset(
    garden_user, storage
):
    garden = set_quota("GardenUser", 3000)
    url = tus_create(garden_user)["Location"]
    data = payload(3000, seed=6)
    assert tus_patch(garden_user, url, 0, data[:2000]).status_code == 204

    refused = tus_patch(garden_user, url, 2000, payload(1500, seed=7))
    assert_quota_refusal(refused, quota_size=3000, used=2000, requested=1500)
    head = garden_user.head(url, **TUS)
    assert head["Upload-Offset"] == "2000" and head["Upload-Defer-Length"] == "1"
    session = session_at(url)
    assert session.received_bytes == 2000 and session.size is None
    assert not UploadChunk.objects.filter(session=session, received=False).exists()

    # Declaring a length past the quota is refused too, and changes nothing.
    declared = tus_patch(garden_user, url, 2000, b"", HTTP_UPLOAD_LENGTH="3001")
    assert_quota_refusal(declared, quota_size=3000, used=2000, requested=1001)
    assert session_at(url).size is None

    # What fits still goes in, after the bytes kept: the file is whole.
    assert tus_patch(garden_user, url, 2000, data[2000:]).status_code == 204
    final = tus_patch(garden_user, url, 3000, b"", HTTP_UPLOAD_LENGTH="3000")
    assert final.status_code == 204, final.content
    assert stored_bytes(session_at(url)) == data
    assert quota.client_storage_used(garden.pk) == 3000


@LOCAL
def test_a_chunk_of_unknown_length_is_counted_at_its_record(ctx, storage):
    """A body without a length (chunked transfer) is not refused before it is read: its record
    is, under the client's lock, and nothing of it counts."""
    Client.objects.filter(pk=ctx.client_id).update(storage_quota=1000)
    session = services.session_create(ctx=ctx, file_name="stream.bin", size=None, dialect="tus")
    first = payload(600, seed=8)
    chunks.chunk_accept(session=session, stream=io.BytesIO(first), length=None)
    with pytest.raises(quota.QuotaExceeded) as refused:
        chunks.chunk_accept(session=session, stream=io.BytesIO(payload(500, seed=9)), length=None)
    assert refused.value.extra == {"code": "quota_exceeded", "quota": 1000, "used": 600,
                                   "requested": 500}
    session.refresh_from_db()
    assert session.received_bytes == 600
    assert list(session.chunks.values_list("received", "size")) == [(True, 600)]
    rest = payload(400, seed=10)
    chunks.chunk_accept(session=session, stream=io.BytesIO(rest), length=None)
    services.session_declare_size(session=session, size=1000)
    assert stored_bytes(session) == first + rest


# --- concatenation ---------------------------------------------------------------------------------


@LOCAL
def test_a_final_upload_repeating_a_partial_over_the_quota_is_refused(garden_user, storage):
    garden = set_quota("GardenUser", 3500)
    part = payload(1000, seed=11)
    url = tus_upload(garden_user, part, HTTP_UPLOAD_CONCAT="partial")
    before = sessions_of(garden)

    # The probe of issue 24: one partial named 189 times (189 times its bytes, new ones).
    refused = garden_user.post("/api/v1/tus/", **TUS,
                               HTTP_UPLOAD_CONCAT="final;" + " ".join([url] * 189))
    assert_quota_refusal(refused, quota_size=3500, used=1000, requested=189_000)
    assert sessions_of(garden) == before

    twice = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_CONCAT=f"final;{url} {url}")
    assert twice.status_code == 201, twice.content
    assert stored_bytes(session_at(twice["Location"])) == part + part
    assert quota.client_storage_used(garden.pk) == 3000
    thrice = garden_user.post("/api/v1/tus/", **TUS, HTTP_UPLOAD_CONCAT="final;" + " ".join([url] * 3))
    assert_quota_refusal(thrice, quota_size=3500, used=3000, requested=3000)
    assert sessions_of(garden) == before + 1


# --- copies --------------------------------------------------------------------------------------------


@LOCAL
def test_a_copy_of_a_stored_file_is_allowed_at_a_full_quota(garden_user, storage):
    from apps.erp.models import BPartner

    data = payload(2048, seed=12)
    garden = set_quota("GardenUser", len(data))
    upload_id = upload(garden_user, data, chunk_size=1024)
    joe = BPartner.objects.get(name="Joe Block")
    assert quota.client_storage_used(garden.pk) == len(data)
    assert idempiere_create(garden_user, size=1).status_code == 413  # the quota is full

    for location in ("ATTACHMENT", "ARCHIVE", "IMAGE"):
        copied = garden_user.post(f"/api/v1/uploads/{upload_id}/copy", {
            "copyLocation": location, "tableName": "C_BPartner", "recordId": joe.pk,
        }, format="json")
        assert copied.status_code == 200, copied.content
    got = garden_user.get(f"/api/v1/models/c_bpartner/{joe.pk}/attachments/report.bin")
    assert got.status_code == 200
    assert StoredFile.objects.filter(client=garden).count() == 1
    assert StoredFile.objects.get(client=garden).ref_count == 4
    assert quota.client_storage_used(garden.pk) == len(data)


# --- other dialects ------------------------------------------------------------------------------------


@LOCAL
def test_idempiere_chunked_upload_over_the_quota_is_refused_at_creation(
    garden_user, storage, settings
):
    garden = set_quota("GardenUser", 5000)
    data = payload(3000, seed=13)
    upload(garden_user, data, chunk_size=1024)
    before_sessions, before_files = sessions_of(garden), media_files(settings)
    refused = idempiere_create(garden_user, size=2001, chunk_size=1024)
    assert_quota_refusal(refused, quota_size=5000, used=3000, requested=2001)
    assert sessions_of(garden) == before_sessions and media_files(settings) == before_files

    fits = payload(2000, seed=14)
    created = idempiere_create(garden_user, fits, chunk_size=1024)
    assert created.status_code == 201, created.content
    upload_id = created.json()["uploadId"]
    assert put_chunk(garden_user, upload_id, 1, fits[:1024], total=2).status_code == 200
    assert put_chunk(garden_user, upload_id, 2, fits[1024:], total=2).status_code == 200
    assert stored_bytes(UploadSession.objects.get(uid=upload_id)) == fits


def nuxeo_post(client, batch_id: str, idx: str, data: bytes, **headers):
    return client.post(f"/api/v1/upload/{batch_id}/{idx}", data,
                       content_type="application/octet-stream", HTTP_X_FILE_NAME="n.bin",
                       **headers)


@LOCAL
def test_nuxeo_batch_uploads_over_the_quota_are_refused(garden_user, storage, settings):
    garden = set_quota("GardenUser", 1500)
    batch_id = garden_user.post("/api/v1/upload").json()["batchId"]
    before_files = media_files(settings)

    # One go: the body's length is known when its upload is created.
    assert_quota_refusal(nuxeo_post(garden_user, batch_id, "0", payload(2000, seed=15)),
                         quota_size=1500, used=0, requested=2000)
    assert sessions_of(garden) == 0 and media_files(settings) == before_files

    # Chunked without X-File-Size: the length is unknown, the chunk that would pass it refused.
    def chunk(index: int, data: bytes):
        return nuxeo_post(garden_user, batch_id, "1", data, HTTP_X_UPLOAD_TYPE="chunked",
                          HTTP_X_UPLOAD_CHUNK_INDEX=str(index), HTTP_X_UPLOAD_CHUNK_COUNT="2")

    data = payload(2000, seed=16)
    assert chunk(0, data[:1000]).status_code == 202
    assert_quota_refusal(chunk(1, data[1000:]), quota_size=1500, used=1000, requested=1000)
    session = UploadSession.objects.get(client=garden, batch_index="1")
    assert session.received_bytes == 1000 and session.state == UploadSession.State.UPLOADING
    assert list(session.chunks.values_list("index", "received")) == [(0, True)]
    # With room again (a larger quota), the same chunk completes the file.
    set_quota("GardenUser", 2000)
    assert chunk(1, data[1000:]).status_code == 201
    assert stored_bytes(session) == data


@LOCAL
def test_axelor_upload_over_the_quota_is_refused_at_its_first_chunk(garden_user, storage):
    garden = set_quota("GardenUser", 1000)
    refused = garden_user.post("/ws/files/upload", payload(500, seed=17),
                               content_type="application/octet-stream", HTTP_X_FILE_NAME="a.bin",
                               HTTP_X_FILE_OFFSET="0", HTTP_X_FILE_SIZE="1001")
    assert_quota_refusal(refused, quota_size=1000, used=0, requested=1001)
    assert sessions_of(garden) == 0


# --- tenants -----------------------------------------------------------------------------------------


@LOCAL
def test_another_client_is_unaffected(garden_user, acme_admin, storage):
    set_quota("GardenUser", 1000)
    tus_upload(garden_user, payload(1000, seed=18))
    assert tus_create(garden_user, 1).status_code == 413
    # Acme has no quota (the demo's default): its uploads go on, and count for Acme only.
    big = payload(5000, seed=19)
    url = tus_upload(acme_admin, big)
    assert stored_bytes(session_at(url)) == big
    acme = set_quota("AcmeAdmin", 6000)
    assert quota.client_storage_used(acme.pk) == 5000
    assert tus_create(acme_admin, 1000).status_code == 201
    assert tus_create(acme_admin, 1).status_code == 413
    assert quota.client_storage_used(client_of("GardenUser").pk) == 1000


# --- the race --------------------------------------------------------------------------------------


@LOCAL
def test_two_uploads_racing_for_the_last_bytes_of_a_quota_one_passes(demo, storage, monkeypatch):
    """Each request counts the client's bytes and then waits a little before creating its upload:
    without the client's lock both would count the same room and both pass."""
    set_quota("GardenUser", 1000)
    clients = [bearer_client("GardenUser"), bearer_client("GardenUser")]
    counted = quota.client_storage_used

    def slow_count(client_id, **kwargs):
        used = counted(client_id, **kwargs)
        time.sleep(0.5)
        return used

    monkeypatch.setattr(quota, "client_storage_used", slow_count)
    start = threading.Barrier(2)
    answers: list = [None, None]

    def run(n: int) -> None:
        try:
            start.wait()
            answers[n] = tus_create(clients[n], 600)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 413], [a.content for a in answers]
    refused = next(a for a in answers if a.status_code == 413)
    assert_quota_refusal(refused, quota_size=1000, used=600, requested=600)
    assert UploadSession.objects.filter(client=client_of("GardenUser")).count() == 1


def test_the_quota_is_editable_in_the_admin(demo):
    from django.test import Client as DjangoClient

    staff = DjangoClient()
    staff.force_login(User.objects.get(username="admin"))
    garden = client_of("GardenUser")
    page = staff.get(f"/admin/accounts/client/{garden.pk}/change/")
    assert page.status_code == 200
    assert b'name="storage_quota"' in page.content
    assert garden.storage_quota is None  # unlimited in the demo
