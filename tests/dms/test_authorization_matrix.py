"""The authorization matrix of every document dialect (CONVENTIONS §10): anonymous → 401, another
tenant → 404 (never 403), no write access to the table → 403, someone else's upload → 404; each
refused call writes nothing (rows and stored bytes are compared before and after).

Dialects: record attachments (/api/v1/models/{table}/{id}/attachments), iDempiere copy
(/api/v1/uploads/{id}/copy), Axelor (/ws/...), Twake (/internal/services/files/v1/...) and Nuxeo
(/api/v1/path/...). Twake and Nuxeo files are not attached to records: the table cell is Axelor's,
the attachments' and the copy's only. Org access (read-only, unseen) is in test_org_access.py.
"""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from .conftest import body_of, idempiere_upload, record_of, written_state
from .test_org_access import (
    _attach,
    _attachments,
    _batch,
    _meta_file,
    _nuxeo_doc,
    _nuxeo_doc_body,
    _nuxeo_folder,
    _twake,
    _twake_file,
    _zip_body,
)

pytestmark = pytest.mark.django_db(transaction=True)

WS = "/default-domain/workspaces"
X = {"name": "x.txt", "data": "eA=="}


def _ev_url(w, suffix=""):
    return f"/api/v1/models/c_elementvalue/{w.account.pk}/attachments{suffix}"


def _copy(client, upload_id, table="C_BPartner", record_id=None, location="ATTACHMENT"):
    body = {"copyLocation": location}
    if record_id is not None:
        body.update(tableName=table, recordId=record_id)
    return client.post(f"/api/v1/uploads/{upload_id}/copy", body, format="json")


def _axelor_chunk(client, file_id, data=b"more", offset=4, size=8):
    return client.post("/ws/files/upload", data, content_type="application/octet-stream",
                       HTTP_X_FILE_NAME="p.bin", HTTP_X_FILE_OFFSET=str(offset),
                       HTTP_X_FILE_SIZE=str(size), HTTP_X_FILE_ID=file_id)


@pytest.fixture
def world(demo, garden_user, garden_admin, acme_admin, anon_client, local_storage):
    joe = record_of("c_bpartner", name="Joe Block")
    acme_pk = record_of("c_bpartner", name="Road Runner").client_id
    from apps.records.registry import table_spec

    account = table_spec("c_elementvalue").model.objects.filter(client__name="GardenWorld").first()
    w = SimpleNamespace(
        user=garden_user, admin=garden_admin, acme=acme_admin, anon=anon_client, joe=joe,
        road_runner=record_of("c_bpartner", name="Road Runner"), account=account,
        garden_pk=joe.client_id, acme_pk=acme_pk, media=local_storage,
    )
    # GardenWorld's documents, made by the user (the admin for the table the user cannot write).
    w.folder = _nuxeo_folder(garden_user, WS, "gfolder")
    w.doc = _nuxeo_doc(garden_user, WS, "gdoc")
    w.twake = _twake_file(garden_user, w.garden_pk, "g.txt")
    w.on_joe = _attach(garden_user, joe, "a.txt")
    response = garden_admin.post(_ev_url(w), {"name": "ev.txt", "data": "ZXY="}, format="json")
    assert response.status_code == 201, response.content
    from apps.dms.models import DMSFile

    w.on_account = DMSFile.objects.get(table_name="c_elementvalue", record_id=account.pk)
    # The user's uploads, not yet used; a pending Twake file and a half-sent Axelor MetaFile.
    w.meta_id = _meta_file(garden_user)
    first = garden_user.post("/ws/files/upload", b"half", content_type="application/octet-stream",
                             HTTP_X_FILE_NAME="p.bin", HTTP_X_FILE_OFFSET="0", HTTP_X_FILE_SIZE="8")
    w.partial_meta_id = first.json()["fileId"]
    w.upload_id = idempiere_upload(garden_user, b"copy me\n", name="c.txt")
    w.batch_id = _batch(garden_user)
    init = garden_user.post(_twake(w.garden_pk) + "?filename=p.bin&total_chunks=2&total_size=4")
    w.pending_uid = init.json()["resource"]["id"]
    # Acme's own uploads (another tenant using its own bytes on GardenWorld's records).
    w.acme_meta_id = _meta_file(acme_admin)
    w.acme_upload_id = idempiere_upload(acme_admin, b"acme\n", name="acme.txt")
    w.acme_batch_id = _batch(acme_admin)
    return w


def _twake_file_url(w, company=None, uid=None):
    return f"{_twake(company or w.garden_pk)}/{uid or w.twake.uid}"


# (client attribute, call) per cell; every call targets GardenWorld's documents and records.
ENDPOINTS = {
    "attachments-list": lambda c, w: c.get(_attachments(w.joe)),
    "attachments-post": lambda c, w: c.post(_attachments(w.joe), X, format="json"),
    "attachment-get": lambda c, w: c.get(_attachments(w.joe, "/a.txt")),
    "attachment-get-json": lambda c, w: c.get(_attachments(w.joe, "/a.txt") + "?json"),
    "attachment-delete": lambda c, w: c.delete(_attachments(w.joe, "/a.txt")),
    "attachments-delete-all": lambda c, w: c.delete(_attachments(w.joe)),
    "attachments-zip-get": lambda c, w: c.get(_attachments(w.joe, "/zip")),
    "attachments-zip-post": lambda c, w: c.post(_attachments(w.joe, "/zip"), _zip_body(),
                                                format="json"),
    "copy-attachment": lambda c, w: _copy(c, w.upload_id, record_id=w.joe.pk),
    "copy-image": lambda c, w: _copy(c, w.upload_id, location="IMAGE"),
    "axelor-upload": lambda c, w: c.post(
        "/ws/files/upload", b"abc", content_type="application/octet-stream",
        HTTP_X_FILE_NAME="a.bin", HTTP_X_FILE_OFFSET="0", HTTP_X_FILE_SIZE="3"),
    "axelor-upload-continue": lambda c, w: _axelor_chunk(c, w.partial_meta_id),
    "axelor-files-list": lambda c, w: c.get(f"/ws/dms/files?parent={w.folder.pk}"),
    "axelor-folder-create": lambda c, w: c.post(
        "/ws/dms/files", {"fileName": "sub", "isDirectory": True, "parent": {"id": w.folder.pk}},
        format="json"),
    "axelor-download": lambda c, w: c.get(f"/ws/dms/download/{w.doc.pk}"),
    "axelor-download-attachment": lambda c, w: c.get(f"/ws/dms/download/{w.on_joe.pk}"),
    "axelor-delete": lambda c, w: c.delete(f"/ws/dms/files/{w.doc.pk}"),
    "axelor-rest-delete": lambda c, w: c.delete(f"/ws/rest/com.axelor.dms.db.DMSFile/{w.doc.pk}"),
    "axelor-attachments-list": lambda c, w: c.get(f"/ws/dms/attachments/C_BPartner/{w.joe.pk}"),
    "axelor-attach": lambda c, w: c.put(
        f"/ws/dms/attachments/C_BPartner/{w.joe.pk}", {"records": [{"id": w.meta_id}]},
        format="json"),
    "twake-upload": lambda c, w: c.post(
        _twake(w.garden_pk), {"file": SimpleUploadedFile("u.txt", b"up\n", "text/plain")},
        format="multipart"),
    "twake-chunked-init": lambda c, w: c.post(
        _twake(w.garden_pk) + "?filename=c.bin&total_chunks=2&total_size=4"),
    "twake-chunk": lambda c, w: c.post(
        _twake_file_url(w, uid=w.pending_uid) + "?chunk_number=1",
        {"file": SimpleUploadedFile("b", b"ab")}, format="multipart"),
    "twake-metadata": lambda c, w: c.get(_twake_file_url(w)),
    "twake-metadata-alias": lambda c, w: c.get(
        f"/internal/services/files/v1/{w.garden_pk}/files/{w.twake.uid}"),
    "twake-download": lambda c, w: c.get(_twake_file_url(w) + "/download"),
    "twake-thumbnail": lambda c, w: c.get(_twake_file_url(w) + "/thumbnails/0"),
    "twake-delete": lambda c, w: c.delete(_twake_file_url(w)),
    "nuxeo-get": lambda c, w: c.get(f"/api/v1/path{WS}/gdoc"),
    "nuxeo-blob": lambda c, w: c.get(f"/api/v1/path{WS}/gdoc/@blob/file:content"),
    "nuxeo-folder-create": lambda c, w: c.post(
        f"/api/v1/path{WS}/gfolder", {"entity-type": "document", "name": "s", "type": "Folder"},
        format="json"),
    "nuxeo-document-create": lambda c, w: c.post(
        f"/api/v1/path{WS}/gfolder", _nuxeo_doc_body("d", w.batch_id), format="json"),
    "nuxeo-delete": lambda c, w: c.delete(f"/api/v1/path{WS}/gdoc"),
}


def _refused(w, client, call, status):
    before = written_state(w.media)
    response = call(client, w)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert written_state(w.media) == before
    return response


# --- anonymous: 401 everywhere ----------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_anonymous_is_401(world, endpoint):
    _refused(world, world.anon, ENDPOINTS[endpoint], 401)


# --- another tenant: 404 (never 403), on GardenWorld's company, records, paths and ids ---------------

OTHER_TENANT = sorted(set(ENDPOINTS) - {
    # Acme's own (authorized) uploads and its own tree: covered by the Acme-specific cases below.
    "axelor-upload", "copy-image", "twake-upload", "twake-chunked-init",
    # Acme's attach uses Acme's own MetaFile (below); the user's would be "someone else's upload".
    "axelor-attach", "nuxeo-document-create",
})

ACME_OWN = {
    # Acme's own bytes onto GardenWorld's records and folders.
    "copy-own-upload-to-garden-record": lambda c, w: _copy(c, w.acme_upload_id, record_id=w.joe.pk),
    "copy-own-upload-archive-garden-record": lambda c, w: _copy(
        c, w.acme_upload_id, record_id=w.joe.pk, location="ARCHIVE"),
    "axelor-attach-own-metafile-to-garden-record": lambda c, w: c.put(
        f"/ws/dms/attachments/C_BPartner/{w.joe.pk}", {"records": [{"id": w.acme_meta_id}]},
        format="json"),
    "nuxeo-own-batch-under-garden-folder": lambda c, w: c.post(
        f"/api/v1/path{WS}/gfolder", _nuxeo_doc_body("d", w.acme_batch_id), format="json"),
    # Acme's own company URL with GardenWorld's file id.
    "twake-own-company-metadata": lambda c, w: c.get(_twake_file_url(w, company=w.acme_pk)),
    "twake-own-company-download": lambda c, w: c.get(
        _twake_file_url(w, company=w.acme_pk) + "/download"),
    "twake-own-company-delete": lambda c, w: c.delete(_twake_file_url(w, company=w.acme_pk)),
    "twake-own-company-chunk": lambda c, w: c.post(
        _twake_file_url(w, company=w.acme_pk, uid=w.pending_uid) + "?chunk_number=1",
        {"file": SimpleUploadedFile("b", b"ab")}, format="multipart"),
    # GardenWorld's company URL for Acme's own upload.
    "twake-garden-company-upload": lambda c, w: c.post(
        _twake(w.garden_pk), {"file": SimpleUploadedFile("u.txt", b"up\n", "text/plain")},
        format="multipart"),
}

GARDEN_TO_ACME = {
    # GardenWorld's user on Acme's record and company.
    "attachments-list-acme-record": lambda c, w: c.get(_attachments(w.road_runner)),
    "attachments-post-acme-record": lambda c, w: c.post(_attachments(w.road_runner), X,
                                                        format="json"),
    "attachments-delete-acme-record": lambda c, w: c.delete(_attachments(w.road_runner)),
    "copy-to-acme-record": lambda c, w: _copy(c, w.upload_id, record_id=w.road_runner.pk),
    "axelor-attach-to-acme-record": lambda c, w: c.put(
        f"/ws/dms/attachments/C_BPartner/{w.road_runner.pk}", {"records": [{"id": w.meta_id}]},
        format="json"),
    "twake-upload-to-acme-company": lambda c, w: c.post(
        _twake(w.acme_pk), {"file": SimpleUploadedFile("u.txt", b"up\n", "text/plain")},
        format="multipart"),
    "twake-acme-company-metadata": lambda c, w: c.get(_twake_file_url(w, company=w.acme_pk)),
}


@pytest.mark.parametrize("endpoint", OTHER_TENANT)
def test_other_tenant_is_404(world, endpoint):
    _refused(world, world.acme, ENDPOINTS[endpoint], 404)


@pytest.mark.parametrize("case", sorted(ACME_OWN))
def test_other_tenant_with_its_own_uploads_is_404(world, case):
    _refused(world, world.acme, ACME_OWN[case], 404)


@pytest.mark.parametrize("case", sorted(GARDEN_TO_ACME))
def test_other_tenants_records_and_company_are_404(world, case):
    _refused(world, world.user, GARDEN_TO_ACME[case], 404)


# --- no write access to the table: 403 (reading stays allowed) ---------------------------------------

NO_TABLE_WRITE = {
    "attachments-post": lambda c, w: c.post(_ev_url(w), X, format="json"),
    "attachments-zip-post": lambda c, w: c.post(_ev_url(w, "/zip"), _zip_body(), format="json"),
    "attachment-delete": lambda c, w: c.delete(_ev_url(w, "/ev.txt")),
    "attachments-delete-all": lambda c, w: c.delete(_ev_url(w)),
    "copy-attachment": lambda c, w: _copy(c, w.upload_id, "C_ElementValue", w.account.pk),
    "copy-archive": lambda c, w: _copy(c, w.upload_id, "C_ElementValue", w.account.pk, "ARCHIVE"),
    "axelor-attach": lambda c, w: c.put(
        f"/ws/dms/attachments/C_ElementValue/{w.account.pk}", {"records": [{"id": w.meta_id}]},
        format="json"),
    "axelor-delete-attachment": lambda c, w: c.delete(f"/ws/dms/files/{w.on_account.pk}"),
    "axelor-rest-delete-attachment": lambda c, w: c.delete(
        f"/ws/rest/com.axelor.dms.db.DMSFile/{w.on_account.pk}"),
}


@pytest.mark.parametrize("case", sorted(NO_TABLE_WRITE))
def test_no_write_access_to_the_table_is_403(world, case):
    _refused(world, world.user, NO_TABLE_WRITE[case], 403)


def test_no_write_access_to_the_table_still_reads(world):
    user = world.user
    assert user.get(_ev_url(world)).json() == {
        "attachments": [{"name": "ev.txt", "contentType": "text/plain"}]}
    assert body_of(user.get(_ev_url(world, "/ev.txt"))) == b"ev"
    assert body_of(user.get(f"/ws/dms/download/{world.on_account.pk}")) == b"ev"
    assert user.get(f"/ws/dms/attachments/C_ElementValue/{world.account.pk}").json()["total"] == 1


# --- someone else's upload (same tenant): 404 ---------------------------------------------------------

OTHERS_UPLOAD = {
    "copy": lambda c, w: _copy(c, w.upload_id, record_id=w.joe.pk),
    "copy-image": lambda c, w: _copy(c, w.upload_id, location="IMAGE"),
    "axelor-attach": ENDPOINTS["axelor-attach"],
    "axelor-upload-continue": ENDPOINTS["axelor-upload-continue"],
    "twake-chunk": ENDPOINTS["twake-chunk"],
    "nuxeo-document-create": ENDPOINTS["nuxeo-document-create"],
    "nuxeo-batch-read": lambda c, w: c.get(f"/api/v1/upload/{w.batch_id}"),
    "upload-status": lambda c, w: c.get(f"/api/v1/uploads/{w.upload_id}"),
}


@pytest.mark.parametrize("case", sorted(OTHERS_UPLOAD))
def test_someone_elses_upload_is_404(world, case):
    """GardenWorld Admin (all tables, all orgs) still cannot use the user's uploads."""
    _refused(world, world.admin, OTHERS_UPLOAD[case], 404)


@pytest.mark.parametrize("case", ["copy", "axelor-attach", "nuxeo-document-create", "twake-chunk"])
def test_another_tenants_upload_is_404(world, case):
    _refused(world, world.acme, OTHERS_UPLOAD[case], 404)


def test_the_owner_can_use_each_upload(world):
    """The control for the cells above: the same uploads work for their owner."""
    user = world.user
    assert ENDPOINTS["axelor-attach"](user, world).status_code == 200
    assert ENDPOINTS["nuxeo-document-create"](user, world).status_code == 201
    assert ENDPOINTS["twake-chunk"](user, world).status_code == 200
    assert _copy(user, world.upload_id, record_id=world.joe.pk).status_code == 200
    assert _axelor_chunk(user, world.partial_meta_id).status_code == 200
    assert base64.b64decode(user.get(_attachments(world.joe, "/c.txt") + "?json").json()["data"]) \
        == b"copy me\n"
