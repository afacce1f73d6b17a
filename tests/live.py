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
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

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

    # --- tear-down ----------------------------------------------------------------------------

    @staticmethod
    def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Kill a process and its children (its own process group), as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)

    def stop(self) -> None:
        for process in self.web + self.celery:
            if process.poll() is None:
                self.kill(process, signal.SIGTERM)
                if process.poll() is None:
                    self.kill(process)
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
