"""Org access on every document dialect: a read-only org (RoleOrgAccess.IsReadOnly) answers 403 to
writes and leaves nothing written; an org the role does not see answers 404 to reads.

GardenWorld User writes HQ, reads Store, does not see Hidden (``orgs`` fixture). GardenWorld Admin
(all orgs) logs in to Store and Hidden to make the rows the user meets there.
"""

from __future__ import annotations

import base64
import io
import zipfile
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import RoleOrgAccess
from apps.dms.models import DMSFile

from .conftest import body_of, idempiere_upload, partner_in, record_of, written_state

pytestmark = pytest.mark.django_db(transaction=True)

WS = "/default-domain/workspaces"


def _twake(client_pk):
    return f"/internal/services/files/v1/companies/{client_pk}/files"


def _attachments(record, suffix=""):
    return f"/api/v1/models/c_bpartner/{record.pk}/attachments{suffix}"


def _attach(client, record, name, data=b"data\n"):
    response = client.post(_attachments(record), {
        "name": name, "data": base64.b64encode(data).decode()}, format="json")
    assert response.status_code == 201, response.content
    return DMSFile.objects.get(table_name="c_bpartner", record_id=record.pk, name=name)


def _nuxeo_folder(client, parent, name):
    response = client.post("/api/v1/path" + parent, {
        "entity-type": "document", "name": name, "type": "Folder"}, format="json")
    assert response.status_code == 201, response.content
    return DMSFile.objects.get(uid=response.json()["uid"])


def _batch(client, name="n.txt", data=b"nuxeo\n"):
    batch_id = client.post("/api/v1/upload").json()["batchId"]
    response = client.post(f"/api/v1/upload/{batch_id}/0", data,
                           content_type="application/octet-stream", HTTP_X_FILE_NAME=name,
                           HTTP_X_FILE_TYPE="text/plain")
    assert response.status_code in (200, 201), response.content
    return batch_id


def _nuxeo_doc_body(name, batch_id):
    return {"entity-type": "document", "name": name, "type": "File",
            "properties": {"file:content": {"upload-batch": batch_id, "upload-fileId": "0"}}}


def _nuxeo_doc(client, parent, name):
    response = client.post("/api/v1/path" + parent, _nuxeo_doc_body(name, _batch(client)),
                           format="json")
    assert response.status_code == 201, response.content
    return DMSFile.objects.get(uid=response.json()["uid"])


def _twake_file(client, client_pk, name="t.txt", data=b"twake\n"):
    response = client.post(_twake(client_pk), {"file": SimpleUploadedFile(name, data, "text/plain")},
                           format="multipart")
    assert response.status_code == 200, response.content
    return DMSFile.objects.get(uid=response.json()["resource"]["id"])


def _meta_file(client, name="m.txt", data=b"axelor\n"):
    response = client.post("/ws/files/upload", data, content_type="application/octet-stream",
                           HTTP_X_FILE_NAME=name, HTTP_X_FILE_OFFSET="0",
                           HTTP_X_FILE_SIZE=str(len(data)), HTTP_X_FILE_TYPE="text/plain")
    assert response.status_code == 200, response.content
    return response.json()["id"]


def _zip_body():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("z.txt", "zipped\n")
    return {"data": base64.b64encode(out.getvalue()).decode()}


@pytest.fixture
def world(orgs, garden_user, local_storage):
    from tests.accounts.helpers import bearer_client

    store, hidden = orgs["store"], orgs["hidden"]
    in_store = bearer_client("GardenAdmin", organizationId=store.pk)
    in_hidden = bearer_client("GardenAdmin", organizationId=hidden.pk)
    joe = record_of("c_bpartner", name="Joe Block")
    client_pk = joe.client_id
    w = SimpleNamespace(
        user=garden_user, user_in_store=bearer_client("GardenUser", organizationId=store.pk),
        orgs=orgs, joe=joe, client_pk=client_pk, media=local_storage,
        bp_store=partner_in(store, "StoreBP"), bp_hidden=partner_in(hidden, "HiddenBP"),
    )
    # Store: rows the user may read but not write.
    w.store_folder = _nuxeo_folder(in_store, WS, "storefolder")
    w.store_doc = _nuxeo_doc(in_store, WS, "storedoc")
    w.store_twake = _twake_file(in_store, client_pk, "store.txt")
    w.store_attachment = _attach(in_store, w.bp_store, "s.txt")
    # Hidden: rows the user must not see at all.
    w.hidden_folder = _nuxeo_folder(in_hidden, WS, "hiddenfolder")
    w.hidden_doc = _nuxeo_doc(in_hidden, WS, "hiddendoc")
    w.hidden_twake = _twake_file(in_hidden, client_pk, "hidden.txt")
    w.hidden_on_joe = _attach(in_hidden, joe, "h.txt")
    w.hidden_on_bp = _attach(in_hidden, w.bp_hidden, "hb.txt")
    # The user's own pieces (made in HQ) and a writable HQ folder.
    w.hq_folder = _nuxeo_folder(garden_user, WS, "hqfolder")
    w.visible_on_joe = _attach(garden_user, joe, "v.txt")
    w.meta_id = _meta_file(garden_user)
    w.upload_id = idempiere_upload(garden_user, b"copy me\n", name="c.txt")
    w.batch_id = _batch(garden_user)
    return w


# --- read-only org: 403 and nothing written --------------------------------------------------------

READ_ONLY_WRITES = {
    # Writes on rows / records of the read-only org, by the user logged in to HQ.
    "attachments-post-store-record": lambda w: w.user.post(
        _attachments(w.bp_store), {"name": "x.txt", "data": "eA=="}, format="json"),
    "attachments-zip-post-store-record": lambda w: w.user.post(
        _attachments(w.bp_store, "/zip"), _zip_body(), format="json"),
    "attachment-delete-store-record": lambda w: w.user.delete(_attachments(w.bp_store, "/s.txt")),
    "attachments-delete-all-store-record": lambda w: w.user.delete(_attachments(w.bp_store)),
    "copy-attachment-store-record": lambda w: w.user.post(
        f"/api/v1/uploads/{w.upload_id}/copy",
        {"copyLocation": "ATTACHMENT", "tableName": "C_BPartner", "recordId": w.bp_store.pk},
        format="json"),
    "copy-archive-store-record": lambda w: w.user.post(
        f"/api/v1/uploads/{w.upload_id}/copy",
        {"copyLocation": "ARCHIVE", "tableName": "C_BPartner", "recordId": w.bp_store.pk},
        format="json"),
    "axelor-attach-store-record": lambda w: w.user.put(
        f"/ws/dms/attachments/C_BPartner/{w.bp_store.pk}", {"records": [{"id": w.meta_id}]},
        format="json"),
    "axelor-delete-store-attachment": lambda w: w.user.delete(
        f"/ws/dms/files/{w.store_attachment.pk}"),
    "axelor-folder-in-store-folder": lambda w: w.user.post(
        "/ws/dms/files", {"fileName": "sub", "isDirectory": True,
                          "parent": {"id": w.store_folder.pk}}, format="json"),
    "axelor-delete-store-folder": lambda w: w.user.delete(f"/ws/dms/files/{w.store_folder.pk}"),
    "axelor-rest-delete-store-doc": lambda w: w.user.delete(
        f"/ws/rest/com.axelor.dms.db.DMSFile/{w.store_doc.pk}"),
    "nuxeo-folder-in-store-folder": lambda w: w.user.post(
        f"/api/v1/path{WS}/storefolder",
        {"entity-type": "document", "name": "sub", "type": "Folder"}, format="json"),
    "nuxeo-document-in-store-folder": lambda w: w.user.post(
        f"/api/v1/path{WS}/storefolder", _nuxeo_doc_body("doc", w.batch_id), format="json"),
    "nuxeo-delete-store-doc": lambda w: w.user.delete(f"/api/v1/path{WS}/storedoc"),
    "twake-delete-store-file": lambda w: w.user.delete(
        f"{_twake(w.client_pk)}/{w.store_twake.uid}"),
    # The user logged in to the read-only org: every new row would land there.
    "in-store-attachments-post-hq-record": lambda w: w.user_in_store.post(
        _attachments(w.joe), {"name": "x.txt", "data": "eA=="}, format="json"),
    "in-store-attachments-zip-post": lambda w: w.user_in_store.post(
        _attachments(w.joe, "/zip"), _zip_body(), format="json"),
    "in-store-copy-attachment": lambda w: w.user_in_store.post(
        f"/api/v1/uploads/{w.upload_id}/copy",
        {"copyLocation": "ATTACHMENT", "tableName": "C_BPartner", "recordId": w.joe.pk},
        format="json"),
    "in-store-copy-image": lambda w: w.user_in_store.post(
        f"/api/v1/uploads/{w.upload_id}/copy", {"copyLocation": "IMAGE"}, format="json"),
    "in-store-copy-archive": lambda w: w.user_in_store.post(
        f"/api/v1/uploads/{w.upload_id}/copy", {"copyLocation": "ARCHIVE"}, format="json"),
    "in-store-axelor-attach": lambda w: w.user_in_store.put(
        f"/ws/dms/attachments/C_BPartner/{w.joe.pk}", {"records": [{"id": w.meta_id}]},
        format="json"),
    "in-store-axelor-folder-at-root": lambda w: w.user_in_store.post(
        "/ws/dms/files", {"fileName": "Root2", "isDirectory": True}, format="json"),
    "in-store-nuxeo-folder": lambda w: w.user_in_store.post(
        f"/api/v1/path{WS}", {"entity-type": "document", "name": "f", "type": "Folder"},
        format="json"),
    "in-store-nuxeo-document": lambda w: w.user_in_store.post(
        f"/api/v1/path{WS}", _nuxeo_doc_body("doc", w.batch_id), format="json"),
    "in-store-twake-single-upload": lambda w: w.user_in_store.post(
        _twake(w.client_pk), {"file": SimpleUploadedFile("u.txt", b"up\n", "text/plain")},
        format="multipart"),
    "in-store-twake-chunked-init": lambda w: w.user_in_store.post(
        _twake(w.client_pk) + "?filename=c.bin&total_chunks=2&total_size=4"),
}


@pytest.mark.parametrize("case", sorted(READ_ONLY_WRITES))
def test_read_only_org_write_is_403_and_writes_nothing(world, case):
    before = written_state(world.media)
    response = READ_ONLY_WRITES[case](world)
    assert response.status_code == 403, response.content
    body = response.json()
    assert set(body) >= {"title", "status", "detail"} and body["status"] == 403
    assert "read-only" in body["detail"] and str(world.orgs["store"].pk) in body["detail"]
    assert written_state(world.media) == before


def test_read_only_org_rows_stay_readable(world):
    user = world.user
    assert user.get(_attachments(world.bp_store)).json() == {
        "attachments": [{"name": "s.txt", "contentType": "text/plain"}]}
    assert body_of(user.get(_attachments(world.bp_store, "/s.txt"))) == b"data\n"
    assert body_of(user.get(f"/ws/dms/download/{world.store_attachment.pk}")) == b"data\n"
    assert user.get(f"/api/v1/path{WS}/storedoc").status_code == 200
    assert body_of(user.get(f"{_twake(world.client_pk)}/{world.store_twake.uid}/download")) \
        == b"twake\n"
    names = {f["fileName"] for f in user.get(
        f"/ws/dms/files?parent={world.store_folder.parent_id}").json()["data"]}
    assert {"storefolder", "storedoc", "hqfolder"} <= names
    # Logged in to the read-only org, the user still reads.
    assert world.user_in_store.get(_attachments(world.joe)).status_code == 200


def test_twake_chunks_into_a_file_whose_org_became_read_only(world):
    init = world.user.post(_twake(world.client_pk) + "?filename=c.bin&total_chunks=2&total_size=4")
    assert init.status_code == 200, init.content
    RoleOrgAccess.objects.filter(org=world.orgs["hq"], role__name="GardenWorld User").update(
        is_read_only=True)
    before = written_state(world.media)
    url = f"{_twake(world.client_pk)}/{init.json()['resource']['id']}?chunk_number=1"
    response = world.user.post(url, {"file": SimpleUploadedFile("b", b"ab")}, format="multipart")
    assert response.status_code == 403, response.content
    assert written_state(world.media) == before


def test_writable_org_still_writes(world):
    """The control: the same calls in HQ succeed."""
    user = world.user
    assert user.post(f"/api/v1/path{WS}/hqfolder", {
        "entity-type": "document", "name": "sub", "type": "Folder"}, format="json").status_code == 201
    assert user.put(f"/ws/dms/attachments/C_BPartner/{world.joe.pk}",
                    {"records": [{"id": world.meta_id}]}, format="json").status_code == 200
    copy = user.post(f"/api/v1/uploads/{world.upload_id}/copy", {"copyLocation": "IMAGE"},
                     format="json")
    assert copy.status_code == 200, copy.content
    assert user.delete(f"/api/v1/path{WS}/hqfolder").status_code == 204


# --- an org the role does not see: 404 on reads, and its rows are not listed -----------------------

HIDDEN_READS = {
    "attachments-list-hidden-record": lambda w: w.user.get(_attachments(w.bp_hidden)),
    "attachment-get-hidden-record": lambda w: w.user.get(_attachments(w.bp_hidden, "/hb.txt")),
    "attachment-get-hidden-row-of-visible-record": lambda w: w.user.get(
        _attachments(w.joe, "/h.txt")),
    "attachment-json-hidden-row": lambda w: w.user.get(_attachments(w.joe, "/h.txt") + "?json"),
    "attachments-zip-hidden-record": lambda w: w.user.get(_attachments(w.bp_hidden, "/zip")),
    "axelor-attachments-hidden-record": lambda w: w.user.get(
        f"/ws/dms/attachments/C_BPartner/{w.bp_hidden.pk}"),
    "axelor-list-hidden-folder": lambda w: w.user.get(f"/ws/dms/files?parent={w.hidden_folder.pk}"),
    "axelor-download-hidden-doc": lambda w: w.user.get(f"/ws/dms/download/{w.hidden_doc.pk}"),
    "axelor-download-hidden-attachment": lambda w: w.user.get(
        f"/ws/dms/download/{w.hidden_on_joe.pk}"),
    "nuxeo-get-hidden-doc": lambda w: w.user.get(f"/api/v1/path{WS}/hiddendoc"),
    "nuxeo-blob-hidden-doc": lambda w: w.user.get(
        f"/api/v1/path{WS}/hiddendoc/@blob/file:content"),
    "nuxeo-get-hidden-folder": lambda w: w.user.get(f"/api/v1/path{WS}/hiddenfolder"),
    "twake-metadata-hidden-file": lambda w: w.user.get(
        f"{_twake(w.client_pk)}/{w.hidden_twake.uid}"),
    "twake-metadata-alias-hidden-file": lambda w: w.user.get(
        f"/internal/services/files/v1/{w.client_pk}/files/{w.hidden_twake.uid}"),
    "twake-download-hidden-file": lambda w: w.user.get(
        f"{_twake(w.client_pk)}/{w.hidden_twake.uid}/download"),
    "twake-thumbnail-hidden-file": lambda w: w.user.get(
        f"{_twake(w.client_pk)}/{w.hidden_twake.uid}/thumbnails/0"),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_READS))
def test_unseen_org_reads_are_404(world, case):
    response = HIDDEN_READS[case](world)
    assert response.status_code == 404, response.content
    assert response.json()["status"] == 404


HIDDEN_WRITES = {
    "attachment-delete-hidden-row": lambda w: w.user.delete(_attachments(w.joe, "/h.txt")),
    "attachments-post-hidden-record": lambda w: w.user.post(
        _attachments(w.bp_hidden), {"name": "x.txt", "data": "eA=="}, format="json"),
    "axelor-delete-hidden-doc": lambda w: w.user.delete(f"/ws/dms/files/{w.hidden_doc.pk}"),
    "axelor-folder-in-hidden-folder": lambda w: w.user.post(
        "/ws/dms/files", {"fileName": "sub", "isDirectory": True,
                          "parent": {"id": w.hidden_folder.pk}}, format="json"),
    "nuxeo-delete-hidden-doc": lambda w: w.user.delete(f"/api/v1/path{WS}/hiddendoc"),
    "nuxeo-document-in-hidden-folder": lambda w: w.user.post(
        f"/api/v1/path{WS}/hiddenfolder", _nuxeo_doc_body("doc", w.batch_id), format="json"),
    "twake-delete-hidden-file": lambda w: w.user.delete(
        f"{_twake(w.client_pk)}/{w.hidden_twake.uid}"),
    "copy-to-hidden-record": lambda w: w.user.post(
        f"/api/v1/uploads/{w.upload_id}/copy",
        {"copyLocation": "ATTACHMENT", "tableName": "C_BPartner", "recordId": w.bp_hidden.pk},
        format="json"),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_WRITES))
def test_unseen_org_writes_are_404_and_write_nothing(world, case):
    before = written_state(world.media)
    response = HIDDEN_WRITES[case](world)
    assert response.status_code == 404, response.content
    assert written_state(world.media) == before


def test_unseen_org_rows_are_not_listed(world):
    user, joe = world.user, world.joe
    assert user.get(_attachments(joe)).json() == {
        "attachments": [{"name": "v.txt", "contentType": "text/plain"}]}
    assert [f["fileName"] for f in user.get(
        f"/ws/dms/attachments/C_BPartner/{joe.pk}").json()["data"]] == ["v.txt"]
    with zipfile.ZipFile(io.BytesIO(body_of(user.get(_attachments(joe, "/zip"))))) as archive:
        assert archive.namelist() == ["v.txt"]
    names = {f["fileName"] for f in user.get(
        f"/ws/dms/files?parent={world.hidden_folder.parent_id}").json()["data"]}
    assert not names & {"hiddenfolder", "hiddendoc", "hidden.txt"}
    # Deleting "all" of Joe's attachments deletes the ones the user sees, not the hidden one.
    assert user.delete(_attachments(joe)).status_code == 200
    assert DMSFile.objects.filter(pk=world.hidden_on_joe.pk).exists()
    assert not DMSFile.objects.filter(pk=world.visible_on_joe.pk).exists()
