"""Nuxeo: batch upload → document under a path → blob; X-Batch-No-Drop; folders."""

import hashlib

import pytest

from .conftest import body_of

pytestmark = pytest.mark.django_db(transaction=True)

WS = "/api/v1/path/default-domain/workspaces"


def _batch_with(client, files):
    batch_id = client.post("/api/v1/upload").json()["batchId"]
    for index, (name, data) in enumerate(files):
        response = client.post(f"/api/v1/upload/{batch_id}/{index}", data,
                               content_type="application/octet-stream", HTTP_X_FILE_NAME=name,
                               HTTP_X_FILE_TYPE="text/plain")
        assert response.status_code in (200, 201), response.content
    return batch_id


def _doc(name, batch_id, index):
    return {"entity-type": "document", "name": name, "type": "File",
            "properties": {"dc:title": name.title(),
                           "file:content": {"upload-batch": batch_id, "upload-fileId": str(index)}}}


def test_batch_to_documents_and_blob(garden_user, acme_admin, storage):
    batch_id = _batch_with(garden_user, [("one.txt", b"first file\n"), ("two.txt", b"second\n")])
    response = garden_user.post(WS, _doc("first", batch_id, 0), format="json",
                                HTTP_X_BATCH_NO_DROP="true")
    assert response.status_code == 201, response.content
    doc = response.json()
    assert doc["entity-type"] == "document" and doc["type"] == "File"
    assert doc["path"] == "/default-domain/workspaces/first"
    assert doc["properties"]["dc:title"] == "First"
    blob = doc["properties"]["file:content"]
    assert blob["name"] == "one.txt" and blob["length"] == "11" and blob["mime-type"] == "text/plain"

    # The batch survived: the second file can still be used; without the header it is dropped.
    response = garden_user.post(WS, _doc("second", batch_id, 1), format="json")
    assert response.status_code == 201, response.content
    assert garden_user.get(f"/api/v1/upload/{batch_id}").status_code == 404
    assert garden_user.post(WS, _doc("third", batch_id, 1), format="json").status_code == 404

    got = garden_user.get(WS + "/first")
    assert got.status_code == 200 and got.json()["uid"] == doc["uid"]
    # DESIGN §8: {entity-type, uid, path, type, title, properties: {dc:title, file:content:
    # {name, mime-type, length, digest}}}
    document = got.json()
    assert {"entity-type", "uid", "path", "type", "title", "properties"} <= set(document)
    assert document["title"] == "First" and document["path"] == doc["path"]
    blob = document["properties"]["file:content"]
    assert {"name", "mime-type", "length", "digest"} <= set(blob)
    assert blob["digest"] == hashlib.sha256(b"first file\n").hexdigest()
    content = garden_user.get(WS + "/second/@blob/file:content")
    assert content.status_code == 200 and body_of(content) == b"second\n"
    assert acme_admin.get(WS + "/first").status_code == 404


def test_folders_and_bad_bodies(garden_user, storage):
    response = garden_user.post(WS, {"entity-type": "document", "name": "projects",
                                     "type": "Workspace", "properties": {"dc:title": "Projects"}},
                                format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "Workspace"
    assert response.json()["properties"]["file:content"] is None
    assert garden_user.get(WS + "/projects").json()["title"] == "Projects"
    assert garden_user.post(WS, {"entity-type": "user"}, format="json").status_code == 400
    assert garden_user.post(WS + "/nowhere", {"entity-type": "document", "type": "Folder",
                                              "name": "x"}, format="json").status_code == 404
    assert garden_user.post(WS, _doc("x", "00000000-0000-0000-0000-000000000000", 0),
                            format="json").status_code == 404


def test_delete_document_frees_its_folder_entry(garden_user, storage):
    batch_id = _batch_with(garden_user, [("gone.txt", b"bye\n")])
    assert garden_user.post(WS, _doc("gone", batch_id, 0), format="json").status_code == 201
    assert garden_user.delete(WS + "/gone").status_code == 204
    assert garden_user.get(WS + "/gone").status_code == 404
    assert garden_user.get(WS + "/gone/@blob/file:content").status_code == 404


# --- as the official clients call them: repo/{repository}/path, id/{uid}, adapters --------------------

REPO = "/api/v1/repo/default"


def _file_doc(client, name, data, folder=WS, **headers):
    batch_id = _batch_with(client, [(f"{name}.txt", data)])
    response = client.post(folder, _doc(name, batch_id, 0), format="json", **headers)
    assert response.status_code == 201, response.content
    return response.json()


def test_document_by_repo_path_and_by_uid(garden_user, storage):
    doc = _file_doc(garden_user, "report", b"quarterly numbers\n")
    by_repo_path = garden_user.get(REPO + "/path/default-domain/workspaces/report")
    assert by_repo_path.status_code == 200 and by_repo_path.json()["uid"] == doc["uid"]
    for url in (f"{REPO}/id/{doc['uid']}", f"/api/v1/id/{doc['uid']}"):
        got = garden_user.get(url)
        assert got.status_code == 200, (url, got.content)
        body = got.json()
        assert body["uid"] == doc["uid"] and body["path"] == "/default-domain/workspaces/report"
        assert body["entity-type"] == "document" and body["type"] == "File"
        assert body["isFolder"] is False and "Folderish" not in body["facets"]
        assert body["title"] == "Report" and body["properties"]["dc:title"] == "Report"
        blob = body["properties"]["file:content"]
        assert blob["name"] == "report.txt" and blob["length"] == "18"
        assert blob["digest"] == hashlib.sha256(b"quarterly numbers\n").hexdigest()
        assert blob["digestAlgorithm"] == "SHA-256"
        assert blob["data"].startswith("http://testserver/api/v1/repo/default/id/")
    workspaces = garden_user.get(REPO + "/path/default-domain/workspaces").json()
    assert workspaces["isFolder"] is True and "Folderish" in workspaces["facets"]
    assert by_repo_path.json()["parentRef"] == workspaces["uid"]


@pytest.mark.parametrize("xpath", ["file:content", "blobholder:0"])
def test_blob_by_uid_and_by_path(garden_user, storage, xpath):
    doc = _file_doc(garden_user, "bytes", b"\x00\x01binary\xff" * 100)
    for url in (f"{REPO}/id/{doc['uid']}/@blob/{xpath}",
                f"/api/v1/id/{doc['uid']}/@blob/{xpath}",
                f"{REPO}/path/default-domain/workspaces/bytes/@blob/{xpath}",
                f"{WS}/bytes/@blob/{xpath}"):
        response = garden_user.get(url)
        assert response.status_code == 200, (url, response.content)
        assert body_of(response) == b"\x00\x01binary\xff" * 100
    folder = garden_user.get(WS).json()
    missing = garden_user.get(f"{REPO}/id/{folder['uid']}/@blob/{xpath}")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    assert garden_user.get(f"{REPO}/id/{doc['uid']}/@blob/files:files/0/file").status_code == 404


def test_other_repositories_and_bad_uids_are_404(garden_user, acme_admin, storage):
    doc = _file_doc(garden_user, "mine", b"private\n")
    for url in (f"/api/v1/repo/other/id/{doc['uid']}",
                "/api/v1/repo/other/path/default-domain/workspaces/mine",
                "/api/v1/id/not-a-uuid", "/api/v1/id/12",
                "/api/v1/id/00000000-0000-0000-0000-000000000000",
                f"{REPO}/id/{doc['uid']}/@nonsense"):
        response = garden_user.get(url)
        assert response.status_code == 404, (url, response.content)
        problem = response.json()
        assert problem["status"] == 404 and problem["message"] and problem["entity-type"] == "exception"
    # Another tenant: the uid does not exist for it, in any form.
    for url in (f"{REPO}/id/{doc['uid']}", f"/api/v1/id/{doc['uid']}",
                f"{REPO}/id/{doc['uid']}/@blob/blobholder:0", f"{REPO}/id/{doc['uid']}/@children"):
        assert acme_admin.get(url).status_code == 404, url
    assert acme_admin.put(f"{REPO}/id/{doc['uid']}", {"entity-type": "document", "properties": {
        "dc:title": "stolen"}}, format="json").status_code == 404
    assert acme_admin.delete(f"{REPO}/id/{doc['uid']}").status_code == 404
    assert garden_user.get(f"{REPO}/id/{doc['uid']}").json()["title"] == "Mine"


def test_children_paged(garden_user, storage):
    created = garden_user.post(WS, {"entity-type": "document", "name": "box", "type": "Folder",
                                    "properties": {"dc:title": "Box"}}, format="json")
    assert created.status_code == 201, created.content
    box = created.json()
    for name in ("c", "a", "b"):
        _file_doc(garden_user, name, name.encode() * 3, folder=WS + "/box")
    sub = garden_user.post(f"{REPO}/id/{box['uid']}", {"entity-type": "document", "name": "sub",
                                                        "type": "Folder"}, format="json")
    assert sub.status_code == 201 and sub.json()["path"] == "/default-domain/workspaces/box/sub"
    page = garden_user.get(f"{REPO}/id/{box['uid']}/@children")
    assert page.status_code == 200
    body = page.json()
    assert body["entity-type"] == "documents" and body["resultsCount"] == 4
    assert [entry["title"] for entry in body["entries"]] == ["sub", "A", "B", "C"]
    assert all(entry["parentRef"] == box["uid"] for entry in body["entries"])
    assert body["entries"][1]["path"] == "/default-domain/workspaces/box/a"
    assert body["isNextPageAvailable"] is False and body["numberOfPages"] == 1
    second = garden_user.get(f"{WS}/box/@children?pageSize=2&currentPageIndex=1").json()
    assert [entry["title"] for entry in second["entries"]] == ["B", "C"]
    assert second["currentPageIndex"] == 1 and second["numberOfPages"] == 2
    assert second["isPreviousPageAvailable"] is True and second["isNextPageAvailable"] is False
    first = garden_user.get(f"{REPO}/path/default-domain/workspaces/box/@children?pageSize=2").json()
    assert first["isNextPageAvailable"] is True and len(first["entries"]) == 2
    leaf = garden_user.get(f"{WS}/box/a/@children").json()
    assert leaf["entries"] == [] and leaf["resultsCount"] == 0
    bad = garden_user.get(f"{WS}/box/@children?pageSize=-1")
    assert bad.status_code == 400 and bad.json()["status"] == 400


def test_put_properties_and_new_content_by_uid(garden_user, storage):
    doc = _file_doc(garden_user, "draft", b"version one\n")
    url = f"{REPO}/id/{doc['uid']}"
    # The client sends the whole document back: the blob as read leaves the content as it is.
    sent = {**doc, "properties": {**doc["properties"], "dc:title": "Final draft"}}
    response = garden_user.put(url, sent, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Final draft"
    assert response.json()["properties"]["file:content"]["digest"] == doc["properties"][
        "file:content"]["digest"]
    assert garden_user.get(WS + "/draft").json()["title"] == "Final draft"

    batch_id = _batch_with(garden_user, [("v2.txt", b"version two\n")])
    response = garden_user.put(url, {"entity-type": "document", "properties": {
        "file:content": {"upload-batch": batch_id, "upload-fileId": "0"}}}, format="json")
    assert response.status_code == 200, response.content
    blob = response.json()["properties"]["file:content"]
    assert blob["name"] == "v2.txt" and blob["digest"] == hashlib.sha256(b"version two\n").hexdigest()
    assert body_of(garden_user.get(url + "/@blob/blobholder:0")) == b"version two\n"
    assert garden_user.get(f"/api/v1/upload/{batch_id}").status_code == 404  # dropped after use

    for bad in ({"entity-type": "user"}, {"entity-type": "document", "properties": []},
                {"entity-type": "document", "properties": {"dc:title": "x" * 300}},
                {"entity-type": "document", "properties": {"dc:title": {"a": 1}}},
                {"entity-type": "document", "properties": {"file:content": None}}):
        response = garden_user.put(url, bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["status"] == 400
    assert garden_user.put(url + "/@children", sent, format="json").status_code == 405


def test_delete_by_uid(garden_user, storage):
    doc = _file_doc(garden_user, "temporary", b"soon gone\n")
    assert garden_user.delete(f"{REPO}/id/{doc['uid']}").status_code == 204
    assert garden_user.get(f"/api/v1/id/{doc['uid']}").status_code == 404
    assert garden_user.get(WS + "/temporary").status_code == 404
    assert garden_user.delete(f"/api/v1/id/{doc['uid']}").status_code == 404


def test_a_batch_file_still_finalizing_is_waited_for_then_409(garden_user, storage, monkeypatch):
    from apps.dms.dialects import nuxeo
    from apps.uploads.models import UploadSession

    monkeypatch.setattr(nuxeo, "BLOB_SETTLE_SECONDS", 0.3)
    batch_id = _batch_with(garden_user, [("slow.txt", b"slow\n")])
    UploadSession.objects.filter(batch__uid=batch_id).update(state=UploadSession.State.PROCESSING)
    response = garden_user.post(WS, _doc("slow", batch_id, 0), format="json")
    assert response.status_code == 409, response.content
    assert int(response["Retry-After"]) >= 1
    assert garden_user.get(WS + "/slow").status_code == 404
