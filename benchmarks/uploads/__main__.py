"""Upload benchmark (DESIGN §10): ingest, finalize and memory of the iDempiere upload path.

    python -m benchmarks.uploads [--size 1G] [--chunk-size 8M] [--parallel 4] [--keep]

Starts, under the same gunicorn configuration (1 worker, 8 threads), Ledgerdoc with embedded
settings in a temp VAR_DIR (SQLite, local storage, finalize not run inline), a minimal WSGI sink doing
the same per-byte work (SHA-256, write at offset, fsync) and a discard sink. Uploads ``--size`` bytes
in chunks, sequentially and with ``--parallel`` chunks in flight, to each; then times finalize of the
sequential upload against ``sha256sum`` of the same file and reads the web worker's peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MiB = 1024 * 1024


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = {"K": 1024, "M": MiB, "G": 1024 * MiB}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def gunicorn(app: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    command = [
        str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "--threads", "8", "--timeout", "600", "--log-level", "warning",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def worker_pid(master: subprocess.Popen) -> int:
    for _ in range(100):
        try:
            children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker")


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Data:
    """The benchmark file, read chunk by chunk with pread; chunk hashes computed up front."""

    def __init__(self, path: Path, size: int, chunk: int):
        self.path, self.size, self.chunk = path, size, chunk
        with path.open("wb") as handle:
            left = size
            while left:
                block = os.urandom(min(8 * MiB, left))
                handle.write(block)
                left -= len(block)
        self.count = max(1, -(-size // chunk))
        self.fd = os.open(path, os.O_RDONLY)
        self.hashes = [hashlib.sha256(self.piece(n)).hexdigest() for n in range(self.count)]
        self.sha256 = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(8 * MiB), b""):
                self.sha256.update(block)

    def piece(self, index: int) -> bytes:
        return os.pread(self.fd, min(self.chunk, self.size - index * self.chunk), index * self.chunk)


def run_puts(url_of, headers_of, data: Data, parallel: int) -> float:
    """PUT every chunk (``parallel`` in flight); answers the seconds taken."""
    local = threading.local()

    def put(index: int) -> None:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        body = data.piece(index)
        answer = http.put(url_of(index), data=body, headers=headers_of(index), timeout=600)
        if answer.status_code != 200:
            raise RuntimeError(f"chunk {index}: {answer.status_code} {answer.text[:200]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(put, range(data.count)))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.uploads")
    parser.add_argument("--size", type=parse_size, default=1024 * MiB)
    parser.add_argument("--chunk-size", type=parse_size, default=8 * MiB)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--read-buffer", type=parse_size, default=256 * 1024,
                        help="piece size both servers read bodies in")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="ledgerdoc-bench-uploads-"))
    (tmp / "sink").mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp / "media"),
        "STORAGE_BACKEND": "local",
        "CELERY_BROKER_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",  # finalize is timed on its own below
        "UPLOAD_MAX_CHUNK_SIZE": str(max(args.chunk_size, 64 * MiB)),
        "UPLOAD_MAX_FILE_SIZE": str(max(args.size, 10 * 1024 * MiB)),
        "LOG_LEVEL": "ERROR",
        "SINK_DIR": str(tmp / "sink"),
        # Both the engine and the sink read request bodies in pieces of this size.
        "UPLOAD_READ_BUFFER": str(args.read_buffer),
    }
    env.pop("AWS_S3_ENDPOINT_URL", None)
    python = str(BIN / "python")
    log = tmp / "servers.log"
    servers: list[subprocess.Popen] = []
    try:
        print(f"preparing {tmp} (migrate, demo data, {args.size / MiB:.0f} MiB of data)…", flush=True)
        for command in (["migrate", "--noinput", "-v0"], ["load_demo"]):
            subprocess.run(
                [python, "manage.py", *command], cwd=ROOT, env=env, check=True,
                stdout=subprocess.DEVNULL,
            )
        data = Data(tmp / "data.bin", args.size, args.chunk_size)

        ports = {name: free_port() for name in ("ledgerdoc", "sink", "discard")}
        apps = {
            "ledgerdoc": "config.wsgi:application",
            "sink": "benchmarks.uploads.sink:application",
            "discard": "benchmarks.uploads.sink:discard",
        }
        masters = {name: gunicorn(apps[name], ports[name], env, log) for name in apps}
        servers.extend(masters.values())
        for port in ports.values():
            wait_up(f"http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{ports['ledgerdoc']}"
        token = requests.post(
            f"{base}/api/v1/auth/tokens", timeout=60,
            json={"userName": "GardenUser", "password": "GardenUser", "parameters": {}},
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        pid = worker_pid(masters["ledgerdoc"])

        def open_upload() -> str:
            answer = requests.post(f"{base}/api/v1/uploads", headers=auth, timeout=60, json={
                "fileName": "bench.bin", "fileSize": data.size, "chunkSize": data.chunk,
                "sha256": data.sha256.hexdigest(), "contentType": "application/octet-stream",
            })
            answer.raise_for_status()
            return answer.json()["uploadId"]

        # Warm up the worker (imports, DB connection, one small upload), then read idle RSS.
        warm = requests.post(f"{base}/api/v1/uploads", headers=auth, timeout=60, json={
            "fileName": "warm.bin", "fileSize": 2 * MiB, "chunkSize": MiB,
        }).json()["uploadId"]
        for order in (1, 2):
            requests.put(f"{base}/api/v1/uploads/{warm}/chunks/{order}", headers=auth,
                         data=os.urandom(MiB), timeout=60).raise_for_status()
        requests.get(f"{base}/api/v1/uploads", headers=auth, timeout=60)
        time.sleep(0.5)
        idle_kib = proc_kib(pid, "VmRSS")

        results: dict[str, dict[int, float]] = {"ledgerdoc": {}, "sink": {}, "discard": {}}
        sessions: dict[int, str] = {}
        for parallel in (1, args.parallel):
            upload_id = open_upload()
            sessions[parallel] = upload_id
            total = str(data.count)
            results["ledgerdoc"][parallel] = run_puts(
                lambda i, u=upload_id: f"{base}/api/v1/uploads/{u}/chunks/{i + 1}",
                lambda i, total=total: {**auth, "X-Total-Chunks": total, "X-Content-SHA256": data.hashes[i],
                           "Content-Type": "application/octet-stream"},
                data, parallel,
            )
            for name in ("sink", "discard"):
                url = f"http://127.0.0.1:{ports[name]}/sink/run{parallel}"
                results[name][parallel] = run_puts(
                    lambda i, url=url: f"{url}/{i}?chunk={data.chunk}",
                    lambda i: {"X-Content-SHA256": data.hashes[i],
                               "Content-Type": "application/octet-stream"},
                    data, parallel,
                )
                shutil.rmtree(tmp / "sink", ignore_errors=True)
                (tmp / "sink").mkdir()
        peak_kib = proc_kib(pid, "VmHWM")

        # Finalize of the sequential upload vs sha256sum of the same (in-place) file.
        upload_id = sessions[1]
        assembled = tmp / "media" / "uploads" / upload_id / "data"
        sums = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(["sha256sum", str(assembled)], check=True, stdout=subprocess.DEVNULL)
            sums.append(time.perf_counter() - start)
        code = (
            "import json, time\n"
            "from apps.uploads import finalize\n"
            "from apps.uploads.models import UploadSession\n"
            f"s = UploadSession.objects.get(uid='{upload_id}')\n"
            "t = time.perf_counter(); finalize.session_finalize(session_id=s.pk)\n"
            "dt = time.perf_counter() - t; s.refresh_from_db()\n"
            "print(json.dumps({'seconds': dt, 'state': s.state,"
            " 'sha': s.stored_file.sha256 if s.stored_file else None}))\n"
        )
        out = subprocess.run(
            [python, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True,
            capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        finalize = json.loads(out)
        if finalize["state"] != "COMPLETED" or finalize["sha"] != data.sha256.hexdigest():
            raise RuntimeError(f"finalize did not complete correctly: {finalize}")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    size_gb = args.size / 1e9
    rate = {n: {p: size_gb / s for p, s in r.items()} for n, r in results.items()}
    print()
    print(f"Ingest: {args.size / MiB:.0f} MiB in {args.chunk_size / MiB:g} MiB chunks "
          f"(gunicorn 1 worker × 8 threads; GB/s)")
    print(f"  {'':34}{'sequential':>12}{f'{args.parallel} in flight':>14}")
    labels = {"ledgerdoc": "ledgerdoc iDempiere PUT",
              "sink": "WSGI sink (sha256+write+fsync)", "discard": "discard sink (loopback limit)"}
    for name, label in labels.items():
        print(f"  {label:34}{rate[name][1]:12.3f}{rate[name][args.parallel]:14.3f}")
    ratios = {p: rate["ledgerdoc"][p] / rate["sink"][p] for p in (1, args.parallel)}
    ok_ingest = all(r >= 0.8 for r in ratios.values())
    print(f"  {'ratio ledgerdoc / WSGI sink':34}{ratios[1]:12.2f}{ratios[args.parallel]:14.2f}"
          f"   target ≥ 0.80: {'MET' if ok_ingest else 'NOT MET'}")
    sha_s = statistics.median(sums)
    ratio_f = finalize["seconds"] / sha_s
    print(f"Finalize ({args.size / MiB:.0f} MiB, local): {finalize['seconds']:.3f} s; "
          f"sha256sum {sha_s:.3f} s; ratio {ratio_f:.2f}   target ≤ 1.30: "
          f"{'MET' if ratio_f <= 1.3 else 'NOT MET'}")
    delta = (peak_kib - idle_kib) * 1024
    limit = 3 * args.chunk_size
    print(f"Memory (web worker): idle RSS {idle_kib / 1024:.1f} MiB, peak (VmHWM) "
          f"{peak_kib / 1024:.1f} MiB, +{delta / MiB:.1f} MiB; limit +{limit / MiB:.0f} MiB "
          f"(3 chunks): {'MET' if delta <= limit else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
