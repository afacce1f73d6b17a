"""Storage fixtures shared by every test folder: run a test on local storage and on S3.

``storage`` is parametrized ("local", "s3"): it points the default storage (which the upload
engine uses) at a fresh temp directory or at a fresh bucket. S3 is ``AWS_S3_ENDPOINT_URL`` when set
(CI), otherwise a ``moto_server`` started here for the session, so S3 tests never skip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

# moto accepts wrong checksums and boto3's default request checksums make puts very slow (DESIGN §2).
os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """SQLite: a file test database instead of the shared-cache in-memory one, whose table locks
    fail at once when a live server's threads write in parallel (a file DB waits on its lock)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        test = database.setdefault("TEST", {})
        if not test.get("NAME"):
            test["NAME"] = os.path.join(tempfile.gettempdir(), f"ledgerdoc-test-{os.getpid()}.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def _upload_lock_connections(django_db_setup, django_db_blocker):
    """Upload locks live on one lock connection per process (apps.uploads.locks), which would keep
    the PostgreSQL test database open: closed here, and those of the processes serving the tests
    (the e2e Celery worker) ended, before the database is dropped."""
    yield
    from django.db import connection

    from apps.uploads import locks

    locks.lock_connection_close()
    if connection.vendor == "postgresql":
        # Best effort: a run whose tests used no database has none to free (nor to connect to).
        # Behind a pooler (.ci/run's PgBouncer pass) the worker's server connections stay open
        # in PgBouncer's pool after the tests: ended too, the tests being over.
        pooled = bool(os.environ.get("LIVE_DATABASE_POOLER_URL"))
        with contextlib.suppress(Exception), django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                " datname = current_database() AND (application_name = 'ledgerdoc-locks' OR %s)"
                " AND pid <> pg_backend_pid()", [pooled]
            )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float = 20.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:  # it answered, if only to refuse an anonymous request
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 endpoint URL: the configured one, or a moto_server of our own."""
    configured = os.environ.get("AWS_S3_ENDPOINT_URL")
    if configured:
        try:
            _wait_for(configured, timeout=10)
        except RuntimeError:
            pytest.exit(f"AWS_S3_ENDPOINT_URL={configured} does not answer; is the S3 endpoint running?", returncode=3)
        yield configured
        return
    moto = Path(sys.executable).with_name("moto_server")
    port = _free_port()
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def s3_storage_config(endpoint: str, bucket: str) -> dict:
    from django.conf import settings

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "access_key": settings.AWS_ACCESS_KEY_ID or "testing",
            "secret_key": settings.AWS_SECRET_ACCESS_KEY or "testing",
            "region_name": settings.AWS_S3_REGION_NAME or "us-east-1",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }


def make_bucket(endpoint: str, bucket: str) -> None:
    import boto3
    from django.conf import settings

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID or "testing",
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY or "testing",
        region_name=settings.AWS_S3_REGION_NAME or "us-east-1",
    )
    client.create_bucket(Bucket=bucket)


@pytest.fixture(params=["local", "s3"])
def storage(request, settings, tmp_path):
    """Point the default storage at a temp directory ("local") or a new S3 bucket ("s3")."""
    storages = dict(settings.STORAGES)
    if request.param == "local":
        storages["default"] = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        }
        settings.MEDIA_ROOT = tmp_path / "media"
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"test-{uuid.uuid4().hex[:20]}"
        make_bucket(endpoint, bucket)
        settings.AWS_S3_ENDPOINT_URL = endpoint
        settings.AWS_ACCESS_KEY_ID = settings.AWS_ACCESS_KEY_ID or "testing"
        settings.AWS_SECRET_ACCESS_KEY = settings.AWS_SECRET_ACCESS_KEY or "testing"
        storages["default"] = s3_storage_config(endpoint, bucket)
    settings.STORAGES = storages
    settings.STORAGE_BACKEND = request.param
    return request.param
