"""Axelor DMS: chunked upload → attach → list → download → delete; folders; offsets."""

import pytest

from apps.dms.models import DMSFile

from .conftest import body_of

pytestmark = pytest.mark.django_db(transaction=True)


def _chunk(client, data, offset, size, file_id=None, name="some.tar.gz"):
    headers = {"HTTP_X_FILE_NAME": name, "HTTP_X_FILE_OFFSET": str(offset),
               "HTTP_X_FILE_SIZE": str(size), "HTTP_X_FILE_TYPE": "application/gzip"}
    if file_id:
        headers["HTTP_X_FILE_ID"] = file_id
    return client.post("/ws/files/upload", data, content_type="application/octet-stream",
                       **headers)


def _upload(client, data, chunk=100, name="some.bin"):
    file_id, answer = None, None
    for offset in range(0, len(data), chunk):
        response = _chunk(client, data[offset:offset + chunk], offset, len(data), file_id, name)
        assert response.status_code == 200, response.content
        answer = response.json()
        file_id = file_id or answer.get("fileId") or answer.get("id")
    return answer


def test_upload_attach_list_download_delete(garden_user, joe, storage):
    data = bytes(range(256)) * 2  # 512 bytes in chunks of 100
    meta = _upload(garden_user, data, name="some.tar.gz")
    assert meta["fileName"] == "some.tar.gz" and meta["fileSize"] == 512 and "fileId" not in meta

    url = f"/ws/dms/attachments/com.axelor.base.db.C_BPartner/{joe.pk}"
    response = garden_user.put(url, {"records": [{"id": meta["id"]}]}, format="json")
    assert response.status_code == 200, response.content
    [placed] = response.json()["data"]
    assert placed == {"id": placed["id"], "version": 1, "fileName": "some.tar.gz",
                      "isDirectory": False}

    listed = garden_user.get(f"/ws/dms/attachments/c_bpartner/{joe.pk}").json()
    assert listed == {"total": 1, "data": [placed]}  # {total, data: [{id, version, fileName, isDirectory}]}
    assert garden_user.get(f"/api/v1/models/c_bpartner/{joe.pk}/attachments").json()[
        "attachments"][0]["name"] == "some.tar.gz"

    download = garden_user.get(f"/ws/dms/download/{placed['id']}")
    assert download.status_code == 200 and body_of(download) == data
    assert download["Content-Disposition"].startswith('attachment; filename="some.tar.gz"')

    assert garden_user.delete(f"/ws/dms/files/{placed['id']}").status_code == 200
    assert garden_user.get(f"/ws/dms/download/{placed['id']}").status_code == 404
    assert garden_user.get(f"/ws/dms/attachments/c_bpartner/{joe.pk}").json()["total"] == 0


def test_offsets_are_checked(garden_user, garden_admin, storage):
    data = b"x" * 250
    first = _chunk(garden_user, data[:100], 0, 250)
    file_id = first.json()["fileId"]
    # Skipping ahead, overlapping, or running past X-File-Size is refused.
    assert _chunk(garden_user, data[200:], 200, 250, file_id).status_code == 400
    assert _chunk(garden_user, data[:100], 0, 250, file_id).status_code == 400
    assert _chunk(garden_user, b"y" * 300, 0, 250).status_code == 400
    assert _chunk(garden_user, data[100:200], 100, 250, file_id).json() == {"fileId": file_id}
    last = _chunk(garden_user, data[200:], 200, 250, file_id).json()
    assert last["fileSize"] == 250
    # Another user cannot continue (or attach) someone's upload.
    other = _chunk(garden_user, b"z" * 10, 0, 20).json()["fileId"]
    assert _chunk(garden_admin, b"z" * 10, 10, 20, other).status_code == 404
    # A one-chunk upload answers the MetaFile at once.
    single = _chunk(garden_user, b"single", 0, 6).json()
    assert single["fileSize"] == 6 and "fileId" not in single


def test_folder_list_refuses_a_parameter_given_twice(garden_user, demo):
    # Schemathesis: ?parent=<junk>&parent= listed the root (the last, empty value won).
    domain_id = garden_user.get("/ws/dms/files").json()["data"][0]["id"]
    for query in (f"parent=zz&parent={domain_id}", "parent=zz&parent=", "pattern=a&pattern=b"):
        response = garden_user.get(f"/ws/dms/files?{query}")
        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/problem+json"
    assert garden_user.get(f"/ws/dms/files?parent={domain_id}").status_code == 200


def test_folder_create_refuses_is_directory_false_and_non_strings(garden_user, demo):
    for body in ({"fileName": "x", "isDirectory": False}, {"fileName": 0}, {"fileName": "x", "isDirectory": "yes"}):
        response = garden_user.post("/ws/dms/files", body, format="json")
        assert response.status_code == 400, body
    response = garden_user.post("/ws/dms/files", {"fileName": "Nulls", "isDirectory": None, "parent": {}},
                                format="json")
    assert response.status_code == 200, response.content


def test_folders_list_pattern_and_rest_delete(garden_user, acme_admin, demo):
    root = garden_user.get("/ws/dms/files").json()
    assert [f["fileName"] for f in root["data"]] == ["default-domain"]
    domain_id = root["data"][0]["id"]
    response = garden_user.post("/ws/dms/files", {"fileName": "Invoices", "isDirectory": True,
                                                  "parent": {"id": domain_id}}, format="json")
    assert response.status_code == 200, response.content
    folder = response.json()["data"][0]
    assert folder["isDirectory"] is True
    listed = garden_user.get(f"/ws/dms/files?parent={domain_id}&pattern=voic").json()
    assert listed == {"total": 1, "data": [folder]}
    assert garden_user.post("/ws/dms/files", {"fileName": "Invoices", "isDirectory": True,
                                              "parent": {"id": domain_id}},
                            format="json").status_code == 409
    # Acme cannot see or delete GardenWorld's folder.
    assert acme_admin.get(f"/ws/dms/files?parent={domain_id}").status_code == 404
    assert acme_admin.delete(f"/ws/dms/files/{folder['id']}").status_code == 404
    assert garden_user.delete(
        f"/ws/rest/com.axelor.dms.db.DMSFile/{folder['id']}").status_code == 200
    assert not DMSFile.objects.filter(pk=folder["id"]).exists()
