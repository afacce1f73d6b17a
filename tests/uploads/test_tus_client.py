"""tus 1.0 against a live server with a real client (tuspy), on local storage and S3."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
import requests
from rest_framework.test import APIClient
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader

from apps.uploads.models import UploadSession
from apps.uploads.stored_files import stored_file_open
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.django_db(transaction=True)

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}


def token_for(username: str) -> str:
    response = APIClient().post(
        "/api/v1/auth/tokens",
        {"userName": username, "password": username, "parameters": {}},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


@pytest.fixture
def tus_url(live_server) -> str:
    return f"{live_server.url}/api/v1/tus/"


@pytest.fixture
def auth(demo) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('GardenUser')}"}


def uploader_class(algo: str) -> type[Uploader]:
    return type(f"{algo}Uploader", (Uploader,), {"CHECKSUM_ALGORITHM_PAIR": (algo, ALGORITHMS[algo])})


def stored_bytes(url: str) -> bytes:
    session = UploadSession.objects.get(uid=url.rsplit("/", 1)[-1])
    assert session.state == UploadSession.State.COMPLETED, (session.state, session.failure_reason)
    with stored_file_open(session.stored_file) as handle:
        data = handle.read()
    assert session.stored_file.sha256 == sha(data)
    return data


def test_tuspy_uploads_in_chunks(storage, tus_url, auth):
    data = payload(1024 * 1024 + 17)
    client = tus.TusClient(tus_url, headers=auth)
    uploader = client.uploader(
        file_stream=io.BytesIO(data), chunk_size=256 * 1024,
        metadata={"filename": "big report.bin", "filetype": "application/octet-stream"},
    )
    uploader.upload()
    assert uploader.url.startswith(tus_url)
    assert uploader.offset == len(data)
    assert stored_bytes(uploader.url) == data
    session = UploadSession.objects.get(uid=uploader.url.rsplit("/", 1)[-1])
    assert session.file_name == "big report.bin"
    assert session.stored_file.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("algo", ["sha1", "sha256", "md5"])
def test_tuspy_resumes_with_checksums(storage, tus_url, auth, algo):
    data = payload(300_000, seed=7)
    client = tus.TusClient(tus_url, headers=auth)
    cls = uploader_class(algo)
    first = cls(file_stream=io.BytesIO(data), client=client, chunk_size=64 * 1024,
                metadata={"filename": "resumed.bin"}, upload_checksum=True)
    first.upload(stop_at=128 * 1024)
    assert first.offset == 128 * 1024
    # A new process picks the upload up again from its URL: HEAD answers the offset.
    again = cls(file_stream=io.BytesIO(data), client=client, url=first.url,
                chunk_size=100_000, upload_checksum=True)
    assert again.offset == 128 * 1024
    again.upload()
    assert again.offset == len(data)
    assert stored_bytes(first.url) == data


def test_tuspy_empty_file(storage, tus_url, auth):
    client = tus.TusClient(tus_url, headers=auth)
    uploader = client.uploader(file_stream=io.BytesIO(b""), metadata={"filename": "empty"})
    uploader.upload()
    assert stored_bytes(uploader.url) == b""


def test_tuspy_refused_without_credentials(tus_url, demo):
    uploader = tus.TusClient(tus_url).uploader(file_stream=io.BytesIO(b"x"), chunk_size=1)
    with pytest.raises(TusCommunicationError) as error:
        uploader.upload()
    assert error.value.status_code == 401


def test_wire_status_lines_and_header_casing(tus_url, auth):
    base = {**auth, "Tus-Resumable": "1.0.0"}
    options = requests.options(tus_url, timeout=10)
    assert options.status_code == 204
    names = set(options.raw.headers.keys())
    assert {"Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm"} <= names

    data = b"hello tus world"
    created = requests.post(
        tus_url, data=data[:5], timeout=10,
        headers={**base, "Upload-Length": str(len(data)),
                 "Content-Type": "application/offset+octet-stream",
                 "Upload-Metadata": "filename " + base64.b64encode(b"w.txt").decode()},
    )
    assert created.status_code == 201, created.content
    assert {"Location", "Upload-Offset", "Upload-Expires", "Tus-Resumable"} <= set(
        created.raw.headers.keys()
    )
    url = created.headers["Location"]
    assert url.startswith("http://")
    bad = requests.patch(
        url, data=data[5:], timeout=10,
        headers={**base, "Upload-Offset": "5", "Content-Type": "application/offset+octet-stream",
                 "Upload-Checksum": "sha1 " + base64.b64encode(hashlib.sha1(b"no").digest()).decode()},
    )
    assert bad.status_code == 460
    assert bad.reason == "Checksum Mismatch"
    state = requests.head(url, headers=base, timeout=10)
    assert state.headers["Upload-Offset"] == "5"
    assert {"Upload-Offset", "Upload-Length", "Cache-Control"} <= set(state.raw.headers.keys())
    ok = requests.patch(
        url, data=data[5:], timeout=10,
        headers={**base, "Upload-Offset": "5", "Content-Type": "application/offset+octet-stream"},
    )
    assert ok.status_code == 204
    assert ok.headers["Upload-Offset"] == str(len(data))
    assert stored_bytes(url) == data
    assert requests.delete(url, headers=base, timeout=10).status_code == 204
    assert requests.head(url, headers=base, timeout=10).status_code == 404


def test_tuspy_reports_checksum_mismatch(tus_url, auth):
    class LyingUploader(Uploader):
        CHECKSUM_ALGORITHM_PAIR = ("sha256", lambda chunk: hashlib.sha256(chunk + b"!"))

    client = tus.TusClient(tus_url, headers=auth)
    uploader = LyingUploader(file_stream=io.BytesIO(b"abcdef"), client=client, chunk_size=3,
                             upload_checksum=True)
    with pytest.raises(TusUploadFailed) as error:
        uploader.upload()
    assert error.value.status_code == 460
    assert requests.head(uploader.url, headers={**auth, "Tus-Resumable": "1.0.0"},
                         timeout=10).headers["Upload-Offset"] == "0"
