"""apps.core.storage: the one package that touches storage, and what its failures mean.

- Only it talks to boto3 and to a storage's files; core never imports uploads; the backend is
  told by one test (``Backend``), not by comparing strings.
- A full disk while bytes are written is ``InsufficientStorage`` (507) and leaves nothing half
  written behind; S3 refusing or failing is ``StorageUnavailable`` (503 with ``Retry-After``),
  while a missing object is still just missing.
"""

from __future__ import annotations

import ast
import errno
import io
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from botocore.config import Config
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from storages.backends.s3 import S3Storage

from apps.core import downloads
from apps.core import storage as cs
from apps.core.errors import InsufficientStorage, StorageUnavailable, problem_exception_handler
from tests.conftest import _free_port, make_bucket

APPS = Path(__file__).resolve().parents[2] / "apps"


def _sources() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(APPS.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        name = path.relative_to(APPS.parent).as_posix()
        found.append((name, ast.parse(path.read_text(), filename=name)))
    return found


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


# --- The layer ----------------------------------------------------------------------------------------


def test_only_the_storage_package_talks_to_s3():
    offenders = []
    for name, tree in _sources():
        if name.startswith("apps/core/storage/"):
            continue
        raw = {m for m in _imported(tree) if m.split(".")[0] in {"boto3", "botocore"}}
        raw |= {m for m in _imported(tree) if m.startswith("storages.backends")}
        clients = [
            node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "client"
            and isinstance(node.value, ast.Attribute) and node.value.attr == "meta"
        ]
        if raw or clients:
            offenders.append((name, sorted(raw), clients))
    assert offenders == []


def test_the_upload_engines_storage_modules_make_no_file_calls_of_their_own():
    for name in ("apps/uploads/storage.py", "apps/uploads/stores.py", "apps/core/downloads.py"):
        tree = ast.parse((APPS.parent / name).read_text())
        assert not _imported(tree) & {"os", "shutil", "ctypes"}, name
        calls = [n.lineno for n in ast.walk(tree)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "open"]
        assert calls == [], name


def test_core_never_imports_the_apps_above_it():
    for name, tree in _sources():
        if name.startswith("apps/core/"):
            upward = {m for m in _imported(tree) if m.startswith(("apps.uploads", "apps.dms"))}
            assert upward == set(), name


# purge.py is being rewritten by another change; it still says ``place.backend != "s3"``.
STRING_BACKEND_TESTS_LEFT: set[str] = set()


def test_the_backend_is_told_by_one_test_not_by_string_comparisons():
    offenders = []
    for name, tree in _sources():
        if name.endswith("/models.py") or name in STRING_BACKEND_TESTS_LEFT:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Constant) and side.value in ("s3", "local")
                for side in [node.left, *node.comparators]
            ):
                offenders.append((name, node.lineno))
    assert offenders == []


def test_backend_place_and_storage_for(settings, tmp_path):
    local = FileSystemStorage(location=str(tmp_path))
    assert cs.backend_of(local) is cs.Backend.LOCAL and not cs.is_s3(local)
    assert cs.backend_of(InMemoryStorage()) is None
    assert cs.Backend("s3").is_s3 and not cs.Backend("local").is_s3
    assert cs.Backend.S3 == "s3"  # what rows record
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)},
    }}
    place = cs.place_of("default")
    assert place == cs.Place("default", cs.Backend.LOCAL, str(tmp_path)) and not place.is_s3
    # A row's place is found again from its strings, and rebuilt when the alias moved elsewhere.
    assert cs.storage_for("default", "local", str(tmp_path)) is place.storage()
    elsewhere = cs.storage_for("default", "local", str(tmp_path / "old"))
    assert cs.describe(elsewhere) == (cs.Backend.LOCAL, str(tmp_path / "old"))


# --- A full disk ---------------------------------------------------------------------------------------


class Body(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.length = len(data)


def test_writing_into_a_full_device_is_insufficient_storage(tmp_path):
    objects = cs.LocalObjects(FileSystemStorage(location=str(tmp_path)))
    (tmp_path / "uploads").mkdir()
    os.symlink("/dev/full", tmp_path / "uploads" / "data")  # every write: ENOSPC
    with pytest.raises(InsufficientStorage) as refused:
        objects.write_at("uploads/data", 0, Body(b"x" * 100_000))
    assert refused.value.status == 507
    assert refused.value.__cause__.errno == errno.ENOSPC


@pytest.fixture
def small_disk(tmp_path):
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (root needed): {mounted.stderr.strip()}")
    try:
        yield cs.LocalObjects(FileSystemStorage(location=str(root)))
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_a_whole_file_that_does_not_fit_leaves_nothing_behind(small_disk):
    small_disk.put("uploads/s/chunks/1", Body(b"old"))
    with pytest.raises(InsufficientStorage):
        small_disk.put("uploads/s/chunks/1", Body(os.urandom(2 * 1024 * 1024)))
    folder = Path(small_disk.path("uploads/s/chunks"))
    assert sorted(p.name for p in folder.iterdir()) == ["1"]  # no temp file left
    assert (folder / "1").read_bytes() == b"old"  # the file it would have replaced is intact


def test_composing_onto_a_full_disk_is_insufficient_storage(small_disk):
    part = os.urandom(400 * 1024)
    small_disk.put("a", Body(part))
    small_disk.put("b", Body(part))
    with pytest.raises(InsufficientStorage):
        small_disk.compose("ab", [("a", len(part)), ("b", len(part))])


# --- S3 refusing or gone --------------------------------------------------------------------------------


@pytest.fixture
def dead_s3():
    """A bucket at an address where nothing listens (one attempt per call: no retry wait)."""
    return S3Storage(
        bucket_name="gone", endpoint_url=f"http://127.0.0.1:{_free_port()}", access_key="testing",
        secret_key="testing", region_name="us-east-1",
        client_config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )


def _unavailable(call) -> StorageUnavailable:
    with pytest.raises(StorageUnavailable) as refused:
        call()
    assert refused.value.status == 503 and int(refused.value.headers["Retry-After"]) > 0
    return refused.value


def test_every_s3_call_to_a_dead_endpoint_is_503_with_retry_after(dead_s3):
    objects = cs.objects_for(dead_s3)
    assert isinstance(objects, cs.S3Objects)
    _unavailable(lambda: objects.put("k", Body(b"abc"), 3))
    _unavailable(lambda: objects.upload_part("k", "id", 1, Body(b"abc"), 3))
    _unavailable(lambda: objects.create_multipart("k"))
    _unavailable(lambda: objects.exists("k"))  # not "missing": S3 did not answer
    _unavailable(lambda: objects.multipart_exists("k", "id"))
    _unavailable(lambda: objects.sha256_of("k"))
    _unavailable(lambda: downloads.open_storage_range(dead_s3, "k", 0, 10, 10))


@pytest.fixture
def live_s3(s3_endpoint):
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    make_bucket(s3_endpoint, bucket)
    return cs.S3Objects(S3Storage(
        bucket_name=bucket, endpoint_url=s3_endpoint, access_key="testing", secret_key="testing",
        region_name="us-east-1",
    ))


def test_a_request_bodys_own_error_wins_over_s3s(live_s3):
    class Cut(Body):
        def read(self, size=-1):
            raise ValueError("the body's own error")  # a short body, a size limit...

    with pytest.raises(ValueError, match="the body's own error"):
        live_s3.put("k", Cut(b"abc"), 3)
    assert live_s3.exists("k") is False


def test_a_missing_object_is_missing_not_unavailable(live_s3):
    objects = live_s3
    assert objects.exists("nothing-here") is False
    assert objects.multipart_exists("nothing-here", "no-such-upload") is False
    objects.put("k", Body(b"abc"), 3)
    assert objects.exists("k") and objects.sha256_of("k")[1] == 3
    objects.abort("k", "no-such-upload")  # best effort, quietly


# --- How the answers look -------------------------------------------------------------------------------


def _rendered(error: Exception):
    response = problem_exception_handler(error, {"view": None})
    return response.status_code, response.data, response


def test_the_answers_are_problem_bodies():
    status, body, _ = _rendered(InsufficientStorage("full"))
    assert (status, body["status"], body["title"]) == (507, 507, "Insufficient Storage")
    status, body, response = _rendered(StorageUnavailable("gone", retry_after=7))
    assert (status, body["status"], response["Retry-After"]) == (503, 503, "7")


def test_a_full_disk_outside_the_storage_layer_is_still_507_and_other_os_errors_are_not():
    status, body, _ = _rendered(OSError(errno.ENOSPC, "No space left on device"))
    assert status == 507 and body["title"] == "Insufficient Storage"
    assert _rendered(OSError(errno.EDQUOT, "Disk quota exceeded"))[0] == 507
    assert _rendered(OSError(errno.EACCES, "Permission denied"))[0] == 500
