"""Records benchmark (issue 14): the records API against its limits, on the production setup.

    python -m benchmarks.records [--rows 100000] [--seconds 8] [--rounds 3] [--threads 4] [--smoke]

The setup is what the Dockerfile and compose.yaml deploy (benchmarks/stack.py): PostgreSQL, Redis as
broker and cache, a Celery worker, gunicorn with the Dockerfile's command line. Three servers run
under that same command line, on the same database of ``--rows`` GardenWorld partners:

- **ledgerdoc**: ``GET /api/v1/models/c_bpartner?$filter=...&$select=...&$expand=C_BP_Group_ID``;
- **single SQL**: the limit, one statement building the very same body in PostgreSQL behind a bare
  WSGI app (benchmarks/records/single_sql.py; the run checks that both bodies are equal);
- **plain DRF**: a ModelViewSet with a nested serializer, django-filter and limit/offset pages.

Two filters: a selective one (``startswith(Value,'BENCH001')``: 1,000 rows, the (client, Value)
index) and a broad one (``startswith(Value,'BENCH0') and IsCustomer eq true``: half the rows).
Then the same selective request with ``Prefer: count=none|planned``, a deep page by ``$skip`` and by
``$skiptoken``, and HTTP Basic against bearer. Runs interleave the servers in rounds; medians are
compared. Each run's figures (requests/s, p50 and p99 latency, errors) are printed.
``--smoke`` (CI) seeds a small database of its own, runs each load for a moment and judges nothing.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benchmarks.stack import Stack

SELECT = "$select=Value,Name,IsCustomer,C_BP_Group_ID&$expand=C_BP_Group_ID"
SCENARIOS = {
    "selective": ("startswith(Value,'BENCH001')", "prefix=BENCH001", "value__startswith=BENCH001"),
    "broad": ("startswith(Value,'BENCH0') and IsCustomer eq true", "prefix=BENCH0&customers=1",
              "value__startswith=BENCH0&is_customer=true"),
}
QUERY_COUNTS = r"""
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
c = Client(HTTP_HOST="localhost")
token = c.post("/api/v1/auth/tokens", {"userName": "GardenAdmin", "password": "GardenAdmin",
               "parameters": {}}, content_type="application/json").json()["token"]
counts = []
for top in (1, 20, 100):
    url = "/api/v1/models/c_bpartner?$filter=startswith(Value,'BENCH001')&%s&$top=%d" % (SELECT, top)
    c.get(url, HTTP_AUTHORIZATION="Bearer " + token)
    with CaptureQueriesContext(connection) as captured:
        assert c.get(url, HTTP_AUTHORIZATION="Bearer " + token).status_code == 200
    counts.append(len(captured))
print(counts)
"""


def ours_path(filter_text: str, top: int = 20, skip: int = 0) -> str:
    return f"/api/v1/models/c_bpartner?$filter={filter_text}&{SELECT}&$top={top}&$skip={skip}"


class Run:
    """A bounded closed loop: ``threads`` clients send requests back to back for ``seconds``."""

    def __init__(self, url: str, headers: dict, threads: int, seconds: float):
        self.url, self.headers, self.threads, self.seconds = url, headers, threads, seconds
        self.latencies: list[float] = []
        self.errors = 0
        self.elapsed = 0.0

    def go(self) -> Run:
        lock = threading.Lock()
        deadline = time.monotonic() + self.seconds

        def client() -> None:
            http = requests.Session()
            http.headers.update(self.headers)
            mine, errors = [], 0
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    ok = http.get(self.url, timeout=30).status_code == 200
                except requests.RequestException:
                    ok = False
                mine.append(time.perf_counter() - started)
                errors += not ok
            with lock:
                self.latencies.extend(mine)
                self.errors += errors

        started = time.monotonic()
        workers = [threading.Thread(target=client) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.elapsed = time.monotonic() - started
        return self

    @property
    def rate(self) -> float:
        return (len(self.latencies) - self.errors) / self.elapsed

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

    def __str__(self) -> str:
        return (f"{self.rate:7.1f} req/s  p50 {self.quantile(0.5):6.1f} ms  "
                f"p99 {self.quantile(0.99):6.1f} ms  errors {self.errors}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.records")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="small and brief; judges nothing (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rows, args.seconds, args.rounds = 2_000, 1.0, 1

    work = Path(tempfile.mkdtemp(prefix="ledgerdoc-bench-records-"))
    # The full run keeps its seeded database between runs; a smoke run makes and drops its own.
    stack = Stack(work, database="" if args.smoke else "ledgerdoc_bench")
    runs: dict[str, list[Run]] = {}
    try:
        print(f"preparing the production setup and {args.rows} partners in {work}…", flush=True)
        stack.start()
        stack.manage("shell", "-c", f"from benchmarks.records.seed import seed; seed({args.rows})")
        counts = stack.manage("shell", "-c", f"SELECT = {SELECT!r}\n" + QUERY_COUNTS).strip().splitlines()[-1]
        key = stack.manage("shell", "-c", "from django.conf import settings; "
                           "print(settings.SIMPLE_JWT['VERIFYING_KEY'], end='')")
        servers = {
            "ledgerdoc": stack.serve(),
            "single SQL": stack.serve("benchmarks.records.single_sql:application",
                                      {"BENCH_JWT_PUBLIC_KEY": key}),
            "plain DRF": stack.serve(env={"DJANGO_SETTINGS_MODULE": "benchmarks.records.settings"}),
        }
        base = servers["ledgerdoc"]
        token = requests.post(f"{base}/api/v1/auth/tokens", timeout=30, json={
            "userName": "GardenAdmin", "password": "GardenAdmin", "parameters": {},
        }).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        basic = {"Authorization": "Basic " + base64.b64encode(b"GardenAdmin:GardenAdmin").decode()}

        def urls(scenario: str) -> dict[str, str]:
            ours, sql, drf = SCENARIOS[scenario]
            return {
                "ledgerdoc": base + ours_path(ours),
                "single SQL": f"{servers['single SQL']}/bpartners?{sql}&top=20&skip=0",
                "plain DRF": f"{servers['plain DRF']}/baseline/bpartners?{drf}&limit=20&offset=0",
            }

        # The limit must answer exactly what the records API answers.
        for scenario in SCENARIOS:
            bodies = {name: requests.get(url, headers=bearer, timeout=30)
                      for name, url in urls(scenario).items()}
            for name, answer in bodies.items():
                if answer.status_code != 200:
                    raise RuntimeError(f"{name} ({scenario}): {answer.status_code} {answer.text[:300]}")
            ours, limit = bodies["ledgerdoc"].json(), bodies["single SQL"].json()
            if ours != limit:
                raise RuntimeError(
                    f"the single-SQL body differs from the records API's ({scenario}):\n"
                    f"{json.dumps(ours['records'][:1])}\n{json.dumps(limit['records'][:1])}"
                )

        # A deep page two ways: $skip, and the $skiptoken a client walking there was given.
        deep = max(0, min(40_000, args.rows // 2 - 40))
        walk, token = requests.Session(), None
        walk.headers.update(bearer)
        for _ in range(deep // 100):
            answer = walk.get(base + ours_path("IsCustomer eq true", top=100)
                              + (f"&$skiptoken={token}" if token else ""), timeout=30)
            token = answer.headers["Link"].split("$skiptoken=")[1].split(">")[0]
        extra = {
            "count=none": (base + ours_path(SCENARIOS["selective"][0]), {"Prefer": "count=none"}),
            "count=planned": (base + ours_path(SCENARIOS["selective"][0]), {"Prefer": "count=planned"}),
            "IsCustomer page 1": (base + ours_path("IsCustomer eq true"), {}),
            f"deep $skip={deep}": (base + ours_path("IsCustomer eq true", skip=deep), {}),
            f"deep $skiptoken at {deep}": (
                base + ours_path("IsCustomer eq true") + (f"&$skiptoken={token}" if token else ""), {}),
            "HTTP Basic": (base + ours_path(SCENARIOS["selective"][0]), basic),
        }
        warm = [*((u, {}) for s in SCENARIOS for u in urls(s).values()), *extra.values()]
        for url, headers in warm:  # every worker: connections, caches, a remembered Basic check
            for _ in range(8):
                requests.get(url, headers={**bearer, **headers}, timeout=30)
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}/{args.rounds}", flush=True)
            for scenario in SCENARIOS:
                for name, url in urls(scenario).items():
                    run = Run(url, bearer, args.threads, args.seconds).go()
                    runs.setdefault(f"{scenario}: {name}", []).append(run)
                    print(f"  {scenario:9} {name:11} {run}", flush=True)
            for name, (url, headers) in extra.items():
                run = Run(url, {**bearer, **headers}, args.threads, args.seconds).go()
                runs.setdefault(name, []).append(run)
                print(f"  {name:21} {run}", flush=True)
    finally:
        stack.stop()

    def median(name: str) -> float:
        return statistics.median(run.rate for run in runs[name])

    print()
    print(f"Records list, production setup, {args.rows} partners, {args.threads} clients, "
          f"median of {args.rounds} (req/s):")
    verdicts = []
    for scenario, target in (("selective", 0.5), ("broad", None)):
        ours, sql, drf = (median(f"{scenario}: {n}") for n in ("ledgerdoc", "single SQL", "plain DRF"))
        ratio = ours / sql
        line = (f"  {scenario:9}: ledgerdoc {ours:7.1f}, single SQL {sql:7.1f}, plain DRF {drf:7.1f}; "
                f"ledgerdoc/single SQL {ratio:.2f}, ledgerdoc/DRF {ours / drf:.2f}")
        if target is not None:
            verdicts.append(ratio >= target)
            line += f"   target >= {target}: " + (
                "smoke run" if args.smoke else "MET" if ratio >= target else "NOT MET")
        print(line)
    selective = median("selective: ledgerdoc")
    for name in extra:
        print(f"  {name:21}: {median(name):7.1f} req/s ({median(name) / selective:.2f}x the "
              "selective list with the exact count)")
    print(f"SQL queries per request, $top=1/20/100: {counts} (constant: "
          f"{len(set(json.loads(counts))) == 1})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
