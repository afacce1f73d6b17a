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
