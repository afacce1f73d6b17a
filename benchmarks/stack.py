"""The production setup, on this machine, for the benchmarks: what the Dockerfile and compose.yaml run.

- PostgreSQL: a fresh database of the run (``BENCH_PG_URL``, default the local server), dropped at
  the end unless ``keep_database``; the records benchmark keeps a named one (its 100k rows).
- Redis: the Celery broker and the shared cache (``BENCH_REDIS_URL``), as compose.yaml sets them.
- One real Celery worker on a queue of the run, of compose.yaml's ``--concurrency`` (read from
  compose.yaml, as the gunicorn command is from the Dockerfile).
- gunicorn started with the Dockerfile's own command line (read from the Dockerfile, so the two
  cannot drift), bound to loopback. Baseline WSGI apps run under the very same command line.

``pooler="pgbouncer"`` puts one PgBouncer in transaction mode (``tests/pgbouncer.py``) between every
service process (the nodes, the worker) and PostgreSQL: ``DATABASE_POOLER=transaction``, the
upload locks on a direct ``LOCK_DATABASE_URL`` (README "Connections and PgBouncer"). Migrations and
the demo data go direct, as a deployment's one-off jobs may. Without the pgbouncer binary the run
goes direct and says so (``pooler`` is then "none").

``embedded=True`` gives the ``make run`` mode instead (SQLite, no broker, Celery eager).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dockerfile_env() -> dict[str, str]:
    """The ENV defaults of the Dockerfile's final stage (the last FROM)."""
    text = (ROOT / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM "):]
    return dict(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=(\S+)", final.split("WORKDIR", 1)[0], re.M))


def dockerfile_gunicorn(app: str, port: int) -> list[str]:
    """The Dockerfile's gunicorn command for ``app`` on 127.0.0.1:``port``."""
    text = (ROOT / "Dockerfile").read_text()
    command = re.search(r'exec (gunicorn [^"]+)"', text)
    if command is None:
        raise RuntimeError("no `exec gunicorn ...` CMD in the Dockerfile")
    defaults = dockerfile_env()
    words = []
    for word in shlex.split(command.group(1)):
        word = word.replace("0.0.0.0:${PORT}", f"127.0.0.1:{port}")
        word = re.sub(
            r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1)) or defaults.get(m.group(1), ""), word
        )
        words.append(word)
    words[0:2] = [PYTHON, "-m", "gunicorn", app]
    return words


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (gunicorn master and workers; Celery and its pool)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes so far, in seconds (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def compose_worker_concurrency() -> int:
    """The ``--concurrency`` of compose.yaml's worker service (what a deployment runs)."""
    text = (ROOT / "compose.yaml").read_text()
    worker = re.search(r"^  worker:\n(?:    .*\n|\s*\n)*?    command: \[(.*)\]", text, re.M)
    found = re.search(r'"--concurrency=(\d+)"', worker.group(1)) if worker else None
    if found is None:
        raise RuntimeError("no worker command with --concurrency=N in compose.yaml")
    return int(found.group(1))


def _pg(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def pg_database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@dataclass
class Stack:
    work_dir: Path
    embedded: bool = False
    database: str = ""  # a PostgreSQL database name to use (kept); default: a fresh one (dropped)
    celery_workers: int = 1
    worker_concurrency: int = 0  # per Celery worker; 0: compose.yaml's
    pooler: str = "none"  # none | pgbouncer (transaction mode, one for every service process)
    extra_env: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    masters: dict[str, subprocess.Popen] = field(default_factory=dict)
    direct_env: dict[str, str] = field(default_factory=dict)  # manage.py: straight to PostgreSQL
    bouncer: object = None
    _drop: str = ""

    def start(self, *, demo: bool = True) -> Stack:
        run = uuid.uuid4().hex[:8]
        var = self.work_dir
        var.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "AWS_"))}
        for key in ("DATABASE_POOLER", "LOCK_DATABASE_URL"):  # the run's own, set below
            env.pop(key, None)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(var), DEBUG="false",
            MEDIA_ROOT=str(var / "media"), STATIC_ROOT=str(var / "static"), PYTHONUNBUFFERED="1",
            ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="ERROR", STORAGE_BACKEND="local",
        )
        if self.embedded:
            env.update(DATABASE_URL=f"sqlite:///{var / 'db.sqlite3'}", CELERY_BROKER_URL="",
                       CELERY_TASK_ALWAYS_EAGER="true", CACHE_URL="")
        else:
            name = self.database or f"ledgerdoc_bench_{run}"
            if not pg_database_exists(name):
                _pg(f'CREATE DATABASE "{name}"')
            if not self.database:
                self._drop = name
            # compose.yaml: CONN_MAX_AGE 60, Redis db 0 the broker and db 1 the cache.
            env.update(
                DATABASE_URL=f"{PG_URL}/{name}", CONN_MAX_AGE="60",
                CELERY_BROKER_URL=f"{REDIS_URL}/13", CACHE_URL=f"{REDIS_URL}/12",
                CELERY_TASK_ALWAYS_EAGER="false", CELERY_TASK_DEFAULT_QUEUE=f"ledgerdoc-bench-{run}",
            )
        # What the image sets for its processes (the allocator's arenas, Python's flags); paths
        # and ports stay this run's own.
        for key, value in dockerfile_env().items():
            if key.startswith(("MALLOC_", "PYTHON")):
                env.setdefault(key, value)
        env.update(self.extra_env)
        self.env = self.direct_env = env
        if self.pooler == "pgbouncer" and not self.embedded:
            from tests import pgbouncer

            if not pgbouncer.available():
                print("note: no pgbouncer binary here (apt-get install pgbouncer): the service "
                      "processes connect to PostgreSQL directly", flush=True)
                self.pooler = "none"
            else:
                self.bouncer = pgbouncer.PgBouncer(var / "pgbouncer", free_port()).start()
                self.env = {**env, "DATABASE_URL": f"{self.bouncer.url}/{name}",
                            "DATABASE_POOLER": "transaction", "LOCK_DATABASE_URL": f"{PG_URL}/{name}"}
        elif self.pooler not in ("none", "pgbouncer"):
            raise ValueError(f"pooler {self.pooler!r}: expected none or pgbouncer")
        self.manage("migrate", "--noinput", "-v0")
        if demo:
            self.manage("load_demo")
        if not self.embedded:
            self.worker_concurrency = self.worker_concurrency or compose_worker_concurrency()
            for number in range(self.celery_workers):
                self.processes.append(self._spawn(
                    [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q",
                     env["CELERY_TASK_DEFAULT_QUEUE"], "--loglevel", "WARNING",
                     f"--concurrency={self.worker_concurrency}",
                     "-n", f"bench{number}-{run}@%h", "--without-gossip", "--without-mingle"],
                    f"celery-{number}.log",
                ))
        return self

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.direct_env, capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def _spawn(self, command: list[str], log_name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.work_dir / log_name, "ab")  # noqa: SIM115
        return subprocess.Popen(
            command, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def serve(self, app: str = "config.wsgi:application", env: dict | None = None) -> str:
        """Start ``app`` under the Dockerfile's gunicorn command; answers its base URL."""
        port = free_port()
        process = self._spawn(dockerfile_gunicorn(app, port), f"gunicorn-{port}.log",
                              {**self.env, **(env or {})})
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        self.masters[url] = process
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{url}/", timeout=2)
                return url
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn for {app} exited: see {self.work_dir}/gunicorn-{port}.log")
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn for {app} did not answer")

    def database_name(self) -> str:
        """The run's PostgreSQL database name."""
        return self.direct_env["DATABASE_URL"].rsplit("/", 1)[1]

    def worker_pids(self, base_url: str) -> list[int]:
        """The gunicorn worker processes serving ``base_url`` (children of its master)."""
        master = self.masters[base_url].pid
        for _ in range(100):
            with contextlib.suppress(OSError):
                children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
                if children:
                    return [int(pid) for pid in children]
            time.sleep(0.1)
        raise RuntimeError(f"no gunicorn workers under {master}")

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        if self.bouncer is not None:
            self.bouncer.stop()
        if self._drop:
            with contextlib.suppress(Exception):
                _pg(f'DROP DATABASE IF EXISTS "{self._drop}" WITH (FORCE)')
        from tests import service_logs

        service_logs.report(f"benchmark {self.work_dir.name}", self.work_dir.glob("*.log"))

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
