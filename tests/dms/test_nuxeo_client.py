"""The official Nuxeo Python client (PyPI ``nuxeo[oauth2]``), unmodified, against a live server, on
local storage and on S3: upload handlers, a batch upload chunked and resumed, File documents from
the batch in a workspace and in a new Folder, reads by path and uid, ``fetch_blob`` with the
default xpath (``blobholder:0``) and ``file:content``, ``get_children``, ``exists``, save, delete.

The client runs in its own virtualenv (``make peer-clients``; built here when missing), because
its ``jwt`` dependency cannot share an environment with PyJWT. It executes
``nuxeo_client_calls.py`` and reports what it saw as JSON.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.dms.models import DMSFile
from apps.uploads.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "tests" / "requirements-nuxeo-client.txt"
CALLS = Path(__file__).with_name("nuxeo_client_calls.py")
WORKSPACES = "/default-domain/workspaces"
CHUNK = 256 * 1024
BIG = 10 * CHUNK + 12_345  # 11 chunks, the last one short


def _stamp() -> str:
    return ".installed-" + hashlib.sha1(REQUIREMENTS.read_bytes()).hexdigest()[:12]


@pytest.fixture(scope="session")
def nuxeo_python() -> str:
    """The Python of the client's virtualenv (NUXEO_CLIENT_VENV, default var/peer-clients/nuxeo),
    built from tests/requirements-nuxeo-client.txt as ``make peer-clients`` does when missing."""
    venv = Path(os.environ.get("NUXEO_CLIENT_VENV") or ROOT / "var" / "peer-clients" / "nuxeo")
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".nuxeo-client.lock", "w") as lock:  # xdist workers build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / _stamp()).exists():
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "-r", str(REQUIREMENTS)],
                check=True,
            )
            for old in venv.glob(".installed-*"):
                old.unlink()
            (venv / _stamp()).touch()
    return str(python)


def run_client(python: str, **request) -> dict:
    completed = subprocess.run(
        [python, str(CALLS)], input=json.dumps(request), capture_output=True, text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout)


def payload(size: int) -> bytes:
    """The bytes nuxeo_client_calls.payload() uploads."""
    block = bytes(range(256)) * 64
    return (block * (size // len(block) + 1))[:size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def documents_run(storage, live_server, demo, nuxeo_python):
    return run_client(
        nuxeo_python, scenario="documents", base=live_server.url, user="GardenUser",
        password="GardenUser", chunk_size=CHUNK, big_size=BIG, chunks_before_stop=4,
    )


@pytest.fixture
def gardenworld_document(storage, garden_user) -> str:
    """A GardenWorld File document at WORKSPACES/report (made over the API); its uid."""
    batch_id = garden_user.post("/api/v1/upload").json()["batchId"]
    sent = garden_user.post(f"/api/v1/upload/{batch_id}/0", b"private numbers\n",
                            content_type="text/plain", HTTP_X_FILE_NAME="report.txt")
    assert sent.status_code == 201, sent.content
    created = garden_user.post(f"/api/v1/path{WORKSPACES}", {
        "entity-type": "document", "name": "report", "type": "File", "properties": {
            "dc:title": "Report", "file:content": {"upload-batch": batch_id, "upload-fileId": "0"}},
    }, format="json")
    assert created.status_code == 201, created.content
    return created.json()["uid"]


def test_handlers_resumed_batch_and_documents(documents_run):
    out = documents_run
    big, small = payload(BIG), "Überblick – 報告: numbers\n".encode()
    assert out["handlers"] == ["default"]
    assert out["chunk_count"] == 11
    # The resumed client asked the server which chunks it had: exactly the four sent before.
    assert out["resume_found_chunks"] == [0, 1, 2, 3]
    assert out["resumed_complete"] is True
    assert out["big_info"] == {"name": "quarterly.bin", "size": BIG, "uploadType": "chunked",
                               "uploadedChunkIds": list(range(11))}
    assert out["small_file_idx"] == "1"
    # The right bytes are stored (the batch itself is gone after use, see below; the small file's
    # bytes went with its document's delete, after being read back).
    assert out["big_sha256"] == sha(big) and out["small_sha256"] == sha(small)
    assert StoredFile.objects.get(sha256=sha(big)).size == BIG

    # Documents from the batch.
    report = out["report_created"]
    assert report["type"] == "File" and report["path"] == f"{WORKSPACES}/report"
    assert report["title"] == "Quarterly report" == report["dc:title"]
    assert report["repository"] == "default"
    blob = report["file:content"]
    assert blob["name"] == "quarterly.bin" and blob["length"] == str(BIG)
    assert blob["digest"] == sha(big) and blob["digestAlgorithm"] == "SHA-256"
    assert blob["mime-type"] == "application/octet-stream"
    assert blob["data"].endswith(f"/api/v1/repo/default/id/{report['uid']}/@blob/file:content")

    folder = out["folder"]
    assert folder["type"] == "Folder" and folder["path"] == f"{WORKSPACES}/projects"
    assert "Folderish" in folder["facets"] and folder["file:content"] is None
    notes = out["notes_created"]
    assert notes["path"] == f"{WORKSPACES}/projects/notes" and notes["parentRef"] == folder["uid"]
    assert notes["file:content"]["name"] == "Überblick 報告.txt"
    # Kept for the second document (X-Batch-No-Drop), dropped after it.
    assert out["batch_after_use"] == 404

    assert out["report_by_path"]["uid"] == report["uid"]
    assert out["report_by_uid"]["path"] == f"{WORKSPACES}/report"
    assert out["report_by_uid"]["file:content"]["digest"] == sha(big)
    assert out["notes_by_path"]["uid"] == notes["uid"]

    assert out["blob_default_xpath"] == sha(big)
    assert out["blob_file_content"] == sha(big)
    assert out["blob_by_path_default"] == sha("Überblick – 報告: numbers\n".encode())
    assert out["notes_blob_bytes"] == "Überblick – 報告: numbers\n"

    assert [child["uid"] for child in out["children_of_folder"]] == [notes["uid"]]
    assert out["children_of_folder"][0]["path"] == f"{WORKSPACES}/projects/notes"
    assert {"Quarterly report", "Projects"} <= set(out["children_of_workspaces"])
    assert out["exists"] == {"report_by_path": True, "report_by_uid": True, "folder_by_uid": True,
                             "missing_path": False, "missing_uid": False}

    assert out["report_after_save"]["title"] == "Quarterly report, final"
    assert out["report_after_save"]["file:content"]["digest"] == sha(big)

    assert out["notes_exists_after_delete"] is False
    assert out["notes_get_after_delete"] == 404
    assert out["folder_children_after_delete"] == 0

    rows = DMSFile.objects.filter(uid__in=[report["uid"], folder["uid"]])
    assert {row.client.value for row in rows} == {"GardenWorld"}
    saved = DMSFile.objects.get(uid=report["uid"])
    assert saved.title == "Quarterly report, final" and saved.stored_file.sha256 == sha(big)
    assert not DMSFile.objects.filter(uid=notes["uid"]).exists()


def test_another_tenant_and_a_wrong_password_see_nothing(gardenworld_document, live_server,
                                                         nuxeo_python):
    uid = gardenworld_document
    outsider = run_client(
        nuxeo_python, scenario="outsider", base=live_server.url, user="AcmeAdmin",
        password="AcmeAdmin", uid=uid, path=f"{WORKSPACES}/report",
    )
    for call in ("get_uid", "get_path", "fetch_blob", "children", "delete"):
        assert outsider[call] == 404, (call, outsider)
    assert outsider["exists_uid"] == "ok"  # exists() answers (False), it does not raise
    assert outsider.get("exists_uid_value", False) is False
    assert outsider.get("exists_path_value", False) is False
    assert outsider["handlers"] == ["default"] and outsider["batch"] == "ok"

    stranger = run_client(
        nuxeo_python, scenario="outsider", base=live_server.url, user="GardenUser",
        password="wrong", uid=uid, path=f"{WORKSPACES}/report",
    )
    for call in ("exists_uid", "get_uid", "get_path", "fetch_blob", "children", "delete"):
        assert stranger[call] == 401, (call, stranger)
    # The client reads "no handlers" when it cannot list them, and then refuses to open a batch.
    assert stranger["handlers"] == [] and stranger["batch"] == "InvalidUploadHandler"
    assert DMSFile.objects.get(uid=uid).title == "Report"
