"""A seeded scenario runner that interleaves upload writers of every dialect (issue 23).

Writers of every dialect (iDempiere chunk PUT, Nuxeo batch chunked and one-shot, Twake chunks, tus
PATCH, Axelor ``/ws/files/upload``) are driven against shared upload sessions of three users in two
tenants, on a live deployment (:mod:`tests.live`: gunicorn as the Dockerfile runs it), with stalled
bodies on raw sockets (shorter and longer than ``UPLOAD_BODY_IDLE_TIMEOUT``, then resumed, reset,
half-closed or left to time out), rivals for a stalled writer's slot, duplicate chunks (the same
bytes and other bytes), writes of the wrong shape, writes and reads by the other tenant, cancels
through each dialect, ``manage.py purge_uploads``, and, on PostgreSQL with a real Celery worker,
worker kills (mid-finalize when one is seen) and a new worker.

The runner keeps a model of every upload: the bytes it decided the file is, and which bytes each
accepted (2xx) request put where. After every step it checks the uploads the step touched, and a
checker thread sweeps all of them over and over:

- every answer is a documented status: 2xx, 4xx with a problem body, 503 with ``Retry-After``;
- a finished upload's bytes (``GET /api/v1/uploads/{id}/file``, Twake's download for a Twake file)
  hash to its recorded sha256 and ETag, are the bytes the model allows (what the accepted writers
  sent, where they sent it), and never change after the first download;
- bytes that had to be refused (another chunk's bytes over a received chunk, the wrong shape, an
  incomplete chunk body, the other tenant's writes) are never accepted and never appear;
- the other tenant (and, for uploads, the other user of the tenant) gets 404 for the upload;
  no stored file or DMS file belongs to another client than its upload's;
- nothing stays PROCESSING longer than ``--processing-bound`` seconds after its last write (or the
  last worker kill), nothing with every byte accepted stays unfinished that long, a cancelled
  upload stays cancelled;
- at the end ``manage.py scrub_files`` finds every stored file intact.

The sequence of steps (which operation, on which upload, with which sub-seed) is drawn from
``random.Random(seed)`` in order, and every step prints one line; with ``--concurrency 1`` a run is
replayed step by step (only the server's timing differs). Run it with
``make test-interleaving SEED=... DURATION=...`` or
``python -m tests.uploads.interleaving --seed 23 --duration 120``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

CHUNKS, APPENDS = "chunks", "appends"
SHAPE = {"idempiere": CHUNKS, "twake": CHUNKS, "nuxeo": CHUNKS, "nuxeo-normal": CHUNKS,
         "tus": APPENDS, "axelor": APPENDS}
TENANT = {"GardenUser": "GardenWorld", "GardenAdmin": "GardenWorld", "AcmeAdmin": "Acme"}
OCTETS = "application/octet-stream"
TUS = {"Tus-Resumable": "1.0.0"}
KiB, MiB = 1024, 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _head(data: bytes) -> str:
    return data[:6].hex() + ("..." if len(data) > 6 else "")


class Violation(AssertionError):
    """A broken promise of the upload engine (or a runner that cannot go on)."""


@dataclass
class Answer:
    """What a request got: its status (None: no answer, the connection was closed or reset, or
    the client gave up), headers (lower-case names) and body."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}

    def __str__(self) -> str:
        if self.status is None:
            return "no answer"
        extra = ""
        if self.status >= 400:
            body = self.json()
            extra = f" {body.get('detail', '')!s:.80}" if isinstance(body, dict) else ""
        return f"{self.status}{extra}"


@dataclass
class Caller:
    user: str
    token: str
    client_id: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


# --- The model of one upload ---------------------------------------------------------------------


class Upload:
    """One upload as the runner sees it: the bytes it decided the file is, and what the server
    accepted (2xx) or may have kept (no answer) of each writer's bytes."""

    def __init__(self, key: str, creator: str, owner: str, data: bytes, name: str,
                 bounds: list[tuple[int, int]] | None = None) -> None:
        self.key, self.creator, self.owner, self.data, self.name = key, creator, owner, data, name
        self.tenant = TENANT[owner]
        self.shape = SHAPE[creator]
        self.bounds = bounds or []  # chunks: (start, end) of each chunk
        self.uid = ""  # the upload session's id
        self.twake_id = ""  # the Twake file
        self.batch = ""  # the Nuxeo batch (file index 0)
        self.declared_sha = False
        self.expires_at: float | None = None  # the earliest moment it may have expired
        self.lock = threading.Lock()
        # chunks: the bytes accepted for a chunk, and bytes of unknown outcome that differ
        self.accepted: dict[int, bytes] = {}
        self.maybe: dict[int, list[bytes]] = {}
        # appends: (start, end, bytes) accepted, and (start, end, fill byte) that may have landed
        self.settled: list[tuple[int, int, bytes]] = []
        self.flex: list[tuple[int, int, int]] = []
        self.last_write = time.monotonic()
        self.all_in_at: float | None = None
        self.cancel_started: float | None = None
        self.cancelled_at: float | None = None
        self.file_deleted_at: float | None = None  # Twake: the file itself was deleted
        self.vanished = False  # gone by design (a one-shot upload its own request cancelled)
        self.first_sha: str | None = None
        self.completed_seen = False
        self.failed_seen = False
        self.busy = 0
        self.writing = 0  # write requests in flight

    @contextlib.contextmanager
    def write(self) -> Any:
        """Around a write request: the upload is judged (PROCESSING, unfinished) only while no
        write of it is in flight, from the end of its last write."""
        with self.lock:
            self.writing += 1
        try:
            yield
        finally:
            with self.lock:
                self.writing -= 1
                self.last_write = time.monotonic()

    @property
    def size(self) -> int:
        return len(self.data)

    def __str__(self) -> str:
        return f"{self.key}({self.creator}/{self.owner} {self.size}B {self.uid[:8] or '-'})"

    def chunk(self, index: int) -> bytes:
        start, end = self.bounds[index]
        return self.data[start:end]

    @property
    def gone(self) -> bool:
        return self.cancel_started is not None or self.vanished

    def open_for_writes(self) -> bool:
        return not self.gone and self.all_in_at is None and not self.failed_seen

    def must_fail(self) -> bool:
        """Bytes other than the file's were accepted and a sha256 was declared: finalize must
        refuse them (FAILED), never complete."""
        return self.declared_sha and any(
            body != self.chunk(i) for i, body in self.accepted.items())

    def may_fail(self) -> bool:
        return self.must_fail() or (self.declared_sha and any(self.maybe.values()))

    def may_expire(self, moment: float) -> bool:
        return self.expires_at is not None and moment >= self.expires_at

    def received_hint(self) -> int:
        """Appends: where the accepted bytes end, as far as 2xx answers told."""
        return max((end for _, end, _ in self.settled), default=0)

    def mismatch(self, got: bytes) -> str | None:
        """Why ``got`` cannot be this upload's finished bytes (None: it can)."""
        if len(got) != self.size:
            return f"{len(got)} bytes, not {self.size}"
        if self.shape == CHUNKS:
            for index, (start, end) in enumerate(self.bounds):
                piece = got[start:end]
                if index in self.accepted:
                    if piece != self.accepted[index]:
                        return (f"chunk {index + 1} holds {_head(piece)}, not the bytes accepted "
                                f"for it ({_head(self.accepted[index])})")
                elif piece != self.chunk(index) and piece not in self.maybe.get(index, []):
                    return f"chunk {index + 1} holds {_head(piece)}, which no writer of it sent"
            return None
        expected = bytearray(self.data)
        for start, end, content in self.settled:
            expected[start:end] = content
        block = 4096
        for base in range(0, self.size, block):
            if got[base:base + block] == expected[base:base + block]:
                continue
            for j in range(base, min(self.size, base + block)):
                if got[j] == expected[j]:
                    continue
                if any(start <= j < end for start, end, _ in self.settled):
                    return (f"byte {j} is {got[j]:#04x} but an accepted append put {expected[j]:#04x}"
                            " there")
                if not any(start <= j < end and fill == got[j] for start, end, fill in self.flex):
                    return f"byte {j} is {got[j]:#04x}, which no writer sent there"
        return None


# --- The runner ------------------------------------------------------------------------------------


@dataclass
class Step:
    number: int
    name: str
    rng: random.Random
    started: float
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)


class Runner:
    def __init__(self, stack: Any, *, seed: int, duration: float, steps: int, concurrency: int = 6,
                 idle: float = 1.5, processing_bound: float | None = None,
                 worker_kills: bool = False, log: Callable[[str], None] = print) -> None:
        self.stack, self.seed, self.duration, self.max_steps = stack, seed, duration, steps
        self.concurrency, self.idle, self.worker_kills = concurrency, idle, worker_kills
        self.processing_bound = processing_bound or (60.0 if worker_kills else 30.0)
        self._log = log
        self.master = random.Random(seed)
        self.uploads: list[Upload] = []
        self.violations: list[str] = []
        self.lines: list[str] = []
        self.callers: dict[str, Caller] = {}
        self.mutex = threading.Lock()
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.last_kill = 0.0
        self.in_flight: dict[str, int] = {}
        self.last_purge = 0.0
        self.counts: dict[str, int] = {}
        self.created = 0
        self.longest_processing: tuple[float, str] = (0.0, "")
        shared = random.Random(seed ^ 0x5EED)
        self.pool = [shared.randbytes(n) for n in (3 * KiB + 7, 48 * KiB, 300 * KiB + 1)]
        self.is_pg = stack.env["DATABASE_URL"].startswith("postgres")

    # --- output ------------------------------------------------------------------------------

    def log(self, text: str) -> None:
        line = f"[interleave {time.monotonic() - self.started:7.2f}s] {text}"
        with self.mutex:
            self.lines.append(line)
        self._log(line)

    def violation(self, step: Step | None, text: str) -> None:
        where = f"step {step.number} ({step.name})" if step else "final checks"
        message = f"seed {self.seed}, {where}: {text}"
        with self.mutex:
            self.violations.append(message)
        self.log(f"VIOLATION {message}")
        self.stop.set()

    # --- HTTP --------------------------------------------------------------------------------

    def url(self, rng: random.Random | None = None) -> str:
        urls = self.stack.urls
        return (rng or self.master).choice(urls) if len(urls) > 1 else urls[0]

    def login(self, user: str) -> Caller:
        answer = requests.post(f"{self.stack.urls[0]}/api/v1/auth/tokens", timeout=60, json={
            "userName": user, "password": user, "parameters": {}})
        if answer.status_code != 200:
            raise Violation(f"login of {user}: {answer.status_code} {answer.text[:200]}")
        body = answer.json()
        return Caller(user, body["token"], int(body["clientId"]))

    def http(self, step: Step | None, method: str, path: str, caller: Caller | None = None, *,
             headers: dict[str, str] | None = None, data: bytes | None = None,
             params: dict[str, Any] | None = None, timeout: float = 90) -> Answer:
        all_headers = {**(caller.auth if caller else {}), **(headers or {})}
        url = self.url(step.rng if step else None)
        try:
            got = requests.request(method, f"{url}{path}", headers=all_headers, data=data,
                                   params=params, timeout=timeout, allow_redirects=False)
        except requests.RequestException as error:
            if step:
                step.note(f"{method} {path}: {error.__class__.__name__}")
            return Answer(None)
        answer = Answer(got.status_code, {k.lower(): v for k, v in got.headers.items()},
                        got.content)
        self.documented(step, answer, method, path)
        return answer

    def documented(self, step: Step | None, answer: Answer, method: str, path: str) -> None:
        """2xx, 304, 4xx with a problem body, 503 with Retry-After: nothing else."""
        status = answer.status
        if status is None or 200 <= status < 300 or status == 304:
            return
        if 400 <= status < 500:
            if method == "HEAD" or status == 460:  # HEAD has no body; tus's Checksum Mismatch
                return
            kind = answer.headers.get("content-type", "")
            body = answer.json()
            if kind.startswith("application/problem+json") and isinstance(body, dict) \
                    and body.get("status") == status:
                return
            self.violation(step, f"{method} {path}: {status} without a problem body "
                                 f"({kind!r}: {answer.body[:120]!r})")
            return
        if status == 503 and "retry-after" in answer.headers:
            return
        self.violation(step, f"{method} {path}: {status} {answer.body[:200]!r}")

    def raw(self, step: Step, method: str, path: str, headers: dict[str, str],
            first: bytes) -> socket.socket:
        """A request's line, headers and first ``first`` bytes of its body on a socket of its own
        (as tests.live.raw_request, but a server that answers and closes before reading all of it,
        as a refusal may, is no error here: its answer is read later)."""
        url = self.url(step.rng)
        host, port = url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=30)
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}",
                *(f"{name}: {value}" for name, value in headers.items())]
        with contextlib.suppress(OSError):
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + first)
        return sock

    def raw_answer(self, step: Step, sock: socket.socket, method: str, path: str,
                   timeout: float = 90) -> Answer:
        from tests.live import raw_answer

        try:
            got = raw_answer(sock, timeout=timeout)
        except AssertionError:
            self.violation(step, f"{method} {path}: no answer within {timeout} s")
            return Answer(None)
        if got is None:
            return Answer(None)
        answer = Answer(got.status, got.headers, got.body)
        self.documented(step, answer, method, path)
        return answer

    # --- the database --------------------------------------------------------------------------

    def db_rows(self, sql: str, params: list[Any] | tuple = ()) -> list[tuple]:
        if not self.is_pg:
            sql = sql.replace("%s", "?")
        with contextlib.closing(self.stack.db()) as conn:
            return list(conn.execute(sql, list(params)).fetchall())

    def newest_uid(self, name: str) -> str:
        rows = self.db_rows('SELECT "AD_UploadSession_UU" FROM "AD_UploadSession" WHERE '
                            '"FileName" = %s ORDER BY "AD_UploadSession_ID" DESC', [name])
        return str(uuid.UUID(str(rows[0][0]))) if rows else ""

    # --- requests of each dialect --------------------------------------------------------------

    def chunk_request(self, up: Upload, dialect: str, index: int, length: int,
                      digest: str = "") -> tuple[str, str, dict[str, str], Caller]:
        owner = self.callers[up.owner]
        octets = {**owner.auth, "Content-Type": OCTETS, "Content-Length": str(length)}
        if dialect == "idempiere":
            extra = {"X-Content-SHA256": digest} if digest else {}
            return "PUT", f"/api/v1/uploads/{up.uid}/chunks/{index + 1}", {**octets, **extra}, owner
        if dialect == "twake":
            return ("POST", f"/internal/services/files/v1/companies/{owner.client_id}/files/"
                            f"{up.twake_id}?chunk_number={index + 1}", octets, owner)
        if dialect == "nuxeo":
            return "POST", f"/api/v1/upload/{up.batch}/0", {
                **octets, "X-Upload-Type": "chunked", "X-Upload-Chunk-Index": str(index),
                "X-Upload-Chunk-Count": str(len(up.bounds)), "X-File-Name": up.name,
                "X-File-Size": str(up.size), "X-File-Type": OCTETS}, owner
        raise AssertionError(dialect)

    def append_request(self, up: Upload, dialect: str, offset: int,
                       length: int) -> tuple[str, str, dict[str, str], Caller]:
        owner = self.callers[up.owner]
        octets = {**owner.auth, "Content-Type": OCTETS, "Content-Length": str(length)}
        if dialect == "tus":
            return "PATCH", f"/api/v1/tus/{up.uid}", {
                **octets, **TUS, "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream"}, owner
        if dialect == "axelor":
            return "POST", "/ws/files/upload", {
                **octets, "X-File-Name": up.name, "X-File-Size": str(up.size),
                "X-File-Type": OCTETS, "X-File-Offset": str(offset), "X-File-Id": up.uid}, owner
        raise AssertionError(dialect)

    @staticmethod
    def chunk_writers(up: Upload) -> list[str]:
        """The dialects that can write a chunk of this upload (its own, and iDempiere's PUT,
        which names any upload of the caller by its id)."""
        return {"idempiere": ["idempiere"], "twake": ["twake", "idempiere"],
                "nuxeo": ["nuxeo", "idempiere"], "nuxeo-normal": ["idempiere"]}[up.creator]

    @staticmethod
    def append_writers(up: Upload) -> list[str]:
        return ["tus", "axelor"]

    def request(self, step: Step, call: tuple[str, str, dict[str, str], Caller],
                body: bytes, up: Upload | None = None) -> Answer:
        method, path, headers, _ = call
        with up.write() if up is not None else contextlib.nullcontext():
            return self.http(step, method, path, None, headers=headers, data=body)

    # --- recording what the server did with bytes -----------------------------------------------

    def record_chunk(self, step: Step, up: Upload, index: int, body: bytes, answer: Answer, *,
                     whole: bool, must_refuse: bool, what: str) -> None:
        if answer.ok and must_refuse:
            self.violation(step, f"{what}: {answer.status} for bytes that had to be refused "
                                 f"({_head(body)} over chunk {index + 1} of {up})")
        if answer.ok and not whole:
            self.violation(step, f"{what}: {answer.status} for chunk {index + 1} of {up}, whose "
                                 "body was incomplete or silent past the idle timeout")
        with up.lock:
            up.last_write = time.monotonic()
            if answer.ok:
                before = up.accepted.get(index)
                if before is None:
                    up.accepted[index] = body
                elif before != body:
                    self.violation(step, f"{what}: chunk {index + 1} of {up} accepted with "
                                         f"{_head(body)} after it was accepted with {_head(before)}")
                if len(up.accepted) == len(up.bounds) and up.all_in_at is None:
                    up.all_in_at = time.monotonic()
            if answer.status is not None and body in up.maybe.get(index, []):
                up.maybe[index].remove(body)  # answered: it landed (accepted) or it did not

    def may_land(self, up: Upload, index: int, body: bytes) -> None:
        """Before a chunk's last byte goes out: bytes other than the file's that the server may
        take (a writer nobody refused yet). Until its answer they are a possible content of the
        chunk (a check running meanwhile may see them finished)."""
        if body != up.chunk(index):
            with up.lock:
                up.maybe.setdefault(index, []).append(body)

    def may_land_at(self, up: Upload, offset: int, sent: int, fill: int) -> None:
        """Before appended bytes go out: bytes of a fill the server may keep (tus keeps what
        arrived of a body that ends early)."""
        with up.lock:
            up.flex.append((offset, offset + sent, fill))

    def record_append(self, step: Step, up: Upload, dialect: str, offset: int, body: bytes,
                      sent: int, answer: Answer, *, must_refuse: bool, fill: int | None,
                      what: str) -> None:
        if answer.ok and must_refuse:
            self.violation(step, f"{what}: {answer.status} for bytes that had to be refused "
                                 f"({_head(body)} at {offset} of {up})")
        end = None
        if answer.ok:
            if dialect == "tus":
                try:
                    end = int(answer.headers.get("upload-offset", ""))
                except ValueError:
                    self.violation(step, f"{what}: {answer.status} without Upload-Offset")
            else:
                end = offset + len(body)
            if end is not None and not offset <= end <= offset + sent:
                self.violation(step, f"{what}: {answer.status} says the upload ends at {end}, "
                                     f"but {sent} bytes were sent at {offset}")
                end = None
        with up.lock:
            up.last_write = time.monotonic()
            if end is not None and end > offset:
                for start, stop, _ in up.settled:
                    if start < end and offset < stop:
                        self.violation(step, f"{what}: bytes {offset}-{end} of {up} accepted, "
                                             f"but bytes {start}-{stop} were accepted before")
                up.settled.append((offset, end, body[:end - offset]))
            if end == up.size and up.all_in_at is None:
                up.all_in_at = time.monotonic()

    def offset_of(self, step: Step, up: Upload, dialect: str) -> int | None:
        """Where the next append goes, as that dialect's client learns it (tus: HEAD, which asks
        a draining PATCH to stop and save first; Axelor: the upload's status). None: unreachable."""
        owner = self.callers[up.owner]
        if dialect == "tus":
            got = self.http(step, "HEAD", f"/api/v1/tus/{up.uid}", owner, headers=TUS)
            if got.status != 200:
                return None
            offset = int(got.headers.get("upload-offset", "0"))
        else:
            got = self.http(step, "GET", f"/api/v1/uploads/{up.uid}", owner)
            if got.status != 200:
                return None
            offset = int(got.json().get("totalReceivedSize") or 0)
        if offset >= up.size and up.all_in_at is None:
            with up.lock:
                up.all_in_at = up.all_in_at or time.monotonic()
        return offset

    def write_chunk(self, step: Step, up: Upload, index: int, dialect: str, body: bytes, *,
                    must_refuse: bool = False, tries: int = 4) -> Answer:
        """One chunk through ``dialect``, tried again when the server says when (Retry-After)."""
        answer = Answer(None)
        for _ in range(tries):
            digest = sha(body) if dialect == "idempiere" and step.rng.random() < 0.5 else ""
            call = self.chunk_request(up, dialect, index, len(body), digest)
            answer = self.request(step, call, body, up)
            what = f"{dialect} chunk {index + 1}"
            self.record_chunk(step, up, index, body, answer, whole=True, must_refuse=must_refuse,
                              what=what)
            if not self.retry_later(answer):
                break
        return answer

    def retry_later(self, answer: Answer) -> bool:
        if answer.status in (409, 503) and "retry-after" in answer.headers:
            time.sleep(min(float(answer.headers["retry-after"]), 3.0))
            return True
        return False

    def append_rest(self, step: Step, up: Upload, dialect: str, *, pieces: int = 1,
                    tries: int = 6) -> str:
        """Append the file's bytes from wherever the upload stands, in ``pieces`` requests."""
        outcome = []
        for _ in range(tries):
            offset = self.offset_of(step, up, dialect)
            if offset is None:
                outcome.append("unreachable")
                break
            if offset >= up.size:
                outcome.append(f"at {offset}: all in")
                break
            rest = up.size - offset
            length = rest if pieces <= 1 else max(1, step.rng.randint(rest // pieces, rest))
            body = up.data[offset:offset + length]
            call = self.append_request(up, dialect, offset, length)
            answer = self.request(step, call, body, up)
            self.record_append(step, up, dialect, offset, body, length, answer,
                               must_refuse=False, fill=None, what=f"{dialect} append")
            outcome.append(f"{offset}+{length}:{answer}")
            if answer.ok:
                pieces -= 1
                continue
            if answer.status in (404, 410) or (answer.status == 409 and
                                                "failed" in str(answer.json().get("detail", ""))):
                break
            self.retry_later(answer)
        return " ".join(outcome)

    # --- the steps -----------------------------------------------------------------------------

    def new_data(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.2:
            return rng.choice(self.pool)  # the same bytes in several uploads and tenants
        if roll < 0.27:
            return rng.randbytes(rng.randint(2 * MiB, 5 * MiB))
        if roll < 0.55:
            return rng.randbytes(rng.randint(64 * KiB, 700 * KiB))
        return rng.randbytes(rng.randint(2, 64 * KiB))

    def step_create(self, step: Step, creator: str) -> list[Upload]:
        rng = step.rng
        owner = rng.choice(sorted(TENANT))
        caller = self.callers[owner]
        data = self.new_data(rng)
        with self.mutex:
            self.created += 1
            key = f"u{self.created}"
        name = f"il-{self.seed}-{key}-{uuid.uuid4().hex[:6]}.bin"
        size = len(data)
        if SHAPE[creator] == CHUNKS:
            count = 1 if creator == "nuxeo-normal" else rng.randint(1, min(5, size))
            if creator == "idempiere":
                chunk_size = -(-size // count)
                bounds = [(i, min(size, i + chunk_size)) for i in range(0, size, chunk_size)]
            else:
                cuts = sorted(rng.sample(range(1, size), count - 1)) if count > 1 else []
                edges = [0, *cuts, size]
                bounds = list(itertools.pairwise(edges))
        else:
            bounds = []
        up = Upload(key, creator, owner, data, name, bounds)
        if creator == "idempiere":
            request: dict[str, Any] = {"fileName": name, "contentType": OCTETS, "fileSize": size,
                                       "chunkSize": bounds[0][1]}
            if rng.random() < 0.6:
                request["sha256"] = sha(data)
                up.declared_sha = True
            if rng.random() < 0.12:
                seconds = rng.randint(8, 40)
                request["expiresInSeconds"] = seconds
                up.expires_at = time.monotonic() + seconds
            got = self.http(step, "POST", "/api/v1/uploads", caller,
                            headers={"Content-Type": "application/json"},
                            data=json.dumps(request).encode())
            if got.status != 201:
                return self.refused_creation(step, up, got)
            up.uid = got.json()["uploadId"]
            step.note(f"{len(bounds)} chunks{' sha' if up.declared_sha else ''}"
                      f"{' expires' if up.expires_at else ''}")
        elif creator == "tus":
            headers = {**TUS, "Upload-Length": str(size),
                       "Upload-Metadata": "filename " + _b64(name.encode())}
            first = b""
            if rng.random() < 0.3:  # creation with upload
                first = data[:rng.randint(1, size)]
                headers["Content-Type"] = "application/offset+octet-stream"
            got = self.http(step, "POST", "/api/v1/tus/", caller, headers=headers,
                            data=first or None)
            if got.status != 201:
                return self.refused_creation(step, up, got)
            up.uid = got.headers["location"].rstrip("/").rsplit("/", 1)[-1]
            if first:
                got.headers.setdefault("upload-offset", "0")
                self.record_append(step, up, "tus", 0, first, len(first), got, must_refuse=False,
                                   fill=None, what="tus creation")
        elif creator == "axelor":
            first = data[:rng.randint(1, size)]
            got = self.http(step, "POST", "/ws/files/upload", caller, headers={
                "Content-Type": OCTETS, "X-File-Name": name, "X-File-Size": str(size),
                "X-File-Type": OCTETS, "X-File-Offset": "0"}, data=first)
            if got.status != 200:
                return self.refused_creation(step, up, got)
            body = got.json()
            up.uid = body.get("fileId") or body.get("id")
            self.record_append(step, up, "axelor", 0, first, len(first), got, must_refuse=False,
                               fill=None, what="axelor first chunk")
        elif creator == "twake":
            got = self.http(step, "POST", f"/internal/services/files/v1/companies/"
                                          f"{caller.client_id}/files", caller,
                            params={"filename": name, "type": OCTETS, "total_size": size,
                                    "total_chunks": len(bounds)})
            if got.status != 200:
                return self.refused_creation(step, up, got)
            up.twake_id = got.json()["resource"]["id"]
            up.uid = self.newest_uid(name)
        elif creator in ("nuxeo", "nuxeo-normal"):
            got = self.http(step, "POST", "/api/v1/upload", caller)
            if got.status != 201:
                return self.refused_creation(step, up, got)
            up.batch = got.json()["batchId"]
            if creator == "nuxeo":
                index = rng.randrange(len(bounds))
                call = self.chunk_request(up, "nuxeo", index, len(up.chunk(index)))
                answer = self.request(step, call, up.chunk(index), up)
                if not answer.ok:
                    return self.refused_creation(step, up, answer)
                self.record_chunk(step, up, index, up.chunk(index), answer, whole=True,
                                  must_refuse=False, what="nuxeo first chunk")
                up.uid = self.newest_uid(name)
            else:
                self.one_shot(step, up)
        with self.mutex:
            self.uploads.append(up)
        return [up]

    def refused_creation(self, step: Step, up: Upload, got: Answer) -> list[Upload]:
        self.violation(step, f"creating {up}: {got}")
        return []

    def one_shot(self, step: Step, up: Upload) -> None:
        """A Nuxeo one-shot upload (the whole file in one request), stalled or not: 201 makes a
        finished upload of exactly its body; anything else leaves no upload."""
        from tests.live import reset, wait_server_read

        rng = step.rng
        owner = self.callers[up.owner]
        path = f"/api/v1/upload/{up.batch}/0"
        headers = {**owner.auth, "Content-Type": OCTETS, "Content-Length": str(up.size),
                   "X-File-Name": up.name, "X-File-Size": str(up.size), "X-File-Type": OCTETS}
        ending = rng.choice(["whole", "whole", "resume", "reset", "idle"])
        if ending == "whole":
            answer = self.http(step, "POST", path, None, headers=headers, data=up.data)
            whole = True
        else:
            half = rng.randint(0, up.size - 1)
            sock = self.raw(step, "POST", path, headers, up.data[:half])
            try:
                wait_server_read(sock, timeout=60)
                time.sleep(self.stall_time(rng, long=ending == "idle", idle=self.idle))
                whole = ending == "resume"
                if ending == "resume":
                    with contextlib.suppress(OSError):
                        sock.sendall(up.data[half:])
                    answer = self.raw_answer(step, sock, "POST", path)
                elif ending == "reset":
                    reset(sock)
                    answer = Answer(None)
                else:
                    answer = self.raw_answer(step, sock, "POST", path)
            finally:
                sock.close()
        step.note(f"one-shot {ending}: {answer}")
        if answer.ok and not whole:
            self.violation(step, f"a one-shot upload's incomplete body was accepted: {answer}")
        uid = self.newest_uid(up.name)
        up.uid = uid
        if answer.ok or (answer.status is None and whole):
            self.record_chunk(step, up, 0, up.data, answer, whole=whole, must_refuse=False,
                              what="nuxeo one-shot")
            if answer.status is None:
                up.vanished = True  # it may or may not have been made
        else:
            up.vanished = True  # its own request cancelled it

    @staticmethod
    def stall_time(rng: random.Random, *, long: bool, idle: float) -> float:
        return rng.uniform(1.4, 2.2) * idle if long else rng.uniform(0.05, 0.6) * idle

    def step_write(self, step: Step, up: Upload) -> None:
        rng = step.rng
        if up.shape == CHUNKS:
            missing = [i for i in range(len(up.bounds)) if i not in up.accepted]
            index = rng.choice(missing or range(len(up.bounds)))
            dialect = rng.choice(self.chunk_writers(up))
            answer = self.write_chunk(step, up, index, dialect, up.chunk(index))
            step.note(f"{dialect} chunk {index + 1}/{len(up.bounds)}: {answer}")
            self.expect_chunk_ok(step, up, answer, f"{dialect} chunk {index + 1}")
        else:
            dialect = rng.choice(self.append_writers(up))
            step.note(f"{dialect}: {self.append_rest(step, up, dialect, pieces=rng.randint(2, 4), tries=2)}")

    def expect_chunk_ok(self, step: Step, up: Upload, answer: Answer, what: str) -> None:
        """A careful writer's correct chunk is taken, unless the upload was closed meanwhile (or a
        hostile chunk landed there first, or the dialect's own file is already finished)."""
        if answer.ok or answer.status is None or up.gone:
            return  # (once a cancel began, any refusal may say so)
        if answer.status == 410 and up.may_expire(time.monotonic()):
            return
        if answer.status == 409 and (up.must_fail() or up.failed_seen or up.may_fail()
                                     or "retry-after" in answer.headers):
            return
        if answer.status == 409 and (any(body != up.chunk(i) for i, body in up.accepted.items())
                                     or any(up.maybe.values())):
            return
        if up.creator == "twake" and answer.status in (400, 404, 410):
            return  # the file is finished ("already uploaded"), its upload closed by design
        if answer.status == 400 and "already" in str(answer.json().get("detail", "")):
            return
        self.violation(step, f"{what} of {up} with the right bytes: {answer}")

    def step_finish(self, step: Step, up: Upload) -> None:
        rng = step.rng
        if up.shape == CHUNKS:
            notes = []
            for index in range(len(up.bounds)):
                if index in up.accepted:
                    continue
                dialect = rng.choice(self.chunk_writers(up))
                answer = self.write_chunk(step, up, index, dialect, up.chunk(index))
                notes.append(f"{dialect}#{index + 1}:{answer}")
                self.expect_chunk_ok(step, up, answer, f"{dialect} chunk {index + 1}")
                if answer.status in (404, 410):
                    break
            step.note(" ".join(notes) or "nothing missing")
        else:
            dialect = rng.choice(self.append_writers(up))
            step.note(f"{dialect}: {self.append_rest(step, up, dialect)}")
            if up.creator == "axelor" and dialect == "tus" and up.all_in_at is None:
                step.note(f"axelor: {self.append_rest(step, up, 'axelor')}")

    def step_stall(self, step: Step, up: Upload) -> None:
        """A writer sends part of its body on a raw socket and stalls; meanwhile a rival may write
        the same slot; then it resumes, is reset, half-closes or is left to time out."""
        rng = step.rng
        wrong = rng.random() < 0.15
        hostile = rng.random() < 0.5
        fill = rng.randrange(256)
        ending = rng.choice(["resume", "resume", "reset", "close", "idle", "late"])
        long = ending in ("idle", "late")
        stall = self.stall_time(rng, long=long, idle=self.idle)
        rival = not wrong and rng.random() < 0.5
        must_refuse = wrong
        if up.shape == CHUNKS and not wrong:
            missing = [i for i in range(len(up.bounds)) if i not in up.accepted]
            index = rng.choice(missing) if missing and rng.random() < 0.7 else \
                rng.randrange(len(up.bounds))
            dialect = rng.choice(self.chunk_writers(up))
            body = bytes([fill]) * len(up.chunk(index)) if hostile else up.chunk(index)
            if hostile and body == up.chunk(index):
                hostile = False
            must_refuse = index in up.accepted and up.accepted[index] != body
            call = self.chunk_request(up, dialect, index, len(body), sha(body)
                                      if dialect == "idempiere" and rng.random() < 0.3 else "")
            offset = None
            where = f"{dialect} chunk {index + 1}"
        else:
            index = None
            if wrong and up.shape == CHUNKS:
                dialect = "axelor"
                offset = self.offset_of(step, up, "axelor")
                if offset is None:
                    step.note("unreachable")
                    return
                length = max(1, min(up.size - offset, rng.randint(1, up.size)))
                if offset + length > up.size:
                    offset = 0
                call = self.append_request(up, dialect, offset, length)
            elif wrong:
                dialect = "idempiere"
                index = 0
                length = up.size  # chunk 1 of a file of one chunk (the request's shape matters)
                call = self.chunk_request(up, dialect, 0, length)
                offset = None
            else:
                dialect = rng.choice(self.append_writers(up))
                offset = self.offset_of(step, up, dialect)
                if offset is None:
                    step.note(f"{dialect}: unreachable")
                    return
                length = rng.randint(1, max(1, up.size - offset))
                must_refuse = offset >= up.size
                call = self.append_request(up, dialect, offset, length)
            if (offset or 0) + length > up.size:
                hostile = True  # past the end: there are no right bytes to send
            body = bytes([fill]) * length if (hostile or wrong) else \
                up.data[offset or 0:(offset or 0) + length]
            where = f"{dialect} {'chunk 1' if offset is None else f'@{offset}'}"
        half = rng.randint(0, len(body) - 1) if len(body) > 1 else 0
        step.note(f"{'WRONG-SHAPE ' if wrong else ''}{'hostile' if hostile or wrong else 'right'} "
                  f"{where} {len(body)}B sends {half} stalls {stall:.2f}s then {ending}"
                  f"{' with a rival' if rival else ''}")
        landing = hostile and not must_refuse and not wrong
        if landing and index is None and half:
            self.may_land_at(up, offset, half, fill)
        with up.write():
            sent, answer, answered = self.stall_socket(
                step, up, call, body, half, stall, ending, index, landing=landing,
                rival=rival, offset=offset, fill=fill)
        step.note(f"staller: {answer} after {time.monotonic() - step.started:.2f}s")
        if wrong:
            kind = "Axelor append" if dialect == "axelor" else "iDempiere chunk PUT"
            self.expect_shape_refusal(step, up, answer, f"stalled {kind}")
            return
        if ending in ("late", "idle") and not answered:
            # Silent for longer than the idle timeout while the server was reading it: the
            # server gave it up with what it had then (tus keeps those bytes), nothing more.
            sent = half
        if index is not None:
            self.record_chunk(step, up, index, body, answer, whole=sent == len(body),
                              must_refuse=must_refuse, what=f"stalled {where}")
        else:
            self.record_append(step, up, dialect, offset, body, sent, answer,
                               must_refuse=must_refuse, fill=fill if hostile else None,
                               what=f"stalled {where}")

    def stall_socket(self, step: Step, up: Upload, call: tuple, body: bytes, half: int,
                     stall: float, ending: str, index: int | None, *, landing: bool, rival: bool,
                     offset: int | None, fill: int) -> tuple[int, Answer, bool]:
        """The staller's socket: (bytes sent, its answer, whether it was answered before its
        stall)."""
        from tests.live import reset, wait_server_read

        method, path, headers, _ = call
        sock = self.raw(step, method, path, headers, body[:half])
        sent, answer, answered = half, Answer(None), False
        try:
            seen = wait_server_read(sock, timeout=60)
            began = time.monotonic()
            if seen == "answered":
                answer, answered = self.raw_answer(step, sock, method, path), True
            if rival and not answered:
                self.rival(step, up, index)
            rest = stall - (time.monotonic() - began)
            if rest > 0 and not answered:
                time.sleep(rest)
            if not answered:
                if ending in ("resume", "late"):
                    if landing and ending == "resume":
                        if index is None:
                            self.may_land_at(up, offset, len(body), fill)
                        else:
                            self.may_land(up, index, body)
                    with contextlib.suppress(OSError):
                        sock.sendall(body[half:])
                    sent = len(body)
                    answer = self.raw_answer(step, sock, method, path)
                elif ending == "reset":
                    reset(sock)
                elif ending == "close":
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                    answer = self.raw_answer(step, sock, method, path)
                else:
                    answer = self.raw_answer(step, sock, method, path)
        finally:
            sock.close()
        return sent, answer, answered

    def rival(self, step: Step, up: Upload, index: int | None) -> None:
        """The slot's rightful writer comes while the staller holds it: it asks the staller to
        stop and gets in (with the right bytes), within the lock wait."""
        if up.shape == CHUNKS:
            dialect = step.rng.choice(self.chunk_writers(up))
            answer = self.write_chunk(step, up, index, dialect, up.chunk(index), tries=4)
            step.note(f"rival {dialect} chunk {index + 1}: {answer}")
            self.expect_chunk_ok(step, up, answer, f"rival {dialect} chunk {index + 1}")
            if answer.status == 409 and "retry-after" in answer.headers:
                self.violation(step, f"rival {dialect} chunk {index + 1} of {up} still refused "
                                     f"after 4 tries: a stalled writer kept the slot ({answer})")
        else:
            dialect = step.rng.choice(self.append_writers(up))
            step.note(f"rival {dialect}: {self.append_rest(step, up, dialect)}")

    def expect_shape_refusal(self, step: Step, up: Upload, answer: Answer, what: str) -> None:
        """A write of the other shape: 409 naming the upload's shape (``uploadShape``). Also
        allowed: 404/410 once the upload is gone or expired, tus's 404 (it names only its own
        uploads), Axelor's 400 (its offset and size checks come before the engine's)."""
        status = answer.status
        if status is None:
            return
        if answer.ok:
            self.violation(step, f"{what} of {up}: {answer} (the other write shape was let in)")
            return
        if status == 409 and answer.json().get("uploadShape") == up.shape:
            return
        if status in (404, 410) and (up.gone or up.may_expire(time.monotonic())):
            return
        if (status == 404 and what.startswith("tus")) or (status == 400 and "Axelor" in what):
            return
        self.violation(step, f"{what} of {up}: {answer}, not 409 with uploadShape={up.shape} "
                             f"({answer.body[:200]!r})")

    def step_duplicate(self, step: Step, up: Upload) -> None:
        rng = step.rng
        same = rng.random() < 0.5
        fill = rng.randrange(256)
        if up.shape == CHUNKS:
            index = rng.choice(sorted(up.accepted))
            before = up.accepted[index]
            body = before if same else bytes([fill]) * len(before)
            if body == before:
                same = True
            dialect = rng.choice(self.chunk_writers(up))
            answer = self.write_chunk(step, up, index, dialect, body, must_refuse=not same)
            step.note(f"{dialect} chunk {index + 1} again, {'same' if same else 'other'} bytes: "
                      f"{answer}")
            closed = answer.status is None or up.gone or (
                up.creator == "twake" and answer.status in (400, 404, 410)) or (
                answer.status == 410 and up.may_expire(time.monotonic()))
            if same and not answer.ok and not closed and not (
                    answer.status == 409 and (up.failed_seen or up.may_fail())):
                self.violation(step, f"the same bytes of chunk {index + 1} of {up} again: "
                                     f"{answer}, not 200")
            if not same and answer.status != 409 and not closed:
                self.violation(step, f"other bytes over chunk {index + 1} of {up}: {answer}, "
                                     "not 409")
        else:
            start, end, content = rng.choice(up.settled)
            length = end - start
            body = content if same else bytes([fill]) * length
            dialect = rng.choice(self.append_writers(up))
            call = self.append_request(up, dialect, start, length)
            answer = self.request(step, call, body, up)
            step.note(f"{dialect} append at the old offset {start}, "
                      f"{'same' if same else 'other'} bytes: {answer}")
            self.record_append(step, up, dialect, start, body, length, answer, must_refuse=True,
                               fill=None, what=f"{dialect} append at an old offset")

    def step_wrong_shape(self, step: Step, up: Upload) -> None:
        rng = step.rng
        fill = bytes([rng.randrange(256)])
        owner = self.callers[up.owner]
        if up.shape == APPENDS:
            length = up.size if rng.random() < 0.5 else rng.randint(1, up.size)
            answer = self.http(step, "PUT", f"/api/v1/uploads/{up.uid}/chunks/1", owner,
                               headers={"Content-Type": OCTETS}, data=fill * length)
            what = "iDempiere chunk PUT"
        elif rng.random() < 0.6:
            offset = self.offset_of(step, up, "axelor")
            if offset is None:
                step.note("unreachable")
                return
            length = max(1, min(rng.randint(1, up.size), up.size - offset))
            if offset + length > up.size:
                offset = 0
            call = self.append_request(up, "axelor", offset, length)
            answer = self.request(step, call, fill * length, up)
            what = "Axelor append"
        else:
            answer = self.http(step, "PATCH", f"/api/v1/tus/{up.uid}", owner, headers={
                **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
                data=fill * min(up.size, 1000))
            what = "tus PATCH"
            if answer.status == 404:
                step.note(f"{what}: 404 (tus names only its own uploads)")
                return
        step.note(f"{what} of {len(fill)}x{fill.hex()}: {answer}")
        self.expect_shape_refusal(step, up, answer, what)

    def step_foreign(self, step: Step, up: Upload) -> None:
        """Another tenant (or, for uploads, the tenant's other user) reads or writes the upload:
        404, and nothing changes."""
        rng = step.rng
        if up.creator == "twake" or rng.random() < 0.6:
            other = "AcmeAdmin" if up.tenant == "GardenWorld" else rng.choice(
                ["GardenUser", "GardenAdmin"])
        else:
            other = {"GardenUser": "GardenAdmin", "GardenAdmin": "GardenUser",
                     "AcmeAdmin": "GardenUser"}[up.owner]
        caller = self.callers[other]
        junk = bytes([rng.randrange(256)]) * min(up.size, 4096)
        kind = rng.choice(["status", "file", "put", "axelor", "tus-head", "tus-patch", "delete",
                           "nuxeo", "twake-file", "twake-chunk", "twake-delete"])
        octets = {"Content-Type": OCTETS}
        if kind == "status":
            got = self.http(step, "GET", f"/api/v1/uploads/{up.uid}", caller)
        elif kind == "file":
            got = self.http(step, "GET", f"/api/v1/uploads/{up.uid}/file", caller)
        elif kind == "put":
            got = self.http(step, "PUT", f"/api/v1/uploads/{up.uid}/chunks/1", caller,
                            headers=octets, data=junk)
        elif kind == "axelor":
            got = self.http(step, "POST", "/ws/files/upload", caller, data=junk, headers={
                **octets, "X-File-Name": "x.bin", "X-File-Size": str(up.size),
                "X-File-Offset": "0", "X-File-Id": up.uid})
        elif kind == "tus-head":
            got = self.http(step, "HEAD", f"/api/v1/tus/{up.uid}", caller, headers=TUS)
        elif kind == "tus-patch":
            got = self.http(step, "PATCH", f"/api/v1/tus/{up.uid}", caller, data=junk, headers={
                **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        elif kind == "delete":
            got = self.http(step, "DELETE", f"/api/v1/uploads/{up.uid}", caller)
        elif kind == "nuxeo" and up.batch:
            got = self.http(step, "POST", f"/api/v1/upload/{up.batch}/0", caller, data=junk,
                            headers={**octets, "X-File-Name": "x.bin"})
        elif kind.startswith("twake") and up.twake_id and caller.client_id != \
                self.callers[up.owner].client_id:
            base = f"/internal/services/files/v1/companies/{caller.client_id}/files/{up.twake_id}"
            if kind == "twake-file":
                got = self.http(step, "GET", f"{base}/download", caller)
            elif kind == "twake-chunk":
                got = self.http(step, "POST", f"{base}?chunk_number=1", caller, headers=octets,
                                data=junk)
            else:
                got = self.http(step, "DELETE", base, caller)
        else:
            got = self.http(step, "GET", f"/api/v1/uploads/{up.uid}/file", caller)
            kind = "file"
        step.note(f"{other} {kind}: {got}")
        if got.status != 404 and got.status is not None:
            self.violation(step, f"{other} ({TENANT[other]}) {kind} of {up}: {got}, not 404")

    def step_cancel(self, step: Step, up: Upload) -> None:
        rng = step.rng
        owner = self.callers[up.owner]
        with up.lock:
            up.cancel_started = up.cancel_started or time.monotonic()
        choices = ["idempiere"]
        if up.creator == "tus":
            choices.append("tus")
        if up.batch:
            choices += ["nuxeo-batch", "nuxeo-file"]
        if up.twake_id:
            choices = ["twake"] if up.all_in_at else [*choices, "twake"]
        how = rng.choice(choices)
        if how == "idempiere":
            got = self.http(step, "DELETE", f"/api/v1/uploads/{up.uid}", owner)
        elif how == "tus":
            got = self.http(step, "DELETE", f"/api/v1/tus/{up.uid}", owner, headers=TUS)
        elif how == "nuxeo-batch":
            got = self.http(step, "DELETE", f"/api/v1/upload/{up.batch}", owner)
        elif how == "nuxeo-file":
            got = self.http(step, "DELETE", f"/api/v1/upload/{up.batch}/0", owner)
        else:
            got = self.http(step, "DELETE", f"/internal/services/files/v1/companies/"
                                            f"{owner.client_id}/files/{up.twake_id}", owner)
        step.note(f"cancel through {how}: {got}")
        if got.ok or got.status == 404:
            with up.lock:
                up.cancelled_at = up.cancelled_at or time.monotonic()
                if how == "twake":
                    up.file_deleted_at = up.file_deleted_at or up.cancelled_at
        elif got.status == 410 and up.may_expire(time.monotonic()):
            pass
        elif got.status is not None:
            self.violation(step, f"cancel of {up} through {how}: {got}")

    def step_purge(self, step: Step) -> None:
        began = time.monotonic()
        try:
            out = self.stack.manage("purge_uploads")
        except subprocess.CalledProcessError as error:
            self.violation(step, f"purge_uploads exited {error.returncode}: "
                                 f"{(error.stdout or '')[-300:]}{(error.stderr or '')[-600:]}")
            return
        step.note(f"{out.strip()} ({time.monotonic() - began:.1f}s)")

    def finalizing(self) -> list[str]:
        """Uploads whose FINALIZE lock some process holds right now (PostgreSQL)."""
        from apps.uploads import locks

        processing = [str(uuid.UUID(str(row[0]))) for row in self.db_rows(
            'SELECT "AD_UploadSession_UU" FROM "AD_UploadSession" WHERE "State" = %s',
            ["PROCESSING"])]
        if not processing:
            return []
        held = {(int(c), int(o)) for c, o in self.db_rows(
            "SELECT classid::bigint, objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted")}
        found = []
        for uid in processing:
            key = locks._key(uid, locks.FINALIZE) & 0xFFFFFFFFFFFFFFFF
            if (key >> 32, key & 0xFFFFFFFF) in held:
                found.append(uid)
        return found

    def step_kill_worker(self, step: Step) -> None:
        """kill -9 of the Celery worker, mid-finalize when one is seen within a few seconds
        (else wherever it is), and a new worker."""
        deadline = time.monotonic() + 4
        seen: list[str] = []
        while time.monotonic() < deadline and not seen:
            seen = self.finalizing()
            if not seen:
                time.sleep(0.02)
        live = [p for p in self.stack.celery if p.poll() is None]
        for process in live:
            self.stack.kill(process)
        self.last_kill = time.monotonic()
        self.stack.start_worker()
        step.note(f"killed {len(live)} worker(s) "
                  f"{'mid-finalize of ' + ','.join(u[:8] for u in seen) if seen else 'idle'}; "
                  "started another")

    # --- the checks ------------------------------------------------------------------------------

    def check(self, step: Step | None, up: Upload) -> None:
        if up.creator == "twake":
            self.check_twake(step, up)
        elif up.uid:
            self.check_upload(step, up)

    def since_last_write(self, up: Upload, moment: float) -> float:
        return moment - max(up.last_write, self.last_kill)

    def check_upload(self, step: Step | None, up: Upload) -> None:
        began = time.monotonic()
        owner = self.callers[up.owner]
        state = self.http(step, "GET", f"/api/v1/uploads/{up.uid}", owner)
        if state.status is None:
            return
        cancelled = up.cancelled_at is not None and up.cancelled_at < began
        if state.status == 404:
            if not up.gone and up.creator != "twake":  # a Twake file closes its finished upload
                self.violation(step, f"{up} answers 404 though nobody cancelled it")
            return
        if state.status == 410:
            if not up.may_expire(began) and not up.gone:
                self.violation(step, f"{up} answers 410 before it could expire")
            return
        if state.status != 200:
            self.violation(step, f"status of {up}: {state}")
            return
        body = state.json()
        status = body.get("status")
        if cancelled:
            self.violation(step, f"{up} is {status} after its cancel was answered")
            return
        if status == "COMPLETED" and up.creator == "twake":
            return  # its file takes the bytes and closes the upload: check_twake downloads it
        if status == "COMPLETED":
            up.completed_seen = True
            if up.must_fail():
                self.violation(step, f"{up} is COMPLETED though other bytes than its declared "
                                     "sha256's were accepted")
            self.check_bytes(step, up, began, body.get("sha256") or "")
        elif status == "FAILED":
            up.failed_seen = True
            if not up.may_fail():
                self.violation(step, f"{up} FAILED: {body.get('message')}")
        elif up.writing:
            return  # judged from the end of its last write
        elif status == "PROCESSING":
            waited = self.since_last_write(up, began)
            with self.mutex:
                if waited > self.longest_processing[0]:
                    self.longest_processing = (waited, str(up))
            if waited > self.processing_bound:
                self.violation(step, f"{up} is still PROCESSING {waited:.0f} s after its last "
                                     "write")
        elif up.all_in_at is not None and not up.gone:
            waited = began - max(up.all_in_at, up.last_write, self.last_kill)
            if waited > self.processing_bound and not up.may_fail():
                self.violation(step, f"{up} is {status} {waited:.0f} s after every byte was "
                                     f"accepted ({body.get('totalReceivedSize')} received)")

    def check_bytes(self, step: Step | None, up: Upload, began: float, recorded: str) -> None:
        owner = self.callers[up.owner]
        got = self.http(step, "GET", f"/api/v1/uploads/{up.uid}/file", owner)
        if got.status in (404, 410) and (up.gone or up.may_expire(began)):
            return
        if got.status is None:
            return
        if got.status != 200:
            self.violation(step, f"download of COMPLETED {up}: {got}")
            return
        first = up.first_sha is None
        self.verify(step, up, got.body, got.headers.get("etag", ""), recorded)
        if first or random.random() < 0.2:
            self.check_foreign_reads(step, up)

    def check_twake(self, step: Step | None, up: Upload) -> None:
        began = time.monotonic()
        owner = self.callers[up.owner]
        base = f"/internal/services/files/v1/companies/{owner.client_id}/files/{up.twake_id}"
        got = self.http(step, "GET", f"{base}/download", owner)
        if got.status is None:
            return
        if got.status == 404:
            if not up.gone:
                self.violation(step, f"Twake file of {up} answers 404 though nobody deleted it")
            return
        if got.status == 200:
            if up.file_deleted_at is not None and up.file_deleted_at < began:
                self.violation(step, f"Twake file of {up} downloads after its delete")
            up.completed_seen = True
            self.verify(step, up, got.body, got.headers.get("etag", ""),
                        got.headers.get("etag", "").strip('"'))
            other = self.callers["AcmeAdmin" if up.tenant == "GardenWorld" else "GardenUser"]
            foreign = self.http(step, "GET", f"/internal/services/files/v1/companies/"
                                             f"{other.client_id}/files/{up.twake_id}/download",
                                other)
            if foreign.status not in (404, None):
                self.violation(step, f"{other.user} downloads the Twake file of {up}: {foreign}")
            return
        if got.status != 409:
            self.violation(step, f"Twake download of {up}: {got}")
            return
        if not up.uid:
            return
        state = self.http(step, "GET", f"/api/v1/uploads/{up.uid}", owner)
        if state.status == 404 and not up.gone:  # finished meanwhile? its file says
            again = self.http(step, "GET", f"{base}/download", owner)
            if again.status not in (200, None):
                self.violation(step, f"the upload of {up} is gone, its Twake file answers "
                                     f"{again}")
        elif state.status == 200:
            self.check_upload(step, up)

    def verify(self, step: Step | None, up: Upload, got: bytes, etag: str, recorded: str) -> None:
        digest = sha(got)
        if digest != recorded or etag != f'"{recorded}"':
            self.violation(step, f"{up} downloads bytes hashing to {digest}, but its sha256 is "
                                 f"{recorded!r} and its ETag {etag} ({_head(got)})")
        with up.lock:
            # Judged on every download: bytes a writer might still have landed when an earlier
            # download was judged are ruled out once its refusal is known.
            problem = up.mismatch(got)
            if problem:
                self.violation(step, f"{up} finished with bytes its writers did not put there: "
                                     f"{problem}")
            if up.first_sha is None:
                up.first_sha = digest
            elif digest != up.first_sha:
                self.violation(step, f"the finished bytes of {up} changed: sha256 {up.first_sha} "
                                     f"then {digest} ({_head(got)})")

    def check_foreign_reads(self, step: Step | None, up: Upload) -> None:
        others = ["AcmeAdmin"] if up.tenant == "GardenWorld" else ["GardenUser", "GardenAdmin"]
        if up.owner in ("GardenUser", "GardenAdmin"):
            others.append({"GardenUser": "GardenAdmin", "GardenAdmin": "GardenUser"}[up.owner])
        for other in others:
            caller = self.callers[other]
            for path in (f"/api/v1/uploads/{up.uid}", f"/api/v1/uploads/{up.uid}/file"):
                got = self.http(step, "GET", path, caller)
                if got.status not in (404, None):
                    self.violation(step, f"{other} ({TENANT[other]}) GET {path} of {up}: {got}")

    def check_tenancy_rows(self, step: Step | None) -> None:
        """No upload and no DMS file points at another client's stored file."""
        bad = self.db_rows(
            'SELECT s."AD_UploadSession_UU", s."AD_Client_ID", f."AD_Client_ID" '
            'FROM "AD_UploadSession" s JOIN "AD_StoredFile" f '
            'ON f."AD_StoredFile_ID" = s."AD_StoredFile_ID" '
            'WHERE s."AD_Client_ID" <> f."AD_Client_ID"')
        bad += self.db_rows(
            'SELECT d."FileName", d."AD_Client_ID", f."AD_Client_ID" FROM "DMS_File" d '
            'JOIN "AD_StoredFile" f ON f."AD_StoredFile_ID" = d."StoredFile_ID" '
            'WHERE d."AD_Client_ID" <> f."AD_Client_ID"')
        if bad:
            self.violation(step, f"rows pointing at another client's stored file: {bad[:5]}")

    # --- running -------------------------------------------------------------------------------

    def choose(self) -> tuple[str, Upload | None, str]:
        """The next step, drawn from the seeded generator: (operation, upload, creator)."""
        rng = self.master
        live = [u for u in self.uploads if not u.gone and u.uid and u.busy < 3]
        open_ = [u for u in live if u.open_for_writes()]
        dup = [u for u in live if (u.accepted if u.shape == CHUNKS else u.settled)]
        stalls = self.in_flight.get("stall", 0)
        weights = {
            "create": 10 if len(open_) < 8 else 1,
            "write": 18 if open_ else 0,
            "finish": 10 if open_ else 0,
            "stall": 16 if open_ and stalls < 2 else (3 if live and stalls < 2 else 0),
            "duplicate": 7 if dup else 0,
            "wrong-shape": 5 if live else 0,
            "foreign": 5 if live else 0,
            "cancel": 2 if live else 0,
            "purge": 2 if not self.in_flight.get("purge") else 0,
            "kill-worker": 3 if self.worker_kills and not self.in_flight.get("kill-worker")
            and time.monotonic() - self.last_kill > 10 else 0,
            "check": 4 if self.uploads else 0,
        }
        names = [n for n, w in weights.items() if w]
        name = rng.choices(names, [weights[n] for n in names])[0]
        if name == "create":
            creator = rng.choices(list(SHAPE), [5, 3, 4, 3, 4, 4])[0]
            return name, None, creator
        pools = {"write": open_, "finish": open_, "duplicate": dup,
                 "stall": open_ if open_ and rng.random() < 0.85 else live,
                 "check": self.uploads}
        pool = pools.get(name, live)
        if name in ("purge", "kill-worker"):
            return name, None, ""
        return name, rng.choice(pool), ""

    def run_step(self, number: int, name: str, up: Upload | None, creator: str,
                 seed: int) -> None:
        step = Step(number, name, random.Random(seed), time.monotonic())
        touched: list[Upload] = [up] if up else []
        try:
            if name == "create":
                touched = self.step_create(step, creator)
            elif name == "write":
                self.step_write(step, up)
            elif name == "finish":
                self.step_finish(step, up)
            elif name == "stall":
                self.step_stall(step, up)
            elif name == "duplicate":
                self.step_duplicate(step, up)
            elif name == "wrong-shape":
                self.step_wrong_shape(step, up)
            elif name == "foreign":
                self.step_foreign(step, up)
            elif name == "cancel":
                self.step_cancel(step, up)
            elif name == "purge":
                self.step_purge(step)
            elif name == "kill-worker":
                self.step_kill_worker(step)
            for touched_up in touched:
                self.check(step, touched_up)
        except Violation as error:
            self.violation(step, str(error))
        except Exception:  # noqa: BLE001 - the runner's own failure is reported, not swallowed
            self.violation(step, f"the runner failed: {traceback.format_exc()}")
        finally:
            with self.mutex:
                self.in_flight[name] -= 1
                if up is not None:
                    up.busy -= 1
            what = f" {up}" if up else (f" {touched[0]}" if touched else "")
            self.log(f"step {number} {name}{what} @{step.started - self.started:.2f}s "
                     f"({time.monotonic() - step.started:.2f}s): {'; '.join(step.notes)}")

    def sweep(self) -> None:
        """The checker: every upload, over and over, while steps run."""
        while not self.stop.is_set():
            for up in list(self.uploads):
                if self.stop.is_set():
                    return
                try:
                    self.check(None, up)
                except Exception:  # noqa: BLE001
                    self.violation(None, f"the checker failed: {traceback.format_exc()}")
                self.stop.wait(0.05)
            with contextlib.suppress(Exception):
                self.check_tenancy_rows(None)
            self.stop.wait(0.5)

    def beat(self) -> None:
        """What celery beat does in production (refinalize every minute), compressed: with a real
        worker that may be killed, a dead finalizer's upload is enqueued again by this."""
        while not self.stop.wait(6.0):
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stack.manage("purge_uploads")

    def run(self) -> list[str]:
        self.log(f"seed {self.seed}: duration {self.duration:.0f}s, at most {self.max_steps} "
                 f"steps, {self.concurrency} at once, idle timeout {self.idle}s, "
                 f"{'PostgreSQL' if self.is_pg else 'SQLite'}"
                 f"{' with a real worker (killed now and then)' if self.worker_kills else ''}, "
                 f"{len(self.stack.urls)} web node(s)")
        for user in TENANT:
            self.callers[user] = self.login(user)
        slots = threading.Semaphore(self.concurrency)
        checker = threading.Thread(target=self.sweep, daemon=True)
        checker.start()
        beat = None
        if self.worker_kills:
            beat = threading.Thread(target=self.beat, daemon=True)
            beat.start()
        number = 0
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            while not self.stop.is_set() and number < self.max_steps and \
                    time.monotonic() - self.started < self.duration:
                if not slots.acquire(timeout=0.5):
                    continue
                with self.mutex:
                    name, up, creator = self.choose()
                    seed = self.master.getrandbits(64)
                    number += 1
                    self.in_flight[name] = self.in_flight.get(name, 0) + 1
                    self.counts[name] = self.counts.get(name, 0) + 1
                    if up is not None:
                        up.busy += 1

                def job(args=(number, name, up, creator, seed)) -> None:
                    try:
                        self.run_step(*args)
                    finally:
                        slots.release()

                pool.submit(job)
        self.stop.set()
        checker.join(timeout=120)
        if beat is not None:
            beat.join(timeout=120)
        self.log(f"{number} steps: " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())))
        if not self.violations:
            self.settle()
        return self.violations

    def settle(self) -> None:
        """The end: nothing stays PROCESSING, every upload passes its checks once more, no row
        points across tenants, and scrub_files finds every stored file intact."""
        if self.worker_kills and not any(p.poll() is None for p in self.stack.celery):
            self.stack.start_worker()
        began = time.monotonic()
        deadline = began + self.processing_bound
        while True:
            processing = [str(uuid.UUID(str(row[0]))) for row in self.db_rows(
                'SELECT "AD_UploadSession_UU" FROM "AD_UploadSession" WHERE "State" = %s',
                ["PROCESSING"])]
            if not processing:
                break
            if time.monotonic() > deadline:
                self.violation(None, f"still PROCESSING {time.monotonic() - began:.0f} s after the "
                                     f"last step: {', '.join(processing)}")
                break
            if self.worker_kills:  # beat's refinalize, as in production
                with contextlib.suppress(subprocess.CalledProcessError):
                    self.stack.manage("purge_uploads")
            time.sleep(1)
        waited, which = self.longest_processing
        self.log(f"settled in {time.monotonic() - began:.1f}s; the longest PROCESSING seen was "
                 f"{waited:.1f}s after the last write or worker kill ({which or 'none'})")
        for up in self.uploads:
            self.check(None, up)
        self.check_tenancy_rows(None)
        failed = [f"{up} ({'a hostile chunk was accepted' if up.must_fail() else 'maybe'})"
                  for up in self.uploads if up.failed_seen]
        self.log(f"checked {len(self.uploads)} uploads once more"
                 f"{'; FAILED as the model allows: ' + ', '.join(failed) if failed else ''}")
        try:
            out = self.stack.manage("scrub_files")
            self.log(f"scrub_files: {out.strip().splitlines()[-1] if out.strip() else out}")
        except subprocess.CalledProcessError as error:
            self.violation(None, f"scrub_files exited {error.returncode}: {error.stdout}"
                                 f"{error.stderr[-500:]}")
        states = self.db_rows('SELECT "State", COUNT(*) FROM "AD_UploadSession" GROUP BY "State" '
                              'ORDER BY "State"')
        self.log("upload states at the end: " + ", ".join(f"{s} {n}" for s, n in states))


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


# --- Entry points ----------------------------------------------------------------------------------


def stack_for_run(base_dir: Path, *, idle: float, duration: float) -> tuple[Any, bool]:
    """A live stack: with PostgreSQL and CELERY_BROKER_URL, a real worker (killed now and then);
    otherwise the embedded mode (SQLite, finalize in the web processes)."""
    from django.db import connection

    from tests.live import LiveStack

    real_worker = connection.vendor == "postgresql" and bool(os.environ.get("CELERY_BROKER_URL"))
    env = {"UPLOAD_BODY_IDLE_TIMEOUT": str(idle), "UPLOAD_LOCK_WAIT": "5",
           "UPLOAD_FINALIZE_STALE_SECONDS": "2",
           "JWT_ACCESS_MINUTES": str(int(duration // 60) + 60)}
    stack = LiveStack(base_dir, nodes=2, workers=1 if real_worker else 0, extra_env=env)
    return stack, real_worker


def run(*, base_dir: Path, seed: int, duration: float, steps: int, concurrency: int = 6,
        idle: float = 1.5, log: Callable[[str], None] = print) -> list[str]:
    """Start a stack, run the scenario, stop the stack: the violations found (empty: none)."""
    stack, real_worker = stack_for_run(base_dir, idle=idle, duration=duration)
    began = time.monotonic()
    try:
        stack.start()
        log(f"[interleave] stack up in {time.monotonic() - began:.1f}s "
            f"(logs: {stack.env['VAR_DIR']})")
        runner = Runner(stack, seed=seed, duration=duration, steps=steps, concurrency=concurrency,
                        idle=idle, worker_kills=real_worker, log=log)
        violations = runner.run()
    finally:
        stack.stop()
    log(f"[interleave] seed {seed}: {len(violations)} violation(s), "
        f"{time.monotonic() - began:.0f}s in all")
    return violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", default="", help="the run's seed (default: a random one, printed)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of steps")
    parser.add_argument("--steps", type=int, default=1_000_000, help="at most this many steps")
    parser.add_argument("--concurrency", type=int, default=6, help="steps in flight at once")
    parser.add_argument("--idle", type=float, default=1.5, help="UPLOAD_BODY_IDLE_TIMEOUT")
    parser.add_argument("--base-dir", default="", help="where the stack keeps its files")
    args = parser.parse_args(argv)
    seed = int(args.seed) if str(args.seed).strip() else random.SystemRandom().randrange(10**9)
    print(f"[interleave] seed {seed} (replay: make test-interleaving SEED={seed} "
          f"DURATION={args.duration:.0f})", flush=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    base = Path(args.base_dir) if args.base_dir else Path(tempfile.mkdtemp(prefix="interleave-"))
    violations = run(base_dir=base, seed=seed, duration=args.duration, steps=args.steps,
                     concurrency=args.concurrency, idle=args.idle,
                     log=lambda line: print(line, flush=True))
    for line in violations:
        print(f"[interleave] VIOLATION {line}", flush=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
