"""Run schemathesis against a live Ledgerdoc, once per demo user, each on a fresh demo database.

For every user (GardenAdmin, then GardenUser): a temp VAR_DIR with a SQLite file (or, with
``--postgres URL``, a fresh PostgreSQL database on that server, dropped at the end), ``migrate``
and ``load_demo``, gunicorn with config/gunicorn.conf.py on a free port (Celery eager, local
storage), a bearer token from ``POST /api/v1/auth/tokens``, then ``st run`` on /api/schema/ with
the checks of issue 13 on every operation, on a bounded budget. Exits non-zero when any run finds a
failure, or when the service's log holds a traceback (tests/service_logs.py: a request that failed
inside although its answer looked fine).

    .venv/bin/python tests/schema_fuzz/run_schemathesis.py [--max-examples N] [--users A,B]
        [--workers 2] [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests import service_logs  # noqa: E402 - after the project root is importable

BIN = Path(sys.executable).parent
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,negative_data_rejection"
)
# Settings the service reads from the environment that must not leak in from CI (PostgreSQL,
# Redis, S3): the fuzzed service is the embedded one, on files of its own.
_SCRUBBED_PREFIXES = ("DATABASE_", "CELERY_", "AWS_", "CACHE_", "STORAGE_", "MEDIA_", "STATIC_",
                      "DJANGO_", "TEST_", "PYTEST", "UPLOAD_", "JWT_", "PUBLIC_BASE_URL", "SECRET_KEY")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def service_env(var_dir: Path, database_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(var_dir), DEBUG="false",
        DATABASE_URL=database_url or f"sqlite:///{var_dir / 'db.sqlite3'}", STORAGE_BACKEND="local",
        CELERY_TASK_ALWAYS_EAGER="true", PYTHONUNBUFFERED="1", ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    return env


def http_json(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def start_service(var_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    for command in (["migrate", "--noinput", "-v0"], ["load_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)
    port = free_port()
    log = open(var_dir / "gunicorn.log", "wb")  # noqa: SIM115 - the service's log, kept for a failure
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi:application", "--config", "config/gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "--timeout", "60"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if http_json(f"{url}/api/v1/health")[0] == 200:
                return process, url
        if process.poll() is not None:
            break
        time.sleep(0.2)
    stop_service(process)
    raise RuntimeError(f"gunicorn did not come up; see {var_dir / 'gunicorn.log'}")


def stop_service(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def fuzz_as(user: str, args: argparse.Namespace, report_dir: Path) -> int:
    var_dir = Path(tempfile.mkdtemp(prefix=f"ledgerdoc-fuzz-{user}-"))
    database = ""
    if args.postgres:
        database = f"ledgerdoc_fuzz_{user.lower()}_{os.getpid()}"
        _pg(args.postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _pg(args.postgres, f'CREATE DATABASE "{database}"')
    env = service_env(var_dir, f"{args.postgres}/{database}" if database else "")
    print(f"[fuzz] {user}: fresh demo database {database or var_dir}", flush=True)
    process, url = start_service(var_dir, env)
    code = 1
    try:
        status, body = http_json(
            f"{url}/api/v1/auth/tokens", {"userName": user, "password": user, "parameters": {}}
        )
        if status != 200:
            raise RuntimeError(f"login as {user} answered {status}: {body}")
        st_env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schema_fuzz.hooks",
                  "PYTHONPATH": str(ROOT)}
        command = [
            str(BIN / "st"), "--config-file", str(HERE / "schemathesis.toml"),
            "run", f"{url}/api/schema/",
            "--checks", CHECKS,
            "--header", f"Authorization: Bearer {body['token']}",
            "--max-examples", str(args.max_examples),
            "--seed", str(args.seed),
            "--workers", str(args.workers),
            "--request-timeout", "30",
            "--generation-database", "none",
            "--suppress-health-check", "all",
            "--phases", args.phases,
            "--report", "junit,ndjson",
            "--report-junit-path", str(report_dir / f"junit-{user}.xml"),
            "--report-ndjson-path", str(report_dir / f"events-{user}.ndjson"),
            "--no-color",
            *args.extra,
        ]
        print(f"[fuzz] {user}: schemathesis against {url}/api/schema/", flush=True)
        code = subprocess.run(command, cwd=ROOT, env=st_env).returncode
    finally:
        stop_service(process)
        if database:
            with contextlib.suppress(Exception):
                _pg(args.postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        found = service_logs.report(f"fuzz-api {user}", [var_dir / "gunicorn.log"])
        if found:
            print(f"[fuzz] {user}: {found} traceback(s) in the service's log", flush=True)
            code = code or 1
        if code == 0 and not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"[fuzz] {user}: service files and log kept in {var_dir}", flush=True)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="GardenAdmin,GardenUser")
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX_EXAMPLES", 25)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 13)))
    parser.add_argument("--workers", default=os.environ.get("FUZZ_WORKERS", "1"))
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--postgres", default=os.environ.get("FUZZ_POSTGRES_URL", ""),
                        help="a PostgreSQL server URL (no database name): fuzz on PostgreSQL")
    parser.add_argument("--report-dir", default=str(ROOT / "var" / "schemathesis"))
    parser.add_argument("--keep", action="store_true", help="keep each run's VAR_DIR")
    parser.add_argument("extra", nargs="*", help="more `st run` options, after --")
    args = parser.parse_args()
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    codes = {user: fuzz_as(user, args, report_dir) for user in args.users.split(",")}
    print(f"[fuzz] done in {time.monotonic() - started:.0f}s: "
          + ", ".join(f"{user} {'passed' if code == 0 else 'FAILED'}" for user, code in codes.items()),
          flush=True)
    return 0 if all(code == 0 for code in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
