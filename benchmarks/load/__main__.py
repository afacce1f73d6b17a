"""Load test (issue 14): mixed traffic at two nodes at once, for a bounded time.

    python -m benchmarks.load [--seconds 60] [--users 8] [--smoke]

The production setup (benchmarks/stack.py) with TWO gunicorn nodes (the Dockerfile's command line
each) on one PostgreSQL, one Redis and one Celery worker. ``--users`` virtual users each loop over a
weighted mix of what clients do, every call going to the next node in turn:

- login (one step, GardenUser/GardenAdmin), then the calls below with that token;
- records: a filtered list with an expanded key, one record, a create and an update of a partner;
- uploads: a 2-chunk iDempiere upload whose chunks go to different nodes (finalized by the worker);
- downloads: a finished upload's file, its SHA-256 checked against what was sent.

It reports per call: count, p50 and p99 latency, errors (any unexpected status or wrong bytes), and
the whole run's requests/s. Target: zero errors. The login throttle is raised for the run (it guards
against password guessing, which this is not). ``--smoke`` (CI) runs a few seconds with two users.
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
from pathlib import Path

import requests

from benchmarks.stack import Stack

KiB = 1024
MIX = (("login", 1), ("list", 6), ("get", 4), ("create", 2), ("update", 2), ("upload", 2),
       ("download", 2))


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

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
        with self.shared["lock"]:
            self.shared["pending"].append((self.token, upload_id, hashlib.sha256(data).hexdigest()))

    def download(self) -> None:
        with self.shared["lock"]:
            if not self.shared["pending"]:
                return self.list()
            token, upload_id, sha = self.shared["pending"].pop(0)
        status = self.call("status", "GET", f"/api/v1/uploads/{upload_id}",
                           headers={"Authorization": f"Bearer {token}"})
        if status is None:
            return None
        if status.json().get("status") != "COMPLETED":  # still finalizing: later
            with self.shared["lock"]:
                self.shared["pending"].append((token, upload_id, sha))
            return None
        started = time.perf_counter()
        try:
            answer = self.http.get(f"{self.node()}/api/v1/uploads/{upload_id}/file",
                                   headers={"Authorization": f"Bearer {token}"}, timeout=60)
            got = hashlib.sha256(answer.content).hexdigest()
            error = None if answer.status_code == 200 and got == sha else (
                f"{answer.status_code}, sha256 {'ok' if got == sha else 'WRONG'}")
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
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


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, two users (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.users = 5.0, 2

    work = Path(tempfile.mkdtemp(prefix="ledgerdoc-bench-load-"))
    stack = Stack(work, extra_env={"LOGIN_THROTTLE_RATE": "1000000/min"})
    stats = Stats()
    try:
        print(f"preparing the production setup with two nodes in {work}…", flush=True)
        stack.start()
        nodes = [stack.serve(), stack.serve()]
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
        started = time.monotonic()
        deadline = started + args.seconds
        threads = [threading.Thread(target=u.run, args=(deadline,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        stack.stop()

    resent = len(stats.latency.pop("(resent)", []))
    total = sum(len(v) for v in stats.latency.values())
    errors = sum(len(v) for v in stats.errors.values())
    print()
    print(f"Load: {args.users} users, 2 nodes, production setup, {elapsed:.0f} s: {total} requests, "
          f"{total / elapsed:.1f} req/s, {errors} errors (target 0: {'MET' if not errors else 'NOT MET'})")
    print(f"  {'call':10}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name in sorted(stats.latency):
        values = stats.latency[name]
        print(f"  {name:10}{len(values):8}{quantile(values, 0.5):10.1f}{quantile(values, 0.99):10.1f}"
              f"{len(stats.errors[name]):8}")
    print(f"  idempotent requests sent again after the server closed an idle connection: {resent}")
    for name, messages in stats.errors.items():
        for message in sorted(set(messages))[:3]:
            print(f"  error in {name}: {message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
