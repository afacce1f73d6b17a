"""Upload a file through the iDempiere uploads API: parallel chunks, resumable, verified.

    python -m tools.upload FILE --server http://127.0.0.1:8000 --user GardenUser [--password PW]
        [--chunk-size 8M] [--parallel 4] [--location ATTACHMENT]

It logs in, opens (or resumes) an upload session, PUTs the missing chunks with ``X-Content-SHA256``
in parallel, waits until the server has finalized the file and checks the server's SHA-256 against
the local one. The upload id is remembered in ``~/.cache/ledgerdoc-upload/`` so an interrupted run
started again continues where it stopped (the server says which chunks it has).
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import requests
from tqdm import tqdm

STATE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ledgerdoc-upload"
RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


class UploadError(Exception):
    pass


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def file_sha256(path: Path, progress: bool = True) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as handle, tqdm(
        total=size, unit="B", unit_scale=True, desc="hashing", disable=not progress, leave=False
    ) as bar:
        for block in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def state_path(path: Path, server: str, user: str) -> Path:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{server}|{user}"
    return STATE_DIR / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


class Client:
    def __init__(self, server: str, user: str, password: str, timeout: float = 300):
        self.server = server.rstrip("/")
        self.user = user
        self.timeout = timeout
        self.local = threading.local()
        response = requests.post(
            f"{self.server}/api/v1/auth/tokens",
            json={"userName": user, "password": password, "parameters": {}},
            timeout=60,
        )
        if response.status_code != 200:
            raise UploadError(f"login failed: {response.status_code} {response.text[:200]}")
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    @property
    def http(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.headers.update(self.headers)
        return session

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, f"{self.server}{path}", timeout=self.timeout, **kwargs)


def upload(
    path: Path, client: Client, *, chunk_size: int, parallel: int, location: str = "",
    progress: bool = True, wait_seconds: float = 3600,
) -> dict:
    size = path.stat().st_size
    digest = file_sha256(path, progress)
    state_file = state_path(path, client.server, client.user)
    upload_id, done = None, {}
    if state_file.exists():
        saved = json.loads(state_file.read_text())
        answer = client.call("GET", f"/api/v1/uploads/{saved['uploadId']}")
        if answer.status_code == 200 and saved.get("sha256") == digest:
            status = answer.json()
            if status["status"] in ("INITIATED", "UPLOADING", "PROCESSING", "COMPLETED"):
                upload_id, chunk_size = saved["uploadId"], status["chunkSize"]
                done = {c["chunkOrder"]: c["receivedSize"] for c in status["uploadedChunks"]}
                if status["status"] in ("PROCESSING", "COMPLETED"):
                    done = {n: 0 for n in range(1, max(1, math.ceil(size / chunk_size)) + 1)}
    if upload_id is None:
        answer = client.call("POST", "/api/v1/uploads", json={
            "fileName": path.name, "fileSize": size, "chunkSize": chunk_size, "sha256": digest,
            "contentType": "application/octet-stream", **({"uploadLocation": location} if location else {}),
        })
        if answer.status_code != 201:
            raise UploadError(f"could not open an upload: {answer.status_code} {answer.text[:300]}")
        upload_id, chunk_size = answer.json()["uploadId"], answer.json()["chunkSize"]
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps({"uploadId": upload_id, "sha256": digest}))
    total = max(1, math.ceil(size / chunk_size))

    def expected(order: int) -> int:
        return min(chunk_size, size - (order - 1) * chunk_size)

    todo = [n for n in range(1, total + 1) if n not in done or (done[n] and done[n] != expected(n))]
    bar = tqdm(total=size, initial=size - sum(expected(n) for n in todo), unit="B",
               unit_scale=True, desc=path.name, disable=not progress)
    fd = os.open(path, os.O_RDONLY)

    def send(order: int) -> None:
        piece = os.pread(fd, expected(order), (order - 1) * chunk_size)
        headers = {
            "X-Total-Chunks": str(total),
            "X-Content-SHA256": hashlib.sha256(piece).hexdigest(),
            "Content-Type": "application/octet-stream",
        }
        for attempt in range(6):
            try:
                answer = client.call(
                    "PUT", f"/api/v1/uploads/{upload_id}/chunks/{order}", data=piece, headers=headers
                )
            except requests.RequestException:
                if attempt == 5:
                    raise
                time.sleep(2**attempt * 0.5)
                continue
            if answer.status_code == 200:
                bar.update(len(piece))
                return
            if answer.status_code not in RETRYABLE or attempt == 5:
                raise UploadError(f"chunk {order}: {answer.status_code} {answer.text[:300]}")
            time.sleep(float(answer.headers.get("Retry-After", 2**attempt * 0.5)))

    try:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for future in as_completed([pool.submit(send, n) for n in todo]):
                future.result()
    finally:
        os.close(fd)
        bar.close()

    deadline = time.monotonic() + wait_seconds
    while True:
        status = client.call("GET", f"/api/v1/uploads/{upload_id}").json()
        if status.get("status") in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if status.get("status") != "COMPLETED":
        raise UploadError(f"upload {upload_id} ended {status.get('status')}: {status.get('message')}")
    if status.get("sha256") != digest:
        raise UploadError(f"server SHA-256 {status.get('sha256')} differs from local {digest}")
    state_file.unlink(missing_ok=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.upload", description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--server", default=os.environ.get("LEDGERDOC_SERVER", "http://127.0.0.1:8000"))
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", default=os.environ.get("LEDGERDOC_PASSWORD"))
    parser.add_argument("--chunk-size", type=parse_size, default=8 * 1024 * 1024)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--location", default="", choices=["", "ARCHIVE", "ATTACHMENT", "IMAGE"])
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"{args.file} is not a file")
    password = args.password if args.password is not None else getpass.getpass("Password: ")
    try:
        client = Client(args.server, args.user, password)
        status = upload(args.file, client, chunk_size=args.chunk_size, parallel=args.parallel,
                        location=args.location, progress=not args.quiet)
    except (UploadError, requests.RequestException) as error:
        print(f"upload failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"uploadId": status["uploadId"], "sha256": status["sha256"],
                      "fileSize": status["fileSize"], "status": status["status"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
