"""tus-js-client 4.x (the client under Uppy), unmodified, against gunicorn as deployed
(tests/live.py), on local storage and S3: plain upload with non-Latin metadata read back by HEAD
and GET, parallelUploads (concatenation), a deferred length, abort mid-PATCH and resume at once
with retries off, and termination. The client is pinned in tests/tus_js/package.json and
installed by `make peer-clients` (npm ci)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.live import LiveStack
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).resolve().parent.parent / "tus_js"
NAME = "Ταμείο 財務 ملف №7.pdf"


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request, tmp_path_factory):
    if shutil.which("node") is None or not (CLIENT / "node_modules" / "tus-js-client").is_dir():
        pytest.fail("tus-js-client is not installed: run `make peer-clients` (needs node and npm)")
    endpoint = request.getfixturevalue("s3_endpoint") if request.param == "s3" else None
    live = LiveStack(tmp_path_factory.mktemp(f"tusjs-{request.param}"), storage=request.param)
    try:
        yield live.start(endpoint)
    finally:
        live.stop()


@pytest.fixture(scope="module")
def token(stack) -> str:
    return stack.token("GardenUser")


def client(scenario: str, stack: LiveStack, token: str, data: bytes, tmp_path: Path, *extra: str) -> str:
    source = tmp_path / "input.bin"
    source.write_bytes(data)
    done = subprocess.run(
        ["node", str(CLIENT / "scenarios.mjs"), scenario, stack.urls[0], token, str(source), *extra],
        capture_output=True, text=True, timeout=300, cwd=CLIENT,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, (done.returncode, done.stdout, done.stderr)
    result = json.loads(lines[-1])
    assert result["ok"], result
    return result["url"]


def tus_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}


def read_back(url: str, token: str) -> bytes:
    got = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert got.status_code == 200, got.text
    assert got.headers["ETag"] == f'"{sha(got.content)}"'
    return got.content


def test_plain_upload_metadata_bytes_and_termination(stack, token, tmp_path):
    data = payload(3 * 1024 * 1024 + 7, seed=31)
    url = client("plain", stack, token, data, tmp_path)
    head = requests.head(url, headers=tus_headers(token), timeout=30)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))
    metadata = dict(pair.split(" ") for pair in head.headers["Upload-Metadata"].split(","))
    assert base64.b64decode(metadata["filename"]).decode() == NAME
    assert read_back(url, token) == data
    client("terminate", stack, token, b"", tmp_path, url)
    assert requests.head(url, headers=tus_headers(token), timeout=30).status_code == 404
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 404


def test_parallel_uploads_are_concatenated(stack, token, tmp_path):
    data = payload(12 * 1024 * 1024 + 3, seed=32)  # three parts of 4 MiB (+ the rest)
    url = client("parallel", stack, token, data, tmp_path)
    head = requests.head(url, headers=tus_headers(token), timeout=30)
    assert head.headers["Upload-Concat"].startswith("final;")
    assert len(head.headers["Upload-Concat"].split(";", 1)[1].split(" ")) == 3
    assert read_back(url, token) == data


def test_deferred_length_from_a_stream(stack, token, tmp_path):
    data = payload(2 * 1024 * 1024 + 11, seed=33)
    url = client("deferred", stack, token, data, tmp_path)
    assert read_back(url, token) == data


def test_abort_mid_patch_and_resume_at_once_without_retries(stack, token, tmp_path):
    data = payload(128 * 1024 * 1024, seed=34)  # long enough to be aborted a third of the way in
    url = client("abort-resume", stack, token, data, tmp_path)
    assert read_back(url, token) == data
