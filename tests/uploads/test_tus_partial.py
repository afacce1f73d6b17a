"""tus PATCH bodies cut short (client disconnect, Content-Length larger than the body), on local
storage and on S3 (the ``storage`` parametrization).

What the engine does (tus core lets a server keep the bytes it received, or not):

- local storage (chunks written in place): the bytes that arrived are kept and the offset advances;
- S3 (each PATCH is a staged object whose PutObject announced its length): the cut PATCH is refused
  and nothing of it is kept; the offset stays where it was;
- either way, what earlier PATCHes (or earlier whole engine chunks of one large PATCH) stored is
  never lost, ``HEAD`` answers an offset that matches the stored bytes, and resuming from it gives
  the right file and SHA-256;
- a PATCH with ``Upload-Checksum`` is never kept in part (the checksum covers the whole body).
"""

from __future__ import annotations

import io
import time
from urllib.parse import urlparse

import pytest
import requests

from apps.core.errors import ApplicationError, BadRequest, PayloadTooLarge
from apps.uploads import chunks, services
from apps.uploads.models import UploadChunk, UploadSession
from tests.uploads.conftest import payload, sha
from tests.uploads.test_followups import _send_cut_short, _token
from tests.uploads.test_tus import checksum, head, patch
from tests.uploads.test_tus import create as tus_create
from tests.uploads.test_tus import stored_bytes as tus_stored_bytes

pytestmark = pytest.mark.django_db(transaction=True)
State = UploadSession.State


class _DroppingStream:
    """A request body that delivers ``data`` and then fails as a dropped connection does."""

    def __init__(self, data: bytes, error: type[BaseException] | None = OSError):
        self.inner = io.BytesIO(data)
        self.error = error

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        if not data and self.error is not None:
            raise self.error("client disconnected")
        return data


def _kept_partially(storage: str) -> bool:
    return storage == "local"


# --- engine level ------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError, None], ids=["disconnect", "eof"])
def test_cut_short_append_keeps_offset_consistent(ctx, storage, error):
    data = payload(9000, seed=51)
    session = services.session_create(ctx=ctx, file_name="t", size=len(data), dialect="tus")
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[:2000]), length=2000,
                          offset=0, partial_ok=True)
    cut = _DroppingStream(data[2000:5000], error)
    if _kept_partially(storage):
        result = chunks.chunk_accept(session=session, stream=cut, length=7000, offset=2000,
                                       partial_ok=True)
        assert result.chunk.size == 3000 and not result.complete
    else:
        with pytest.raises(BadRequest):
            chunks.chunk_accept(session=session, stream=cut, length=7000, offset=2000,
                                  partial_ok=True)
    session.refresh_from_db()
    expected = 5000 if _kept_partially(storage) else 2000
    assert session.received_bytes == expected
    assert not session.chunks.filter(received=False).exists()  # no claim left behind
    assert sum(session.chunks.filter(received=True).values_list("size", flat=True)) == expected
    result = chunks.chunk_accept(
        session=session, stream=io.BytesIO(data[expected:]), length=len(data) - expected,
        offset=expected, partial_ok=True,
    )
    assert result.complete
    session.refresh_from_db()
    assert session.state == State.COMPLETED, session.failure_reason
    assert session.stored_file.sha256 == sha(data) and session.stored_file.size == len(data)


def test_cut_short_with_checksum_keeps_nothing_and_resumes(garden_user, storage, ctx):
    """A refused (460) partial body must not leave bytes that later end up in the file, even when
    the final length is declared afterwards and is shorter than what was written."""
    data = payload(3000, seed=52)
    url = tus_create(garden_user, None, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    session = UploadSession.objects.get(uid=url.rsplit("/", 1)[-1])
    wrong = payload(6000, seed=53)
    # Local: the part that arrived fails the checksum (460); S3: the cut body is refused (400).
    with pytest.raises(ApplicationError):
        chunks.chunk_accept(
            session=session, stream=_DroppingStream(wrong[:5000]), length=6000, offset=0,
            checksum=("sha256", sha(wrong)), partial_ok=True,
        )
    session.refresh_from_db()
    assert session.received_bytes == 0 and not session.chunks.exists()
    assert head(garden_user, url)["Upload-Offset"] == "0"
    response = patch(garden_user, url, 0, data, HTTP_UPLOAD_LENGTH=str(len(data)),
                     HTTP_UPLOAD_CHECKSUM=checksum("sha256", data))
    assert response.status_code == 204, response.content
    assert tus_stored_bytes(url) == data


def test_oversized_refusal_leaves_no_bytes_behind(ctx, storage, settings):
    """While the length is deferred, a body refused for the file limit changes nothing: the
    offset and the stored bytes stay, and the upload still completes."""
    settings.UPLOAD_MAX_FILE_SIZE = 4000
    data = payload(3500, seed=54)
    session = services.session_create(ctx=ctx, file_name="t", size=None, dialect="tus")
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[:3000]), length=3000, offset=0,
                          partial_ok=True)
    with pytest.raises(PayloadTooLarge):
        chunks.chunk_accept(session=session, stream=io.BytesIO(payload(2000, seed=55)),
                              length=2000, offset=3000, partial_ok=True)
    services.session_declare_size(session=session, size=len(data))
    result = chunks.chunk_accept(session=session, stream=io.BytesIO(data[3000:]), length=500,
                                   offset=3000, partial_ok=True)
    assert result.complete
    session.refresh_from_db()
    assert session.state == State.COMPLETED, session.failure_reason
    assert session.stored_file.sha256 == sha(data)


# --- over HTTP: a real client that hangs up ---------------------------------------------------------


def _settled_offset(url: str, auth: dict[str, str], session: UploadSession,
                    timeout: float = 15) -> int:
    """The offset HEAD answers once the server has finished with the cut request."""
    deadline = time.monotonic() + timeout
    while UploadChunk.objects.filter(session=session, received=False).exists():
        assert time.monotonic() < deadline, "the cut request's claim was never released"
        time.sleep(0.1)
    answer = requests.head(url, headers={**auth, "Tus-Resumable": "1.0.0"}, timeout=10)
    assert answer.status_code == 200
    return int(answer.headers["Upload-Offset"])


@pytest.mark.parametrize("max_chunk", [None, 16_000], ids=["one-piece", "engine-chunks"])
def test_patch_cut_short_over_http_then_resume(live_server, demo, storage, settings, max_chunk):
    """A client hangs up after 40 000 of 100 000 announced bytes; HEAD, then the rest."""
    if max_chunk:
        # One large PATCH is taken as several engine chunks: the whole ones are kept everywhere.
        settings.UPLOAD_MAX_CHUNK_SIZE = max_chunk
    auth = {"Authorization": f"Bearer {_token()}"}
    data = payload(100_000, seed=56)
    created = requests.post(
        f"{live_server.url}/api/v1/tus/",
        headers={**auth, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data))}, timeout=10,
    )
    assert created.status_code == 201, created.content
    url = created.headers["Location"]
    path = urlparse(url).path
    session = UploadSession.objects.get(uid=path.rsplit("/", 1)[-1])
    headers = {**auth, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
               "Content-Type": "application/offset+octet-stream"}
    _send_cut_short(live_server.url, path, headers, len(data), data[:40_000])
    # Poll: the server may still be reading the cut body when the first HEAD arrives.
    if _kept_partially(storage):
        expected = 40_000
    else:
        expected = 32_000 if max_chunk else 0
    deadline = time.monotonic() + 15
    offset = _settled_offset(url, auth, session)
    while offset != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        offset = _settled_offset(url, auth, session)
    assert offset == expected
    session.refresh_from_db()
    assert session.received_bytes == expected
    assert sum(session.chunks.filter(received=True).values_list("size", flat=True)) == expected
    rest = requests.patch(url, data=data[offset:], timeout=30,
                          headers={**headers, "Upload-Offset": str(offset)})
    assert rest.status_code == 204, rest.content
    assert rest.headers["Upload-Offset"] == str(len(data))
    session.refresh_from_db()
    assert session.state == State.COMPLETED, session.failure_reason
    assert session.stored_file.sha256 == sha(data)
    file = requests.get(f"{live_server.url}/api/v1/uploads/{session.uid}/file", headers=auth,
                        timeout=30)
    assert file.status_code == 200 and file.content == data
    assert file.headers["ETag"] == f'"{sha(data)}"'
