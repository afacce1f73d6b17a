"""Calls of the official Nuxeo Python client, run in the client's own virtualenv.

``python nuxeo_client_calls.py < request.json`` with ``{"scenario", "base", "user", "password",
...}``; prints what the client saw as JSON on stdout. Nothing here patches the client: it is used
as its users use it (``Nuxeo(host=..., api_path="api/v1", auth=(user, password))``). The pytest
side (test_nuxeo_client.py) asserts on the answers and on the server's rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import uuid
from typing import Any

from nuxeo.client import Nuxeo
from nuxeo.exceptions import HTTPError, InvalidUploadHandler
from nuxeo.models import Batch, Document, FileBlob

WORKSPACES = "/default-domain/workspaces"


def connect(request: dict[str, Any]) -> Nuxeo:
    return Nuxeo(host=request["base"] + "/", api_path="api/v1",
                 auth=(request["user"], request["password"]))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def status_of(call: Any) -> int | str:
    """The HTTP status a client call fails with (or "ok")."""
    try:
        call()
    except HTTPError as error:
        return error.status
    return "ok"


def document_view(doc: Document) -> dict[str, Any]:
    content = doc.properties.get("file:content")
    return {
        "uid": doc.uid, "path": doc.path, "type": doc.type, "title": doc.title,
        "dc:title": doc.get("dc:title"), "facets": doc.facets, "repository": doc.repository,
        "file:content": content, "parentRef": doc.parentRef,
    }


def payload(size: int) -> bytes:
    block = bytes(range(256)) * 64
    return (block * (size // len(block) + 1))[:size]


def write(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def scenario_documents(request: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    nuxeo = connect(request)
    out["handlers"] = nuxeo.uploads.handlers()
    batch = nuxeo.uploads.batch(handler="default")
    out["batch_id"] = batch.uid

    chunk_size = int(request["chunk_size"])
    big = payload(int(request["big_size"]))
    small = "Überblick – 報告: numbers\n".encode()
    out["big_sha256"], out["small_sha256"] = sha(big), sha(small)
    with tempfile.TemporaryDirectory() as tmp:
        big_path = write(tmp, "quarterly.bin", big)
        small_path = write(tmp, "Überblick 報告.txt", small)

        # Chunked, cut short after a few chunks (the process "dies")...
        uploader = batch.get_uploader(FileBlob(big_path), chunked=True, chunk_size=chunk_size)
        out["chunk_count"] = uploader.chunk_count
        steps = uploader.iter_upload()
        for _ in range(int(request["chunks_before_stop"])):
            next(steps)
        steps.close()

        # ...and resumed by a new client that only kept the batch id, as Nuxeo Drive does.
        again = connect(request)
        resumed_batch = Batch(batchId=out["batch_id"], service=again.uploads)
        resumed = again.uploads.get_uploader(
            resumed_batch, FileBlob(big_path), chunked=True, chunk_size=chunk_size
        )
        out["resume_found_chunks"] = sorted(int(i) for i in resumed.blob.uploadedChunkIds)
        resumed.upload()
        out["resumed_complete"] = resumed.is_complete()
        big_blob = resumed_batch.blobs[0]
        info = resumed_batch.get(0)
        out["big_info"] = {"name": info.name, "size": int(info.size),
                           "uploadType": info.uploadType,
                           "uploadedChunkIds": sorted(int(i) for i in info.uploadedChunkIds)}

        # A second file of the batch, in one go.
        small_blob = resumed_batch.upload(FileBlob(small_path))
        out["small_file_idx"] = str(small_blob.fileIdx)

    # A File document from the batch in the workspace; the batch is kept for the next document.
    again.client.headers["X-Batch-No-Drop"] = "true"
    report = again.documents.create(
        Document(name="report", type="File", properties={
            "dc:title": "Quarterly report", "file:content": big_blob.to_json()}),
        parent_path=WORKSPACES,
    )
    del again.client.headers["X-Batch-No-Drop"]
    out["report_created"] = document_view(report)

    # A new Folder, and a File in it (by the folder's uid) from the batch's second file.
    folder = again.documents.create(
        Document(name="projects", type="Folder", properties={"dc:title": "Projects"}),
        parent_path=WORKSPACES,
    )
    out["folder"] = document_view(folder)
    notes = again.documents.create(
        Document(name="notes", type="File", properties={
            "dc:title": "Notes", "file:content": small_blob.to_json()}),
        parent_id=folder.uid,
    )
    out["notes_created"] = document_view(notes)
    out["batch_after_use"] = status_of(lambda: again.uploads.get(out["batch_id"]))

    # Reads: by path and by uid; blobs by the default xpath (blobholder:0) and file:content.
    docs = again.documents
    out["report_by_path"] = document_view(docs.get(path=f"{WORKSPACES}/report"))
    out["report_by_uid"] = document_view(docs.get(uid=report.uid))
    out["notes_by_path"] = document_view(docs.get(path=f"{WORKSPACES}/projects/notes"))
    out["blob_default_xpath"] = sha(report.fetch_blob())
    out["blob_file_content"] = sha(docs.fetch_blob(uid=report.uid, xpath="file:content"))
    out["blob_by_path_default"] = sha(docs.fetch_blob(path=f"{WORKSPACES}/projects/notes"))
    out["notes_blob_bytes"] = docs.fetch_blob(uid=notes.uid).decode()

    out["children_of_folder"] = [document_view(d) for d in docs.get_children(uid=folder.uid)]
    out["children_of_workspaces"] = sorted(
        d.title for d in docs.get_children(path=WORKSPACES)
    )
    out["exists"] = {
        "report_by_path": docs.exists(path=f"{WORKSPACES}/report"),
        "report_by_uid": docs.exists(uid=report.uid),
        "folder_by_uid": docs.exists(uid=folder.uid),
        "missing_path": docs.exists(path=f"{WORKSPACES}/no-such-document"),
        "missing_uid": docs.exists(uid=str(uuid.uuid4())),
    }

    # Properties saved back through the client (PUT by uid).
    report.set({"dc:title": "Quarterly report, final"})
    report.save()
    out["report_after_save"] = document_view(docs.get(uid=report.uid))

    # Delete by uid.
    docs.delete(notes.uid)
    out["notes_exists_after_delete"] = docs.exists(uid=notes.uid)
    out["notes_get_after_delete"] = status_of(lambda: docs.get(uid=notes.uid))
    out["folder_children_after_delete"] = len(docs.get_children(uid=folder.uid))
    out["uids"] = {"report": report.uid, "folder": folder.uid}
    return out


def scenario_outsider(request: dict[str, Any]) -> dict[str, Any]:
    """Another tenant's user (or a wrong password) against the documents of the first."""
    nuxeo = connect(request)
    uid, path = request["uid"], request["path"]
    out: dict[str, Any] = {
        "exists_uid": status_of(lambda: nuxeo.documents.exists(uid=uid)),
        "get_uid": status_of(lambda: nuxeo.documents.get(uid=uid)),
        "get_path": status_of(lambda: nuxeo.documents.get(path=path)),
        "fetch_blob": status_of(lambda: nuxeo.documents.fetch_blob(uid=uid)),
        "children": status_of(lambda: nuxeo.documents.get_children(uid=uid)),
        "delete": status_of(lambda: nuxeo.documents.delete(uid)),
        "handlers": nuxeo.uploads.handlers(),
    }
    if status_of(lambda: nuxeo.documents.get(path=WORKSPACES)) == "ok":
        out["exists_uid_value"] = nuxeo.documents.exists(uid=uid)
        out["exists_path_value"] = nuxeo.documents.exists(path=path)
    try:
        nuxeo.uploads.batch(handler="default")
        out["batch"] = "ok"
    except InvalidUploadHandler:
        out["batch"] = "InvalidUploadHandler"
    except HTTPError as error:
        out["batch"] = error.status
    return out


SCENARIOS = {"documents": scenario_documents, "outsider": scenario_outsider}


def main() -> None:
    request = json.load(sys.stdin)
    result = SCENARIOS[request["scenario"]](request)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
