"""A Ledgerdoc deployment of its own for tests that must see what an outsider sees: gunicorn nodes
started as the Dockerfile starts them (production settings, gthread workers), optional Celery
workers, a database and storage of their own, demo data loaded. Tests talk to it over HTTP and
raw sockets only, and may kill any of its processes.

The database is a fresh PostgreSQL database when the suite runs on PostgreSQL (dropped at the end),
else a SQLite file; the broker is ``CELERY_BROKER_URL`` when workers are asked for (else Celery
runs eagerly in the web processes); storage is a temp directory or a fresh S3 bucket.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from tests import service_logs
from tests.conftest import _free_port as free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _pg_admin_url() -> str | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}"


def _pg(admin_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(statement)


@dataclass
class LiveStack:
    base_dir: Path
    storage: str = "local"
    nodes: int = 1
    workers: int = 0
    broker: bool = False  # finalize through CELERY_BROKER_URL (to workers started here)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Why this deployment's logs may hold tracebacks (its test kills processes on purpose): they
    # are then reported as expected; without it any traceback fails CI (tests/service_logs.py).
    tracebacks_expected: str = ""
    label: str = ""
    # A transaction pooler (PgBouncer, tests/pgbouncer.py) the service processes reach PostgreSQL
    # through: its base URL; default LIVE_DATABASE_POOLER_URL (.ci/run's pooler pass). The
    # database is still created, dropped and inspected (db()) directly, and the upload locks stay
    # direct (LOCK_DATABASE_URL), as production runs them.
    database_pooler_url: str = ""
    urls: list[str] = field(default_factory=list)
    web: list[subprocess.Popen] = field(default_factory=list)
    celery: list[subprocess.Popen] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    bucket: str = ""
    _pg_db: str = ""
    _pg_admin: str | None = None

    # --- set-up -----------------------------------------------------------------------------

    def start(self, s3_endpoint: str | None = None) -> LiveStack:
        run = uuid.uuid4().hex[:10]
        self.label = self.label or os.environ.get("PYTEST_CURRENT_TEST", "").split(" (")[0] or run
        var = self.base_dir / f"live-{run}"
        var.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(var), DEBUG="false",
            MEDIA_ROOT=str(var / "media"), PYTHONUNBUFFERED="1", CONN_MAX_AGE="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        self._pg_admin = _pg_admin_url()
        if self._pg_admin:
            self._pg_db = f"ledgerdoc_live_{run}"
            _pg(self._pg_admin, f'CREATE DATABASE "{self._pg_db}"')
            env["DATABASE_URL"] = f"{self._pg_admin}/{self._pg_db}"
            pooler = self.database_pooler_url or os.environ.get("LIVE_DATABASE_POOLER_URL", "")
            if pooler:
                env.update(DATABASE_URL=f"{pooler.rstrip('/')}/{self._pg_db}",
                           DATABASE_POOLER="transaction",
                           LOCK_DATABASE_URL=f"{self._pg_admin}/{self._pg_db}")
        else:
            env["DATABASE_URL"] = f"sqlite:///{var / 'db.sqlite3'}"
        if self.workers or self.broker:
            env["CELERY_BROKER_URL"] = os.environ["CELERY_BROKER_URL"]
            env["CELERY_TASK_ALWAYS_EAGER"] = "false"
            env["CELERY_TASK_DEFAULT_QUEUE"] = f"ledgerdoc-live-{run}"
        else:
            env.pop("CELERY_BROKER_URL", None)
            env["CELERY_TASK_ALWAYS_EAGER"] = "true"
        env["STORAGE_BACKEND"] = self.storage
        if self.storage == "s3":
            from tests.conftest import make_bucket

            self.bucket = f"live-{run}"
            make_bucket(s3_endpoint, self.bucket)
            env.update(
                AWS_S3_ENDPOINT_URL=s3_endpoint, AWS_STORAGE_BUCKET_NAME=self.bucket,
                AWS_ACCESS_KEY_ID=env.get("AWS_ACCESS_KEY_ID") or "testing",
                AWS_SECRET_ACCESS_KEY=env.get("AWS_SECRET_ACCESS_KEY") or "testing",
                AWS_REQUEST_CHECKSUM_CALCULATION="when_required",
                AWS_RESPONSE_CHECKSUM_VALIDATION="when_required",
            )
        env.update(self.extra_env)
        self.env = env
        for command in (["migrate", "--noinput", "-v0"], ["load_demo"]):
            subprocess.run(
                [PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300,
            )
        for _ in range(self.nodes):
            self.start_node()
        for _ in range(self.workers):
            self.start_worker()
        return self

    def start_node(self) -> str:
        port = free_port()
        log = open(Path(self.env["VAR_DIR"]) / f"gunicorn-{port}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "config.wsgi:application", "--config", "config/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "4", "--timeout", "120"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {log.name}")
            time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn on {url} did not answer")
        self.web.append(process)
        self.urls.append(url)
        return url

    def start_worker(self, name: str = "") -> subprocess.Popen:
        """A Celery worker; ``name`` is also its database application_name (see pg_stat_activity)."""
        name = name or f"worker{len(self.celery)}"
        log = open(Path(self.env["VAR_DIR"]) / f"{name}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q",
             self.env["CELERY_TASK_DEFAULT_QUEUE"], "--concurrency", "1",
             "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
             "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=ROOT, env={**self.env, "DATABASE_APPLICATION_NAME": name},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.celery.append(process)
        return process

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
            capture_output=True, text=True, timeout=300,
        )
        return done.stdout

    def pooler_release(self) -> None:
        """Behind a pooler: make PgBouncer close its server connections to the stack's database
        (admin console ``KILL``, then ``RESUME``), as a stopped node's own would close. A test that
        waits for the database's backends to be gone (their statistics flushed) calls it."""
        pooler = self.env.get("DATABASE_POOLER") == "transaction" and urlsplit(self.env["DATABASE_URL"])
        if not pooler:
            return
        from tests import pgbouncer

        for command in ("KILL", "RESUME"):
            pgbouncer.admin(pooler.port, f"{command} {self._pg_db}", user=pooler.username or "postgres")

    # --- tear-down ----------------------------------------------------------------------------

    @staticmethod
    def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Kill a process and its children (its own process group), as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)

    def scrub(self) -> str:
        """``manage.py scrub_files`` on this deployment: every stored file re-hashed. Its report is
        appended to ``LEDGERDOC_SCRUB_LOG`` when set (``.ci/run`` fails on any mismatch there);
        AssertionError when a stored file's bytes no longer match its SHA-256."""
        done = subprocess.run(
            [PYTHON, "manage.py", "scrub_files"], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=600,
        )
        report = done.stdout + done.stderr
        log = os.environ.get("LEDGERDOC_SCRUB_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"== {self.env.get('VAR_DIR')} (exit {done.returncode})\n{report}")
        if done.returncode != 0:
            raise AssertionError(f"scrub_files found stored files that changed:\n{report}")
        return report

    def stop(self) -> None:
        """Stop every process, then (once nothing writes any more) scrub the stored files and
        drop the deployment's database."""
        for process in self.web + self.celery:
            if process.poll() is None:
                self.kill(process, signal.SIGTERM)
                if process.poll() is None:
                    self.kill(process)
        try:
            if self.urls:  # it was up: whatever it stored is checked
                self.scrub()
        finally:
            if self.env.get("VAR_DIR"):
                service_logs.report(self.label, Path(self.env["VAR_DIR"]).glob("*.log"),
                                    expected=self.tracebacks_expected)
            if self._pg_db:
                with contextlib.suppress(Exception):
                    _pg(self._pg_admin, f'DROP DATABASE IF EXISTS "{self._pg_db}" WITH (FORCE)')

    # --- the client's side ----------------------------------------------------------------------

    def token(self, user: str, url: str | None = None) -> str:
        answer = requests.post(
            f"{url or self.urls[0]}/api/v1/auth/tokens",
            json={"userName": user, "password": user, "parameters": {}}, timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    def db(self) -> Any:
        """A DB-API connection to the stack's database (for assertions on what was stored)."""
        if self._pg_db:
            import psycopg

            return psycopg.connect(f"{self._pg_admin}/{self._pg_db}", autocommit=True)
        import sqlite3

        return sqlite3.connect(self.env["DATABASE_URL"].removeprefix("sqlite:///"))


# --- Raw HTTP: requests that stall, die or are read as the server sees them ----------------------


def raw_request(url: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> socket.socket:
    """Send a request line, headers and the first ``body`` bytes on a socket of its own; the rest
    of the body (or none of it) is the caller's to send."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}",
            *(f"{name}: {value}" for name, value in headers.items())]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    return sock


def _proc_address(host: str, port: int) -> str:
    """An IPv4 address as /proc/net/tcp prints it (the address in host byte order, in hex)."""
    return f"{int.from_bytes(socket.inet_aton(host), sys.byteorder):08X}:{port:04X}"


def _server_unread(sock: socket.socket) -> int | None:
    """Bytes the server's kernel holds for ``sock``'s connection that the server process has not
    read yet (its receive queue, in /proc/net/tcp); None when the connection is not there."""
    local, remote = _proc_address(*sock.getpeername()[:2]), _proc_address(*sock.getsockname()[:2])
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1] == local and fields[2] == remote and fields[3] in ("01", "08"):
                return int(fields[4].split(":")[1], 16)
    return None


def _unacknowledged(sock: socket.socket) -> int:
    """Bytes sent on ``sock`` that the server's kernel has not acknowledged yet (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(4)))[0]


def wait_server_read(sock: socket.socket, timeout: float = 60.0) -> str:
    """Wait for what the server does with the bytes sent so far on ``sock`` (a loopback IPv4
    connection): "read" once its process has read every one of them (none waits in either
    kernel), "answered" if it answers (or closes) first. A request whose body is being read is
    past its headers and in the hands of the view: this is the observable moment to race it, not
    a sleep. AssertionError if neither happens within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if select.select([sock], [], [], 0)[0]:
            return "answered"
        if _unacknowledged(sock) == 0 and _server_unread(sock) == 0:
            return "read"
        if time.monotonic() > deadline:
            raise AssertionError(f"the server neither read nor answered within {timeout} s")
        time.sleep(0.005)


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_answer(sock: socket.socket, timeout: float = 60.0) -> RawAnswer | None:
    """The server's answer on ``sock`` (a Content-Length body, or none); None when the server
    closed or reset the connection without a whole answer. AssertionError after ``timeout``."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length") or 0)
        while len(body) < length:
            piece = sock.recv(65536)
            if not piece:
                return None
            body += piece
        return RawAnswer(int(lines[0].split(" ", 2)[1]), headers, body[:length])
    except TimeoutError:
        raise AssertionError(f"no answer within {timeout} s") from None
    except OSError:
        return None


def reset(sock: socket.socket) -> None:
    """Close ``sock`` as a killed client or an aborting browser does: a reset, not a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Trickle(threading.Thread):
    """Keeps a request whose body stalls alive: one byte of ``rest`` every ``every`` seconds (well
    under the server's idle timeout) until :meth:`finish`; the last byte is never sent by it.
    ``sent`` says how many went, so the caller sends ``rest[sent:]`` when it resumes."""

    def __init__(self, sock: socket.socket, rest: bytes, every: float) -> None:
        super().__init__(daemon=True)
        self.sock, self.rest, self.every = sock, rest, every
        self.sent = 0
        self._done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.wait(self.every) and self.sent < len(self.rest) - 1:
            try:
                self.sock.sendall(self.rest[self.sent:self.sent + 1])
            except OSError:
                return
            self.sent += 1

    def finish(self) -> int:
        self._done.set()
        self.join()
        return self.sent
