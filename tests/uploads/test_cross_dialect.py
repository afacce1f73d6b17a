"""Upload integrity across dialects, seen from outside (issue 23): one session, two doors.

Every upload session has one write shape, decided by the dialect that created it: numbered
"chunks" (iDempiere chunk PUT, Twake chunks, Nuxeo chunked and one-shot uploads) or offset
"appends" (tus PATCH, Axelor ``/ws/files/upload``). A request of the other shape is refused with
409 and a problem body naming the shape (``uploadShape``); two dialects of one shape share a session
under the same guard (a new writer of a slot asks the one holding it to stop).

Each test is one pair of dialects that can reach one session, on gunicorn as the Dockerfile runs
it (tests/live.py): writer A stalls mid-body on a raw socket, writer B (the other dialect) writes,
then A resumes (stalled for less than the idle timeout), dies (reset) or stalls past the idle
timeout. After every step a COMPLETED upload's downloaded bytes hash to its recorded sha256 and
ETag and never change; at the end the upload holds exactly the bytes a careful client expects and
``manage.py scrub_files`` finds no stored file whose bytes differ from its hash.

How each dialect reaches a session: iDempiere's chunk PUT and Axelor's ``X-File-Id`` name any of
the caller's sessions by its uid (``GET /api/v1/uploads`` lists the pending ones, whatever made
them); tus only its own uploads; Twake a pending DMS file; Nuxeo a batch slot.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.live import LiveStack, Trickle, raw_answer, raw_request, reset, wait_server_read
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.e2e

IDLE = 3.0  # UPLOAD_BODY_IDLE_TIMEOUT of the stack: a body silent this long is given up
SIZE = 100_000  # every upload here
PART = SIZE // 2  # chunk-shaped uploads have two chunks; A and B write chunk 1
AXELOR_FIRST = 20_000  # an Axelor upload's first chunk (it answers the id), sent before A starts
CHUNKS, APPENDS = "chunks", "appends"
SHAPE = {"idempiere": CHUNKS, "twake": CHUNKS, "nuxeo": CHUNKS, "nuxeo-normal": CHUNKS,
         "tus": APPENDS, "axelor": APPENDS}
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/octet-stream"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    live = LiveStack(
        tmp_path_factory.mktemp("cross"),
        extra_env={"UPLOAD_BODY_IDLE_TIMEOUT": str(IDLE), "UPLOAD_LOCK_WAIT": "5"},
    )
    try:
        yield live.start()
    finally:
        live.stop()


@dataclass
class Caller:
    url: str
    token: str
    company: int  # the Twake company: the caller's client id

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def caller(stack) -> Caller:
    url = stack.urls[0]
    answer = requests.post(f"{url}/api/v1/auth/tokens", timeout=30, json={
        "userName": "GardenUser", "password": "GardenUser", "parameters": {}})
    assert answer.status_code == 200, answer.text
    return Caller(url, answer.json()["token"], answer.json()["clientId"])


@dataclass
class Upload:
    creator: str
    data: bytes  # the bytes a careful client means to upload
    name: str = field(default_factory=lambda: f"cross-{uuid.uuid4().hex[:12]}.bin")
    uid: str = ""
    twake_id: str = ""
    batch: str = ""

    @property
    def shape(self) -> str:
        return SHAPE[self.creator]

    @property
    def chunk_one(self) -> int:
        """The length of chunk 1 (a one-shot Nuxeo upload is one chunk)."""
        return SIZE if self.creator == "nuxeo-normal" else PART


# --- Each dialect's requests --------------------------------------------------------------------------


def request_of(caller: Caller, up: Upload, dialect: str, *, length: int, offset: int = 0,
               chunk: int = 1, digest: str | None = None) -> tuple[str, str, dict[str, str]]:
    """(method, path, headers) of a write of ``length`` bytes through ``dialect``: chunk ``chunk``
    of the chunk-shaped dialects, an append at ``offset`` of the others."""
    octets = {**caller.auth, "Content-Type": OCTETS, "Content-Length": str(length)}
    if dialect == "idempiere":
        headers = {**octets, **({"X-Content-SHA256": digest} if digest else {})}
        return "PUT", f"/api/v1/uploads/{up.uid}/chunks/{chunk}", headers
    if dialect == "tus":
        return "PATCH", f"/api/v1/tus/{up.uid}", {
            **octets, **TUS, "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"}
    if dialect == "axelor":
        return "POST", "/ws/files/upload", {
            **octets, "X-File-Name": up.name, "X-File-Size": str(SIZE), "X-File-Type": OCTETS,
            "X-File-Offset": str(offset), **({"X-File-Id": up.uid} if up.uid else {})}
    if dialect == "twake":
        return ("POST", f"/internal/services/files/v1/companies/{caller.company}/files/"
                        f"{up.twake_id}?chunk_number={chunk}", octets)
    if dialect == "nuxeo":
        return "POST", f"/api/v1/upload/{up.batch}/0", {
            **octets, "X-Upload-Type": "chunked", "X-Upload-Chunk-Index": str(chunk - 1),
            "X-Upload-Chunk-Count": "2", "X-File-Name": up.name, "X-File-Size": str(SIZE),
            "X-File-Type": OCTETS}
    if dialect == "nuxeo-normal":
        return "POST", f"/api/v1/upload/{up.batch}/0", {
            **octets, "X-File-Name": up.name, "X-File-Size": str(length), "X-File-Type": OCTETS}
    raise AssertionError(dialect)


def send(caller: Caller, up: Upload, dialect: str, body: bytes, **where: Any) -> requests.Response:
    """A whole write through ``dialect`` (``where``: chunk= or offset=)."""
    method, path, headers = request_of(caller, up, dialect, length=len(body), digest=sha(body),
                                       **where)
    return requests.request(method, f"{caller.url}{path}", headers=headers, data=body, timeout=60)


def pending_uid(caller: Caller, name: str) -> str:
    """The uid of the caller's pending upload of that name, as ``GET /api/v1/uploads`` lists it."""
    answer = requests.get(f"{caller.url}/api/v1/uploads", headers=caller.auth, timeout=30)
    assert answer.status_code == 200, answer.text
    uids = [u["uploadId"] for u in answer.json()["uploads"] if u["fileName"] == name]
    assert len(uids) == 1, answer.json()
    return uids[0]


def newest_uid(stack: LiveStack, name: str) -> str:
    """The newest upload of that name, from the stack's database (a one-shot upload is never
    pending for ``GET /api/v1/uploads`` to list)."""
    with contextlib.closing(stack.db()) as conn:
        mark = "%s" if stack.env["DATABASE_URL"].startswith("postgres") else "?"
        row = conn.execute(
            'SELECT "AD_UploadSession_UU" FROM "AD_UploadSession" WHERE "FileName" = '
            f'{mark} ORDER BY "AD_UploadSession_ID" DESC', [name]).fetchone()
    assert row is not None, name
    return str(uuid.UUID(str(row[0])))


def create(caller: Caller, creator: str, data: bytes) -> Upload:
    """An upload made by ``creator``, as its clients start one: chunk-shaped ones with chunk 2
    already in (so chunk 1 completes them), Axelor's with its first chunk in (which answers its
    id), tus's empty. A one-shot Nuxeo upload only gets its batch: A's request makes it."""
    up = Upload(creator, data)
    url, auth = caller.url, caller.auth
    if creator == "idempiere":
        answer = requests.post(f"{url}/api/v1/uploads", headers=auth, timeout=30, json={
            "fileName": up.name, "contentType": OCTETS, "fileSize": SIZE, "chunkSize": PART,
            "sha256": sha(data)})
        assert answer.status_code == 201, answer.text
        up.uid = answer.json()["uploadId"]
        assert send(caller, up, "idempiere", data[PART:], chunk=2).status_code == 200
    elif creator == "tus":
        answer = requests.post(f"{url}/api/v1/tus/", timeout=30, headers={
            **auth, **TUS, "Upload-Length": str(SIZE)})
        assert answer.status_code == 201, answer.text
        up.uid = answer.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    elif creator == "axelor":
        answer = send(caller, up, "axelor", data[:AXELOR_FIRST], offset=0)
        assert answer.status_code == 200, answer.text
        up.uid = answer.json()["fileId"]
    elif creator == "twake":
        answer = requests.post(
            f"{url}/internal/services/files/v1/companies/{caller.company}/files", headers=auth,
            params={"filename": up.name, "type": OCTETS, "total_size": SIZE, "total_chunks": 2},
            timeout=30)
        assert answer.status_code == 200, answer.text
        up.twake_id = answer.json()["resource"]["id"]
        up.uid = pending_uid(caller, up.name)
        assert send(caller, up, "twake", data[PART:], chunk=2).status_code == 200
    elif creator in ("nuxeo", "nuxeo-normal"):
        answer = requests.post(f"{url}/api/v1/upload", headers=auth, timeout=30)
        assert answer.status_code == 201, answer.text
        up.batch = answer.json()["batchId"]
        if creator == "nuxeo":
            assert send(caller, up, "nuxeo", data[PART:], chunk=2).status_code == 202
            up.uid = pending_uid(caller, up.name)
    else:
        raise AssertionError(creator)
    return up


# --- What a careful client does, and what it checks ------------------------------------------------


def status(caller: Caller, up: Upload) -> dict[str, Any]:
    """The upload's iDempiere status (any dialect's upload), once it is no longer PROCESSING."""
    deadline = time.monotonic() + 60
    while True:
        answer = requests.get(f"{caller.url}/api/v1/uploads/{up.uid}", headers=caller.auth,
                              timeout=30)
        assert answer.status_code in (200, 404), answer.text
        body = answer.json() if answer.status_code == 200 else {"status": "GONE"}
        if body["status"] != "PROCESSING" or time.monotonic() > deadline:
            return body


def offset_of(caller: Caller, up: Upload, dialect: str) -> int | None:
    """Where the next append goes, as ``dialect``'s client learns it (tus: HEAD, which asks a
    draining PATCH to stop first; Axelor has no such call: the iDempiere status). None: the
    dialect cannot reach this upload (404)."""
    if dialect == "tus":
        answer = requests.head(f"{caller.url}/api/v1/tus/{up.uid}", headers={**caller.auth, **TUS},
                               timeout=30)
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.status_code
        return int(answer.headers["Upload-Offset"])
    return int(status(caller, up)["totalReceivedSize"])


def retry_after(answer: requests.Response) -> bool:
    """A 409/503 that says when to come back: the server asks for that wait, it is not luck."""
    if answer.status_code in (409, 503) and "Retry-After" in answer.headers:
        time.sleep(float(answer.headers["Retry-After"]))
        return True
    return False


def write_chunk_one(caller: Caller, up: Upload, dialect: str) -> requests.Response:
    """Chunk 1 with the right bytes, tried again when the server says when."""
    for _ in range(5):
        answer = send(caller, up, dialect, up.data[:up.chunk_one], chunk=1)
        if not retry_after(answer):
            break
    return answer


def append_rest(caller: Caller, up: Upload, dialect: str) -> tuple[bool, int]:
    """The rest of the right bytes, from wherever the upload stands (asked again after a 409):
    (False if ``dialect`` cannot reach the upload (404); the offset the first accepted append
    started at, SIZE when none was needed)."""
    answer = None
    for _ in range(8):
        offset = offset_of(caller, up, dialect)
        if offset is None:
            return False, SIZE
        if offset >= SIZE:
            return True, SIZE
        answer = send(caller, up, dialect, up.data[offset:], offset=offset)
        if answer.status_code in (200, 204):
            return True, offset
        if not retry_after(answer):
            assert answer.status_code in (400, 409), (answer.status_code, answer.text)
    raise AssertionError(f"{dialect} could not append the rest: {answer.status_code} {answer.text}")


def finished_bytes(caller: Caller, up: Upload) -> bytes | None:
    """A finished upload's bytes, checked against its recorded sha256 and ETag; None while it is
    not finished. A Twake upload is finished when its file has bytes (the upload session, only
    its vehicle, is then closed); any other when its session is COMPLETED."""
    if up.creator == "twake":
        got = requests.get(f"{caller.url}/internal/services/files/v1/companies/{caller.company}/"
                           f"files/{up.twake_id}/download", headers=caller.auth, timeout=60)
        if got.status_code == 409:
            return None
        assert got.status_code == 200, got.text
        recorded = got.headers["ETag"].strip('"')
    else:
        state = status(caller, up)
        if state["status"] != "COMPLETED":
            return None
        got = requests.get(f"{caller.url}/api/v1/uploads/{up.uid}/file", headers=caller.auth,
                           timeout=60)
        assert got.status_code == 200, got.text
        recorded = state["sha256"]
        assert got.headers["ETag"] == f'"{recorded}"'
    assert sha(got.content) == recorded, (
        f"{up.uid} is finished with sha256 {recorded} but its bytes hash to "
        f"{sha(got.content)} ({got.content[:8]!r}...)")
    assert len(got.content) == SIZE
    return got.content


def assert_shape_refusal(answer: Any, shape: str) -> None:
    """409, application/problem+json, naming the session's shape in detail and uploadShape."""
    code = answer.status if hasattr(answer, "status") else answer.status_code
    body = answer.json()
    assert code == 409, (code, body)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert body["uploadShape"] == shape, body
    assert shape in body["detail"], body


def stored_files_mark(stack: LiveStack) -> int:
    """The newest stored file's id: the files made after it are one test's."""
    with contextlib.closing(stack.db()) as conn:
        return conn.execute('SELECT COALESCE(MAX("AD_StoredFile_ID"), 0) FROM "AD_StoredFile"')\
            .fetchone()[0]


def assert_scrubbed(stack: LiveStack, since: int) -> None:
    """``manage.py scrub_files`` finds every stored file made after ``since`` intact."""
    with contextlib.closing(stack.db()) as conn:
        ids = [str(row[0]) for row in conn.execute(
            'SELECT "AD_StoredFile_ID" FROM "AD_StoredFile" WHERE "AD_StoredFile_ID" > '
            f'{int(since)}').fetchall()]
    if not ids:
        return  # nothing finished (each upload's own checks have failed)
    try:
        out = stack.manage("scrub_files", "--ids", *ids)
    except subprocess.CalledProcessError as error:  # it exits 1 on any mismatch
        raise AssertionError(f"scrub_files: {error.stdout}{error.stderr}") from None
    assert re.search(r"\b[0-9]+ stored files checked, 0 mismatched\.", out), out


# --- The pairs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    creator: str  # the dialect that made the upload (its shape)
    stalled: str  # A: stalls mid-body on a raw socket
    writer: str  # B: writes while A stalls

    def __str__(self) -> str:
        return f"{self.creator}-upload:{self.stalled}-stalls:{self.writer}-writes"


# A writes the upload's own shape, B the other one (refused): A is the upload's rightful writer,
# and how it ends matters: it resumes, dies, or is given up.
B_REFUSED = [Pair("tus", "tus", "idempiere"), Pair("axelor", "axelor", "idempiere"),
             Pair("idempiere", "idempiere", "axelor"), Pair("twake", "twake", "axelor"),
             Pair("nuxeo", "nuxeo", "axelor"), Pair("nuxeo-normal", "nuxeo-normal", "axelor")]
# A writes the other shape: refused at once, even with its body still coming; B completes.
A_REFUSED = [Pair("tus", "idempiere", "tus"), Pair("axelor", "idempiere", "axelor"),
             Pair("idempiere", "axelor", "idempiere"), Pair("twake", "axelor", "twake"),
             Pair("nuxeo", "axelor", "nuxeo")]
# Both write the upload's shape: A (hostile bytes) stalls, B (the right bytes) asks it to stop;
# A's stall past the idle timeout would come after it was stopped, so it is not waited for.
SHARED = [Pair("tus", "tus", "axelor"), Pair("tus", "axelor", "tus"),
          Pair("axelor", "axelor", "tus"), Pair("axelor", "tus", "axelor"),
          Pair("twake", "twake", "idempiere"), Pair("twake", "idempiere", "twake"),
          Pair("nuxeo", "nuxeo", "idempiere"), Pair("nuxeo", "idempiere", "nuxeo"),
          Pair("nuxeo-normal", "nuxeo-normal", "idempiere")]
ENDINGS = {**{p: ("resume", "reset", "idle") for p in B_REFUSED},
           **{p: ("resume",) for p in A_REFUSED}, **{p: ("resume", "reset") for p in SHARED}}


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode()) % 100_000


@pytest.mark.parametrize("pair", list(ENDINGS), ids=str)
def test_a_stalled_writer_and_another_dialect(stack, caller, pair, subtests):
    """Each way A ends is a subtest on an upload of its own; one scrub_files run checks every
    stored file they made (a run costs seconds of Django start-up)."""
    mark = stored_files_mark(stack)
    for ending in ENDINGS[pair]:
        with subtests.test(ending=ending):
            stall_and_write(stack, caller, pair, ending)
    assert_scrubbed(stack, mark)


def stall_and_write(stack: LiveStack, caller: Caller, pair: Pair, ending: str) -> None:
    seed = _seed(pair, ending)
    up = create(caller, pair.creator, payload(SIZE, seed=seed))
    foreign = payload(SIZE, seed=seed + 1)  # what a refused writer tries to put in
    a_rightful = SHAPE[pair.stalled] == up.shape
    shared = a_rightful and SHAPE[pair.writer] == up.shape
    base = offset_of(caller, up, "axelor") if up.uid else 0  # bytes in before A

    # A: the rightful writer of a pair of shapes sends the right bytes; a hostile one (the same
    # shape as B, or the wrong shape) sends Zs.
    if SHAPE[pair.stalled] == CHUNKS:
        a_offset, a_length = 0, up.chunk_one
    else:
        a_offset, a_length = base, SIZE - base
    a_body = up.data[a_offset:a_offset + a_length] if a_rightful and not shared else b"Z" * a_length
    method, path, headers = request_of(caller, up, pair.stalled, length=a_length,
                                       offset=a_offset, digest=sha(a_body))
    half = a_length // 2
    a_sock = raw_request(caller.url, method, path, headers, a_body[:half])
    trickle = None
    try:
        seen = wait_server_read(a_sock)
        if up.creator == "nuxeo-normal":
            up.uid = pending_uid(caller, up.name)  # A's request made it
        a_refused = not a_rightful or seen == "answered"
        if a_refused:
            answer = raw_answer(a_sock, timeout=30)
            assert answer is not None, f"{pair.stalled}'s connection was closed unanswered"
            if not a_rightful:  # refused without waiting for the rest of its body
                assert_shape_refusal(answer, up.shape)
            else:  # tus names only its own uploads (or, by the contract, Axelor's too)
                assert (pair.stalled, answer.status) == ("tus", 404), (answer, answer.body)
        # A that will resume stalls for less than the idle timeout however long B takes: a byte
        # now and then keeps it alive (the other endings stall outright).
        trickle = Trickle(a_sock, a_body[half:], IDLE / 4) if ending == "resume" else None

        # B writes while A stalls.
        k = SIZE  # appends: where the first careful append after A's start began
        if SHAPE[pair.writer] != up.shape:
            if pair.writer == "idempiere":
                body = foreign[:up.chunk_one] if up.shape == CHUNKS else foreign
                assert_shape_refusal(send(caller, up, "idempiere", body, chunk=1), up.shape)
            else:  # Axelor, at the offset its client would send: what the upload says it has
                at = offset_of(caller, up, "axelor")
                assert_shape_refusal(send(caller, up, "axelor", foreign[at:], offset=at), up.shape)
        elif up.shape == CHUNKS:
            answer = write_chunk_one(caller, up, pair.writer)
            if up.creator == "nuxeo-normal" and answer.status_code == 410:
                pass  # a one-shot upload is cancelled with its request, which B made stop
            else:
                assert answer.status_code in (200, 201), (answer.status_code, answer.text)
        else:
            reached, k = append_rest(caller, up, pair.writer)
            assert reached or (pair.writer == "tus" and up.creator != "tus")
        before = finished_bytes(caller, up)

        # A resumes, dies, or stalls until the server gives it up.
        a_answer = None
        if trickle is not None:
            sent = trickle.finish()
            with contextlib.suppress(OSError):
                a_sock.sendall(a_body[half + sent:])
            if not a_refused:
                a_answer = raw_answer(a_sock, timeout=60)
            if not (a_refused or shared):  # alone on its slot, it completes its part
                assert a_answer is not None and a_answer.status in (200, 201, 202, 204), a_answer
        elif ending == "reset":
            reset(a_sock)
        elif not a_refused:
            a_answer = raw_answer(a_sock, timeout=IDLE + 60)
        assert a_answer is None or a_answer.status < 500, (a_answer, a_answer.body)
        after = finished_bytes(caller, up)
        if before is not None:
            assert after == before, f"a COMPLETED upload changed: now {status(caller, up)}"

        # A careful client of the upload's own dialect finishes it.
        if up.shape == CHUNKS:
            if after is None:
                if up.creator == "nuxeo-normal":  # a one-shot upload is sent again whole
                    answer = send(caller, up, "nuxeo-normal", up.data)
                    assert answer.status_code == 201, answer.text
                    up.uid = newest_uid(stack, up.name)
                else:
                    answer = write_chunk_one(caller, up, up.creator)
                    assert answer.status_code in (200, 201), (answer.status_code, answer.text)
            expected = up.data
        else:
            reached, started = append_rest(caller, up, up.creator)
            assert reached
            k = min(k, started)
            kept = a_body[:k - base] if SHAPE[pair.stalled] == APPENDS and not a_refused else b""
            expected = up.data[:base] + kept + up.data[base + len(kept):]
        final = finished_bytes(caller, up)
        assert final is not None, status(caller, up)
        assert final == expected, "the upload does not hold the bytes its writers were let write"
        if before is not None:
            assert final == before
    finally:
        if trickle is not None:
            trickle.finish()
        a_sock.close()


# --- The two cases of the issue, as they were seen ----------------------------------------------------


def test_a_stalled_tus_patch_and_an_idempiere_put_of_its_upload(stack, caller):
    """Issue 23, case 1: a tus PATCH of 100000 Zs sends half and stalls; meanwhile an iDempiere PUT
    of chunk 1 with 100000 other bytes was 200 COMPLETED, and the resumed PATCH then turned the
    file into Zs under the PUT's sha256. The PUT is of the wrong shape: 409; the PATCH completes."""
    mark = stored_files_mark(stack)
    up = create(caller, "tus", b"Z" * SIZE)
    method, path, headers = request_of(caller, up, "tus", length=SIZE, offset=0)
    patch = raw_request(caller.url, method, path, headers, up.data[:PART])
    try:
        assert wait_server_read(patch) == "read"
        put = send(caller, up, "idempiere", payload(SIZE, seed=2301), chunk=1)
        before = finished_bytes(caller, up)  # checked whatever the PUT got
        patch.sendall(up.data[PART:])
        patched = raw_answer(patch)
        after = finished_bytes(caller, up)
        if before is not None:
            assert after == before, "a COMPLETED upload's bytes changed"
        assert_shape_refusal(put, APPENDS)
        assert patched is not None and patched.status == 204, patched
        assert patched.headers["upload-offset"] == str(SIZE)
        assert after == up.data
    finally:
        patch.close()
    assert_scrubbed(stack, mark)


def test_a_stalled_idempiere_put_and_an_axelor_append_to_its_upload(stack, caller):
    """Issue 23, case 2: an iDempiere PUT of chunk 1 stalls; an Axelor append at offset 0
    (X-File-Id) completes the upload with other bytes. The append is of the wrong shape: 409; the
    PUT completes the upload with its own bytes."""
    mark = stored_files_mark(stack)
    data = payload(SIZE, seed=2302)
    created = requests.post(f"{caller.url}/api/v1/uploads", headers=caller.auth, timeout=30, json={
        "fileName": "case-2.bin", "contentType": OCTETS, "fileSize": SIZE, "chunkSize": SIZE,
        "sha256": sha(data)})
    assert created.status_code == 201, created.text
    up = Upload("idempiere", data, name="case-2.bin", uid=created.json()["uploadId"])
    method, path, headers = request_of(caller, up, "idempiere", length=SIZE, digest=sha(data))
    put = raw_request(caller.url, method, path, headers, data[:PART])
    try:
        assert wait_server_read(put) == "read"
        append = send(caller, up, "axelor", payload(SIZE, seed=2303), offset=0)
        before = finished_bytes(caller, up)
        put.sendall(data[PART:])
        answer = raw_answer(put)
        after = finished_bytes(caller, up)
        if before is not None:
            assert after == before, "a COMPLETED upload's bytes changed"
        assert_shape_refusal(append, CHUNKS)
        assert answer is not None and answer.status == 200, answer
        assert answer.json()["isLastChunk"] is True
        assert after == data
    finally:
        put.close()
    assert_scrubbed(stack, mark)


def test_tus_and_twake_cannot_write_other_dialects_uploads(stack, caller):
    """tus names only tus uploads (a chunk-shaped one is 404, or 409 naming its shape), Twake only
    its files (an upload's uid is none): nothing they send is let in."""
    for creator in ("idempiere", "twake", "nuxeo"):
        up = create(caller, creator, payload(SIZE, seed=_seed("reach", creator)))
        head = requests.head(f"{caller.url}/api/v1/tus/{up.uid}", headers={**caller.auth, **TUS},
                             timeout=30)
        assert head.status_code in (404, 409), (creator, head.status_code)
        patch = send(caller, up, "tus", b"Z" * PART, offset=PART)
        if patch.status_code != 404:
            assert_shape_refusal(patch, CHUNKS)
        twake = requests.post(
            f"{caller.url}/internal/services/files/v1/companies/{caller.company}/files/{up.uid}",
            params={"chunk_number": 1}, data=b"Z" * PART, timeout=30,
            headers={**caller.auth, "Content-Type": OCTETS})
        assert twake.status_code == 404, (creator, twake.status_code, twake.text)
        state = status(caller, up)
        assert (state["status"], state["totalReceivedSize"]) == ("UPLOADING", PART), state
