"""JSON bodies of the document dialects: every field has its type checked; a wrong one is a 400
problem and nothing is created (a folder named "{'a': 1}" was)."""

from __future__ import annotations

import pytest

from apps.dms.models import DMSFile
from apps.uploads.models import UploadSession

pytestmark = pytest.mark.django_db

NOT_A_STRING = [{"a": 1}, ["x"], 5, 1.5, True]


def _refused(response, before: int) -> None:
    assert response.status_code == 400, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400 and body["detail"]
    assert DMSFile.objects.count() == before


@pytest.mark.parametrize("name", NOT_A_STRING)
def test_axelor_folder_name_must_be_a_string(garden_user, name):
    before = DMSFile.objects.count()
    _refused(garden_user.post("/ws/dms/files", {"fileName": name, "isDirectory": True},
                              format="json"), before)
    _refused(garden_user.post("/ws/dms/files", {"data": {"fileName": name}}, format="json"), before)


@pytest.mark.parametrize("body", [
    {"fileName": "ok", "isDirectory": "yes"},
    {"fileName": "ok", "isDirectory": 1},
    {"fileName": "ok", "parent": [1]},
    {"fileName": "ok", "parent": True},
    {"fileName": "ok", "parent": 1.5},
    {"fileName": "ok", "parent": {"id": {"a": 1}}},
    {"fileName": "ok", "parent": {"id": True}},
    {"fileName": "ok", "parent": {"id": [1]}},
    {"data": "x", "fileName": "ok"},
    {"data": ["x"]},
])
def test_axelor_folder_fields_have_their_types(garden_user, body):
    before = DMSFile.objects.count()
    _refused(garden_user.post("/ws/dms/files", body, format="json"), before)


@pytest.mark.parametrize("body", [["fileName", "x"], "x", 5, None])
def test_axelor_folder_body_must_be_an_object(garden_user, body):
    import json

    before = DMSFile.objects.count()
    _refused(garden_user.post("/ws/dms/files", json.dumps(body), content_type="application/json"),
             before)


def test_axelor_folder_with_good_types_is_created(garden_user):
    root = garden_user.get("/ws/dms/files").json()["data"][0]
    response = garden_user.post("/ws/dms/files", {"fileName": "Typed", "isDirectory": True,
                                                  "parent": {"id": root["id"]}}, format="json")
    assert response.status_code == 200, response.content
    assert DMSFile.objects.filter(name="Typed", parent_id=root["id"]).exists()
    response = garden_user.post("/ws/dms/files", {"data": {"fileName": "Typed2",
                                                           "parent": str(root["id"])}},
                                format="json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("records", [[{"id": {"a": 1}}], [{"id": True}], [[1]], [True], [{"id": [1]}],
                                     [{"id": 1.5}], {"id": "x"}, "x"])
def test_axelor_attach_record_refs_have_their_types(garden_user, joe, records):
    before = DMSFile.objects.count()
    response = garden_user.put(f"/ws/dms/attachments/c_bpartner/{joe.pk}", {"records": records},
                               format="json")
    _refused(response, before)


@pytest.mark.parametrize("body", [
    {"entity-type": "document", "type": {"a": 1}, "name": "x"},
    {"entity-type": "document", "type": "Folder", "name": {"a": 1}},
    {"entity-type": "document", "type": "Folder", "name": ["x"]},
    {"entity-type": "document", "type": "Folder", "name": 5},
    {"entity-type": "document", "type": "Folder", "properties": {"dc:title": {"a": 1}}},
    {"entity-type": "document", "type": "Folder", "properties": {"dc:title": ["t"]}},
    {"entity-type": "document", "type": "Folder", "properties": []},
    {"entity-type": "document", "type": "File",
     "properties": {"file:content": {"upload-batch": {"a": 1}, "upload-fileId": "0"}}},
    {"entity-type": "document", "type": "File",
     "properties": {"file:content": {"upload-batch": "b", "upload-fileId": ["0"]}}},
    {"entity-type": "document", "type": "File", "properties": {"file:content": "x"}},
    {"entity-type": ["document"], "type": "Folder", "name": "x"},
])
def test_nuxeo_document_fields_have_their_types(garden_user, body):
    before = DMSFile.objects.count()
    _refused(garden_user.post("/api/v1/path/default-domain/workspaces", body, format="json"),
             before)


def _twake(client) -> str:
    return f"/internal/services/files/v1/companies/{client.tokens['clientId']}/files"


@pytest.mark.parametrize("body", [{"fileName": {"a": 1}}, {"filename": "x.bin"}])
def test_twake_create_takes_no_json_body(garden_user, body):
    before = DMSFile.objects.count()
    response = garden_user.post(f"{_twake(garden_user)}?filename=a.bin&total_size=4&total_chunks=1",
                                body, format="json")
    assert response.status_code == 415, response.content
    assert response.json()["status"] == 415
    assert DMSFile.objects.count() == before
    assert not UploadSession.objects.exists()
