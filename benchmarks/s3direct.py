"""Web nodes' CPU seconds per GiB ingested (issue 25, item 3): straight to S3 against through the nodes.

    python -m benchmarks.s3direct [--size 1G] [--part-size 8M] [--parallel 4] [--rounds 3] [--smoke]

The production setup (benchmarks/stack.py: one gunicorn node with the Dockerfile's command line,
PostgreSQL, Redis, one Celery worker) with ``STORAGE_BACKEND=s3`` on a ``moto_server`` started here
(as ``.ci/run`` starts it). Each round uploads ``--size`` fresh bytes twice, in turn:

- through the node: an iDempiere upload, ``--part-size`` chunks PUT to the node (``--parallel`` in
  flight), which hashes each and sends it on to S3 as a multipart part;
- straight to S3: the Companion S3 multipart protocol Uppy's ``@uppy/aws-s3`` speaks
  (``/api/v1/s3/multipart``): the node creates the upload and signs each part, the client PUTs the
  part to S3 itself, then asks the node to complete.

The node's CPU (utime + stime of the gunicorn master and its workers, from ``/proc/<pid>/stat``) is
read before the upload's first call and after the answer that ends its ingest (the last chunk's, or
complete's); the worker's (the Celery processes') before the first call and once the upload is
COMPLETED. Printed: CPU seconds per GiB for each path and their ratio.

moto is far slower than the node on this machine (it keeps every part in Python memory), so the
seconds taken measure moto, not Ledgerdoc: this is not a throughput figure. The point is where the
bytes go: straight to S3 the node carries none of them, so its CPU per GiB is the few API calls'
(a signature per part), and a deployment's upload capacity is S3's, not the nodes'. Straight to S3,
the worker reads the object back once to hash it (the declared SHA-256 is checked, not trusted).
A node thread's first S3 call builds its S3 client, so a round may carry some of that: the
median of ``--rounds`` is the figure. ``--smoke`` (CI) runs a 24 MiB upload once each way and
judges nothing (at that size the calls, not the bytes, decide the CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.stack import PYTHON, Stack, cpu_seconds, descendants, free_port
from benchmarks.uploads.__main__ import parse_size, wait_completed

MiB = 1024 * 1024
GiB = 1024 * MiB
BUCKET = "ledgerdoc-bench"


class Payload:
    """``size`` random bytes in memory, made fresh per upload by a new first block (so that no
    upload is deduplicated against an earlier one); part hashes and the whole SHA-256."""

    def __init__(self, size: int, part: int) -> None:
        self.size, self.part = size, part
        self.base = memoryview(os.urandom(size))
        self.count = max(1, -(-size // part))
        self.new()

    def new(self) -> None:
        self.first = os.urandom(min(64, self.size)) + bytes(self.base[64:self.part])
        self.hashes = [hashlib.sha256(self.piece(n)).hexdigest() for n in range(self.count)]
        digest = hashlib.sha256()
        for n in range(self.count):
            digest.update(self.piece(n))
        self.sha256 = digest.hexdigest()

    def piece(self, index: int) -> bytes | memoryview:
        if index == 0:
            return self.first
        return self.base[index * self.part:min(self.size, (index + 1) * self.part)]


def in_parallel(count: int, parallel: int, work) -> list:
    """``work(index)`` for every index, ``parallel`` at once, one HTTP session per thread."""
    local = threading.local()

    def run(index: int):
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        return work(http, index)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(run, range(count)))


def expect(answer: requests.Response, status: int = 200) -> requests.Response:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text[:300]}")
    return answer


def through_node(base: str, auth: dict, data: Payload, parallel: int) -> str:
    """An iDempiere upload, its chunks PUT to the node; answers the upload id."""
    upload_id = expect(requests.post(f"{base}/api/v1/uploads", headers=auth, timeout=60, json={
        "fileName": "bench.bin", "fileSize": data.size, "chunkSize": data.part,
        "contentType": "application/octet-stream", "sha256": data.sha256,
    }), 201).json()["uploadId"]

    def put(http: requests.Session, index: int) -> None:
        expect(http.put(
            f"{base}/api/v1/uploads/{upload_id}/chunks/{index + 1}", data=data.piece(index),
            timeout=600, headers={**auth, "X-Total-Chunks": str(data.count),
                                  "X-Content-SHA256": data.hashes[index],
                                  "Content-Type": "application/octet-stream"},
        ))

    in_parallel(data.count, parallel, put)
    return upload_id


def straight_to_s3(base: str, auth: dict, data: Payload, parallel: int) -> str:
    """The Companion S3 multipart calls to the node, the parts PUT to S3; answers the upload id."""
    created = expect(requests.post(f"{base}/api/v1/s3/multipart", headers=auth, timeout=60, json={
        "filename": "bench.bin", "type": "application/octet-stream",
        "metadata": {"size": data.size, "sha256": data.sha256, "name": "bench.bin"},
    })).json()
    upload_id, key = created["uploadId"], created["key"]

    def put(http: requests.Session, index: int) -> dict:
        url = expect(http.get(f"{base}/api/v1/s3/multipart/{upload_id}/{index + 1}",
                              params={"key": key}, headers=auth, timeout=60)).json()["url"]
        answer = expect(http.put(url, data=data.piece(index), timeout=600,
                                 headers={"Content-Type": "application/octet-stream"}))
        return {"PartNumber": index + 1, "ETag": answer.headers["ETag"]}

    parts = in_parallel(data.count, parallel, put)
    expect(requests.post(f"{base}/api/v1/s3/multipart/{upload_id}/complete", params={"key": key},
                         headers=auth, timeout=600, json={"parts": parts}))
    return upload_id


def start_moto(work: Path) -> tuple[subprocess.Popen, str]:
    moto = Path(PYTHON).with_name("moto_server")
    port = free_port()
    log = open(work / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=2)
            return process, url
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited: see {work}/moto.log")
        time.sleep(0.2)
    raise RuntimeError("moto_server did not answer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.s3direct")
    parser.add_argument("--size", type=parse_size, default=GiB)
    parser.add_argument("--part-size", type=parse_size, default=8 * MiB)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="24 MiB once each way (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.rounds = 24 * MiB, 1
    if args.part_size < 5 * MiB:
        parser.error("--part-size: S3 parts are at least 5 MiB")

    import boto3

    work = Path(tempfile.mkdtemp(prefix="ledgerdoc-bench-s3direct-"))
    moto, endpoint = start_moto(work)
    keys = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_S3_REGION_NAME": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench",
                      aws_secret_access_key="bench", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    stack = Stack(work, extra_env={
        **keys, "STORAGE_BACKEND": "s3", "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_STORAGE_BUCKET_NAME": BUCKET, "S3_DIRECT_UPLOADS": "true",
        # moto accepts wrong checksums, and boto3's default request checksums slow every put.
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        "UPLOAD_MAX_CHUNK_SIZE": str(max(args.part_size, 64 * MiB)),
        "UPLOAD_MAX_FILE_SIZE": str(max(args.size, 10 * GiB)),
    })
    paths = {"through the node (iDempiere chunks -> node -> S3)": through_node,
             "straight to S3 (Companion multipart, parts client -> S3)": straight_to_s3}
    node_cpu: dict[str, list[float]] = {name: [] for name in paths}
    worker_cpu: dict[str, list[float]] = {name: [] for name in paths}
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    try:
        print(f"preparing the production setup on S3 (moto at {endpoint}) in {work}…", flush=True)
        stack.start(demo=True)
        base = stack.serve()
        token = expect(requests.post(f"{base}/api/v1/auth/tokens", timeout=60, json={
            "userName": "GardenUser", "password": "GardenUser", "parameters": {}})).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        master, celery = stack.masters[base].pid, stack.processes[0].pid
        data = Payload(args.size, args.part_size)
        # Warm the node's workers and the worker (imports, connections, S3 clients) both ways.
        warm = Payload(6 * MiB, 5 * MiB)
        for path in paths.values():
            for _ in range(2):
                warm.new()
                wait_completed(base, auth, path(base, auth, warm, 2))
        for round_no in range(args.rounds):
            for name, path in paths.items():
                data.new()
                node_pids, worker_pids = descendants(master), descendants(celery)
                node_before, worker_before = cpu_seconds(node_pids), cpu_seconds(worker_pids)
                started = time.perf_counter()
                upload_id = path(base, auth, data, args.parallel)
                node_after = cpu_seconds(node_pids)
                seconds[name].append(time.perf_counter() - started)
                status = wait_completed(base, auth, upload_id)
                worker_after = cpu_seconds(worker_pids)
                if status.get("status") != "COMPLETED" or status.get("sha256") != data.sha256:
                    raise RuntimeError(f"{name}: the upload did not complete with its SHA-256: {status}")
                node_cpu[name].append((node_after - node_before) / (args.size / GiB))
                worker_cpu[name].append((worker_after - worker_before) / (args.size / GiB))
                print(f"  round {round_no + 1}, {name}: {seconds[name][-1]:.1f} s, node "
                      f"{node_cpu[name][-1]:.2f} CPU-s/GiB, worker {worker_cpu[name][-1]:.2f}",
                      flush=True)
                # moto keeps objects in memory: drop this round's.
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                    objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                    if objects:
                        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objects})
    finally:
        stack.stop()
        moto.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            moto.wait(timeout=10)
        if moto.poll() is None:
            moto.kill()
        shutil.rmtree(work, ignore_errors=True)

    through, direct = paths
    median = {name: statistics.median(values) for name, values in node_cpu.items()}
    print()
    print(f"Web node CPU per GiB ingested, production setup on S3 (moto), {args.size / MiB:.0f} MiB in "
          f"{args.part_size / MiB:g} MiB parts, {args.parallel} in flight, {args.rounds} round(s); "
          "CPU-s/GiB, median [each round]")
    for name in paths:
        print(f"  {name:58} node {median[name]:6.2f} [{' '.join(f'{v:.2f}' for v in node_cpu[name])}]"
              f"   worker {statistics.median(worker_cpu[name]):6.2f}"
              f"   wall {statistics.median(seconds[name]):.1f} s")
    ratio = median[through] / median[direct] if median[direct] > 0 else float("inf")
    print(f"  ratio through the node / straight to S3: {ratio:.1f}x the node's CPU per GiB")
    print("  moto is slower than the node here: the seconds measure moto, not a throughput figure.")
    if args.smoke:
        print("  smoke run: nothing judged (at 24 MiB a few API calls and the node threads' first S3 "
              "clients decide the figures, not the bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
