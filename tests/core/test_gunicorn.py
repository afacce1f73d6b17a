"""The production server (gunicorn with config/gunicorn.conf.py, as the Dockerfile starts it):
what gunicorn itself refuses is answered as problem+json too, never as its HTML page."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _free_port, _wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    var = tmp_path_factory.mktemp("gunicorn-var")
    env = {**os.environ, "VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}"}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi:application",
         "--config", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/auth/jwk", timeout=30)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _get(port: int, target: str, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n"
    return _raw(port, request.encode("latin-1"))


@pytest.mark.parametrize("length", [10_000, 9_000])
def test_a_too_long_request_line_is_a_problem(server, length):
    target = "/api/v1/models/c_bpartner?$filter=" + "x" * length
    status, headers, body = _get(server, target)
    assert status == 414
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 414 and problem["title"] == "URI Too Long"
    assert "POST /api/v1/batch" in problem["detail"]
    assert int(headers["content-length"]) == len(body)


def test_a_request_line_of_a_long_filter_still_reaches_the_service(server):
    # 2000 characters of $filter, every one percent-encoded: 6000 bytes, under the limit.
    target = "/api/v1/models/c_bpartner?$filter=" + "%27" * 2000
    status, headers, body = _get(server, target)
    assert status == 401  # Django answered (no credentials), not gunicorn
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 401


def test_too_large_headers_are_a_problem(server):
    status, headers, body = _get(server, "/api/v1/auth/jwk", extra=f"X-Big: {'y' * 9000}\r\n")
    assert status in (400, 431)
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == status


def test_a_malformed_request_line_is_a_problem(server):
    status, headers, body = _raw(server, b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 400
