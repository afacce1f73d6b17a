"""Load test (issues 14 and 25): mixed traffic at several nodes at once, for a bounded time.

    python -m benchmarks.load [--seconds 60] [--users 8] [--nodes 3] [--pooler pgbouncer|none]
                              [--worker-concurrency N] [--smoke]

The production setup (benchmarks/stack.py) with ``--nodes`` gunicorn nodes (the Dockerfile's
command line each) on one PostgreSQL, one Redis and one Celery worker of compose.yaml's
concurrency. With ``--pooler pgbouncer`` (the default) every service process, nodes and worker,
connects through ONE PgBouncer in transaction mode (``DATABASE_POOLER=transaction``, the upload
locks on a direct ``LOCK_DATABASE_URL``), as large deployments run; without the pgbouncer binary
the run goes direct and prints a note. ``--users`` virtual users each loop over a weighted mix of
what clients do, every call going to the next node in turn:

- login (one step, GardenUser/GardenAdmin), then the calls below with that token;
- records: a filtered list with an expanded key, one record, a create and an update of a partner;
- uploads: a 2-chunk iDempiere upload whose chunks go to different nodes (finalized by the worker);
- downloads: a finished upload's file, fetched straight away (no status poll first, as a client
  that saw its last chunk answered does), its SHA-256 checked against what was sent.

It reports per call: count, p50 and p99 latency, errors (any unexpected status or wrong bytes), and
the whole run's requests/s. Target: zero errors. Also:

- finalize wait: per upload, from its last chunk's answer to its ``CompletedAt`` (read from the
  database after the run; the worker's queue included), p50 and p99;
- downloads answered 409 "still processing" (with Retry-After): the share of uploads whose first
  download got it. That answer is the API's contract for a file not finalized yet, so it is
  counted, not an error: the client retries later (here: the download goes back to the queue and
  is tried again when a user next downloads). Any other 409 (no Retry-After) is an error;
- the peak number of PostgreSQL connections to the run's database (sampled every 0.5 s): through
  PgBouncer, its server pool plus each process's direct lock connection.

On the CI machine kind (2 cores for everything: nodes, worker, PostgreSQL, PgBouncer, Redis and
this client), three nodes show correctness under load (0 errors, every upload finalized, the pooler
in the path), not scaling: more nodes on the same two cores cannot serve more. The login throttle
is raised for the run (it guards against password guessing, which this is not). ``--smoke`` (CI)
runs a few seconds with two users.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.stack import PG_URL, Stack, cpu_seconds, descendants

KiB = 1024
MIX = (("login", 1), ("list", 6), ("get", 4), ("create", 2), ("update", 2), ("upload", 2),
       ("download", 2))


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.not_ready = 0  # download answers 409 not_ready, all tries
        self.first_tries = 0  # uploads whose download was tried at least once
        self.first_not_ready = 0  # ... and whose first try was answered 409 not_ready
        self.uploads: dict[str, float] = {}  # upload id -> wall time of its last chunk's answer

    def record(self, name: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latency[name].append(seconds)
            if error:
                self.errors[name].append(error)


class User:
    """One virtual user: its own HTTP session and token, alternating between the nodes."""

    def __init__(self, nodes: list[str], stats: Stats, shared: dict, seed: int):
        self.nodes, self.stats, self.shared = nodes, stats, shared
        self.random = random.Random(seed)
        self.http = requests.Session()
        self.turn = seed
        self.name = ("GardenUser", "GardenAdmin")[seed % 2]
        self.token = ""
        self.partners: list[int] = []

    def node(self) -> str:
        self.turn += 1
        return self.nodes[self.turn % len(self.nodes)]

    def call(self, name: str, method: str, path: str, expect: int = 200, **kwargs) -> requests.Response | None:
        headers = {**({"Authorization": f"Bearer {self.token}"} if self.token else {}),
                   **kwargs.pop("headers", {})}
        started = time.perf_counter()
        url = self.node() + path
        try:
            try:
                answer = self.http.request(method, url, headers=headers, timeout=60, **kwargs)
            except requests.ConnectionError:
                # A kept-alive connection the server closed as it sat idle (gunicorn's keepalive):
                # an idempotent request is sent again, as HTTP clients do (RFC 9112 9.3.1). Counted.
                if method not in ("GET", "PUT", "DELETE", "HEAD"):
                    raise
                self.stats.record("(resent)", 0.0, None)
                answer = self.http.request(method, url, headers=headers, timeout=60, **kwargs)
            error = None if answer.status_code == expect else f"{answer.status_code} {answer.text[:120]}"
        except requests.RequestException as exc:
            answer, error = None, f"{type(exc).__name__}: {exc}"
        self.stats.record(name, time.perf_counter() - started, error)
        return answer if error is None else None

    def login(self) -> None:
        answer = self.call("login", "POST", "/api/v1/auth/tokens",
                           json={"userName": self.name, "password": self.name, "parameters": {}})
        if answer is not None:
            self.token = answer.json()["token"]

    def list(self) -> None:
        self.call("list", "GET", "/api/v1/models/c_bpartner?$filter=IsCustomer eq true"
                  "&$select=Value,Name,C_BP_Group_ID&$expand=C_BP_Group_ID&$top=20"
                  f"&$skip={self.random.randrange(0, 40)}")

    def get(self) -> None:
        ident = self.random.choice(self.partners or self.shared["partners"])
        self.call("get", "GET", f"/api/v1/models/c_bpartner/{ident}")

    def create(self) -> None:
        value = f"LOAD-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
        answer = self.call("create", "POST", "/api/v1/models/c_bpartner", expect=201, json={
            "Value": value[:40], "Name": f"Load {value[-12:]}", "C_BP_Group_ID": self.shared["group"],
        })
        if answer is not None:
            self.partners.append(answer.json()["id"])

    def update(self) -> None:
        if not self.partners:
            return self.create()
        ident = self.random.choice(self.partners)
        self.call("update", "PUT", f"/api/v1/models/c_bpartner/{ident}",
                  json={"Description": f"updated {time.time()}"})
        return None

    def upload(self) -> None:
        data = os.urandom(self.random.choice((64, 256, 512)) * KiB)
        half = (len(data) + 1) // 2
        created = self.call("upload", "POST", "/api/v1/uploads", expect=201, json={
            "fileName": "load.bin", "fileSize": len(data), "chunkSize": half,
            "sha256": hashlib.sha256(data).hexdigest(),
        })
        if created is None:
            return
        upload_id = created.json()["uploadId"]
        for order, piece in ((1, data[:half]), (2, data[half:])):
            if self.call("chunk", "PUT", f"/api/v1/uploads/{upload_id}/chunks/{order}", data=piece,
                         headers={"X-Content-SHA256": hashlib.sha256(piece).hexdigest()}) is None:
                return
        done_at = time.time()
        with self.stats.lock:
            self.stats.uploads[upload_id] = done_at
        with self.shared["lock"]:
            self.shared["pending"].append((self.token, upload_id, hashlib.sha256(data).hexdigest(), True))

    def download(self) -> None:
        with self.shared["lock"]:
            if not self.shared["pending"]:
                return self.list()
            token, upload_id, sha, first = self.shared["pending"].pop(0)
        started = time.perf_counter()
        try:
            answer = self.http.get(f"{self.node()}/api/v1/uploads/{upload_id}/file",
                                   headers={"Authorization": f"Bearer {token}"}, timeout=60)
            if answer.status_code == 409 and "Retry-After" in answer.headers:
                # Still being finalized: the API's answer for it (Retry-After). Counted; retried.
                with self.stats.lock:
                    self.stats.not_ready += 1
                    self.stats.first_tries += first
                    self.stats.first_not_ready += first
                self.stats.record("download 409", time.perf_counter() - started, None)
                with self.shared["lock"]:
                    self.shared["pending"].append((token, upload_id, sha, False))
                return None
            got = hashlib.sha256(answer.content).hexdigest()
            error = None if answer.status_code == 200 and got == sha else (
                f"{answer.status_code}, sha256 {'ok' if got == sha else 'WRONG'} {answer.text[:120]}")
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self.stats.lock:
            self.stats.first_tries += first
        self.stats.record("download", time.perf_counter() - started, error)
        return None

    def run(self, deadline: float) -> None:
        self.login()
        names, weights = zip(*MIX, strict=True)
        while time.monotonic() < deadline:
            action = self.random.choices(names, weights)[0]
            if not self.token or action == "login":
                self.login()
                continue
            getattr(self, action)()


class ConnectionSampler(threading.Thread):
    """The peak count of PostgreSQL backends on the run's database, every 0.5 s, straight to
    PostgreSQL (its own connection is not counted)."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.database, self.peak, self.stopped = database, 0, threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
            while not self.stopped.is_set():
                count = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.database,)
                ).fetchone()[0]
                self.peak = max(self.peak, count)
                self.stopped.wait(0.5)


def finalize_waits(database: str, uploads: dict[str, float], timeout: float) -> tuple[list[float], list[str]]:
    """Seconds from each upload's last chunk answered to its CompletedAt, once none is still being
    finalized (waiting up to ``timeout``); and the uploads that did not complete (errors)."""
    import psycopg

    if not uploads:
        return [], []
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"{PG_URL}/{database}", autocommit=True) as conn:
        while True:
            rows = conn.execute(
                'SELECT "AD_UploadSession_UU"::text, "State", "CompletedAt" FROM "AD_UploadSession" '
                'WHERE "AD_UploadSession_UU"::text = ANY(%s)', (list(uploads),),
            ).fetchall()
            if all(state != "PROCESSING" for _, state, _ in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    waits, failed = [], []
    found = {uid: (state, completed) for uid, state, completed in rows}
    for uid, done_at in uploads.items():
        state, completed = found.get(uid, ("MISSING", None))
        if state == "COMPLETED" and completed is not None:
            waits.append(max(0.0, completed.timestamp() - done_at))
        else:
            failed.append(f"upload {uid} {state}")
    return waits, failed


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=3, help="gunicorn nodes (default 3)")
    parser.add_argument("--pooler", choices=("pgbouncer", "none"), default="pgbouncer",
                        help="every service process through one PgBouncer in transaction mode "
                             "(default), or straight to PostgreSQL")
    parser.add_argument("--worker-concurrency", type=int, default=0,
                        help="the Celery worker's concurrency (default: compose.yaml's)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, two users (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.users = 5.0, 2

    work = Path(tempfile.mkdtemp(prefix="ledgerdoc-bench-load-"))
    stack = Stack(work, extra_env={"LOGIN_THROTTLE_RATE": "1000000/min"}, pooler=args.pooler,
                  worker_concurrency=args.worker_concurrency)
    stats = Stats()
    sampler = None
    try:
        print(f"preparing the production setup with {args.nodes} nodes ({args.pooler}) in {work}…",
              flush=True)
        stack.start()
        with ThreadPoolExecutor(max_workers=args.nodes) as pool:  # they start side by side
            nodes = list(pool.map(lambda _: stack.serve(), range(args.nodes)))
        sampler = ConnectionSampler(stack.database_name())
        sampler.start()
        admin = requests.post(f"{nodes[0]}/api/v1/auth/tokens", timeout=30, json={
            "userName": "GardenAdmin", "password": "GardenAdmin", "parameters": {},
        }).json()["token"]
        auth = {"Authorization": f"Bearer {admin}"}
        groups = requests.get(f"{nodes[0]}/api/v1/models/c_bp_group", headers=auth, timeout=30).json()
        partners = requests.get(f"{nodes[0]}/api/v1/models/c_bpartner", headers=auth, timeout=30).json()
        shared = {"group": groups["records"][0]["id"], "partners": [r["id"] for r in partners["records"]],
                  "pending": [], "lock": threading.Lock()}
        users = [User(nodes, stats, shared, seed) for seed in range(args.users)]
        print(f"{args.users} users at {len(nodes)} nodes for {args.seconds:g} s…", flush=True)
        worker_pids = descendants(stack.processes[0].pid)  # the Celery worker and its pool
        worker_before = cpu_seconds(worker_pids)
        started = time.monotonic()
        deadline = started + args.seconds
        threads = [threading.Thread(target=u.run, args=(deadline,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        waits, unfinished = finalize_waits(stack.database_name(), stats.uploads, timeout=120)
        worker_cpu = cpu_seconds(worker_pids) - worker_before
        pooled_xacts = None
        if stack.bouncer is not None:  # proof that the traffic went through it
            pooled_xacts = sum(int(row.get("total_xact_count") or 0)
                               for row in stack.bouncer.admin("SHOW STATS")
                               if row.get("database") == stack.database_name())
        stats.errors["upload"].extend(unfinished)
    finally:
        if sampler is not None:
            sampler.stopped.set()
            sampler.join(timeout=5)
        stack.stop()

    resent = len(stats.latency.pop("(resent)", []))
    total = sum(len(v) for v in stats.latency.values())
    errors = sum(len(v) for v in stats.errors.values())
    print()
    pooled = ("every service process through one PgBouncer (transaction mode)"
              if stack.pooler == "pgbouncer" else "direct to PostgreSQL")
    print(f"Load: {args.users} users, {len(nodes)} nodes, production setup, {pooled}, Celery worker "
          f"concurrency {stack.worker_concurrency}, {elapsed:.0f} s: {total} requests, "
          f"{total / elapsed:.1f} req/s, {errors} errors (target 0: {'MET' if not errors else 'NOT MET'})")
    print(f"  {'call':13}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name in sorted(stats.latency):
        values = stats.latency[name]
        print(f"  {name:13}{len(values):8}{quantile(values, 0.5):10.1f}{quantile(values, 0.99):10.1f}"
              f"{len(stats.errors[name]):8}")
    print(f"  idempotent requests sent again after the server closed an idle connection: {resent}")
    print(f"  finalize wait (last chunk answered -> CompletedAt), {len(waits)} uploads: p50 "
          f"{quantile(waits, 0.5):.1f} ms, p99 {quantile(waits, 0.99):.1f} ms, max "
          f"{max(waits, default=0) * 1000:.1f} ms")
    share = stats.first_not_ready / stats.first_tries if stats.first_tries else 0.0
    print(f"  downloads answered 409 still processing (counted, retried, not errors): "
          f"{stats.first_not_ready} of {stats.first_tries} uploads' first download "
          f"({share:.1%}); {stats.not_ready} such answers in all")
    print(f"  Celery worker (concurrency {stack.worker_concurrency}) CPU: {worker_cpu:.1f} s in "
          f"{elapsed:.0f} s, {worker_cpu / elapsed:.0%} of one core, "
          f"{len(waits) / elapsed:.2f} uploads finalized/s")
    if sampler is not None:
        print(f"  PostgreSQL connections to the run's database, peak: {sampler.peak}"
              + (f" (PgBouncer's pool and one direct lock connection per process; "
                 f"{pooled_xacts} transactions through PgBouncer)" if pooled_xacts is not None else ""))
    for name, messages in stats.errors.items():
        for message in sorted(set(messages))[:3]:
            print(f"  error in {name}: {message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
