"""A Nuxeo batch dropped while its files are being uploaded (issue 23, case 6), against gunicorn as
the Dockerfile runs it (tests/live.py) on PostgreSQL: every writer takes its row locks in one order,
so the race ends without a deadlock, without a 5xx, and with nothing of the batch left behind.

Each round uploads files into a batch (one-shot bodies and parallel chunks, the same bytes in
several slots so their uploads share one stored file, slots replaced by a newer upload) and sends
the DELETE of the batch (or of some of its files, then of the batch) as soon as the first upload
was answered, so that some uploads landed before it and others are still in flight. Which ones
land is up to the interleaving; the tests assert only what holds for every interleaving.
PostgreSQL's deadlock count is read from pg_stat_database before the rounds and once the web
nodes are stopped after them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.live import LiveStack
from tests.uploads.conftest import chunks_of, payload

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the row-lock race needs PostgreSQL"
    ),
]

ROUNDS = int(os.environ.get("NUXEO_RACE_ROUNDS", "3"))
CHUNK = 64 * 1024
CHUNKS = 4
# Statuses a Nuxeo client reads: the file (or chunk) is in, or the batch (file) is gone.
LANDED = {201, 202}
GONE = {404}
# A chunk whose file was dropped or replaced while its body streamed in (its batch still there).
FILE_GONE = {404, 410}


@pytest.fixture
def stack(tmp_path_factory):
    """A deployment of its own per test: each test ends by stopping its web nodes (the only way
    to read every deadlock they saw)."""
    live = LiveStack(tmp_path_factory.mktemp("nuxrace"), nodes=2,
                     extra_env={"UPLOAD_LOCK_WAIT": "5"})
    try:
        yield live.start()
    finally:
        live.stop()


@pytest.fixture
def auth(stack):
    return {"Authorization": f"Bearer {stack.token('GardenUser')}"}


@dataclass
class Race:
    """What a round's requests answered: (method, path, status, the body's start)."""

    answers: list[tuple[str, str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, answer: requests.Response) -> int:
        with self.lock:
            self.answers.append((method, path, answer.status_code, answer.text[:300]))
        return answer.status_code

    def server_errors(self) -> list[tuple[str, str, int, str]]:
        return [a for a in self.answers if a[2] >= 500]


def _deadlocks(stack: LiveStack) -> int:
    """The deadlocks PostgreSQL counted in the stack's database (those its backends flushed)."""
    with stack.db() as db:
        db.execute("SELECT pg_stat_clear_snapshot()")
        return db.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()[0]


def _stop_web(stack: LiveStack) -> None:
    """Stop the web nodes and wait until their database connections are gone: a backend flushes
    its statistics (its deadlocks among them) before it leaves pg_stat_activity, while one that
    stays connected (a process's lock connection) may hold them back for a while."""
    for process in stack.web:
        stack.kill(process, signal.SIGTERM)
    stack.pooler_release()  # behind PgBouncer (.ci/run's second pass), its server connections too
    with stack.db() as db:
        deadline = time.monotonic() + 60
        while db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the web nodes' connections stayed open"
            time.sleep(0.05)


def _leftovers(stack: LiveStack) -> dict[str, object]:
    """What the uploads engine keeps: rows of batches, sessions, chunks, stored files; files."""
    with stack.db() as db:
        counts = {
            table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in ("AD_UploadBatch", "AD_UploadSession", "AD_UploadChunk")
        }
        counts["open sessions"] = db.execute(
            'SELECT count(*) FROM "AD_UploadSession" WHERE "State" NOT IN (%s, %s)',
            ["CANCELLED", "EXPIRED"],
        ).fetchone()[0]
        counts["stored files"] = sorted(
            row[0] for row in db.execute('SELECT "AD_StoredFile_ID" FROM "AD_StoredFile"')
        )
    media = Path(stack.env["MEDIA_ROOT"])
    counts["files"] = sorted(
        str(path.relative_to(media)) for path in media.rglob("*") if path.is_file()
    ) if media.exists() else []
    return counts


def _uploads(
    urls: list[str], auth: dict[str, str], batch_id: str, race: Race, seed: int, *, replace: bool
) -> list:
    """The round's upload requests, as callables spread over the nodes (as a load balancer would):
    slots 0 and 1 get the same bytes in one go, slots 2 and 3 chunk by chunk in parallel (slot 3
    the same bytes again), slot 4 other bytes in one go. With ``replace``, a second chunked upload
    of slot 2 (another chunk count: a new file) races the first, each replacing the other."""
    same = payload(3 * CHUNK + 999, seed=seed)
    other = payload(2 * CHUNK + 17, seed=seed + 1)
    chunked = payload(CHUNKS * CHUNK - 5, seed=seed + 2)
    path = f"/api/v1/upload/{batch_id}"
    files: list[tuple[str, bytes, dict[str, str]]] = []
    for idx, data in (("0", same), ("1", same), ("4", other)):
        files.append((idx, data, {"X-File-Size": str(len(data))}))
    chunked_files = [("2", chunked, CHUNK), ("3", same, CHUNK)]
    if replace:
        chunked_files.append(("2", other, 2 * CHUNK))
    for idx, data, size in chunked_files:
        pieces = chunks_of(data, size)
        for index, piece in enumerate(pieces):
            files.append((idx, piece, {
                "X-Upload-Type": "chunked", "X-Upload-Chunk-Index": str(index),
                "X-Upload-Chunk-Count": str(len(pieces)), "X-File-Size": str(len(data)),
            }))

    def send(url: str, idx: str, body: bytes, extra: dict[str, str]) -> Callable[[], int]:
        headers = {**auth, **extra, "X-File-Name": f"file-{idx}.bin",
                   "Content-Type": "application/octet-stream"}
        return lambda: race.add("POST", f"{path}/{idx}", requests.post(
            f"{url}{path}/{idx}", data=body, headers=headers, timeout=60))

    return [send(urls[n % len(urls)], *spec) for n, spec in enumerate(files)]


def _race(uploads: list[Callable[[], int]], deletes: list[Callable[[], int]]) -> None:
    """Send every upload at once, and the deletes as soon as the first upload was answered."""
    first = threading.Event()
    start = threading.Barrier(len(uploads))

    def upload(call: Callable[[], int]) -> int:
        start.wait()
        try:
            return call()
        finally:
            first.set()

    def delete(call: Callable[[], int]) -> int:
        first.wait(timeout=120)
        return call()

    with ThreadPoolExecutor(max_workers=len(uploads) + len(deletes)) as pool:
        futures = [pool.submit(upload, call) for call in uploads]
        futures += [pool.submit(delete, call) for call in deletes]
        for future in futures:
            future.result()


def _new_batch(base: str, auth: dict[str, str]) -> str:
    answer = requests.post(f"{base}/api/v1/upload/", headers=auth, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()["batchId"]


def _round(
    stack: LiveStack, auth: dict[str, str], seed: int, *, file_deletes: bool
) -> tuple[Race, dict[str, tuple[object, object]]]:
    """One race: its answers, and what it left behind that was not there before it (name:
    (before, after))."""
    base = stack.urls[seed % len(stack.urls)]
    before = _leftovers(stack)
    race = Race()
    batch_id = _new_batch(base, auth)
    # Files already in the batch when the race starts: the drop releases their stored file (which
    # the racing uploads of the same bytes share), and slot 0's racing upload replaces its file.
    warm = payload(3 * CHUNK + 999, seed=seed)
    for idx in ("0", "5"):
        answer = requests.post(
            f"{base}/api/v1/upload/{batch_id}/{idx}", data=warm, timeout=60,
            headers={**auth, "X-File-Name": "warm.bin", "Content-Type": "application/octet-stream"},
        )
        assert answer.status_code == 201, answer.text

    urls = stack.urls
    uploads = _uploads(urls, auth, batch_id, race, seed, replace=file_deletes)

    def drop_batch() -> int:
        path = f"/api/v1/upload/{batch_id}"
        return race.add("DELETE", path, requests.delete(f"{urls[-1]}{path}", headers=auth,
                                                        timeout=60))

    def drop_file(idx: str) -> Callable[[], int]:
        def send() -> int:
            path = f"/api/v1/upload/{batch_id}/{idx}"
            return race.add("DELETE", path, requests.delete(f"{urls[0]}{path}", headers=auth,
                                                            timeout=60))
        return send

    deletes = [drop_file("2"), drop_file("0"), drop_file("3")] if file_deletes else [drop_batch]
    _race(uploads, deletes)
    if file_deletes:
        drop_batch()

    gone = requests.get(f"{base}/api/v1/upload/{batch_id}", headers=auth, timeout=30)
    race.add("GET", f"/api/v1/upload/{batch_id}", gone)
    after = _leftovers(stack)
    left = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    return race, left


def _summary(stack: LiveStack, auth: dict[str, str], *, file_deletes: bool) -> dict[str, object]:
    """ROUNDS races, then the web nodes stopped: the deadlocks PostgreSQL counted, the 5xx answers,
    the answers a Nuxeo client would not expect there, and what any round left behind."""
    summary: dict[str, object] = {"deadlocks": 0, "5xx": [], "unexpected": [], "left behind": []}
    statuses: dict[str, int] = {}
    deadlocks = _deadlocks(stack)
    for n in range(ROUNDS):
        race, left = _round(stack, auth, 1000 * n + 7, file_deletes=file_deletes)
        summary["5xx"] += race.server_errors()
        for method, path, status, body in race.answers:
            statuses[f"{method} {status}"] = statuses.get(f"{method} {status}", 0) + 1
            if status >= 500:
                continue
            if method == "POST":
                expected = LANDED | GONE | (FILE_GONE if file_deletes else set())
            elif method == "DELETE" and path.count("/") == 4:
                expected = {204}  # the batch
            elif method == "DELETE":
                expected = {204, 404}  # a file: dropped, or not (yet, or any more) in the batch
            else:
                expected = {404}  # the batch, read after its DELETE
            if status not in expected:
                summary["unexpected"].append((method, path, status, body))
        if left:
            summary["left behind"].append(left)
    _stop_web(stack)
    summary["deadlocks"] = _deadlocks(stack) - deadlocks
    print(f"\n{ROUNDS} rounds, file deletes {file_deletes}: {statuses}, "
          f"{summary['deadlocks']} deadlocks")
    return summary


CLEAN = {"deadlocks": 0, "5xx": [], "unexpected": [], "left behind": []}


def test_a_batch_dropped_while_its_files_upload(stack, auth):
    """DELETE /upload/{batchId} while one-shot and chunked uploads of its files are in flight: 204;
    each upload 201/202 (landed before the drop) or 404 (the batch was gone); then nothing left."""
    assert _summary(stack, auth, file_deletes=False) == CLEAN


def test_files_dropped_and_replaced_while_they_upload_then_the_batch(stack, auth):
    """DELETE /upload/{batchId}/{fileIdx} of slots being uploaded (one-shot and chunked, one slot
    also replaced by a new chunked upload meanwhile), then the batch: no deadlock, no 5xx, each
    upload landed or gone (404, or 410 for a chunk whose file was dropped or replaced while its
    body streamed in), and nothing of the batch left."""
    assert _summary(stack, auth, file_deletes=True) == CLEAN
