"""The production server (gunicorn with config/gunicorn.conf.py, as the Dockerfile starts it):
what gunicorn itself refuses is answered as problem+json too, never as its HTML page; it writes
nothing under its user's home (the image's is read-only) and logs no error as it starts; idle
keep-alive connections outlast a load balancer's idle timeout."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import _free_port, _wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A gunicorn of the Dockerfile's kind (gthread workers) whose HOME does not exist: any file it
    wrote there (the control socket's ~/.gunicorn/) would create it. No XDG_RUNTIME_DIR either, as
    in the image. Yields its port, its home and its log (stderr), read once it answers."""
    port = _free_port()
    var = tmp_path_factory.mktemp("gunicorn-var")
    home = var / "home"
    log_path = var / "gunicorn.log"
    env = {**os.environ, "VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}", "HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    env.pop("GUNICORN_KEEPALIVE", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi:application",
             "--config", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/models/c_bpartner", timeout=30)  # 401, no query
        time.sleep(0.5)  # the master's background threads (a control server) log as they start
        yield port, home, log_path.read_text(errors="replace")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def server(started):
    return started[0]


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


def test_it_starts_without_an_error_and_writes_nothing_under_home(started):
    _port, home, log = started
    assert "Booting worker" in log  # the log is the server's
    assert "[ERROR]" not in log and "[WARNING]" not in log and "Traceback" not in log, log
    assert not home.exists(), sorted(str(p) for p in home.rglob("*"))


def _config(**env: str) -> dict:
    """config/gunicorn.conf.py's settings as gunicorn reads them (in a process of their own: the
    file patches gunicorn's error writer)."""
    code = (
        "import json; from gunicorn.app.base import Application; from gunicorn.config import Config; "
        "cfg = Config(); "
        "[cfg.set(k, v) for k, v in Application.get_config_from_filename(None, "
        "'config/gunicorn.conf.py').items() if k in cfg.settings]; "
        "print(json.dumps({'keepalive': cfg.keepalive, 'control_socket_disable': cfg.control_socket_disable}))"
    )
    clean = {k: v for k, v in os.environ.items() if k != "GUNICORN_KEEPALIVE"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_the_keepalive_outlasts_a_balancers_idle_timeout_and_can_be_set():
    # AWS ALB and nginx's upstream keepalive_timeout close idle connections after 60 s by default.
    assert _config() == {"keepalive": 75, "control_socket_disable": True}
    assert _config(GUNICORN_KEEPALIVE="350")["keepalive"] == 350


def test_an_idle_connection_is_kept_past_gunicorns_own_default(server):
    """A connection reused after 3 s idle (gunicorn's default keepalive is 2 s) is still answered."""
    request = b"GET /api/v1/models/c_bpartner HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        for attempt in range(2):
            if attempt:
                time.sleep(3)
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                assert chunk, f"the server closed the connection (request {attempt + 1})"
                head += chunk
            head, _, body = head.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 401")  # Django answered: no credentials
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            while len(body) < length:
                body += sock.recv(65536)
            assert json.loads(body[:length])["status"] == 401
