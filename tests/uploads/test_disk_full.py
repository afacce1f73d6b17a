"""A full disk is ``507 Insufficient Storage`` on every upload path, and a failing S3 is ``503``
with ``Retry-After``; neither is ever a 500, nothing of the refused bytes counts, and the same
client resumes and completes the file once space (or S3) is back.

The disk is really full: ``MEDIA_ROOT`` is a small tmpfs mounted for the test (this needs root,
as the CI machines run the suite; elsewhere the local tests are skipped) and a filler file takes
all of it but a few KiB, so the write of a chunk fails part-way with ``ENOSPC`` from the kernel.
S3 is moto behind a TCP proxy that the test stops (new connections refused, open ones cut) and
starts again on the same port.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.accounts.models import Client
from apps.dms.models import DMSFile
from apps.uploads.models import UploadSession
from apps.uploads.stored_files import stored_file_open
from tests.conftest import make_bucket, s3_storage_config
from tests.ui.conftest import ui_sign_in
from tests.uploads.conftest import body_of, chunks_of, create, payload, put_chunk, sha

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 64 * 1024
LEAVE = 16 * 1024  # free bytes left on the full disk: a chunk fails a quarter of the way in
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
State = UploadSession.State


# --- A small real disk --------------------------------------------------------------------------


class SmallDisk:
    """A tmpfs of a few MiB; :meth:`fill` leaves ``leave`` bytes free, :meth:`free` undoes it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / ".filler"

    def available(self) -> int:
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave: int = LEAVE) -> None:
        fd = os.open(self.filler, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            os.posix_fallocate(fd, 0, self.available() - leave)
        finally:
            os.close(fd)
        assert self.available() == leave

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_disk(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(root)],
        capture_output=True, text=True, check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (root needed): {mounted.stderr.strip()}")
    storages = dict(settings.STORAGES)
    storages["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root), "base_url": "/media/"},
    }
    settings.STORAGES = storages
    settings.MEDIA_ROOT = root
    settings.STORAGE_BACKEND = "local"
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


# --- What every path must answer -----------------------------------------------------------------


def assert_problem(response, status: int, title: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] == title and body["detail"]
    return body


def assert_disk_full(response) -> None:
    assert_problem(response, 507, "Insufficient Storage")


def assert_unavailable(response) -> None:
    assert_problem(response, 503, "Service Unavailable")
    assert int(response["Retry-After"]) > 0


def assert_stored(session: UploadSession, data: bytes) -> None:
    """The upload completed with exactly ``data``: recorded hash, stored bytes and their hash."""
    session.refresh_from_db()
    assert session.state == State.COMPLETED, (session.state, session.failure_reason)
    assert session.stored_file.sha256 == sha(data)
    with stored_file_open(session.stored_file) as handle:
        assert sha(handle.read()) == sha(data)


def received(session: UploadSession) -> tuple[int, list[int]]:
    """The session's received bytes and the indexes of its recorded chunks."""
    session.refresh_from_db()
    indexes = sorted(session.chunks.filter(received=True).values_list("index", flat=True))
    return session.received_bytes, indexes


def session_of(upload_id: str) -> UploadSession:
    return UploadSession.objects.get(uid=upload_id)


# --- iDempiere ---------------------------------------------------------------------------------------


def test_idempiere_chunk_put_on_a_full_disk_is_507_and_resumes(garden_user, small_disk):
    data = payload(3 * CHUNK, seed=1)
    pieces = chunks_of(data, CHUNK)
    upload_id = create(garden_user, data, chunk_size=CHUNK).json()["uploadId"]
    assert put_chunk(garden_user, upload_id, 1, pieces[0], total=3).status_code == 200

    small_disk.fill()
    assert_disk_full(put_chunk(garden_user, upload_id, 2, pieces[1], total=3))
    status = garden_user.get(f"/api/v1/uploads/{upload_id}").json()
    assert status["totalReceivedSize"] == CHUNK
    assert [c["chunkOrder"] for c in status["uploadedChunks"]] == [1]
    assert received(session_of(upload_id)) == (CHUNK, [0])

    small_disk.free()
    for order in (2, 3):
        assert put_chunk(garden_user, upload_id, order, pieces[order - 1], total=3).status_code == 200
    assert_stored(session_of(upload_id), data)
    download = garden_user.get(f"/api/v1/uploads/{upload_id}/file")
    assert download.status_code == 200 and sha(body_of(download)) == sha(data)


def test_idempiere_single_upload_on_a_full_disk_is_507_and_resumes(garden_user, small_disk):
    data = payload(CHUNK, seed=2)
    upload_id = create(garden_user, data, chunk_size=CHUNK).json()["uploadId"]

    small_disk.fill()
    assert_disk_full(put_chunk(garden_user, upload_id, 1, data, total=1))
    assert received(session_of(upload_id)) == (0, [])
    assert session_of(upload_id).state in (State.INITIATED, State.UPLOADING)

    small_disk.free()
    answer = put_chunk(garden_user, upload_id, 1, data, total=1)
    assert answer.status_code == 200 and answer.json()["isLastChunk"] is True
    assert_stored(session_of(upload_id), data)


# --- tus (and the web UI, whose uploader is tus-js-client) --------------------------------------------


def tus_create(client, length: int, body: bytes | None = None):
    extra = {**TUS, "HTTP_UPLOAD_LENGTH": str(length)}
    if body is None:
        return client.post("/api/v1/tus/", **extra)
    return client.post("/api/v1/tus/", body, content_type=OFFSET_STREAM, **extra)


def tus_patch(client, url: str, offset: int, body: bytes):
    return client.patch(url, body, content_type=OFFSET_STREAM, HTTP_UPLOAD_OFFSET=str(offset), **TUS)


def tus_offset(client, url: str) -> int:
    answer = client.head(url, **TUS)
    assert answer.status_code == 200
    return int(answer["Upload-Offset"])


def tus_resume(client, url: str, data: bytes) -> None:
    """What tus clients do after an error: ask the offset, send the rest from there."""
    offset = tus_offset(client, url)
    while offset < len(data):
        answer = tus_patch(client, url, offset, data[offset:offset + CHUNK])
        assert answer.status_code == 204, answer.content
        offset = int(answer["Upload-Offset"])


def tus_patch_on_a_full_disk(client, disk: SmallDisk, data: bytes) -> UploadSession:
    created = tus_create(client, len(data))
    assert created.status_code == 201, created.content
    url = created["Location"]
    assert tus_patch(client, url, 0, data[:CHUNK]).status_code == 204

    disk.fill()
    assert_disk_full(tus_patch(client, url, CHUNK, data[CHUNK:2 * CHUNK]))
    assert tus_offset(client, url) == CHUNK
    session = UploadSession.objects.get(uid=url.rstrip("/").rsplit("/", 1)[-1])
    assert received(session)[0] == CHUNK

    disk.free()
    tus_resume(client, url, data)
    assert_stored(session, data)
    return session


def test_tus_patch_on_a_full_disk_is_507_and_resumes(garden_user, small_disk):
    tus_patch_on_a_full_disk(garden_user, small_disk, payload(3 * CHUNK, seed=3))


def test_tus_creation_with_upload_on_a_full_disk_is_507_and_the_client_starts_again(
    garden_user, small_disk
):
    data = payload(2 * CHUNK, seed=4)
    before = set(UploadSession.objects.values_list("pk", flat=True))

    small_disk.fill()
    assert_disk_full(tus_create(garden_user, len(data), data[:CHUNK]))
    # No Location was answered: the upload it opened is cancelled, with nothing counted.
    [opened] = UploadSession.objects.exclude(pk__in=before)
    assert opened.state == State.CANCELLED and received(opened) == (0, [])

    small_disk.free()
    created = tus_create(garden_user, len(data), data[:CHUNK])
    assert created.status_code == 201 and int(created["Upload-Offset"]) == CHUNK
    tus_resume(garden_user, created["Location"], data)
    assert_stored(UploadSession.objects.get(uid=created["Location"].rsplit("/", 1)[-1]), data)


def test_the_web_uis_upload_on_a_full_disk_is_507_and_resumes(demo, small_disk):
    page = ui_sign_in("GardenUser")
    token = page.post("/ui/upload-token", HTTP_X_CSRFTOKEN=page.csrf, HTTP_ACCEPT="application/json")
    assert token.status_code == 200
    uploader = APIClient()  # the page's tus-js-client, with the page's upload token
    uploader.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['token']}")
    data = payload(3 * CHUNK, seed=5)

    session = tus_patch_on_a_full_disk(uploader, small_disk, data)
    placed = page.post(
        "/ui/documents/place",
        {"upload": str(session.uid), "sha256": sha(data), "csrfmiddlewaretoken": page.csrf},
    )
    assert placed.status_code == 201, placed.content
    document = DMSFile.objects.get(pk=placed.json()["id"])
    assert document.stored_file.sha256 == sha(data)


# --- Nuxeo batch upload ----------------------------------------------------------------------------


def nuxeo_post(client, batch_id: str, data: bytes, **headers):
    return client.post(
        f"/api/v1/upload/{batch_id}/0", data, content_type="application/octet-stream",
        HTTP_X_FILE_NAME="report.doc", HTTP_X_FILE_TYPE="application/msword", **headers,
    )


def batch_sessions(batch_id: str):
    return UploadSession.objects.filter(batch__uid=batch_id, batch_index="0")


def test_nuxeo_normal_upload_on_a_full_disk_is_507_and_resumes(garden_user, small_disk):
    batch_id = garden_user.post("/api/v1/upload").json()["batchId"]
    data = payload(2 * CHUNK, seed=6)

    small_disk.fill()
    assert_disk_full(nuxeo_post(garden_user, batch_id, data))
    assert garden_user.get(f"/api/v1/upload/{batch_id}/0").status_code == 404
    assert not batch_sessions(batch_id).exclude(state=State.CANCELLED).exists()

    small_disk.free()
    answer = nuxeo_post(garden_user, batch_id, data)
    assert answer.status_code == 201 and answer.json()["uploadedSize"] == len(data)
    assert_stored(batch_sessions(batch_id).get(state=State.COMPLETED), data)


def test_nuxeo_chunked_upload_on_a_full_disk_is_507_and_resumes(garden_user, small_disk):
    batch_id = garden_user.post("/api/v1/upload").json()["batchId"]
    data = payload(3 * CHUNK, seed=7)
    pieces = chunks_of(data, CHUNK)

    def chunk(index: int):
        return nuxeo_post(
            garden_user, batch_id, pieces[index], HTTP_X_UPLOAD_TYPE="chunked",
            HTTP_X_UPLOAD_CHUNK_INDEX=str(index), HTTP_X_UPLOAD_CHUNK_COUNT="3",
            HTTP_X_FILE_SIZE=str(len(data)),
        )

    assert chunk(0).status_code == 202
    small_disk.fill()
    assert_disk_full(chunk(1))
    session = batch_sessions(batch_id).get()
    assert received(session) == (CHUNK, [0])

    small_disk.free()
    assert chunk(1).status_code == 202
    assert chunk(2).status_code == 201
    assert_stored(session, data)


# --- Axelor and Twake --------------------------------------------------------------------------------


def test_axelor_upload_on_a_full_disk_is_507_and_resumes(garden_user, small_disk):
    data = payload(3 * CHUNK, seed=8)

    def chunk(offset: int, file_id: str | None = None):
        headers = {"HTTP_X_FILE_NAME": "data.bin", "HTTP_X_FILE_OFFSET": str(offset),
                   "HTTP_X_FILE_SIZE": str(len(data)), "HTTP_X_FILE_TYPE": "application/octet-stream"}
        if file_id:
            headers["HTTP_X_FILE_ID"] = file_id
        return garden_user.post("/ws/files/upload", data[offset:offset + CHUNK],
                                content_type="application/octet-stream", **headers)

    first = chunk(0)
    assert first.status_code == 200, first.content
    file_id = first.json()["fileId"]
    small_disk.fill()
    assert_disk_full(chunk(CHUNK, file_id))
    assert received(session_of(file_id)) == (CHUNK, [0])

    small_disk.free()
    assert chunk(CHUNK, file_id).status_code == 200
    last = chunk(2 * CHUNK, file_id)
    assert last.status_code == 200 and last.json()["fileSize"] == len(data)
    assert_stored(session_of(file_id), data)


def test_twake_chunk_upload_on_a_full_disk_is_507_and_resumes(garden_user, small_disk):
    garden = Client.objects.get(name="GardenWorld")
    base = f"/internal/services/files/v1/companies/{garden.pk}/files"
    data = payload(3 * CHUNK, seed=9)
    pieces = chunks_of(data, CHUNK)
    init = garden_user.post(f"{base}?filename=data.bin&type=application/octet-stream"
                            f"&total_chunks=3&total_size={len(data)}")
    assert init.status_code == 200, init.content
    file_url = f"{base}/{init.json()['resource']['id']}"

    def chunk(number: int):
        return garden_user.post(f"{file_url}?chunk_number={number}",
                                {"file": SimpleUploadedFile("blob", pieces[number - 1])},
                                format="multipart")

    assert chunk(1).status_code == 200
    small_disk.fill()
    assert_disk_full(chunk(2))
    pending = DMSFile.objects.get(uid=init.json()["resource"]["id"])
    assert received(pending.upload_session) == (CHUNK, [0])

    small_disk.free()
    assert chunk(2).status_code == 200
    assert chunk(3).status_code == 200
    pending.refresh_from_db()  # the finished upload is now the file's own stored file
    assert pending.stored_file.sha256 == sha(data)
    assert sha(body_of(garden_user.get(f"{file_url}/download"))) == sha(data)


# --- S3: a refused or failing write is 503 with Retry-After --------------------------------------------


class StoppableProxy:
    """A TCP proxy to ``target`` on a fixed port: :meth:`stop` refuses new connections and cuts
    the open ones (S3 gone mid-upload); :meth:`start` serves again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.listener: socket.socket | None = None
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept loop
            listener.close()
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self.open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            return  # cut by stop(), or the other side closed
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def s3_behind_proxy(settings, s3_endpoint):
    host, port = s3_endpoint.split("//", 1)[1].rsplit(":", 1)
    proxy = StoppableProxy((host, int(port)))
    proxy.start()
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    make_bucket(s3_endpoint, bucket)
    endpoint = f"http://127.0.0.1:{proxy.port}"
    settings.AWS_S3_ENDPOINT_URL = endpoint
    settings.AWS_ACCESS_KEY_ID = settings.AWS_ACCESS_KEY_ID or "testing"
    settings.AWS_SECRET_ACCESS_KEY = settings.AWS_SECRET_ACCESS_KEY or "testing"
    storages = dict(settings.STORAGES)
    storages["default"] = s3_storage_config(endpoint, bucket)
    settings.STORAGES = storages
    settings.STORAGE_BACKEND = "s3"
    try:
        yield proxy
    finally:
        proxy.stop()


def test_an_s3_multipart_part_with_s3_gone_is_503_and_resumes(garden_user, s3_behind_proxy, settings):
    settings.UPLOAD_MAX_CHUNK_SIZE = 6 * 1024 * 1024
    part = 5 * 1024 * 1024  # S3's smallest part: the session keeps its chunks as parts
    data = payload(part + CHUNK, seed=10)
    pieces = chunks_of(data, part)
    created = create(garden_user, data, chunk_size=part)
    assert created.status_code == 201, created.content
    upload_id = created.json()["uploadId"]
    assert session_of(upload_id).mode == UploadSession.Mode.PARTS
    assert put_chunk(garden_user, upload_id, 1, pieces[0], total=2).status_code == 200

    s3_behind_proxy.stop()
    assert_unavailable(put_chunk(garden_user, upload_id, 2, pieces[1], total=2))
    assert received(session_of(upload_id)) == (part, [0])

    s3_behind_proxy.start()
    assert put_chunk(garden_user, upload_id, 2, pieces[1], total=2).status_code == 200
    assert_stored(session_of(upload_id), data)


def test_an_s3_tus_patch_with_s3_gone_is_503_and_resumes(garden_user, s3_behind_proxy):
    data = payload(3 * CHUNK, seed=11)
    created = tus_create(garden_user, len(data))
    assert created.status_code == 201, created.content
    url = created["Location"]
    assert tus_patch(garden_user, url, 0, data[:CHUNK]).status_code == 204

    s3_behind_proxy.stop()
    assert_unavailable(tus_patch(garden_user, url, CHUNK, data[CHUNK:2 * CHUNK]))
    assert tus_offset(garden_user, url) == CHUNK

    s3_behind_proxy.start()
    tus_resume(garden_user, url, data)
    assert_stored(UploadSession.objects.get(uid=url.rsplit("/", 1)[-1]), data)


def test_opening_an_s3_upload_with_s3_gone_is_503_and_leaves_no_session(
    garden_user, s3_behind_proxy, settings
):
    settings.UPLOAD_MAX_CHUNK_SIZE = 6 * 1024 * 1024
    s3_behind_proxy.stop()
    before = UploadSession.objects.count()
    assert_unavailable(create(garden_user, size=10 * 1024 * 1024, chunk_size=5 * 1024 * 1024))
    assert UploadSession.objects.count() == before
